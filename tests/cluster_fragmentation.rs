//! cluster.db-fragmented judged by what a defrag returns, on a real etcd
//! 3.5 and 3.6 member with a 64 MiB backend quota (ETCD_QUOTA_BACKEND_BYTES, read
//! by etcd from its environment). A database whose file is much larger than
//! what is in use is flagged even when almost nothing is in use (the
//! etcd-mixin alert needs 100 MiB in use and never fires there). Two
//! shapes: many 10 KiB keys written then deleted, and one key overwritten
//! many times; both compacted, neither defragmented. Baselines: the fresh
//! member with live keys, and the member right after a defrag. etcd 3.6
//! also reports the quota in Status (dbSizeQuota), 3.5 only in its metrics.

mod support;

use std::process::Output;

use serde_json::Value;
use support::doctor::doctor;
use support::etcd::{Cluster, Version};
use support::releases::available;

/// The member's backend quota: small enough that a few tens of MiB of
/// free pages are a quarter of it.
const QUOTA_BYTES: u64 = 64 * 1024 * 1024;

fn ok(out: Output) -> String {
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// `diagnose` (status and the quota metric, over a 1 s window; the disk
/// probe kept short) as JSON. Its exit code depends on this machine's own
/// disk, which is not what the test is about.
fn inspect(c: &Cluster) -> Value {
    let scratch = tempfile::tempdir().unwrap();
    let out = doctor("diagnose --interval 1s --probe fsync --duration 1 -w json --endpoints")
        .arg(c.endpoints())
        .arg("--dir")
        .arg(scratch.path())
        .output()
        .unwrap();
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    crate::support::output::parsed(&out.stdout)
}

fn fragmented(report: &Value) -> Vec<&Value> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["id"] == "cluster.db-fragmented")
        .collect()
}

/// Compacts to the current revision.
fn compact(c: &Cluster) {
    let status = ok(c.etcdctl(&["endpoint", "status", "-w", "json"]));
    let status: Value = serde_json::from_str(&status).unwrap();
    let rev = status[0]["Status"]["header"]["revision"].as_u64().unwrap();
    ok(c.etcdctl(&["compact", &rev.to_string(), "--physical"]));
    // bbolt frees a transaction's pages only once a later write
    // transaction begins: a small put after the backend's commit interval
    // (100 ms) makes the compaction's last pages count as free.
    std::thread::sleep(std::time::Duration::from_millis(300));
    ok(c.etcdctl(&["put", "after-compaction", "x"]));
    std::thread::sleep(std::time::Duration::from_millis(300));
}

fn ten_kib(k: usize) -> String {
    format!("{k:05}{}", "x".repeat(10 * 1024))
}

/// `etcdctl put KEY` with the value on its standard input.
fn overwrite(c: &Cluster, key: &str, value: &[u8]) {
    use std::io::Write;
    use std::process::Stdio;
    let mut child = c
        .client_command(&c.bins.etcdctl)
        .env("ETCDCTL_API", "3")
        .arg(format!("--endpoints={}", c.members[0].client_url()))
        .args(["put", key])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(value).unwrap();
    assert!(child.wait().unwrap().success(), "etcdctl put {key}");
}

fn assert_flagged(report: &Value) {
    let f = fragmented(report);
    assert_eq!(
        f.len(),
        1,
        "{:#} {:#}",
        report["cluster"]["facts"]["db"],
        report["findings"]
    );
    let summary = f[0]["summary"].as_str().unwrap();
    eprintln!("{summary}");
    assert!(summary.contains("a defrag would return"), "{summary}");
    let db = &report["cluster"]["facts"]["db"][0];
    assert!(
        db["db_size_in_use_bytes"].as_u64().unwrap() < 100 * 1024 * 1024,
        "the mixin's in-use floor would not fire: {db}"
    );
    assert!(f[0]["commands"][0].as_str().unwrap().ends_with("defrag"));
}

#[test]
fn free_pages_are_flagged_by_what_a_defrag_returns_not_by_what_is_in_use() {
    if support::privileged("free_pages_are_flagged") {
        free_pages_are_flagged(Version::V35, None);
    }
}

#[test]
fn etcd36_free_pages_are_flagged_by_what_a_defrag_returns() {
    let test = "etcd36_free_pages_are_flagged";
    if support::privileged(test) && available(Version::V36, test) {
        free_pages_are_flagged(Version::V36, Some(QUOTA_BYTES));
    }
}

/// `status_quota`: what Status' dbSizeQuota says (3.6 on; 3.5 has no such
/// field). The metric is read first either way.
fn free_pages_are_flagged(version: Version, status_quota: Option<u64>) {
    let started = std::time::Instant::now();
    // Read by etcd at start; every cluster of this binary has this quota.
    std::env::set_var("ETCD_QUOTA_BACKEND_BYTES", QUOTA_BYTES.to_string());
    let c = Cluster::start(version, 1);
    c.put_keys(500);
    let healthy = inspect(&c);
    assert!(fragmented(&healthy).is_empty(), "{:#}", healthy["findings"]);
    let db = &healthy["cluster"]["facts"]["db"][0];
    assert_eq!(db["quota_from"], "metrics", "{db:#}");
    assert_eq!(db["quota_bytes"], QUOTA_BYTES, "{db:#}");
    let status = &healthy["cluster"]["endpoints"][0];
    assert_eq!(
        status["db_size_quota_bytes"].as_u64(),
        status_quota,
        "{status:#}"
    );

    // Shape 1: 2000 keys of 10 KiB (20 MiB), deleted, compacted.
    c.put_keys_with(2000, ten_kib);
    ok(c.etcdctl(&["del", "--prefix", "key-"]));
    compact(&c);
    assert_flagged(&inspect(&c));

    // A defrag returns the pages: no finding.
    ok(c.etcdctl(&["defrag"]));
    let defragged = inspect(&c);
    assert!(
        fragmented(&defragged).is_empty(),
        "{:#}",
        defragged["findings"]
    );

    // Shape 2: one key overwritten 24 times with 1 MiB values (given on
    // etcdctl's stdin), history compacted away.
    for round in 0..24u8 {
        overwrite(&c, "hot", &vec![b'a' + round % 26; 1024 * 1024]);
    }
    compact(&c);
    assert_flagged(&inspect(&c));
    eprintln!(
        "etcd {}: fragmentation family took {:.1} s",
        version.minor(),
        started.elapsed().as_secs_f64()
    );
}
