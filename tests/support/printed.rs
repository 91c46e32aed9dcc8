//! Running a command the way an operator copies it from a finding: with
//! `sh`, the test's etcdctl and etcd-doctor first on PATH, and again while
//! the cluster refuses it for a moment (a proposal dropped during a
//! re-election: "timed out" / "deadline exceeded"; `member add` before the
//! peers have been connected for 5 s: "unhealthy cluster").

use std::process::{Command, Output};
use std::time::Duration;

use super::etcd::Cluster;

/// Runs `command` with `sh`; panics with the members' logs unless it
/// succeeds within about 10 s of transient refusals.
pub fn run_printed(c: &Cluster, command: &str) -> Output {
    let doctor = assert_cmd::cargo::cargo_bin("etcd-doctor");
    let path = format!(
        "{}:{}:{}",
        doctor.parent().unwrap().display(),
        c.bins.etcdctl.parent().unwrap().display(),
        std::env::var("PATH").unwrap()
    );
    let run = || {
        Command::new("sh")
            .args(["-c", command])
            .env("PATH", &path)
            .output()
            .unwrap()
    };
    let transient = |out: &Output| {
        let stderr = String::from_utf8_lossy(&out.stderr);
        ["timed out", "deadline exceeded", "unhealthy cluster"]
            .iter()
            .any(|s| stderr.contains(s))
    };
    let mut out = run();
    for _ in 0..40 {
        if out.status.success() || !transient(&out) {
            break;
        }
        std::thread::sleep(Duration::from_millis(250));
        out = run();
    }
    assert!(
        out.status.success(),
        "{command}: {}\n{}",
        String::from_utf8_lossy(&out.stderr),
        c.log_tails(40)
    );
    out
}
