//! `diagnose` tells contention from hardware on a real member. An etcd 3.5
//! member keeps its data dir on an ext4 loop device; it and a heavy writer
//! (`io-hog`, a copy of dd writing synchronously to the same filesystem)
//! share one blkio cgroup whose write IOPS are capped, as two services on
//! one small cloud disk share its IOPS budget. While the test writes keys,
//! etcd's own WAL fsync metric is slow; `diagnose` probes the same
//! filesystem from outside the cgroup (the device itself is fast) and must
//! report disk.io-contention naming io-hog, with the guide's fix.

mod support;

use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use etcd_doctor::facts::Report;
use etcd_doctor::rules::FindingId;
use support::etcd::{Cluster, Version};
use support::etcdlogs::keep_writing;
use support::neighbour::synced_dd;
use support::slowdisk::SlowDisk;

/// The shared IOPS budget of etcd and io-hog.
const SHARED_IOPS: u32 = 200;

#[test]
fn diagnose_names_the_writer_that_slows_etcd() {
    if !support::privileged("diagnose_names_the_writer_that_slows_etcd") {
        return;
    }
    let disk = SlowDisk::new(SHARED_IOPS).expect("slow disk set-up");
    let cluster = Cluster::start_on_disk(Version::V35, 1, &disk);

    // io-hog: dd under another name, synchronous 64 KiB writes to the same
    // filesystem, at most 320 MiB, killed when the test ends.
    let tools = tempfile::tempdir().unwrap();
    let _hog = synced_dd(&disk, tools.path(), "io-hog", "hog.dat", "64k", 5000);
    let stop = Arc::new(AtomicBool::new(false));
    let writer = keep_writing(&cluster, stop.clone());
    std::thread::sleep(Duration::from_secs(1));

    let out = Command::new(assert_cmd::cargo::cargo_bin("etcd-doctor"))
        .args([
            "diagnose",
            "--interval",
            "3s",
            "--probe",
            "fsync",
            "--duration",
            "2",
        ])
        .args(["--endpoints", &cluster.endpoints(), "-w", "json", "--dir"])
        .arg(disk.path())
        .output()
        .unwrap();
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();

    let stderr = String::from_utf8_lossy(&out.stderr);
    let report: Report = crate::support::output::parsed_from(&out);
    assert_eq!(
        out.status.code(),
        Some(1),
        "contention fails the diagnosis: {stderr}"
    );
    let wal = report.cluster.as_ref().unwrap().metrics[0]
        .wal_fsync
        .expect("etcd's WAL fsync metric");
    let f = report
        .findings
        .iter()
        .find(|f| f.id == FindingId::DiskIoContention)
        .unwrap_or_else(|| {
            panic!(
                "no disk.io-contention; etcd WAL p99 {} ms, findings {:#?}, writers {:#?}",
                wal.p99_ms, report.findings, report.host.activity
            )
        });
    eprintln!("etcd WAL fsync p99 {} ms; {}", wal.p99_ms, f.summary);
    assert!(f.summary.contains("io-hog"), "{}", f.summary);
    assert!(f.recommendation.contains("Isolate IO-intensive services"));
    assert!(f.commands.iter().any(|c| c.starts_with("ionice -c 3 -p ")));
    assert!(
        !report
            .findings
            .iter()
            .any(|f| f.summary.contains("etcd (pid")),
        "etcd's own writes are not contention"
    );
    drop(cluster);
}
