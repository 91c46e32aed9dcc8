//! The sections of a load run in the shared view (terminal, Markdown,
//! HTML): the run against its target, latency per operation kind and per
//! member, errors, how the generator kept its schedule, and the members'
//! CPU, apply time and pending proposals over the run.

use super::section::{fmt_us, latency_cells, Section};
use crate::cluster::model::HistogramPercentiles;
use crate::load::result::{LoadResult, OpStats};

/// Every section of `l`, in reading order (empty ones are dropped by the caller).
pub fn sections(l: &LoadResult) -> Vec<Section> {
    vec![run(l), latency(l), errors(l), schedule(l), server(l)]
}

fn run(l: &LoadResult) -> Section {
    let p = &l.plan;
    Section {
        title: "Load run".into(),
        headers: vec![
            "LOAD", "MIX", "TARGET", "ACHIEVED", "CLIENTS", "CONNS", "KEY", "VALUE", "ELAPSED",
            "ERRORS", "DELETED",
        ],
        rows: vec![vec![
            p.preset.as_str().to_string(),
            p.mix.describe(),
            format!("{:.0}/s", l.target_ops_s),
            format!(
                "{:.1}/s ({:.0} %)",
                l.achieved_ops_s,
                100.0 * l.achieved_ops_s / l.target_ops_s
            ),
            p.clients.to_string(),
            p.conns.to_string(),
            format!("{} B", p.key_bytes),
            format!("{} B", p.value_bytes),
            format!(
                "{:.1} s{}",
                l.elapsed_s,
                l.interrupted
                    .as_deref()
                    .map(|s| format!(" ({s})"))
                    .unwrap_or_default()
            ),
            l.error_count().to_string(),
            deleted_cell(l),
        ]],
    }
}

/// The keys deleted, another client's keys left, maintenance skipped.
fn deleted_cell(l: &LoadResult) -> String {
    let mut cell = format!("{} keys", l.deleted_keys);
    if l.foreign_keys > 0 {
        cell.push_str(&format!(
            "; {} foreign key(s) left under the prefix ({})",
            l.foreign_keys,
            l.foreign_key_examples.join(", ")
        ));
    }
    if let Some(why) = &l.maintenance_skipped {
        cell.push_str(&format!("; {why}"));
    }
    cell
}

fn stats_row(kind: &str, o: &OpStats) -> Vec<String> {
    let mut row = vec![
        kind.to_string(),
        o.name.clone(),
        o.ok.to_string(),
        o.errors.to_string(),
        format!("{:.1}", o.achieved_ops_s),
    ];
    row.extend(latency_cells(&o.latency_us));
    row.push(fmt_us(o.stddev_us));
    row
}

fn latency(l: &LoadResult) -> Section {
    let rows = std::iter::once(stats_row("all", &l.all))
        .chain(l.ops.iter().map(|o| stats_row("op", o)))
        .chain(l.members.iter().map(|o| stats_row("member", o)))
        .collect();
    Section {
        title: "Load latency, from the scheduled send".into(),
        headers: vec![
            "BY", "NAME", "OK", "ERRORS", "OPS/S", "P50", "P90", "P99", "P99.9", "MAX", "STDDEV",
        ],
        rows,
    }
}

fn errors(l: &LoadResult) -> Section {
    Section {
        title: "Load errors".into(),
        headers: vec!["ERROR", "COUNT"],
        rows: l
            .errors
            .iter()
            .map(|(e, n)| vec![e.clone(), n.to_string()])
            .collect(),
    }
}

fn schedule(l: &LoadResult) -> Section {
    let s = &l.schedule;
    Section {
        title: "Generator schedule".into(),
        headers: vec![
            "SCHEDULED",
            "SENT",
            "WOKE LATE P99",
            "WOKE LATE MAX",
            "WAITED FOR A CLIENT P99",
            "CLIENT CPU",
        ],
        rows: vec![vec![
            s.scheduled.to_string(),
            s.sent.to_string(),
            fmt_us(s.wake_late_us.p99),
            fmt_us(s.wake_late_us.max),
            fmt_us(s.client_wait_us.p99),
            format!("{:.2} cores", s.client_cpu_cores),
        ]],
    }
}

fn percentiles(h: Option<&HistogramPercentiles>) -> String {
    h.map(|h| format!("{:.2} / {:.2} ms", h.p50_ms, h.p99_ms))
        .unwrap_or_default()
}

fn server(l: &LoadResult) -> Section {
    Section {
        title: "Server side over the run (see Metrics for disk and network)".into(),
        headers: vec![
            "MEMBER",
            "URL",
            "CPU",
            "APPLY P50 / P99",
            "PROPOSALS PENDING MAX",
            "TCP HANDSHAKE FROM CLIENT",
        ],
        rows: l
            .server
            .iter()
            .map(|m| {
                vec![
                    m.member_id.as_deref().unwrap_or_default().to_string(),
                    m.url.clone(),
                    m.cpu_cores
                        .map(|c| format!("{c:.2} cores"))
                        .unwrap_or_default(),
                    percentiles(m.apply.as_ref()),
                    m.proposals_pending_max
                        .map(|p| p.to_string())
                        .unwrap_or_default(),
                    m.tcp_handshake_ms_median
                        .map(|ms| format!("{ms:.2} ms (median of {})", m.tcp_handshakes))
                        .unwrap_or_default(),
                ]
            })
            .collect(),
    }
}
