//! Expensive requests are named as such, with their prefix, and never as
//! a slow disk (issue 25). One three-member etcd 3.5 cluster holding
//! 20,000 pods of 1 KiB under `/registry/pods/` (20 MiB), diagnosed four
//! ways in turn, each over the logs of its own phase:
//! - healthy (nothing running) and busy-but-healthy (steady puts of 1 KiB
//!   values from eight clients): no cluster.expensive-requests;
//! - an unpaginated LIST storm (clients ranging over the whole prefix
//!   with no limit, again and again): cluster.expensive-requests naming
//!   the unpaginated range of /registry/pods/;
//! - a keys-only storm over the same prefix: the keys-only range named;
//! - a count-only storm over 200,000 small events under
//!   `/registry/events/`: the count-only range named as counting, with
//!   its own fix (the apiserver's count polling), not pagination.
//!
//! The data dirs are on a zram disk of their own, so that nobody else's
//! writes on this machine make the disk slow: in the storms no disk
//! finding may be raised unless the disk probe itself found it slow. Then one etcd 3.6 member: its
//! etcd_server_range_duration_seconds names the storm from the metrics
//! alone (no logs read).
//! (A count-only storm over the 20k pods is not logged: 20k keys are
//! counted in 10-20 ms, under etcd's 100 ms; hence the larger prefix.)

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::doctor::{doctor, findings, judged};
use support::etcd::{Cluster, Version};
use support::etcdlogs::{mark, member_logs};
use support::slowdisk::{LoopFs, SlowDisk};
use support::storm::{fill_events, fill_pods, steady_puts, Shape, Storm, PODS};

/// Objects under the prefix and their size.
const PODS_N: usize = 20_000;
const POD_BYTES: usize = 1024;
/// The prefix the count-only storm counts, its objects and their size.
const EVENTS: &str = "/registry/events/";
const EVENTS_N: usize = 200_000;
const EVENT_BYTES: usize = 64;

/// `diagnose` of `c` over the logs since `since`, with a short fsync
/// probe of the data dirs' disk.
fn diagnose(c: &Cluster, since: &str, logs: bool) -> Value {
    diagnose_over(c, since, logs, "3s")
}

/// [`diagnose`] with the metrics window `interval`.
fn diagnose_over(c: &Cluster, since: &str, logs: bool, interval: &str) -> Value {
    let mut cmd = doctor("diagnose -w json --probe fsync --duration 2");
    cmd.args(["--interval", interval])
        .arg("--endpoints")
        .arg(c.endpoints())
        .arg("--dir")
        .arg(c.dir());
    if logs {
        cmd.arg("--logs")
            .args(member_logs(c))
            .args(["--logs-since", since]);
    } else {
        cmd.arg("--no-logs");
    }
    judged(&mut cmd)
}

/// The expensive-requests finding at warn or fail, if any.
fn expensive(r: &Value) -> Option<&Value> {
    findings(r, "cluster.expensive-requests")
        .into_iter()
        .find(|f| f["severity"] != "info")
}

/// Ids of warn/fail findings.
fn serious(r: &Value) -> Vec<&str> {
    r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["severity"] != "info")
        .map(|f| f["id"].as_str().unwrap())
        .collect()
}

/// The fsync p99 our own probe saw, ms.
fn probe_p99_ms(r: &Value) -> f64 {
    r["disk"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| p["latency_us"]["p99"].as_f64())
        .fold(0.0, f64::max)
        / 1000.0
}

/// True when our own fsync probe found the disk slow (then a disk finding
/// is the truth about this shared machine, not a confusion): over etcd's
/// 10 ms WAL fsync p99 target (profiles/etcd-default.toml).
fn probe_found_disk_slow(r: &Value) -> bool {
    probe_p99_ms(r) > 10.0
}

