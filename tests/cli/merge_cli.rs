//! `etcd-doctor merge` from the command line: a slow disk among four hosts
//! is the fleet's outlier (Markdown, JSON, HTML), `--fail-on warn` turns
//! the outlier into exit 1, bad input becomes notes, and exit 2 comes only
//! when nothing can be merged.

use std::path::{Path, PathBuf};

use crate::support::fixtures::disk_report;
use assert_cmd::Command;
use etcd_doctor::facts::Report;
use etcd_doctor::fleet::FleetReport;

/// Host `cp-N` reports; `slow` has a 16x slower disk (µs medians).
fn write_fleet(dir: &Path, slow: usize) -> Vec<PathBuf> {
    (1..=4)
        .map(|i| {
            let p50 = if i == slow { 8_000.0 } else { 500.0 };
            let mut r: Report = disk_report("qualify", [p50, p50, p50 * 2.0]);
            r.host.hostname = format!("cp-{i}");
            let path = dir.join(format!("cp-{i}.json"));
            std::fs::write(&path, serde_json::to_vec_pretty(&r).unwrap()).unwrap();
            path
        })
        .collect()
}

fn merge(files: &[PathBuf], extra: &[&str]) -> std::process::Output {
    Command::cargo_bin("etcd-doctor")
        .unwrap()
        .arg("merge")
        .args(files)
        .args(extra)
        .output()
        .unwrap()
}

#[test]
fn the_slow_host_is_the_outlier_in_every_format() {
    let dir = tempfile::tempdir().unwrap();
    let files = write_fleet(dir.path(), 3);
    let out = merge(&files, &["-w", "markdown"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let md = String::from_utf8(out.stdout).unwrap();
    assert!(md.contains("fleet.disk-outlier"), "{md}");
    assert!(md.contains("host cp-3: fsync p99 20 ms"), "{md}");
    assert!(!md.contains("host cp-1:"), "{md}");

    let out = merge(&files, &["-w", "json", "--fail-on", "warn"]);
    assert_eq!(out.status.code(), Some(1));
    let fleet: FleetReport = crate::support::output::parsed(&out.stdout);
    assert_eq!(fleet.hosts.len(), 4);
    let fsync = fleet
        .disk
        .iter()
        .find(|d| d.probe.as_str() == "fsync")
        .unwrap();
    assert_eq!(fsync.fleet_p99_ms, 1.25);

    let html = dir.path().join("fleet.html");
    let out = merge(&files, &["-w", "html", "--out", html.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0));
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.starts_with("<!DOCTYPE html>") && page.contains("fleet.disk-outlier"));
}

#[test]
fn a_healthy_fleet_has_no_fleet_findings() {
    let dir = tempfile::tempdir().unwrap();
    let out = merge(
        &write_fleet(dir.path(), 0),
        &["-w", "json", "--fail-on", "warn"],
    );
    assert_eq!(out.status.code(), Some(0));
    let fleet: FleetReport = crate::support::output::parsed(&out.stdout);
    assert!(fleet.findings.is_empty(), "{:?}", fleet.findings);
}

#[test]
fn duplicates_and_other_schemas_are_notes_not_failures() {
    let dir = tempfile::tempdir().unwrap();
    let mut files = write_fleet(dir.path(), 0);
    files.push(files[0].clone());
    let newer = dir.path().join("newer.json");
    let next = etcd_doctor::facts::SCHEMA_VERSION + 1;
    std::fs::write(
        &newer,
        format!(r#"{{"schema_version": {next}, "command": "qualify"}}"#),
    )
    .unwrap();
    files.push(newer);
    let out = merge(&files, &["-w", "json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let fleet: FleetReport = crate::support::output::parsed(&out.stdout);
    assert_eq!(fleet.hosts.len(), 4);
    let notes = fleet.notes.join("\n");
    assert!(notes.contains("\"cp-1\" already merged"), "{notes}");
    assert!(
        notes.contains(&format!(
            "schema_version {next}, this etcd-doctor reads 1 to {}",
            next - 1
        )),
        "{notes}"
    );
}

#[test]
fn nothing_mergeable_exits_2_saying_why() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("logs.txt");
    std::fs::write(
        &junk,
        "Error from server (NotFound): pods not found\n{\"schema_version\": 1,",
    )
    .unwrap();
    let out = merge(&[junk], &[]);
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no report could be merged"), "{err}");
    assert!(
        err.contains("cut off") && err.contains("skipped 1 line"),
        "{err}"
    );

    let out = merge(&[dir.path().join("missing.json")], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing.json"));
}
