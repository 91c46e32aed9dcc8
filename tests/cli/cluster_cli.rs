//! `etcd-doctor cluster` from the outside without a cluster: every bad flag,
//! file or variable gives one line naming it and exit 2; an endpoint that
//! refuses gives one line naming it, exit 2, at once; ETCDCTL_* variables
//! stand in for the flags.

use std::borrow::BorrowMut;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::doctor::{doctor, findings, report};
use assert_cmd::prelude::*;
use predicates::prelude::*;

/// Asserts exit 2 with one stderr line containing `needle`.
fn fails_with(mut cmd: impl BorrowMut<Command>, needle: &str) {
    let out = cmd.borrow_mut().output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains(needle), "{needle:?} not in: {err}");
    // clap adds its "try --help" hint under its own one-line errors.
    let lines = err
        .lines()
        .filter(|l| !l.is_empty() && !l.starts_with("For more information"))
        .count();
    assert_eq!(lines, 1, "one line: {err}");
}

#[test]
fn tls_file_errors_name_the_flag_and_file() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.pem");
    std::fs::write(&junk, "not pem\n").unwrap();
    let junk = junk.to_str().unwrap();
    let missing = dir.path().join("missing.key");
    let missing = missing.to_str().unwrap();

    fails_with(
        doctor("cluster status --cert").arg(junk),
        &format!("--cert {junk} given without --key"),
    );
    fails_with(
        doctor("cluster status --key").arg(missing),
        &format!("--key {missing} given without --cert"),
    );
    fails_with(
        doctor("cluster status --cacert").arg(missing),
        &format!("--cacert {missing}: cannot read the file: No such file"),
    );
    fails_with(
        doctor("cluster health --cacert").arg(junk),
        &format!("--cacert {junk}: no PEM certificate in the file"),
    );
    fails_with(
        doctor("cluster members --cert").args([junk, "--key", missing]),
        &format!("--cert {junk}: no PEM certificate in the file"),
    );
}

#[test]
fn endpoint_and_timeout_errors_name_the_flag() {
    fails_with(
        doctor("cluster status --endpoints 10.0.0.1"),
        "--endpoints: \"10.0.0.1\" is not an endpoint",
    );
    fails_with(
        doctor("cluster status --endpoints https://127.0.0.1:2379"),
        "--endpoints https://127.0.0.1:2379: https needs --cacert FILE",
    );
    // A bare number is seconds (docs/durations.md); a unit Go lacks is not.
    fails_with(doctor("cluster status --dial-timeout 5d"), "--dial-timeout");
    fails_with(
        doctor("cluster alarms --command-timeout 0"),
        "--command-timeout must be more than 0",
    );
    fails_with(
        doctor("cluster metrics --interval 2m"),
        "--interval must be at most 60 s",
    );
    fails_with(
        doctor("cluster status").env("ETCDCTL_DIAL_TIMEOUT", "soon"),
        "--dial-timeout",
    );
    fails_with(
        doctor("cluster status --manifest /nonexistent/etcd.yaml"),
        "--manifest /nonexistent/etcd.yaml: cannot read the file",
    );
}

#[test]
fn a_refusing_endpoint_is_one_line_at_once() {
    let start = Instant::now();
    fails_with(
        doctor("cluster status --endpoints 127.0.0.1:1"),
        "no member answered: 127.0.0.1:1: Connection refused",
    );
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
}

#[test]
fn etcdctl_variables_stand_in_for_flags() {
    // ETCDCTL_ENDPOINTS is the endpoint asked.
    fails_with(
        doctor("cluster health").env("ETCDCTL_ENDPOINTS", "127.0.0.1:1"),
        "127.0.0.1:1: Connection refused",
    );
    // Without ETCDCTL_INSECURE_SKIP_TLS_VERIFY an https endpoint needs a CA;
    // with it, the plan is made and the endpoint is dialed.
    fails_with(
        doctor("cluster health --endpoints https://127.0.0.1:1"),
        "https needs --cacert",
    );
    fails_with(
        doctor("cluster health --endpoints https://127.0.0.1:1")
            .env("ETCDCTL_INSECURE_SKIP_TLS_VERIFY", "true"),
        "https://127.0.0.1:1: Connection refused",
    );
    fails_with(
        doctor("cluster status --endpoints https://127.0.0.1:1")
            .env("ETCDCTL_CACERT", "/nonexistent/ca.crt"),
        "--cacert /nonexistent/ca.crt: cannot read the file",
    );
}

#[test]
fn help_lists_the_etcdctl_flags() {
    doctor("cluster status --help").assert().success().stdout(
        predicate::str::contains("--endpoints")
            .and(predicate::str::contains("--cacert"))
            .and(predicate::str::contains("--insecure-skip-tls-verify"))
            .and(predicate::str::contains("--dial-timeout"))
            .and(predicate::str::contains("--command-timeout"))
            .and(predicate::str::contains("ETCDCTL_ENDPOINTS"))
            .and(predicate::str::contains("--kubeadm"))
            .and(predicate::str::contains("--cluster")),
    );
}

#[test]
fn discovery_flags_are_offered_and_checked() {
    for cmd in ["cluster status", "diagnose", "load", "snapshot save"] {
        doctor(&format!("{cmd} --help")).assert().success().stdout(
            predicate::str::contains("--discover")
                .and(predicate::str::contains("--discover-pid"))
                .and(predicate::str::contains("--no-discover")),
        );
    }
    // --discover and --no-discover contradict each other; --kubeadm is
    // the explicit form and excludes both.
    let out = doctor("cluster status --discover --no-discover")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let out = doctor("cluster status --kubeadm --discover")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    // A pid that runs no etcd: one line naming the flag.
    fails_with(
        doctor("cluster status --discover-pid 4000000000"),
        "--discover-pid 4000000000: no such process",
    );
    fails_with(doctor("cluster status --discover-pid x"), "--discover-pid");
    // --no-discover keeps etcdctl's default endpoint, quietly.
    let out = doctor("cluster status --no-discover --dial-timeout 200ms")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    if out.status.code() == Some(2) {
        assert!(err.contains("127.0.0.1:2379"), "{err}");
    }
    assert!(!err.contains("discovered"), "{err}");
}

/// `diagnose` is for the incident where etcd no longer answers: a listener
/// that takes the connection and then says nothing (a hung or starved
/// etcd) still gets the host judged and a FAIL report, within the
/// timeouts, never an exit without a verdict.
#[test]
fn diagnose_judges_the_host_when_no_member_answers() {
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("127.0.0.1:{}", silent.local_addr().unwrap().port());
    let start = Instant::now();
    let mut cmd = doctor("diagnose -w json --no-disk --no-logs --interval 1s");
    cmd.args(["--dial-timeout", "1s", "--command-timeout", "1s"])
        .args(["--endpoints", &endpoint]);
    let r = report(&mut cmd, 1);
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(r["verdict"], "fail", "{r:#}");
    let found = findings(&r, "cluster.member-unreachable");
    assert_eq!(found.len(), 1, "{r:#}");
    let summary = found[0]["summary"].as_str().unwrap();
    assert!(
        summary.starts_with("no member answered: ") && summary.contains(&endpoint),
        "{summary}"
    );
    assert!(r["host"]["activity"]["cpu"].is_object(), "{:#}", r["host"]);
    drop(silent);
}
