//! Prometheus's own checker, `promtool`: `$ETCD_DOCTOR_PROMTOOL`, or on
//! PATH (scripts/install-test-deps installs Debian's prometheus package,
//! which ships it; building it from its Go module took 8 min cold).

use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

/// The promtool binary, or `None` (SKIP said, naming `test`).
pub fn find(test: &str) -> Option<PathBuf> {
    let candidates = [
        std::env::var("ETCD_DOCTOR_PROMTOOL")
            .ok()
            .map(PathBuf::from),
        Some(PathBuf::from("promtool")),
    ];
    let found = candidates.into_iter().flatten().find(|p| {
        Command::new(p)
            .arg("--help")
            .output()
            .is_ok_and(|o| o.status.success())
    });
    if found.is_none() {
        eprintln!("SKIP {test}: promtool not installed (scripts/install-test-deps installs it)");
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