/// No finding at warn or fail sends the operator to the disk, unless the
/// probe found it slow.
fn disk_not_blamed(what: &str, r: &Value) {
    let disk: Vec<&str> = serious(r)
        .into_iter()
        .filter(|id| {
            id.starts_with("disk.")
                || *id == "cluster.metrics-wal-fsync-slow"
                || *id == "cluster.apply-slow"
        })
        .collect();
    for f in r["findings"].as_array().unwrap() {
        if disk.contains(&f["id"].as_str().unwrap()) {
            eprintln!(
                "{what}: probe p99 {:.1} ms; {}: {}",
                probe_p99_ms(r),
                f["id"],
                f["summary"]
            );
        }
    }
    assert!(
        disk.is_empty() || probe_found_disk_slow(r),
        "{what}: the disk named for expensive reads: {disk:?}\n{:#}",
        r["findings"]
    );
}

/// A fast disk of the cluster's own (zram, no throttle): nobody else on
/// this machine writes to it, so a disk finding would be a confusion.
fn own_disk() -> SlowDisk {
    SlowDisk::on(LoopFs::zram(1 << 30, "ext4").expect("zram"), 0).expect("blkio cgroup")
}

#[test]
fn expensive_requests_are_named_by_prefix_not_as_the_disk() {
    if !support::privileged("expensive_requests") {
        return;
    }
    let start = Instant::now();
    let disk = own_disk();
    let mut c = Cluster::start_on_disk(Version::V35, 3, &disk);
    fill_pods(&c, PODS_N, POD_BYTES);
    c.wait_healthy(Duration::from_secs(30));

    // Healthy twin: nothing running.
    let since = mark();
    let healthy = diagnose(&c, &since, true);
    assert!(
        expensive(&healthy).is_none(),
        "healthy: {:#}",
        healthy["findings"]
    );

    // Busy but healthy: steady puts.
    let since = mark();
    let stop = Arc::new(AtomicBool::new(false));
    let writer = steady_puts(&c, POD_BYTES, stop.clone());
    std::thread::sleep(Duration::from_secs(1));
    let busy = diagnose(&c, &since, true);
    stop.store(true, Ordering::Relaxed);
    let puts = writer.join().unwrap();
    eprintln!("busy: {puts} puts; {:?}", serious(&busy));
    assert!(puts > 100, "the put load did not run: {puts}");
    assert!(expensive(&busy).is_none(), "busy: {:#}", busy["findings"]);

    // (a) An unpaginated LIST storm, (b) a keys-only storm.
    for (shape, words) in [
        (
            Shape::Unpaginated,
            "unpaginated range (LIST without limit) of /registry/pods/",
        ),
        (
            Shape::KeysOnly,
            "keys-only range without limit of /registry/pods/",
        ),
    ] {
        let since = mark();
        let storm = Storm::start(&c, shape, 6);
        std::thread::sleep(Duration::from_secs(3));
        let r = diagnose(&c, &since, true);
        let ranges = storm.ranges();
        drop(storm);
        let f = expensive(&r).unwrap_or_else(|| {
            panic!(
                "{shape:?} ({ranges} ranges): not named: {:#}",
                r["findings"]
            )
        });
        let summary = f["summary"].as_str().unwrap();
        eprintln!(
            "{shape:?}: {ranges} ranges of {PODS}; {summary}; {:?}",
            serious(&r)
        );
        assert!(summary.contains(words), "{summary}");
        assert!(summary.contains("% of slow-request time"), "{summary}");
        assert!(f["recommendation"]
            .as_str()
            .unwrap()
            .contains("--etcd-servers-overrides"));
        disk_not_blamed(&format!("{shape:?}"), &r);
    }
    count_only_storm_is_named_as_counting(&c);
    eprintln!("3.5 rows took {:.0} s", start.elapsed().as_secs_f64());
    drop(c);
    range_latency_names_the_storm_without_logs();
}

/// Clients of the count-only storm.
const COUNT_CLIENTS: usize = 24;

