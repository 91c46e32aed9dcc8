//! `snapshot analyze` and `cluster keyspace` against real etcd 3.5 and 3.4
//! members filled with a Kubernetes-like keyspace. Every count is checked
//! against the cluster itself (`etcdctl get --prefix --count-only`, the
//! revision in `endpoint status`, `etcdutl snapshot status`), before and
//! after compaction; the live count must equal the offline one. The
//! findings fire on the churned key and the uncompacted history (phase A),
//! stay quiet on the compacted balanced keyspace (phase B), and fire on an
//! events-heavy keyspace with a value near the request limit (phase C).
//! Truncated and corrupted files exit 2 with the reason.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::doctor::{doctor, exits, report};
use crate::support::etcd::{available, bins, Cluster, Version};
use crate::support::keyspace::*;
use serde_json::Value;

/// A JSON field as u64 (absent: 0, as etcdctl omits zero counts).
fn n(v: &Value) -> u64 {
    v.as_u64().unwrap_or(0)
}

/// `etcdctl ARGS -w json`, parsed.
fn etcdctl_json(cluster: &Cluster, args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.extend(["-w", "json"]);
    let out = cluster.etcdctl(&all);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// `etcdctl get ARGS --count-only -w fields`: the `"Count" : N` line. The
/// 3.5 etcdctl also for a 3.4 cluster: 3.4's etcdctl has no --count-only,
/// its server answers count-only ranges.
fn etcdctl_count(cluster: &Cluster, args: &[&str]) -> u64 {
    let text = crate::support::run(
        Command::new(bins(Version::V35).etcdctl)
            .args(["get", "--count-only", "-w", "fields", "--endpoints"])
            .arg(cluster.endpoints())
            .args(args),
    )
    .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("\"Count\" : "))
        .unwrap_or_else(|| panic!("no Count in {text}"))
        .trim()
        .parse()
        .unwrap()
}

/// Live keys under `group` per etcdctl (a group not ending in `/` is one key).
fn cluster_count(cluster: &Cluster, group: &str) -> u64 {
    match group.ends_with('/') {
        true => etcdctl_count(cluster, &[group, "--prefix"]),
        false => etcdctl_count(cluster, &[group]),
    }
}

fn cluster_revision(cluster: &Cluster) -> i64 {
    etcdctl_json(cluster, &["endpoint", "status"])[0]["Status"]["header"]["revision"]
        .as_i64()
        .unwrap()
}

/// `snapshot save` into `dir/name`.
fn save(cluster: &Cluster, dir: &Path, name: &str) -> PathBuf {
    let file = dir.join(name);
    let ep = cluster.members[0].client_url();
    exits(
        &mut doctor(&format!(
            "snapshot save --endpoints {ep} {}",
            file.display()
        )),
        0,
    );
    file
}

/// `snapshot analyze FILE -w json` expecting exit `code`: the keyspace and the findings' ids.
fn analyze(file: &Path, code: i32) -> (Value, Vec<String>) {
    let r = report(
        &mut doctor(&format!("snapshot analyze -w json {}", file.display())),
        code,
    );
    (r["keyspace"].clone(), finding_ids(&r))
}

fn finding_ids(r: &Value) -> Vec<String> {
    r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap().to_string())
        .collect()
}

/// Group -> live keys.
fn live_counts(k: &Value) -> BTreeMap<String, u64> {
    k["prefixes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["prefix"].as_str().unwrap().to_string(),
                n(&p["live_keys"]),
            )
        })
        .collect()
}

