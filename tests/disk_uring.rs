//! The io_uring engine: it runs every probe and reports the same summary
//! as the sync engine; where the kernel refuses io_uring
//! (`kernel.io_uring_disabled=2`, set for the test and restored by a
//! guard) `--engine uring` is a one-line error, exit 2, never a crash.
//! Both tests hold one lock so the sysctl never overlaps the working run.

mod support;

use std::fs;
use std::path::Path;
use std::process::Command;
use std::sync::Mutex;

use assert_cmd::prelude::*;
use etcd_doctor::facts::Report;
use etcd_doctor::probe::disk::EngineKind;

const SYSCTL: &str = "/proc/sys/kernel/io_uring_disabled";
static URING_LOCK: Mutex<()> = Mutex::new(());

/// Sets `kernel.io_uring_disabled` and puts the old value back on drop.
struct UringDisabled {
    old: String,
}

impl UringDisabled {
    fn set(value: &str) -> UringDisabled {
        let old = fs::read_to_string(SYSCTL).unwrap();
        fs::write(SYSCTL, value).unwrap();
        UringDisabled { old }
    }
}

impl Drop for UringDisabled {
    fn drop(&mut self) {
        fs::write(SYSCTL, self.old.trim()).expect("restoring kernel.io_uring_disabled");
    }
}

fn uring_run(dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("etcd-doctor").unwrap();
    cmd.args([
        "disk", "--engine", "uring", "--ops", "30", "-w", "json", "--dir",
    ])
    .arg(dir);
    cmd
}

#[test]
fn uring_engine_runs_every_probe() {
    let _lock = URING_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let out = uring_run(dir.path()).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Report = crate::support::output::parsed(&out.stdout);
    assert_eq!(report.disk.len(), 3);
    for r in &report.disk {
        assert_eq!(r.engine, EngineKind::Uring);
        assert_eq!(r.latency_us.samples, 30);
        assert!(r.latency_us.p50 > 0.0);
    }
    assert!(report.disk[0].write_latency_us.is_some());
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn disabled_uring_is_a_clear_error() {
    if !support::privileged("disabled_uring_is_a_clear_error") {
        return;
    }
    if !Path::new(SYSCTL).exists() {
        // Kernels before 6.6 have no such sysctl; nothing honest to toggle.
        eprintln!("SKIP disabled_uring_is_a_clear_error: {SYSCTL} absent on this kernel");
        return;
    }
    let _lock = URING_LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    let out = {
        let _disabled = UringDisabled::set("2");
        uring_run(dir.path()).output().unwrap()
    };
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("io_uring is unavailable"), "{stderr}");
    assert!(stderr.contains("--engine sync"), "{stderr}");
    assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
}
