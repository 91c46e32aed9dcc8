//! Stopping test members the way a service manager does, and cleaning up
//! the etcd processes a generated runbook started by itself.

use std::path::PathBuf;

use super::etcd::Cluster;

/// Stops member `i` as `systemctl stop` does (SIGTERM: etcd commits its
/// backend and exits), waits up to 10 s, then reaps it.
pub fn stop_gracefully(cluster: &mut Cluster, i: usize) {
    assert!(cluster.members[i].pid().is_some(), "member runs");
    cluster.stop(i);
}

/// Kills the etcd processes whose pids a runbook's start commands wrote
/// to these pid files, when dropped.
pub struct Started(pub Vec<PathBuf>);

/// Runs a runbook `script` whose start commands write the members' pids
/// into `pidfiles`, asserts that it succeeded (its output and the
/// members' log tails otherwise), and returns its standard output and the
/// guard that stops the members it started.
pub fn run_runbook(
    script: &mut std::process::Command,
    pidfiles: Vec<PathBuf>,
    cluster: &super::etcd::Cluster,
) -> (Started, String) {
    let started = Started(pidfiles);
    let out = script.output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "runbook script failed:\n{stdout}\n{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        cluster.log_tails(20)
    );
    (started, stdout)
}

impl Drop for Started {
    fn drop(&mut self) {
        for pidfile in &self.0 {
            if let Some(pid) = std::fs::read_to_string(pidfile)
                .ok()
                .and_then(|s| s.trim().parse::<i32>().ok())
            {
                let pid = nix::unistd::Pid::from_raw(pid);
                let _ = nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGKILL);
            }
        }
    }
}
