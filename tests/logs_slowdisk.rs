//! `etcd-doctor logs` tells a disk that stalls etcd from the logs alone.
//! Three members keep their data dirs on one ext4 loop device whose
//! blkio cgroup caps write IOPS, two ways: etcd 3.5 alone on a disk capped
//! at a few IOPS (hardware too slow), etcd 3.4 sharing a larger budget with
//! a synchronous writer (contention). While keys are written, the WAL's
//! fdatasync stalls over 1 s ("slow fdatasync" / "sync duration of") and
//! the leader sends heartbeats late; the findings must be disk.fsync-slow
//! and cluster.heartbeat-late blaming the disk.

mod support;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use support::etcd::{Cluster, Version};
use support::etcdlogs::*;
use support::slowdisk::SlowDisk;

/// Write IOPS while members start: plenty.
const START_IOPS: u32 = 5000;

/// How long keys are written on the throttled disk.
const STALL_FOR: Duration = Duration::from_secs(20);

/// Throttles the disk to `iops` (with `hog` writing beside etcd when
/// true) while keys are written, then judges the logs of that window.
fn stalled(version: Version, iops: u32, hog: bool) {
    etcd_env(1 << 30);
    let disk = SlowDisk::new(START_IOPS).expect("slow disk set-up");
    let mut cluster = Cluster::start_on_disk(version, 3, &disk);
    cluster.wait_healthy(Duration::from_secs(30));
    let logs = member_logs(&cluster);

    let t0 = mark();
    disk.set_write_iops(iops).unwrap();
    let mut hog = hog.then(|| {
        disk.command("dd")
            .arg("if=/dev/zero")
            .arg(format!("of={}", disk.path().join("hog.dat").display()))
            .args(["bs=64k", "count=4000", "oflag=dsync", "status=none"])
            .spawn()
            .unwrap()
    });
    let stop = Arc::new(AtomicBool::new(false));
    let writer = keep_writing(&cluster, stop.clone());
    std::thread::sleep(STALL_FOR);
    stop.store(true, Ordering::Relaxed);
    if let Some(h) = hog.as_mut() {
        let _ = h.kill();
        let _ = h.wait();
    }
    disk.set_write_iops(START_IOPS).unwrap();
    writer.join().unwrap();
    let t1 = mark();

    let r = logs_between(&logs, &t0, &t1, 1);
    let ids = serious(&r);
    assert!(ids.contains(&"disk.fsync-slow".to_string()), "{r:#}");
    assert!(count(&r, "slow-fdatasync") >= 1);
    let hb = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "cluster.heartbeat-late")
        .unwrap_or_else(|| panic!("no cluster.heartbeat-late: {r:#}"));
    assert!(
        hb["summary"].as_str().unwrap().contains("the disk"),
        "{hb:#}"
    );
    let worst = r["logs"]["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "slow-fdatasync")
        .unwrap();
    assert!(worst["worst_ms"].as_f64().unwrap() > 1000.0, "{worst:#}");
}

#[test]
fn etcd_3_5_on_a_slow_disk() {
    if !support::privileged("etcd_3_5_on_a_slow_disk") {
        return;
    }
    stalled(Version::V35, 4, false);
}

#[test]
fn etcd_3_4_beside_a_heavy_writer() {
    if !support::privileged("etcd_3_4_beside_a_heavy_writer") {
        return;
    }
    stalled(Version::V34, 12, true);
}
