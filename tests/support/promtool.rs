//! Prometheus's own checker, `promtool`, built by scripts/install-test-deps
//! from its Go module into the etcd build cache
//! (`$ETCD_DOCTOR_ETCD_CACHE`, default /var/cache/etcd-doctor,
//! `promtool-vX/promtool`), or `$ETCD_DOCTOR_PROMTOOL`, or on PATH.

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

/// The module version install-test-deps builds.
pub const VERSION: &str = "v0.316.0";

/// The promtool binary, or `None` (SKIP said, naming `test`).
pub fn find(test: &str) -> Option<PathBuf> {
    let cache = std::env::var("ETCD_DOCTOR_ETCD_CACHE")
        .unwrap_or_else(|_| "/var/cache/etcd-doctor".to_string());
    let candidates = [
        std::env::var("ETCD_DOCTOR_PROMTOOL")
            .ok()
            .map(PathBuf::from),
        Some(PathBuf::from(format!(
            "{cache}/promtool-{VERSION}/promtool"
        ))),
        Some(PathBuf::from("promtool")),
    ];
    let found = candidates.into_iter().flatten().find(|p| {
        Command::new(p)
            .arg("--help")
            .output()
            .is_ok_and(|o| o.status.success())
    });
    if found.is_none() {
        eprintln!("SKIP {test}: promtool not installed (scripts/install-test-deps builds it)");
    }
    found
}

/// Runs `promtool ARGS` with `stdin` on its standard input.
pub fn run(promtool: &PathBuf, args: &[&str], stdin: &[u8]) -> Output {
    let mut child = Command::new(promtool)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    child.wait_with_output().unwrap()
}
