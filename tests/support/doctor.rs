//! Running the etcd-doctor binary from tests: without the caller's
//! ETCDCTL_* variables, with the exit code checked and the JSON report parsed.

use std::process::{Command, Output};

use serde_json::Value;

/// `etcd-doctor ARGS...` (split on spaces), ETCDCTL_* variables removed.
pub fn doctor(args: &str) -> Command {
    let mut cmd = Command::new(assert_cmd::cargo::cargo_bin("etcd-doctor"));
    for var in [
        "ETCDCTL_ENDPOINTS",
        "ETCDCTL_CACERT",
        "ETCDCTL_CERT",
        "ETCDCTL_KEY",
    ] {
        cmd.env_remove(var);
    }
    cmd.args(args.split_whitespace());
    cmd
}

/// Runs `cmd`, asserts exit `code`, returns the output.
pub fn exits(cmd: &mut Command, code: i32) -> Output {
    let out = cmd.output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(code),
        "{cmd:?}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Runs `cmd`, asserts exit `code`, parses its standard output as JSON and
/// checks it against its schema ([`super::output::json`]).
pub fn report(cmd: &mut Command, code: i32) -> Value {
    let out = exits(cmd, code);
    super::output::json(&out.stdout)
}

/// The findings of a JSON report with id `id`.
pub fn findings<'a>(report: &'a Value, id: &str) -> Vec<&'a Value> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["id"] == id)
        .collect()
}

/// Runs a judging command (`diagnose`) whose exit code, 0 or 1, depends on
/// this machine as much as on the test: asserts one of them and returns
/// the checked JSON report.
pub fn judged(cmd: &mut Command) -> Value {
    let out = cmd.output().unwrap();
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "{cmd:?}\nstderr: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    super::output::json(&out.stdout)
}