/// A count-only storm over a large prefix: logged as count-only ranges,
/// named as counting, with the count-polling fix first.
fn count_only_storm_is_named_as_counting(c: &Cluster) {
    let filled = Instant::now();
    fill_events(c, &format!("{EVENTS}default/"), EVENTS_N, EVENT_BYTES);
    eprintln!(
        "count-only: {EVENTS_N} events written in {:.0} s",
        filled.elapsed().as_secs_f64()
    );
    let since = mark();
    // etcd logs a range only past 100 ms. On a quiet machine one count of
    // 200,000 keys takes about 20 ms of CPU, and six clients kept each
    // under 100 ms (1,273 counts, none logged, in a CI rehearsal): 24
    // clients queue about four times as long, as a storm does.
    let storm = Storm::start_over(c, Shape::CountOnly, COUNT_CLIENTS, EVENTS);
    std::thread::sleep(Duration::from_secs(3));
    let r = diagnose(c, &since, true);
    let counts = storm.ranges();
    drop(storm);
    let f = expensive(&r).unwrap_or_else(|| {
        panic!(
            "count-only ({counts} counts): not named: {:#}",
            r["findings"]
        )
    });
    let summary = f["summary"].as_str().unwrap();
    let fix = f["recommendation"].as_str().unwrap();
    eprintln!(
        "count-only: {counts} counts of {EVENTS}; {summary}; {:?}",
        serious(&r)
    );
    assert!(
        summary.contains("count-only range of /registry/events/"),
        "{summary}"
    );
    assert!(
        summary.contains("count-only ranges: etcd walks every key"),
        "{summary}"
    );
    assert!(fix.starts_with("Count-only ranges walk every key"), "{fix}");
    assert!(fix.contains("--etcd-count-metric-poll-period"), "{fix}");
    disk_not_blamed("count-only", &r);
}

/// Pods of the etcd 3.6 row. With 20,000 (20 MiB) one range took 50 to
/// 100 ms, astride the histogram's 51.2 ms and 102.4 ms bucket edges
/// and the rule's 100 ms: the p99 read 102 ms in some runs and under
/// 100 ms in others. Three times the keys keep every range well past it.
const V36_PODS_N: usize = 60_000;
/// The 3.6 row's metrics window. Ranges of 60,000 pods finish at about 8
/// a second on this machine: 3 s gave 18-24 ranges, astride the 20 a
/// histogram needs before it is judged (a CI run saw too few and named
/// nothing); 8 s gives about 60.
const V36_WINDOW: &str = "8s";

/// etcd 3.6, one member: the range latency metric alone (no logs read).
/// Run after the 3.5 rows, not beside them: the storms share two cores.
fn range_latency_names_the_storm_without_logs() {
    if !support::etcd::available(Version::V36, "etcd_3_6_range_latency") {
        return;
    }
    let disk = own_disk();
    let c = Cluster::start_on_disk(Version::V36, 1, &disk);
    let start = Instant::now();
    fill_pods(&c, V36_PODS_N, POD_BYTES);
    let quiet = diagnose_over(&c, "", false, V36_WINDOW);
    assert!(
        expensive(&quiet).is_none(),
        "quiet: {:#}",
        quiet["findings"]
    );
    let storm = Storm::start(&c, Shape::Unpaginated, 6);
    std::thread::sleep(Duration::from_secs(2));
    let r = diagnose_over(&c, "", false, V36_WINDOW);
    let ranges = storm.ranges();
    drop(storm);
    let histogram = &r["cluster"]["metrics"][0]["range_duration"];
    let f = expensive(&r).unwrap_or_else(|| {
        panic!(
            "not named ({ranges} ranges; range_duration {histogram}): {:#}",
            r["findings"]
        )
    });
    let summary = f["summary"].as_str().unwrap();
    eprintln!(
        "3.6: {ranges} ranges; {summary}; range_duration {histogram} ({:.0} s)",
        start.elapsed().as_secs_f64()
    );
    assert!(summary.contains("range p99"), "{summary}");
    assert!(summary.contains("Range "), "{summary}");
    disk_not_blamed("3.6 storm", &r);
}
