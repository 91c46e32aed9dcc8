//! `qualify` and `compare` from the command line: profile errors name the
//! key (exit 2), the JSON contract parses back with its verdict and the
//! rules it checked, the `--report` bundle holds every format (Prometheus
//! textfile parsed by a Prometheus parser, JUnit with one case per rule),
//! and compare passes a report against itself.

use std::path::Path;

use assert_cmd::Command;
use etcd_doctor::facts::Report;
use etcd_doctor::rules::{FindingId, Verdict};
use predicates::prelude::*;

fn doctor() -> Command {
    Command::cargo_bin("etcd-doctor").unwrap()
}

/// A short qualify run of `dir` with extra args.
fn qualify(dir: &Path, extra: &[&str]) -> Command {
    let mut cmd = doctor();
    cmd.args(["qualify", "--ops", "200", "--dir"])
        .arg(dir)
        .args(extra);
    cmd
}

#[test]
fn unknown_profile_is_a_one_line_error_listing_the_builtin_ones() {
    let dir = tempfile::tempdir().unwrap();
    qualify(dir.path(), &["--profile", "no-such"])
        .assert()
        .code(2)
        .stderr(
            predicate::str::contains("--profile no-such: no such profile")
                .and(predicate::str::contains(
                    "etcd-default, kubernetes-large, cloud-essd",
                ))
                .and(predicate::function(|s: &str| {
                    s.trim_end().lines().count() == 1
                })),
        );
}

#[test]
fn malformed_profile_names_the_key_and_probes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let profile = dir.path().join("p.toml");
    std::fs::write(
        &profile,
        "name = \"mine\"\n[disk]\nwal_fsync_p99_fail_ms = \"fast\"\n",
    )
    .unwrap();
    let target = tempfile::tempdir().unwrap();
    qualify(target.path(), &["--profile", profile.to_str().unwrap()])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("key `disk.wal_fsync_p99_fail_ms`"));
    std::fs::write(&profile, "[disk]\nwal_fsync_p99_fial_ms = 3.0\n").unwrap();
    qualify(target.path(), &["--profile", profile.to_str().unwrap()])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("wal_fsync_p99_fial_ms"));
    assert!(std::fs::read_dir(target.path()).unwrap().next().is_none());
}

#[test]
fn json_contract_carries_verdict_profile_and_rules_checked() {
    let dir = tempfile::tempdir().unwrap();
    let out = qualify(dir.path(), &["-w", "json", "--profile", "cloud-essd"])
        .output()
        .unwrap();
    assert!(out.status.code() == Some(0) || out.status.code() == Some(1));
    let report: Report = crate::support::output::parsed(&out.stdout);
    let raw: serde_json::Value = crate::support::output::json(&out.stdout);
    assert_eq!(raw["schema_version"], 2);
    assert_eq!(report.command, "qualify");
    assert_eq!(report.profile.as_deref(), Some("cloud-essd"));
    assert_eq!(report.disk.len(), 4, "fsync, wal, backend and paced");
    for id in [
        FindingId::DiskFsyncSlow,
        FindingId::DiskRotational,
        FindingId::DiskIoContention,
        FindingId::HostCpuSteal,
    ] {
        assert!(report.rules_checked.contains(&id), "{id} not checked");
    }
    assert!(report.host.activity.is_some(), "host activity sampled");
    assert!(raw["verdict"].is_string() && raw["findings"].is_array());
    // The exit code follows the verdict: 1 exactly when a finding fails.
    let fails = report.verdict == Verdict::Fail;
    assert_eq!(out.status.code(), Some(i32::from(fails)));
}

#[test]
fn report_bundle_holds_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = tempfile::tempdir().unwrap();
    let out = qualify(dir.path(), &["--report"])
        .arg(bundle.path().join("r"))
        .output()
        .unwrap();
    assert!(
        out.status.code() != Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let read = |name: &str| std::fs::read_to_string(bundle.path().join("r").join(name)).unwrap();

    let report: Report = crate::support::output::parsed(read("report.json").as_bytes());
    assert_eq!(report.disk.len(), 4, "fsync, wal, backend and paced");
    assert!(read("report.md").starts_with("# etcd-doctor qualify: "));
    let html = read("report.html");
    assert!(html.starts_with("<!DOCTYPE html>") && html.trim_end().ends_with("</html>"));
    assert_eq!(html.matches("<svg").count(), 12, "3 plots per disk probe");

    let prom = read("report.prom");
    let lines = prom.lines().map(|l| Ok(l.to_string()));
    let scrape = prometheus_parse::Scrape::parse(lines).unwrap();
    let names: Vec<&str> = scrape.samples.iter().map(|s| s.metric.as_str()).collect();
    for m in [
        "etcd_doctor_verdict",
        "etcd_doctor_disk_latency_seconds",
        "etcd_doctor_disk_ops_per_second",
        "etcd_doctor_rule_status",
    ] {
        assert!(names.contains(&m), "{m} missing from report.prom");
    }
    let p99 = scrape
        .samples
        .iter()
        .find(|s| {
            s.metric == "etcd_doctor_disk_latency_seconds"
                && s.labels.get("probe") == Some("fsync")
                && s.labels.get("quantile") == Some("0.99")
        })
        .unwrap();
    let prometheus_parse::Value::Gauge(seconds) = p99.value else {
        panic!("not a gauge: {:?}", p99.value)
    };
    let fsync = report
        .disk
        .iter()
        .find(|d| d.probe.as_str() == "fsync")
        .unwrap();
    assert!((seconds * 1e6 - fsync.latency_us.p99).abs() < 0.01);

    let junit = read("junit.xml");
    assert_eq!(junit.matches("<testcase ").count(), FindingId::ALL.len());
    assert!(junit.contains("name=\"disk.fsync-slow\""));
    assert!(
        junit.contains("name=\"cluster.stale-member\"><skipped"),
        "no cluster facts: skipped"
    );
}

#[test]
fn compare_passes_a_report_against_itself_and_rejects_non_reports() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("r.json");
    qualify(dir.path(), &["-w", "json", "--out"])
        .arg(&json)
        .output()
        .unwrap();
    let out = doctor()
        .arg("compare")
        .arg(&json)
        .arg(&json)
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("disk fsync (sync)") && stdout.contains("Verdict: PASS"));

    let junk = dir.path().join("junk.json");
    std::fs::write(&junk, "{\"hello\": 1}").unwrap();
    doctor()
        .arg("compare")
        .arg(&json)
        .arg(&junk)
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "junk.json: not an etcd-doctor JSON report",
        ));
    doctor()
        .args(["compare", "--max-regression=-5"])
        .arg(&json)
        .arg(&json)
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--max-regression"));
}
