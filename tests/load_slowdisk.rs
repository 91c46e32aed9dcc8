//! A load run names the member whose disk is slow. Three etcd 3.5 members
//! keep their data dirs on one ext4 loop device; only the leader stays in
//! a blkio cgroup that throttles its writes to that device (the followers
//! are moved to the root cgroup), as a leader on an overcommitted cloud
//! disk. The run must fail check perf's criteria or the profile's p99 and
//! name the leader's disk first as the slow side; the fault is
//! injected twice, as an IOPS cap and as a bandwidth cap.

mod support;

use std::path::Path;

use serde_json::Value;
use support::doctor::{doctor, report};
use support::etcd::{Cluster, Version};
use support::leader::leader_and_ids;
use support::slowdisk::{SlowDisk, BLKIO_ROOT};

/// Runs a short check-perf-`s`-like load and returns its JSON report (exit 1).
fn run(c: &Cluster, prefix: &str) -> Value {
    report(
        &mut doctor(&format!(
            "load --endpoints {} --rate 150 --clients 50 --duration 8s --scrape-interval 2s --prefix {prefix} -w json",
            c.endpoints()
        )),
        1,
    )
}

/// The run failed and names the disk of `slow` first.
fn names_the_disk(r: &Value, slow: &str, others: &[&String]) {
    assert_eq!(r["verdict"], "fail", "{r:#}");
    let findings = r["findings"].as_array().unwrap();
    let load_fail = findings
        .iter()
        .find(|f| f["severity"] == "fail" && f["id"].as_str().unwrap().starts_with("load."))
        .unwrap_or_else(|| panic!("no failing load finding: {r:#}"));
    let summary = load_fail["summary"].as_str().unwrap();
    // The slowest disk comes first; members sharing its device and ext4
    // journal may follow, far less slow.
    let side = summary.split_once("the slow side: ").map_or("", |s| s.1);
    let first_disk = side
        .split("; ")
        .find(|side| side.starts_with("the disk of member"))
        .unwrap_or_else(|| panic!("no disk named: {summary}"));
    assert!(
        first_disk.starts_with(&format!("the disk of member {slow}")),
        "{summary}"
    );
    for other in others {
        assert!(!first_disk.contains(other.as_str()), "{summary}");
    }
    assert!(
        findings
            .iter()
            .any(|f| f["id"] == "cluster.metrics-wal-fsync-slow"
                && f["summary"].as_str().unwrap().starts_with(slow)),
        "{r:#}"
    );
    assert_eq!(
        r["load"]["deleted_keys"], r["load"]["all"]["ok"],
        "prefix not deleted"
    );
}

#[test]
fn a_slow_leader_disk_is_named() {
    if !support::privileged("a_slow_leader_disk_is_named") {
        return;
    }
    // Start unthrottled, so the cluster forms quickly.
    let disk = SlowDisk::new(100_000).expect("slow disk set-up");
    let c = Cluster::start_on_disk(Version::V35, 3, &disk);
    let (leader, ids) = leader_and_ids(&c);
    for (i, m) in c.members.iter().enumerate().filter(|(i, _)| *i != leader) {
        let pid = m.pid().unwrap_or_else(|| panic!("member {i} runs"));
        std::fs::write(Path::new(BLKIO_ROOT).join("cgroup.procs"), pid.to_string()).unwrap();
    }
    // Findings name a member `NAME (ID) on HOST` (issue 25).
    let slow = &format!("{} ({})", c.members[leader].name, ids[leader]);
    let others: Vec<&String> = ids.iter().filter(|id| **id != ids[leader]).collect();

    // An IOPS cap: every fdatasync waits for a slot.
    disk.set_write_iops(15).unwrap();
    names_the_disk(&run(&c, "/t-iops/"), slow, &others);

    // A bandwidth cap instead: 256 KiB/s of writes, no IOPS limit.
    disk.set_write_iops(100_000).unwrap();
    let major_minor = disk.loop_fs().major_minor().to_string();
    std::fs::write(
        disk.cgroup().join("blkio.throttle.write_bps_device"),
        format!("{major_minor} {}", 256 * 1024),
    )
    .unwrap();
    names_the_disk(&run(&c, "/t-bps/"), slow, &others);
}
