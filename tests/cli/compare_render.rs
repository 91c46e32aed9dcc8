//! `compare`'s output in table and Markdown form, pinned by snapshots:
//! fixed reports with fixed timelines, a one-run baseline (time blocks,
//! assumed run spread) and a three-run baseline (measured spread), a
//! regression, noise and "not enough evidence" rows.

use crate::support::fixtures::disk_report;
use etcd_doctor::compare::{self, ComparePlan};
use etcd_doctor::facts::Report;
use etcd_doctor::probe::disk::TimelinePoint;
use etcd_doctor::report::{format::comparison, Format};

/// 16 blocks of 250 ms around `p50` µs, with a deterministic wobble.
fn timeline(p50: f64, seed: u64) -> Vec<TimelinePoint> {
    let mut rng = fastrand::Rng::with_seed(seed);
    (0..16)
        .map(|i| {
            let f = 0.85 + 0.3 * rng.f64();
            TimelinePoint {
                t_s: (i + 1) as f64 * 0.25,
                ops: 200,
                p50_us: p50 * f,
                p90_us: Some(p50 * 1.6 * f),
                p99_us: p50 * 2.5 * f,
                p999_us: Some(p50 * 4.0 * f),
                max_us: p50 * 9.0 * f,
            }
        })
        .collect()
}

/// An fsync-only report with median `p50` µs and a timeline.
fn run(p50: f64, seed: u64) -> Report {
    let mut r = disk_report("disk", [p50, 0.0, 0.0]);
    r.disk.truncate(1);
    r.disk[0].timeline = timeline(p50, seed);
    r.disk[0].iops = 1e6 / p50 / 1.1;
    r
}

fn rendered(baseline: &[Report], current: &Report, format: Format, strict: bool) -> String {
    let plan = ComparePlan {
        max_regression_pct: 20.0,
        strict,
    };
    let c = compare::compare(baseline, std::slice::from_ref(current), &plan).unwrap();
    let mut out = Vec::new();
    comparison::render(&c, format, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn one_run_baseline_table() {
    // 2.5x slower: beyond the blocks and the assumed run spread.
    insta::assert_snapshot!(rendered(
        &[run(400.0, 1)],
        &run(1000.0, 2),
        Format::Table,
        false
    ));
}

#[test]
fn three_run_baseline_markdown() {
    let base = [run(400.0, 1), run(440.0, 3), run(380.0, 4)];
    insta::assert_snapshot!(rendered(&base, &run(460.0, 2), Format::Markdown, false));
}

#[test]
fn strict_one_run_baseline_is_not_enough_evidence() {
    let out = rendered(&[run(400.0, 1)], &run(1000.0, 2), Format::Table, true);
    assert!(
        out.contains("Verdict: FAIL (not enough evidence for"),
        "{out}"
    );
    assert!(out.contains("not enough evidence"), "{out}");
}