/// Checks every group's live count, the total and the revision against the
/// cluster, and that the page accounting adds up to the file.
fn check_against_cluster(cluster: &Cluster, file: &Path, k: &Value) {
    let counts = live_counts(k);
    let all = etcdctl_count(cluster, &["", "--from-key"]);
    assert_eq!(n(&k["live_keys"]), all);
    let mut inside = 0;
    for (group, live) in &counts {
        if group != "(outside prefix)" {
            assert_eq!(*live, cluster_count(cluster, group), "{group}");
            inside += live;
        }
    }
    assert_eq!(
        counts.get("(outside prefix)").copied().unwrap_or(0),
        all - inside
    );
    assert_eq!(
        k["meta"]["current_revision"].as_i64().unwrap(),
        cluster_revision(cluster)
    );
    let p = &k["pages"];
    let in_trees: u64 = p["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| n(&b["pages"]))
        .sum();
    let pages = n(&p["meta_pages"])
        + n(&p["root_pages"])
        + in_trees
        + n(&p["freelist_pages"])
        + n(&p["free_pages"]);
    assert_eq!(pages, n(&p["high_water_pages"]), "{p}");
    let file_len = std::fs::metadata(file).unwrap().len();
    assert_eq!(
        pages * n(&p["page_size_bytes"]) + n(&p["unallocated_bytes"]),
        file_len
    );
    assert_eq!(n(&p["file_bytes"]), file_len);
    if let Some(etcdutl) = &cluster.bins.etcdutl {
        let status = crate::support::run(
            Command::new(etcdutl)
                .args(["snapshot", "status", "-w", "json"])
                .arg(file),
        );
        let theirs: Value = serde_json::from_str(&status.unwrap()).unwrap();
        let entries: u64 = p["buckets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|b| n(&b["entries"]))
            .sum();
        // etcdutl 3.5 counts every bbolt entry, 3.6 on the live user keys.
        match cluster.version {
            Version::V34 | Version::V35 => assert_eq!(entries, n(&theirs["totalKey"])),
            Version::V36 | Version::V37 => {
                assert_eq!(n(&k["live_keys"]), n(&theirs["totalKey"]));
                assert_eq!(theirs["version"], format!("{}.0", cluster.version.minor()));
            }
        }
        assert_eq!(k["meta"]["current_revision"], theirs["revision"]);
    }
}

/// `snapshot analyze --max-keys` below the file's keys and leases (`full`
/// is the analysis without a limit): the first keys are kept, every other
/// revision counts in the totals and in its group's bytes and share alone,
/// the leases are all counted but the missing-lease check is skipped.
fn check_key_limit(file: &Path, full: &Value, leases: u64) {
    assert!(leases >= 2, "the fill grants leases");
    let max = (n(&full["live_keys"]) / 2).min(leases - 1);
    let cmd = format!("snapshot analyze --max-keys {max} {}", file.display());
    let r = report(&mut doctor(&format!("{cmd} -w json")), 0);
    let k = &r["keyspace"];
    for field in ["total_revisions", "key_bucket_bytes"] {
        assert_eq!(k[field], full[field], "{field}");
    }
    let limit = &k["key_limit"];
    assert_eq!(n(&limit["max_keys"]), max, "{limit}");
    assert!(n(&k["live_keys"]) <= max);
    let prefixes = |k: &Value| -> BTreeMap<String, (u64, String)> {
        k["prefixes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                let name = p["prefix"].as_str().unwrap().to_string();
                (name, (n(&p["total_bytes"]), p["share_pct"].to_string()))
            })
            .collect()
    };
    assert_eq!(prefixes(k), prefixes(full), "bytes and shares per group");
    let kept: u64 = k["prefixes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| n(&p["live_keys"]) + n(&p["history_revisions"]))
        .sum();
    assert!(n(&limit["untracked_revisions"]) > 0, "{limit}");
    assert_eq!(
        kept + n(&limit["untracked_revisions"]),
        n(&full["total_revisions"])
    );
    assert!(n(&limit["untracked_bytes"]) < n(&full["key_bucket_bytes"]));
    let l = &k["leases"];
    assert_eq!(n(&l["leases"]), leases);
    assert_eq!(n(&l["untracked_leases"]), leases - max, "{l}");
    assert_eq!(n(&l["keys_on_missing_leases"]), 0, "not checked");
    let text = crate::support::run(&mut doctor(&cmd)).unwrap();
    assert!(
        text.contains(&format!("only the first {max} distinct keys kept"))
            && text.contains(&format!(
                "not checked: {} leases past --max-keys",
                leases - max
            )),
        "{text}"
    );
}

/// `cluster keyspace -w json` expecting exit `code`.
fn live(cluster: &Cluster, code: i32) -> (Value, Vec<String>) {
    let ep = cluster.members[0].client_url();
    let r = report(
        &mut doctor(&format!(
            "cluster keyspace -w json --max-rps 200 --endpoints {ep}"
        )),
        code,
    );
    (r["keyspace"].clone(), finding_ids(&r))
}

fn group<'a>(k: &'a Value, name: &str) -> &'a Value {
    k["prefixes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["prefix"] == name)
        .unwrap_or_else(|| panic!("no {name} in {k}"))
}

fn scenario(version: Version) {
    let cluster = Cluster::start(version, 1);
    let dir = tempfile::tempdir().unwrap();
    let filled = block_on(async {
        let mut c = client(&cluster).await;
        let filled = fill_balanced(&mut c).await;
        churn(&c, CHURN_KEY, CHURN_WRITES, 3000).await;
        filled
    });

    // Phase A: uncompacted, one key rewritten 3000 times.
    let a = save(&cluster, dir.path(), "a.db");
    let (k, ids) = analyze(&a, 0);
    check_against_cluster(&cluster, &a, &k);
    let puts = NAMESPACES.len() * (PODS + CONFIGMAPS + EVENTS) + NODES + 1 + CHURN_WRITES;
    assert_eq!(n(&k["total_revisions"]), (puts + DELETED_PODS) as u64);
    assert_eq!(k["top_by_revisions"][0]["key"], CHURN_KEY);
    assert_eq!(
        n(&k["top_by_revisions"][0]["revisions"]),
        CHURN_WRITES as u64
    );
    let team_a = group(&k, "/registry/pods/team-a/");
    assert_eq!(n(&team_a["live_keys"]), (PODS - DELETED_PODS) as u64);
    assert_eq!(
        n(&team_a["history_revisions"]),
        2 * DELETED_PODS as u64,
        "put and tombstone"
    );
    assert_eq!(n(&group(&k, "/registry/nodes/")["live_keys"]), NODES as u64);
    assert_eq!(n(&k["leases"]["leases"]), filled.leases.len() as u64);
    assert_eq!(n(&k["leases"]["keys_attached"]), filled.attached as u64);
    assert_eq!(
        (n(&k["leases"]["ttl_min_s"]), n(&k["leases"]["ttl_max_s"])),
        (300, 1200)
    );
    assert_eq!(n(&k["meta"]["compact_revision"]), 0);
    assert!(k.get("key_limit").is_none(), "{}", k["key_limit"]);
    check_key_limit(&a, &k, filled.leases.len() as u64);
    assert!(ids.contains(&"cluster.key-churn".into()), "{ids:?}");
    assert!(ids.contains(&"cluster.history-unbounded".into()), "{ids:?}");
    let (l, _) = live(&cluster, 0);
    assert_eq!(
        live_counts(&l),
        live_counts(&k),
        "live and offline counts differ"
    );
    assert!(n(&l["requests"]) > 0);

    // Phase B: compacted at the current revision: balanced, no findings.
    let rev = cluster_revision(&cluster);
    let out = cluster.etcdctl(&["compaction", "--physical", &rev.to_string()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let b = save(&cluster, dir.path(), "b.db");
    let (k, ids) = analyze(&b, 0);
    check_against_cluster(&cluster, &b, &k);
    assert_eq!(k["meta"]["compact_revision"].as_i64(), Some(rev));
    assert_eq!(
        n(&k["total_revisions"]),
        n(&k["live_keys"]),
        "one revision per live key"
    );
    assert_eq!(n(&k["top_by_revisions"][0]["revisions"]), 1);
    assert!(ids.is_empty(), "balanced compacted keyspace: {ids:?}");
    let (l, ids) = live(&cluster, 0);
    assert_eq!(live_counts(&l), live_counts(&k));
    assert!(ids.is_empty(), "{ids:?}");

    // Phase C: events flood one namespace; a ConfigMap near the request limit.
    block_on(async {
        let mut c = client(&cluster).await;
        let events = (0..3000).map(|e| {
            (
                format!("/registry/events/team-b/flood-{e}"),
                value("Event", 1000),
                None,
            )
        });
        put_all(&mut c, events.collect()).await;
        let big = value("ConfigMap", 1_450_000);
        c.put("/registry/configmaps/team-b/huge", big, None)
            .await
            .expect("put huge");
    });
    let c = save(&cluster, dir.path(), "c.db");
    let (k, ids) = analyze(&c, 1);
    check_against_cluster(&cluster, &c, &k);
    assert!(ids.contains(&"cluster.keyspace-hotspot".into()), "{ids:?}");
    assert!(ids.contains(&"cluster.large-values".into()), "{ids:?}");
    let (l, live_ids) = live(&cluster, 0);
    assert_eq!(live_counts(&l), live_counts(&k));
    assert_eq!(live_ids, vec!["cluster.keyspace-hotspot".to_string()]);
    let r = report(
        &mut doctor(&format!(
            "snapshot analyze -w json --profile etcd-default {}",
            c.display()
        )),
        1,
    );
    let hotspot = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "cluster.keyspace-hotspot")
        .unwrap();
    assert!(
        hotspot["summary"]
            .as_str()
            .unwrap()
            .starts_with("/registry/events/"),
        "{hotspot}"
    );
    assert!(
        hotspot["recommendation"]
            .as_str()
            .unwrap()
            .contains("--etcd-servers-overrides"),
        "{hotspot}"
    );

    // The bundle's HTML carries the bar chart.
    let bundle = dir.path().join("bundle");
    exits(
        &mut doctor(&format!(
            "snapshot analyze --report {} {}",
            bundle.display(),
            c.display()
        )),
        1,
    );
    let html = std::fs::read_to_string(bundle.join("report.html")).unwrap();
    assert!(
        html.contains("<svg") && html.contains("/registry/events/team-b/"),
        "no chart"
    );

    corrupt_files(&c, dir.path());
}

/// Truncated and altered files exit 2 naming the problem.
fn corrupt_files(good: &Path, dir: &Path) {
    let bytes = std::fs::read(good).unwrap();
    let write = |name: &str, data: &[u8]| {
        let p = dir.join(name);
        std::fs::write(&p, data).unwrap();
        p
    };
    let cases = [
        (
            write("half.db", &bytes[..bytes.len() / 2 / 4096 * 4096 + 32]),
            "truncated",
        ),
        (
            write("flipped.db", &{
                let mut b = bytes.clone();
                b[bytes.len() / 2] ^= 0xff;
                b
            }),
            "integrity hash mismatch",
        ),
        (write("empty.db", &[]), "empty file"),
        (
            write("text.db", &b"not a database\n".repeat(1000)),
            "not a bbolt database",
        ),
    ];
    for (file, reason) in cases {
        let out = exits(
            &mut doctor(&format!("snapshot analyze {}", file.display())),
            2,
        );
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(reason) && err.contains(&file.display().to_string()),
            "{err}"
        );
    }
    // An output that is the input (the file itself or a symlink to it) is
    // refused and the snapshot left as it was; inspect-db says it checks
    // no tree.
    let link = dir.join("link.db");
    std::os::unix::fs::symlink(good, &link).unwrap();
    for sub in ["analyze", "inspect-db", "verify"] {
        for out in [good, link.as_path()] {
            let run = exits(
                &mut doctor(&format!(
                    "snapshot {sub} {} --out {}",
                    good.display(),
                    out.display()
                )),
                2,
            );
            let err = String::from_utf8_lossy(&run.stderr);
            assert!(
                err.contains("--out") && err.contains("is the input"),
                "{sub}: {err}"
            );
            assert_eq!(
                std::fs::read(good).unwrap(),
                bytes,
                "{sub} changed the snapshot"
            );
        }
    }
    let inspect = exits(
        &mut doctor(&format!("snapshot inspect-db {}", good.display())),
        0,
    );
    assert!(String::from_utf8_lossy(&inspect.stdout).contains("checks no tree"));
    // Without the trailer (a copied member/snap/db), a broken page is caught by the tree check.
    let mut db = bytes[..bytes.len() - 32].to_vec();
    let ok = write("member.db", &db);
    exits(
        &mut doctor(&format!("snapshot analyze {}", ok.display())),
        1,
    );
    // Both metas' root pages (16-byte page header, then magic, version,
    // page size, flags, root pgid) get a wrong page id.
    let ps = 4096;
    for meta in [0, ps] {
        let root = u64::from_le_bytes(db[meta + 32..meta + 40].try_into().unwrap()) as usize;
        db[root * ps..root * ps + 8].copy_from_slice(&u64::MAX.to_le_bytes());
    }
    let bad = write("member-bad.db", &db);
    let out = exits(
        &mut doctor(&format!("snapshot analyze {}", bad.display())),
        2,
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("page"), "{err}");
}

#[test]
fn etcd35_keyspace_counts_match_the_cluster() {
    scenario(Version::V35);
}

#[test]
fn etcd36_keyspace_counts_match_the_cluster() {
    if available(Version::V36, "etcd36_keyspace_counts_match_the_cluster") {
        scenario(Version::V36);
    }
}

#[test]
fn etcd37_keyspace_counts_match_the_cluster() {
    if available(Version::V37, "etcd37_keyspace_counts_match_the_cluster") {
        scenario(Version::V37);
    }
}

#[test]
fn etcd34_keyspace_counts_match_the_cluster() {
    scenario(Version::V34);
}
