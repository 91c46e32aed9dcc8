//! Shared support for integration tests: real etcd clusters, network
//! namespaces and privileged set-up, each cleaned up on drop.
#![allow(dead_code)]

pub mod busylink;
pub mod certs;
pub mod doctor;
pub mod etcd;
pub mod etcdlogs;
pub mod fixtures;
pub mod keyspace;
pub mod leader;
pub mod member_start;
pub mod neighbour;
pub mod netns;
pub mod output;
pub mod pathshape;
pub mod printed;
pub mod process;
pub mod promtool;
pub mod pyflows;
pub mod releases;
pub mod shared;
pub mod slowdisk;
pub mod stalldisk;
pub mod storm;
pub mod watch;

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
    // clap adds its "try --help" hint under its own one-line errors.
    let lines = stderr
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with("For more information"))
        .count();
    assert_eq!(lines, 1, "not one line: {stderr}");
    for n in needles {
        assert!(stderr.contains(n), "{stderr:?} lacks {n:?}");
    }
}

/// CPU time the hypervisor took from this VM (steal) while `f` ran, as a
/// percentage of all CPU time, from /proc/stat's `cpu` line.
pub fn with_steal<T>(f: impl FnOnce() -> T) -> (T, f64) {
    fn read() -> (u64, u64) {
        let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
        let fields: Vec<u64> = stat
            .lines()
            .next()
            .unwrap_or_default()
            .split_whitespace()
            .skip(1)
            .filter_map(|v| v.parse().ok())
            .collect();
        (
            fields.iter().take(8).sum(),
            fields.get(7).copied().unwrap_or(0),
        )
    }
    let (total0, steal0) = read();
    let out = f();
    let (total1, steal1) = read();
    let pct =
        100.0 * steal1.saturating_sub(steal0) as f64 / total1.saturating_sub(total0).max(1) as f64;
    (out, pct)
}

/// Steal above which a latency measurement says more about the
/// hypervisor than about the path or disk under test.
pub const MAX_STEAL_PCT: f64 = 5.0;

/// Runs the measurement `f` until one run sees less than
/// [`MAX_STEAL_PCT`] CPU steal, at most `attempts` times. None, with a
/// loud INCONCLUSIVE line, when the hypervisor took the CPU every time:
/// the test then cannot judge latency, and says so.
pub fn measured_without_steal<T>(
    what: &str,
    attempts: usize,
    mut f: impl FnMut() -> T,
) -> Option<T> {
    for attempt in 1..=attempts {
        let (out, steal) = with_steal(&mut f);
        if steal < MAX_STEAL_PCT {
            return Some(out);
        }
        eprintln!(
            "{what}: CPU steal {steal:.1}% during run {attempt} of {attempts}, measuring again"
        );
    }
    eprintln!(
        "INCONCLUSIVE {what}: the hypervisor took at least {MAX_STEAL_PCT}% of the CPU in each of \
         {attempts} runs; latency under CPU starvation says nothing about the path"
    );
    None
}
