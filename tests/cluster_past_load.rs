//! A past burst is no finding: an etcd 3.5 member whose data dir sits on a
//! loop device throttled to 20 write IOPS takes a bulk load (its WAL fsync
//! and backend commit histograms fill with slow observations), then the
//! throttle is lifted. A single scrape shows the slow since-start
//! histograms as context (info); `cluster metrics` over a 2 s window must
//! not warn or fail from them, whether the window is quiet (too few
//! observations to judge) or has traffic (writes on the unthrottled disk:
//! the window alone is judged).

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use support::doctor::{doctor, report};
use support::etcd::{Cluster, Version};
use support::slowdisk::SlowDisk;

const METRICS_IDS: [&str; 2] = [
    "cluster.metrics-wal-fsync-slow",
    "cluster.metrics-backend-commit-slow",
];

/// `cluster metrics` over `interval` (0: one scrape, totals since start).
fn metrics(c: &Cluster, interval: &str) -> Value {
    report(
        doctor(&format!(
            "cluster metrics --interval {interval} -w json --endpoints"
        ))
        .arg(c.endpoints()),
        0,
    )
}

fn metric_findings(report: &Value) -> Vec<&Value> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| METRICS_IDS.contains(&f["id"].as_str().unwrap()))
        .collect()
}

#[test]
fn a_past_bulk_load_is_context_not_a_finding() {
    if !support::privileged("a_past_bulk_load_is_context_not_a_finding") {
        return;
    }
    let disk = SlowDisk::new(20).expect("slow disk set-up");
    let c = Cluster::start_on_disk(Version::V35, 1, &disk);
    // The bulk load: 40 single-put transactions, each a WAL fsync and a
    // backend commit at 20 IOPS.
    for i in 0..40 {
        let out = c.etcdctl(&["put", &format!("bulk-{i}"), "x"]);
        assert!(out.status.success());
    }
    disk.set_write_iops(0).expect("lift the throttle");

    // One scrape: only the since-start histograms, slow from the load:
    // shown as context, at info.
    let once = metrics(&c, "0");
    let found = metric_findings(&once);
    assert!(!found.is_empty(), "the slow past is shown: {once:#}");
    for f in &found {
        assert_eq!(f["severity"], "info", "{f:#}");
        assert!(f["summary"].as_str().unwrap().contains("since start"));
    }

    // Shape 1: a quiet window (etcd's own periodic writes only): too few
    // observations to judge, and the past is no warning.
    let quiet = metrics(&c, "2s");
    assert!(
        metric_findings(&quiet)
            .iter()
            .all(|f| f["severity"] == "info"),
        "{:#}",
        quiet["findings"]
    );

    // Shape 2: traffic during the window on the now fast disk.
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let stop = stop.clone();
        let etcdctl = c.bins.etcdctl.clone();
        let ep = c.members[0].client_url();
        std::thread::spawn(move || {
            let mut i = 0;
            while !stop.load(Ordering::Relaxed) && i < 2000 {
                let _ = std::process::Command::new(&etcdctl)
                    .env("ETCDCTL_API", "3")
                    .arg(format!("--endpoints={ep}"))
                    .args(["put", &format!("now-{i}"), "x"])
                    .output();
                i += 1;
            }
        })
    };
    std::thread::sleep(Duration::from_millis(300));
    let busy = metrics(&c, "2s");
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    let wal = &busy["cluster"]["metrics"][0]["wal_fsync"];
    assert_eq!(wal["span"], "window", "{wal:#}");
    // Whatever this machine's disk does now is judged on the window, not
    // on the past load.
    for f in metric_findings(&busy) {
        let summary = f["summary"].as_str().unwrap();
        assert!(summary.contains("(window)"), "{summary}");
    }
    drop(c);
}
