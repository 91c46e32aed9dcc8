//! IO contention by operations, not bytes, on a real shared disk. An ext4
//! loop device is throttled to 200 write IOPS by a blkio cgroup; a
//! neighbour in the same cgroup spends that budget on small writes while
//! writing well under the 1 MiB/s bytes threshold, and `qualify` (in the
//! same cgroup, as a second service on the same small cloud disk) must
//! report disk.io-contention naming the neighbour, never "the disk itself
//! is slow". Two shapes: fio 4 KiB random writes with a deep libaio queue
//! and O_DIRECT (no write calls counted per process: the device's own write
//! count names it), and a renamed dd doing 4 KiB O_DSYNC appends one at a
//! time (its write calls counted, about 50/s). The baselines: the throttled disk
//! with no neighbour is slow with nothing to blame but itself; the
//! unthrottled loop device raises no contention and no rotational warning
//! (its backing file sits on a virtual disk).

mod support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use etcd_doctor::facts::Report;
use etcd_doctor::host::device::DeviceFacts;
use etcd_doctor::rules::{Finding, FindingId, Severity};
use support::neighbour::{synced_dd, Killed};
use support::slowdisk::{LoopFs, SlowDisk};

/// The shared budget: a small cloud disk's baseline IOPS.
const SHARED_IOPS: u32 = 200;

/// `qualify --probe fsync` of `dir` run by `cmd` (the binary, maybe in a
/// cgroup), its JSON report.
fn qualify(mut cmd: Command, dir: &Path) -> Report {
    let out = cmd
        .args(["qualify", "--probe", "fsync", "--duration", "4"])
        .args(["-w", "json", "--dir"])
        .arg(dir)
        .output()
        .unwrap();
    crate::support::output::parsed_from(&out)
}

fn finding(report: &Report, id: FindingId) -> Option<&Finding> {
    report.findings.iter().find(|f| f.id == id)
}

/// The report must name `neighbour` in disk.io-contention, and any
/// disk.fsync-slow must not blame the disk alone.
fn assert_contention_names(report: &Report, neighbour: &str) {
    let f = finding(report, FindingId::DiskIoContention).unwrap_or_else(|| {
        panic!(
            "no disk.io-contention: findings {:#?}, activity {:#?}",
            report.findings, report.host.activity
        )
    });
    eprintln!("{}", f.summary);
    assert!(f.summary.contains(neighbour), "{}", f.summary);
    assert!(f.severity >= Severity::Warn);
    assert!(f
        .commands
        .iter()
        .any(|c| c.starts_with("ionice -c 3 -p ") && c.ends_with(neighbour)));
    let activity = report.host.activity.as_ref().unwrap();
    let w = activity
        .writers
        .iter()
        .find(|w| w.comm == neighbour)
        .unwrap();
    assert!(
        w.write_mib_s < 1.0,
        "the shape is small writes, under the bytes threshold: {w:?}"
    );
    if let Some(slow) = finding(report, FindingId::DiskFsyncSlow) {
        assert!(!slow.summary.contains("disk itself"), "{}", slow.summary);
        assert!(slow.summary.contains("shared"), "{}", slow.summary);
    }
}

fn bin() -> std::path::PathBuf {
    assert_cmd::cargo::cargo_bin("etcd-doctor")
}

#[test]
fn a_deep_queue_of_small_random_writes_is_contention_by_the_device_count() {
    if !support::privileged("deep_queue_small_random_writes") {
        return;
    }
    let disk = SlowDisk::new(SHARED_IOPS).expect("slow disk set-up");
    // fio: 4 KiB random writes, 16 in flight, O_DIRECT through libaio, for
    // at most 40 s over a 32 MiB file.
    let _fio = Killed(
        disk.command("fio")
            .args([
                "--name=neighbour",
                "--rw=randwrite",
                "--bs=4k",
                "--iodepth=16",
                "--ioengine=libaio",
                "--direct=1",
                // Jobs as threads: killing fio stops its IO.
                "--thread",
                "--size=32m",
                "--time_based",
                "--runtime=40",
                "--output=/dev/null",
            ])
            .arg(format!("--directory={}", disk.path().display()))
            .stdout(Stdio::null())
            .spawn()
            .unwrap(),
    );
    std::thread::sleep(Duration::from_secs(2));
    let report = qualify(disk.command(bin()), disk.path());
    assert_contention_names(&report, "fio");
    let device = report.host.activity.as_ref().unwrap().device_io.as_ref();
    eprintln!("device {device:?}");
}

#[test]
fn small_synced_appends_one_at_a_time_are_contention_named_with_their_calls() {
    if !support::privileged("small_synced_appends") {
        return;
    }
    let disk = SlowDisk::new(SHARED_IOPS).expect("slow disk set-up");
    // A log shipper: dd under another name, 4 KiB O_DSYNC appends, at most
    // 40 MiB.
    let tools = tempfile::tempdir().unwrap();
    let _shipper = synced_dd(&disk, tools.path(), "log-shipper", "ship.log", "4k", 10_000);
    std::thread::sleep(Duration::from_secs(1));
    let report = qualify(disk.command(bin()), disk.path());
    assert_contention_names(&report, "log-shipper");
    let w = report.host.activity.as_ref().unwrap().writers.iter();
    let calls = w
        .filter(|w| w.comm == "log-shipper")
        .map(|w| w.write_ops_s)
        .next();
    assert!(calls.is_some_and(|c| c > 10.0), "{calls:?}");
}

#[test]
fn baselines_blame_the_disk_alone_or_nothing() {
    if !support::privileged("baselines_blame_the_disk_alone_or_nothing") {
        return;
    }
    // Throttled, nobody else writing: slow, and the disk itself is why.
    let disk = SlowDisk::new(SHARED_IOPS).expect("slow disk set-up");
    let slow = qualify(disk.command(bin()), disk.path());
    assert_eq!(
        finding(&slow, FindingId::DiskIoContention),
        None,
        "{:#?} {:#?}",
        slow.findings,
        slow.host.activity
    );
    let f = finding(&slow, FindingId::DiskFsyncSlow).expect("a throttled disk is slow");
    // Nobody else wrote: the disk is blamed, or, when the test machine's
    // CPUs were saturated meanwhile, the CPU is named beside it.
    assert!(
        f.summary.contains("served no writes beyond the probe's")
            && (f.summary.contains("disk itself is slow")
                || f.summary.contains("may be waiting for a CPU")),
        "{}",
        f.summary
    );
    drop(disk);

    // Unthrottled: no contention of our own making, and the loop device's
    // rotational flag (inherited from a virtual disk) is no warning.
    let fs = LoopFs::new(support::slowdisk::DEFAULT_SIZE_BYTES, "ext4").expect("loop fs");
    let facts = DeviceFacts::for_dir(fs.path()).unwrap();
    assert_eq!(facts.virtual_disk.as_deref(), Some("loop"), "{facts:?}");
    let backing = facts.backing.as_deref().expect("the backing file's device");
    assert!(
        backing
            .dir
            .starts_with(std::env::temp_dir().canonicalize().unwrap()),
        "{backing:?}"
    );
    let fast = qualify(Command::new(bin()), fs.path());
    assert_eq!(finding(&fast, FindingId::DiskIoContention), None);
    if let Some(r) = finding(&fast, FindingId::DiskRotational) {
        assert_eq!(r.severity, Severity::Info, "{}", r.summary);
    }
}
