//! Shared support for integration tests: real etcd clusters, network
//! namespaces and privileged set-up, each cleaned up on drop.
#![allow(dead_code)]

pub mod certs;
pub mod doctor;
pub mod etcd;
pub mod etcdlogs;
pub mod fixtures;
pub mod keyspace;
pub mod leader;
pub mod neighbour;
pub mod netns;
pub mod pathshape;
pub mod process;
pub mod slowdisk;
pub mod stalldisk;

use std::io;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicUsize, Ordering};

static NEXT_ID: AtomicUsize = AtomicUsize::new(0);

/// A name no other test resource has: `etcd-doctor-<pid>-<n>`, so tests
/// running in parallel (threads or processes) never collide, and leftovers
/// of a killed run can be told by their dead pid.
pub fn unique_name() -> String {
    format!(
        "{NAME_PREFIX}{}-{}",
        std::process::id(),
        NEXT_ID.fetch_add(1, Ordering::Relaxed)
    )
}

/// Prefix of every [`unique_name`].
pub const NAME_PREFIX: &str = "etcd-doctor-";

/// Runs a set-up command; a non-zero exit is an error carrying its stderr.
/// Returns its trimmed standard output.
pub fn run(cmd: &mut Command) -> io::Result<String> {
    let out = cmd.output()?;
    if !out.status.success() {
        return Err(io::Error::other(format!(
            "{cmd:?} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// True when the test may use root-only features (netns, loop devices,
/// cgroups). Without root the test must not pass silently: it panics unless
/// `ETCD_DOCTOR_ALLOW_SKIP=1`, in which case it prints a clear SKIP line.
pub fn privileged(test: &str) -> bool {
    if nix::unistd::geteuid().is_root() {
        return true;
    }
    if std::env::var("ETCD_DOCTOR_ALLOW_SKIP").as_deref() == Ok("1") {
        eprintln!("SKIP {test}: needs root (network namespaces, loop devices, cgroups)");
        return false;
    }
    panic!("{test} needs root; run as root or set ETCD_DOCTOR_ALLOW_SKIP=1 to skip it loudly");
}

/// Asserts a command's exit code 2 and a single standard-error line
/// containing every `needle` (the house rule for bad input).
pub fn fails_with(out: &Output, needles: &[&str]) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
    assert_eq!(
        stderr.trim_end().lines().count(),
        1,
        "not one line: {stderr}"
    );
    for n in needles {
        assert!(stderr.contains(n), "{stderr:?} lacks {n:?}");
    }
}
