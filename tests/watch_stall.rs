//! `watch` on a disk that hangs now and then: an ext4 zram device whose
//! blkio write limit drops to 1 IOPS for 700 ms every 15 s
//! (support/stalldisk.rs), watched with short windows (1 s ticks; windows
//! of 3 s, 15 s and 45 s standing in for 1 min, 10 min and 1 h). The
//! `disk.fsync-stall` gauge rises within one short window of the first
//! hang and the stall counter matches the hangs injected; the same disk
//! without hangs, watched as long, raises nothing. About 90 s.

mod support;

use std::time::{Duration, Instant};

use support::slowdisk::SlowDisk;
use support::stalldisk::{ram_disk, Stalls};
use support::watch::{findings, value, Watch};

const PERIOD: Duration = Duration::from_secs(15);
const STALL: Duration = Duration::from_millis(700);
const RUN: Duration = Duration::from_secs(40);

/// `watch` of `disk` inside its cgroup, at a high CPU priority (a paced
/// writer waiting for a busy CPU would see the machine's stalls).
fn watch(disk: &SlowDisk) -> Watch {
    let mut cmd = disk.command("nice");
    cmd.args(["-n", "-15"])
        .arg(assert_cmd::cargo::cargo_bin("etcd-doctor"))
        .args(["watch", "--no-cluster", "--listen", "127.0.0.1:0"])
        .args(["--interval", "1s", "--windows", "3s,15s,45s"])
        .arg("--dir")
        .arg(disk.path());
    Watch::start(cmd)
}

/// Runs `watch` for [`RUN`]; returns when the stall finding was first
/// seen (since the start) and the final stall counter.
fn observe(w: &Watch) -> (Option<Duration>, f64) {
    let start = Instant::now();
    let mut first = None;
    while start.elapsed() < RUN {
        let m = w.metrics();
        if first.is_none() && findings(&m).iter().any(|id| id == "disk.fsync-stall") {
            first = Some(start.elapsed());
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    let stalls = value(&w.metrics(), "etcd_doctor_canary_stalls_total", &[]).unwrap();
    (first, stalls)
}

#[test]
fn a_hang_every_15_s_raises_the_stall_gauge_and_a_quiet_disk_nothing() {
    if !support::privileged("watch_stall") {
        return;
    }
    let disk = ram_disk().expect("zram disk set-up");

    let quiet = watch(&disk);
    quiet.wait_ready(Duration::from_secs(10));
    let (first, stalls) = observe(&quiet);
    assert_eq!(first, None, "quiet disk raised disk.fsync-stall");
    assert_eq!(stalls, 0.0);
    // Nothing at warn or fail (a fact such as disk.rotational may be info).
    let m = quiet.metrics();
    let serious: Vec<_> = m
        .samples
        .iter()
        .filter(|s| s.metric == "etcd_doctor_finding")
        .filter(|s| s.labels.get("severity") != Some("info"))
        .collect();
    assert!(serious.is_empty(), "{serious:?}");
    let (status, _) = quiet.stop();
    assert_eq!(status.code(), Some(0));

    let w = watch(&disk);
    w.wait_ready(Duration::from_secs(10));
    let (first, stalls) = {
        let _stalls = Stalls::start(&disk, STALL, PERIOD);
        observe(&w)
    };
    // Hangs at 15 s and 30 s of the 40 s run.
    let injected = (RUN.as_secs_f64() / PERIOD.as_secs_f64()).floor();
    assert_eq!(stalls, injected, "{}", w.stderr());
    let first = first.expect("disk.fsync-stall raised");
    // Within one short window (3 s) of the first hang's end, plus a tick
    // for the segment that holds it to finish.
    let by = PERIOD + STALL + Duration::from_secs(3 + 2);
    assert!(
        first <= by,
        "raised {first:?} after the start, hang at {PERIOD:?}"
    );
    assert!(
        first >= PERIOD - Duration::from_secs(1),
        "raised before any hang: {first:?}"
    );
    let (_, body) = w.get("/report?window=45s");
    let r: etcd_doctor::facts::Report = serde_json::from_str(&body).unwrap();
    let s = &r.disk[0].stalls;
    assert_eq!(s.events_count as f64, injected, "{s:?}");
    assert!(
        s.events
            .windows(2)
            .all(|p| (p[1].at_s - p[0].at_s - 15.0).abs() < 1.5),
        "{s:?}"
    );
    let (status, _) = w.stop();
    assert_eq!(status.code(), Some(0));
    let left: Vec<_> = std::fs::read_dir(disk.path())
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(left, vec!["lost+found"]);
}
