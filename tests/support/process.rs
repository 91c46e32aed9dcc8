//! Stopping test members the way a service manager does, and cleaning up
//! the etcd processes a generated runbook started by itself.

use std::path::PathBuf;
use std::time::Duration;

use super::etcd::Cluster;

/// Stops member `i` as `systemctl stop` does (SIGTERM: etcd commits its
/// backend and exits), waits up to 10 s, then reaps it.
pub fn stop_gracefully(cluster: &mut Cluster, i: usize) {
    let pid = cluster.members[i].pid().expect("member runs");
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(pid as i32),
        nix::sys::signal::Signal::SIGTERM,
    )
    .expect("signal etcd");
    for _ in 0..100 {
        if !cluster.members[i].is_running() {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    cluster.kill(i);
}

/// Kills the etcd processes whose pids a runbook's start commands wrote
/// to these pid files, when dropped.
pub struct Started(pub Vec<PathBuf>);

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
