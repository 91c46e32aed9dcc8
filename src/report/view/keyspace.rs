//! The keyspace sections of the shared report view: space by prefix, the
//! top keys, revisions and leases, and the page accounting of the file.
//! Kept apart from [`super::view`] so each stays readable.

use crate::keyspace::{KeyStat, KeyspaceReport, PageStats, PrefixStats, Source};

use super::section::{fmt_bytes, Section};

/// Groups shown before the rest are summed in one row.
pub const MAX_PREFIX_ROWS: usize = 40;

/// The keyspace sections of `k`, in reading order.
pub fn sections(k: &KeyspaceReport) -> Vec<Section> {
    let mut out = vec![prefix_section(k)];
    if k.source == Source::Snapshot {
        out.push(top_section("Top keys by revisions", &k.top_by_revisions));
        out.push(top_section("Top keys by value size", &k.top_by_value_size));
        out.push(revisions_section(k));
    }
    if let Some(p) = &k.pages {
        out.push(pages_section(p));
    }
    out
}

fn pct(v: f64) -> String {
    format!("{v:.1} %")
}

fn prefix_row(k: &KeyspaceReport, p: &PrefixStats) -> Vec<String> {
    match k.source {
        Source::Live => vec![p.prefix.clone(), p.live_keys.to_string(), pct(p.share_pct)],
        Source::Snapshot => vec![
            p.prefix.clone(),
            p.live_keys.to_string(),
            fmt_bytes(p.live_value_bytes),
            p.history_revisions.to_string(),
            fmt_bytes(p.history_bytes),
            fmt_bytes(p.total_bytes),
            pct(p.share_pct),
        ],
    }
}

fn prefix_section(k: &KeyspaceReport) -> Section {
    let mut rows: Vec<Vec<String>> = k
        .prefixes
        .iter()
        .take(MAX_PREFIX_ROWS)
        .map(|p| prefix_row(k, p))
        .collect();
    if k.prefixes.len() > MAX_PREFIX_ROWS {
        let rest = &k.prefixes[MAX_PREFIX_ROWS..];
        let sum = |f: fn(&PrefixStats) -> u64| rest.iter().map(f).sum::<u64>();
        let others = PrefixStats {
            prefix: format!("({} more groups)", rest.len()),
            live_keys: sum(|p| p.live_keys),
            live_value_bytes: sum(|p| p.live_value_bytes),
            history_revisions: sum(|p| p.history_revisions),
            history_bytes: sum(|p| p.history_bytes),
            total_bytes: sum(|p| p.total_bytes),
            share_pct: rest.iter().map(|p| p.share_pct).sum(),
        };
        rows.push(prefix_row(k, &others));
    }
    match k.source {
        Source::Live => Section {
            title: format!(
                "Live keys by prefix at {} ({} keys, {} requests; history is only visible offline: snapshot analyze)",
                k.origin, k.live_keys, k.requests
            ),
            headers: vec!["PREFIX", "LIVE KEYS", "SHARE"],
            rows,
        },
        Source::Snapshot => Section {
            title: format!(
                "Keyspace by prefix in {} ({} live keys, {} revisions, {}){}",
                k.origin,
                k.live_keys,
                k.total_revisions,
                fmt_bytes(k.key_bucket_bytes),
                k.key_limit.as_ref().map_or(String::new(), |l| format!(
                    "; only the first {} distinct keys kept (--max-keys): {} revisions ({}) of other keys count in TOTAL and SHARE alone",
                    l.max_keys,
                    l.untracked_revisions,
                    fmt_bytes(l.untracked_bytes)
                ))
            ),
            headers: vec![
                "PREFIX",
                "LIVE KEYS",
                "LIVE VALUES",
                "HISTORY REVS",
                "HISTORY",
                "TOTAL",
                "SHARE",
            ],
            rows,
        },
    }
}

fn top_section(title: &str, keys: &[KeyStat]) -> Section {
    Section {
        title: title.to_string(),
        headers: vec!["KEY", "REVISIONS", "VERSION", "VALUE", "DELETED"],
        rows: keys
            .iter()
            .map(|s| {
                vec![
                    s.key.clone(),
                    s.revisions.to_string(),
                    s.version.to_string(),
                    fmt_bytes(s.value_bytes),
                    if s.deleted { "yes" } else { "no" }.to_string(),
                ]
            })
            .collect(),
    }
}

fn revisions_section(k: &KeyspaceReport) -> Section {
    let mut rows = Vec::new();
    let mut row = |name: &str, value: String| rows.push(vec![name.to_string(), value]);
    if let Some(m) = &k.meta {
        row("consistent index", m.consistent_index.to_string());
        row("term", m.term.to_string());
        row("current revision", m.current_revision.to_string());
        row("compacted revision", m.compact_revision.to_string());
        row(
            "history kept (revisions)",
            m.history_kept_revisions.to_string(),
        );
    }
    if let Some(l) = &k.key_limit {
        row("distinct keys kept (--max-keys)", l.max_keys.to_string());
        row(
            "revisions of keys not kept",
            format!(
                "{} ({})",
                l.untracked_revisions,
                fmt_bytes(l.untracked_bytes)
            ),
        );
    }
    if let Some(l) = &k.leases {
        row("leases", l.leases.to_string());
        row("live keys attached to leases", l.keys_attached.to_string());
        row(
            "keys on missing leases",
            match l.untracked_leases {
                0 => l.keys_on_missing_leases.to_string(),
                n => format!("not checked: {n} leases past --max-keys"),
            },
        );
        row(
            "lease TTL min/median/max",
            format!(
                "{} s / {} s / {} s",
                l.ttl_min_s, l.ttl_median_s, l.ttl_max_s
            ),
        );
    }
    Section {
        title: "Revisions and leases".to_string(),
        headers: vec!["FACT", "VALUE"],
        rows,
    }
}

fn pages_section(p: &PageStats) -> Section {
    let ps = p.page_size_bytes;
    let row = |name: String, pages: u64| vec![name, pages.to_string(), fmt_bytes(pages * ps)];
    let mut rows = vec![
        row("meta".into(), p.meta_pages),
        row("root bucket".into(), p.root_pages),
    ];
    rows.extend(p.buckets.iter().map(|b| {
        row(
            format!("bucket {} ({} entries)", b.name, b.entries),
            b.pages,
        )
    }));
    rows.push(row("freelist".into(), p.freelist_pages));
    rows.push(row(
        format!("free ({:.1} % fragmentation)", p.fragmentation_pct),
        p.free_pages,
    ));
    rows.push(vec![
        "past the high-water mark".into(),
        String::new(),
        fmt_bytes(p.unallocated_bytes),
    ]);
    rows.push(vec![
        "file".into(),
        p.high_water_pages.to_string(),
        fmt_bytes(p.file_bytes),
    ]);
    Section {
        title: format!("Pages ({ps} B each)"),
        headers: vec!["USE", "PAGES", "BYTES"],
        rows,
    }
}
