//! `cluster metrics` against a real etcd 3.5, 3.6 and 3.7 member after
//! writing keys (every metric read is still there in 3.6 and 3.7): the
//! WAL fsync, backend commit and peer RTT percentiles equal what the test
//! computes itself from the bucket counts it reads from the same /metrics
//! (PromQL's interpolation, written out here independently); with an
//! interval and writes during it, the percentiles cover the window only.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

use crate::support::doctor::{doctor, report};
use crate::support::etcd::{available, Cluster, Version};
use serde_json::Value;

/// The /metrics page of `client_url` (plain http), read by the test itself.
fn scrape(client_url: &str) -> String {
    let addr = client_url.trim_start_matches("http://");
    let mut stream = TcpStream::connect(addr).unwrap();
    write!(stream, "GET /metrics HTTP/1.0\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut page = String::new();
    stream.read_to_string(&mut page).unwrap();
    page
}

/// Cumulative (le, count) buckets of histogram `name`, summed over label sets.
fn buckets(page: &str, name: &str) -> Vec<(f64, f64)> {
    let prefix = format!("{name}_bucket{{");
    let mut sums: Vec<(f64, f64)> = Vec::new();
    for line in page.lines().filter(|l| l.starts_with(&prefix)) {
        let le = line
            .split("le=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        let le: f64 = if le == "+Inf" {
            f64::INFINITY
        } else {
            le.parse().unwrap()
        };
        let count: f64 = line.rsplit(' ').next().unwrap().parse().unwrap();
        match sums.iter_mut().find(|(b, _)| *b == le) {
            Some(entry) => entry.1 += count,
            None => sums.push((le, count)),
        }
    }
    sums.sort_by(|a, b| a.0.total_cmp(&b.0));
    sums
}

/// The q-quantile in ms: find the bucket holding rank q*total, interpolate
/// linearly from the bucket below; in +Inf, the highest finite bound.
fn quantile_ms(q: f64, b: &[(f64, f64)]) -> f64 {
    let total = b.last().unwrap().1;
    let rank = q * total;
    let i = b.iter().position(|&(_, c)| c >= rank).unwrap();
    if i == b.len() - 1 {
        return b[i - 1].0 * 1000.0;
    }
    let (lower, below) = if i == 0 { (0.0, 0.0) } else { b[i - 1] };
    let (upper, count) = b[i];
    (lower + (upper - lower) * (rank - below) / (count - below)) * 1000.0
}

fn close(ours: &Value, expected: f64) {
    let ours = ours.as_f64().unwrap();
    assert!(
        (ours - expected).abs() < 1e-6,
        "ours {ours} ms, expected {expected} ms"
    );
}

#[test]
fn percentiles_match_the_bucket_counts() {
    percentiles_match(Version::V35);
}

/// On the binary's shared 3.6 cluster.
#[test]
fn etcd36_percentiles_match_the_bucket_counts() {
    if let Some(c) = crate::support::shared::etcd36("etcd36_percentiles_match_the_bucket_counts") {
        percentiles_match_on(&c);
    }
}

/// `cluster status --cluster --metrics` is one run showing what `cluster
/// status --cluster` and `cluster metrics --interval 0` show (the speed
/// bench's one-command side, benches/cluster_speed.sh).
#[test]
fn status_with_metrics_shows_both_views() {
    let Some(c) = crate::support::shared::etcd36("status_with_metrics_shows_both_views") else {
        return;
    };
    let url = c.members[0].client_url();
    let both = report(
        doctor("cluster status --cluster --metrics -w json --endpoints").arg(&url),
        0,
    );
    let status = report(
        doctor("cluster status --cluster -w json --endpoints").arg(&url),
        0,
    );
    let (both, status) = (&both["cluster"], &status["cluster"]);
    let ids = |c: &Value| -> Vec<String> {
        let mut ids: Vec<String> = c["endpoints"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["id"].as_str().unwrap().to_string())
            .collect();
        ids.sort();
        ids
    };
    assert_eq!(ids(both).len(), 3, "{both}");
    assert_eq!(ids(both), ids(status));
    assert_eq!(both["members"], status["members"]);
    let metrics = both["metrics"].as_array().unwrap();
    let mut scraped: Vec<String> = metrics
        .iter()
        .map(|m| {
            assert!(m["error"].is_null(), "{m}");
            assert_eq!(m["window_s"], 0.0, "one scrape");
            assert_eq!(m["has_leader"], true, "{m}");
            assert!(m["wal_fsync"]["count"].as_u64().is_some(), "{m}");
            m["member_id"].as_str().unwrap().to_string()
        })
        .collect();
    scraped.sort();
    assert_eq!(scraped, ids(status), "one scrape per member");
    assert!(status["metrics"].as_array().is_none_or(|m| m.is_empty()));
}

#[test]
fn etcd37_percentiles_match_the_bucket_counts() {
    if available(Version::V37, "etcd37_percentiles_match_the_bucket_counts") {
        percentiles_match(Version::V37);
    }
}

fn percentiles_match(version: Version) {
    percentiles_match_on(&Cluster::start(version, 3));
}

fn percentiles_match_on(c: &Cluster) {
    let version = c.version;
    c.put_keys(300);
    let url = c.members[0].client_url();
    let metrics_url = format!("{url}/metrics");
    let histograms = [
        ("etcd_disk_wal_fsync_duration_seconds", "wal_fsync"),
        (
            "etcd_disk_backend_commit_duration_seconds",
            "backend_commit",
        ),
        ("etcd_network_peer_round_trip_time_seconds", "peer_rtt"),
    ];
    // Ours between two identical reads of the test's own (an idle member
    // still probes its peers every few seconds).
    let compared = (0..60).any(|_| {
        let before = scrape(&url);
        let args = "cluster metrics --interval 0 -w json --metrics-urls";
        let ours = report(
            doctor(args).arg(&metrics_url).args(["--endpoints", &url]),
            0,
        );
        let after = scrape(&url);
        // Held still, and every histogram observed something (peers probe
        // each other every few seconds).
        let ready = histograms.iter().all(|(name, _)| {
            let b = buckets(&before, name);
            b == buckets(&after, name) && b.last().is_some_and(|&(_, n)| n > 0.0)
        });
        if !ready {
            std::thread::sleep(Duration::from_millis(500));
            return false;
        }
        let m = &ours["cluster"]["metrics"][0];
        assert_eq!(m["window_s"], 0.0);
        for (name, field) in histograms {
            let b = buckets(&before, name);
            let h = &m[field];
            assert_eq!(h["span"], "since_start", "{field}");
            assert_eq!(
                h["count"].as_u64().unwrap() as f64,
                b.last().unwrap().1,
                "{field}"
            );
            close(&h["p50_ms"], quantile_ms(0.5, &b));
            close(&h["p90_ms"], quantile_ms(0.9, &b));
            close(&h["p99_ms"], quantile_ms(0.99, &b));
        }
        assert!(
            m["wal_fsync"]["count"].as_u64().unwrap() >= 3,
            "writes were fsynced"
        );
        assert_eq!(m["has_leader"], true);
        assert!(m["db_size_bytes"].as_f64().unwrap() > 0.0);
        assert_eq!(m["quota_bytes"], 2147483648.0);
        // Every counter and gauge read is still exported (3.6 dropped
        // others, e.g. etcd_debugging_mvcc_range_total, none of these).
        for field in [
            "uptime_s",
            "leader_changes_total",
            "proposals_failed_total",
            "proposals_pending",
            "slow_applies_total",
        ] {
            assert!(
                m[field].as_f64().is_some(),
                "{version:?}: {field} missing: {m}"
            );
        }
        assert!(m.get("alarms").is_none(), "no alarm: {m}");
        true
    });
    assert!(compared, "the member's histograms never held still");
}

#[test]
fn an_interval_gives_window_percentiles() {
    let c = Cluster::start(Version::V35, 3);
    let url = c.members[0].client_url();
    let total_before = buckets(&scrape(&url), "etcd_disk_wal_fsync_duration_seconds")
        .last()
        .unwrap()
        .1;
    let run = std::thread::scope(|s| {
        let writer = s.spawn(|| {
            std::thread::sleep(Duration::from_millis(300));
            c.put_keys(400);
        });
        let out = report(
            doctor("cluster metrics --interval 3s -w json --endpoints").arg(&url),
            0,
        );
        writer.join().unwrap();
        out
    });
    let total_after = buckets(&scrape(&url), "etcd_disk_wal_fsync_duration_seconds")
        .last()
        .unwrap()
        .1;
    let metrics = run["cluster"]["metrics"].as_array().unwrap();
    assert_eq!(metrics.len(), 3, "one row per member");
    let m = metrics
        .iter()
        .find(|m| m["url"] == format!("{url}/metrics"))
        .expect("member 0 scraped");
    let window = m["window_s"].as_f64().unwrap();
    assert!((2.9..4.0).contains(&window), "window {window} s");
    let wal = &m["wal_fsync"];
    assert_eq!(wal["span"], "window");
    let count = wal["count"].as_u64().unwrap() as f64;
    assert!(
        count > 0.0 && count <= total_after - total_before,
        "{count} of {}",
        total_after - total_before
    );
    assert!(m["proposals_failed_per_s"].as_f64().is_some());
}
