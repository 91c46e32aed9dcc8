//! `compare` on real runs of this machine's disk: back-to-back runs of the
//! same directory are not regressions (one-run baselines, judged by time
//! blocks); a baseline of several runs is judged by its between-run spread,
//! and more runs give a narrower noise floor; the reports checked in under
//! `reports/` (schema 1 and the current schema) are read by `compare` and
//! every renderer.

mod support;

use std::path::{Path, PathBuf};

use serde_json::Value;
use support::doctor::{doctor, exits, report};

/// `disk --probe fsync` of `dir` for 2 s, JSON into `out`.
fn fsync_run(dir: &Path, out: &Path) {
    exits(
        doctor("disk --probe fsync --duration 2 -w json")
            .arg("--dir")
            .arg(dir)
            .arg("--out")
            .arg(out),
        0,
    );
}

fn p99_row(c: &Value) -> &Value {
    c["subjects"][0]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["metric"] == "p99 latency")
        .expect("p99 row")
}

/// A row's noise floor, infinite when the model could call no change (two
/// runs rarely can: Student's t with one degree of freedom).
fn floor(c: &Value, metric: &str) -> f64 {
    let row = c["subjects"][0]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["metric"] == metric)
        .unwrap();
    row["noise"]["floor_pct"].as_f64().unwrap_or(f64::INFINITY)
}

#[test]
fn same_directory_runs_do_not_regress_and_more_runs_narrow_the_floor() {
    let dir = tempfile::tempdir_in("/var/tmp").unwrap();
    let reports = tempfile::tempdir().unwrap();
    let runs: Vec<PathBuf> = (0..6)
        .map(|i| reports.path().join(format!("run{i}.json")))
        .collect();
    for r in &runs {
        fsync_run(dir.path(), r);
    }
    // Several one-run pairs: time blocks are the replicates.
    for pair in runs.windows(2).take(4) {
        let c = report(doctor("compare -w json").arg(&pair[0]).arg(&pair[1]), 0);
        assert_eq!(c["regressions"], 0, "{c:#}");
        assert_eq!(p99_row(&c)["noise"]["model"], "within-run-blocks");
    }
    let table = exits(doctor("compare").arg(&runs[0]).arg(&runs[1]), 0);
    let text = String::from_utf8_lossy(&table.stdout);
    for needed in ["FLOOR", "EVIDENCE", "blocks", "method:", "Verdict: PASS"] {
        assert!(text.contains(needed), "{needed}: {text}");
    }

    // Baselines of several runs: their spread is the noise.
    let against = |base: &[PathBuf]| {
        report(
            doctor("compare -w json")
                .args(base)
                .arg("--current")
                .arg(&runs[5]),
            0,
        )
    };
    let two = against(&runs[..2]);
    let five = against(&runs[..5]);
    assert_eq!(p99_row(&five)["noise"]["model"], "between-runs");
    assert_eq!(p99_row(&five)["noise"]["enough"], true);
    assert_eq!(p99_row(&two)["noise"]["enough"], false, "{two:#}");
    // Five runs narrow the floor: Student's t with 4 degrees of freedom
    // instead of 1. Not for every metric every time: two runs that agree
    // by chance (IOPS within 0.2 % in 1 of 12 trials here) can have the
    // narrower floor for that metric, so two of the three must narrow.
    let narrower: Vec<(&str, f64, f64)> = ["p50 latency", "p99 latency", "IOPS"]
        .into_iter()
        .map(|m| (m, floor(&five, m), floor(&two, m)))
        .inspect(|(m, f5, _)| assert!(f5.is_finite(), "{m}: {five:#}"))
        .filter(|(_, f5, f2)| f5 < f2)
        .collect();
    assert!(
        narrower.len() >= 2,
        "narrower with five runs: {narrower:?}; five {five:#} two {two:#}"
    );
}

#[test]
fn repeat_writes_a_baseline_set_that_a_directory_compare_reads() {
    let dir = tempfile::tempdir_in("/var/tmp").unwrap();
    let base = tempfile::tempdir().unwrap();
    let set = base.path().join("set.json");
    exits(
        doctor("disk --probe fsync,wal --ops 300 --repeat 3 -w json")
            .arg("--dir")
            .arg(dir.path())
            .arg("--out")
            .arg(&set),
        0,
    );
    let raw: Value = crate::support::output::json(&std::fs::read(&set).unwrap());
    let order: Vec<(String, u64)> = raw["disk"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["probe"].as_str().unwrap().to_string(),
                r["run"].as_u64().unwrap_or(0),
            )
        })
        .collect();
    // Interleaved in time: fsync, wal, fsync, wal, ...
    let expected: Vec<(String, u64)> = (0..3)
        .flat_map(|i| [("fsync".to_string(), i), ("wal".to_string(), i)])
        .collect();
    assert_eq!(order, expected);
    let c = report(
        doctor("compare -w json")
            .arg(base.path())
            .arg("--current")
            .arg(&set),
        0,
    );
    let rows = c["subjects"][0]["rows"].as_array().unwrap();
    assert!(
        rows.iter().all(|r| r["noise"]["baseline_runs"] == 3),
        "{c:#}"
    );
}

fn checked_in(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("reports")
        .join(name)
}

#[test]
fn checked_in_reports_of_both_schemas_are_read_by_compare() {
    let v1 = checked_in("v1/disk.json");
    let current = checked_in("disk-baseline.json");
    let raw: Value = serde_json::from_slice(&std::fs::read(&v1).unwrap()).unwrap();
    assert_eq!(raw["schema_version"], 1);
    let c = report(
        doctor("compare -w json")
            .arg(&v1)
            .arg("--current")
            .arg(&current),
        0,
    );
    assert!(c["subjects"].as_array().unwrap().len() >= 3, "{c:#}");
    // A set of runs against one of its own runs: no regression, judged by runs.
    let c = report(
        doctor("compare -w json")
            .arg(&current)
            .arg("--current")
            .arg(checked_in("disk.json")),
        0,
    );
    assert_eq!(p99_row(&c)["noise"]["model"], "between-runs", "{c:#}");
    // One run each: a schema 1 baseline has no per-interval p90, and every
    // output says so for that row (its verdict depends on the two runs).
    let out = doctor("compare")
        .arg(&v1)
        .arg(checked_in("disk.json"))
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(2));
    let text = String::from_utf8_lossy(&out.stdout);
    let p90 = text.lines().find(|l| l.contains("p90 latency")).unwrap();
    assert!(
        p90.contains("not enough: no per-interval values for this percentile (schema 1)"),
        "{p90}"
    );
}

#[test]
fn checked_in_reports_render_in_every_format() {
    use etcd_doctor::facts::Report;
    use etcd_doctor::report::{self, Format};
    for name in [
        "v1/disk.json",
        "disk.json",
        "disk-baseline.json",
        "example/report.json",
    ] {
        let r: Report = etcd_doctor::compare::load(&checked_in(name)).unwrap();
        assert!(!r.disk.is_empty(), "{name}");
        for format in [Format::Table, Format::Json, Format::Markdown] {
            let mut out = Vec::new();
            report::render(&r, format, &mut out).unwrap();
            assert!(String::from_utf8(out).unwrap().contains("fsync"), "{name}");
        }
        let mut html = Vec::new();
        report::format::html::render(&r, &mut html).unwrap();
        assert!(String::from_utf8(html).unwrap().contains("<svg"), "{name}");
    }
    // The example HTML report the README links is the checked-in qualify report.
    let html = std::fs::read_to_string(checked_in("example/report.html")).unwrap();
    assert!(html.contains("<svg") && html.contains("fsync"));
}
