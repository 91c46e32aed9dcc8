//! The fsync probe on a real slow disk: an ext4 loop device whose writes
//! are throttled to 100 IOPS by a cgroup v1 blkio cgroup. Inside the
//! cgroup, fdatasync waits on the throttle; outside it, the same probe on
//! the same filesystem is far faster.
//!
//! What the throttle does to a single synchronous writer, measured on this
//! kernel: blk-throttle hands out its budget per 100 ms slice (10 IOs at
//! 100 IOPS), and each fdatasync costs two IOs from the caller (the data
//! page and the cache flush), so about four fdatasyncs in five pass at once
//! and the fifth waits for the next slice (~95 ms). Mean ~19 ms (the issue's
//! "about 20 ms"), p90 and p99 ~97 ms, but p50 stays ~0.5 ms: the assertions
//! are on the mean and p90, which the throttle moves, not on p50, which a
//! token bucket with a burst does not (cloud disks with burst credits look
//! the same to etcd). The 100 ms slice is fixed on this kernel (a
//! non-rotational loop device gets the same; measured). The test then
//! lowers the limit to 10 IOPS, one IO per slice, less than one
//! fdatasync's worth: the burst is gone and the p50 itself must exceed
//! 5 ms (measured: p50 ~108 ms; at 20 IOPS ~40 % still pass at once).

mod support;

use std::path::Path;
use std::process::Command;

use etcd_doctor::facts::Report;
use etcd_doctor::measure::LatencySummary;
use support::slowdisk::SlowDisk;

const THROTTLED_IOPS: u32 = 100;

/// A limit whose 100 ms slice holds less than one fdatasync (two IOs).
const NO_BURST_IOPS: u32 = 10;

/// Runs the fsync probe for `ops` operations on `dir`; returns its latency.
fn fsync_latency(mut cmd: Command, dir: &Path, ops: u32) -> LatencySummary {
    let out = cmd
        .args([
            "disk",
            "--probe",
            "fsync",
            "--ops",
            &ops.to_string(),
            "-w",
            "json",
            "--dir",
        ])
        .arg(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "disk failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Report = crate::support::output::parsed(&out.stdout);
    assert_eq!(report.disk.len(), 1);
    assert_eq!(report.disk[0].ops, u64::from(ops));
    report.disk[0].latency_us
}

#[test]
fn throttled_disk_shows_slow_fdatasync_and_unthrottled_does_not() {
    if !support::privileged("throttled_disk_shows_slow_fdatasync_and_unthrottled_does_not") {
        return;
    }
    let bin = assert_cmd::cargo::cargo_bin("etcd-doctor");
    let disk = SlowDisk::new(THROTTLED_IOPS).expect("slow disk set-up");

    // About 20 ms per op at 100 IOPS: 60 ops take about a second.
    let slow = fsync_latency(disk.command(&bin), disk.path(), 60);
    let fast = fsync_latency(Command::new(&bin), disk.path(), 300);

    assert!(
        slow.mean > 5_000.0,
        "throttled mean {} µs is not > 5 ms",
        slow.mean
    );
    assert!(
        slow.p90 > 5_000.0,
        "throttled p90 {} µs is not > 5 ms",
        slow.p90
    );
    assert!(
        fast.mean * 3.0 < slow.mean && fast.p90 * 3.0 < slow.p90,
        "unthrottled {fast:?} is not far below throttled {slow:?}"
    );

    // Without the burst, every fdatasync waits: the median moves too.
    disk.set_write_iops(NO_BURST_IOPS).unwrap();
    let no_burst = fsync_latency(disk.command(&bin), disk.path(), 12);
    assert!(
        no_burst.p50 > 5_000.0,
        "p50 {} µs at {NO_BURST_IOPS} IOPS is not > 5 ms",
        no_burst.p50
    );
    assert!(
        fast.p50 * 3.0 < no_burst.p50,
        "unthrottled {fast:?} is not far below {no_burst:?}"
    );
    // Nothing left behind on the filesystem but ext4's own lost+found.
    let left: Vec<_> = std::fs::read_dir(disk.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, vec!["lost+found"]);
}
