//! `compare`: a baseline report against a current one, for CI regression
//! runs. Probes are matched by what they measured (disk probe and engine,
//! network probe and peer); each percentile is compared both by size (worse
//! by more than `--max-regression` percent?) and by evidence (is the move
//! beyond noise? see [`stats`]). Only a change that is both large and
//! significant is a regression; rates without a distribution (IOPS,
//! throughput) are judged by size alone.

pub mod stats;

use std::io::Read as _;
use std::path::Path;

use anyhow::{bail, Context, Result};
use serde::{Deserialize, Serialize};

use crate::measure::{EncodedHistogram, LatencyHistogram, LatencySummary, PERCENTILES};
use crate::report::{Report, SCHEMA_VERSION};
use stats::TestResult;

/// Default `--max-regression`, percent.
pub const DEFAULT_MAX_REGRESSION_PCT: f64 = 20.0;
/// Significance level: a move with a p-value below it is beyond noise.
pub const ALPHA: f64 = 0.01;

/// How the method is explained in every output.
pub const METHOD: &str = "A percentile regresses when it is worse by more than the allowed percentage AND \
    the move is beyond noise: the share of current samples above the baseline's percentile value is \
    compared with the baseline's own share by a one-sided two-proportion z-test on the full HDR \
    histograms (p < 0.01). KS is the two-sample Kolmogorov-Smirnov statistic of the whole distribution, \
    shown for context. Rates (IOPS, Mbit/s) are judged by size alone.";

/// What `compare` is asked to do.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ComparePlan {
    /// Largest tolerated worsening, percent.
    pub max_regression_pct: f64,
}

/// Whether one metric regressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Better, unchanged, or worse within the allowed percentage.
    Ok,
    /// Worse beyond the allowed percentage, but not beyond noise.
    Noise,
    /// Worse beyond the allowed percentage and beyond noise.
    Regression,
}

/// One metric of one subject, baseline against current.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Row {
    /// Which metric, e.g. `p99 latency`, `IOPS`.
    pub metric: String,
    /// Unit of `baseline` and `current`: `us`, `ops/s` or `Mbit/s`.
    pub unit: String,
    /// Baseline value.
    pub baseline: f64,
    /// Current value.
    pub current: f64,
    /// How much worse the current value is, percent (negative: better).
    pub worse_by_pct: f64,
    /// The exceedance test at this percentile (latency rows with histograms).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub test: Option<TestResult>,
    /// The verdict for this metric.
    pub status: Status,
}

/// Everything compared for one probe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Subject {
    /// The probe, e.g. `disk fsync (sync)` or `net rtt 10.0.0.2:7379`.
    pub subject: String,
    /// Kolmogorov-Smirnov test of the whole latency distribution.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ks: Option<TestResult>,
    /// Metric rows.
    pub rows: Vec<Row>,
}

/// The result of `compare` (its `-w json` object).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Comparison {
    /// JSON schema version.
    pub schema_version: u32,
    /// etcd-doctor version.
    pub tool_version: String,
    /// Always `compare`.
    pub command: String,
    /// Largest tolerated worsening, percent.
    pub max_regression_pct: f64,
    /// Significance level of the noise tests.
    pub alpha: f64,
    /// How regressions are decided.
    pub method: String,
    /// Probes found in both reports.
    pub subjects: Vec<Subject>,
    /// Probes found in one report only (not compared).
    #[serde(default)]
    pub unmatched: Vec<String>,
    /// Number of regressed metrics.
    pub regressions: usize,
}

/// Largest report `compare` reads: a full run's report is a few hundred KiB.
pub const MAX_REPORT_BYTES: u64 = 64 << 20;

/// Reads a JSON report written by `-w json` or `--report`; a report past
/// [`MAX_REPORT_BYTES`] or with a histogram no run can write is refused,
/// naming the file and field, before anything is allocated from it.
pub fn load(path: &Path) -> Result<Report> {
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut text = Vec::new();
    std::io::Read::take(file, MAX_REPORT_BYTES + 1)
        .read_to_end(&mut text)
        .with_context(|| format!("cannot read {}", path.display()))?;
    if text.len() as u64 > MAX_REPORT_BYTES {
        bail!(
            "{}: larger than {MAX_REPORT_BYTES} bytes, not an etcd-doctor JSON report",
            path.display()
        );
    }
    let report: Report = serde_json::from_slice(&text)
        .with_context(|| format!("{}: not an etcd-doctor JSON report", path.display()))?;
    if report.schema_version != SCHEMA_VERSION {
        bail!(
            "{}: report schema_version {} is not {SCHEMA_VERSION}",
            path.display(),
            report.schema_version
        );
    }
    for m in measured(&report) {
        if let Some(h) = m.histogram {
            h.check()
                .with_context(|| format!("{}: {}", path.display(), m.subject))?;
        }
    }
    Ok(report)
}

/// A probe's comparable facts, from either report.
struct Measured<'a> {
    subject: String,
    latency: Option<&'a LatencySummary>,
    histogram: Option<&'a EncodedHistogram>,
    rate: Option<(&'static str, &'static str, f64)>,
}

fn measured(report: &Report) -> Vec<Measured<'_>> {
    let disk = report.disk.iter().map(|r| Measured {
        subject: format!("disk {} ({})", r.probe.as_str(), r.engine.as_str()),
        latency: Some(&r.latency_us),
        histogram: Some(&r.latency_histogram),
        rate: Some(("IOPS", "ops/s", r.iops)),
    });
    let net = report
        .net
        .iter()
        .filter(|r| r.error.is_none())
        .map(|r| Measured {
            subject: format!("net {} {}", r.probe.as_str(), r.peer),
            latency: r.latency_us.as_ref(),
            histogram: r.latency_histogram.as_ref(),
            rate: r.throughput_mbit_s.map(|t| ("throughput", "Mbit/s", t)),
        });
    disk.chain(net).collect()
}

/// Compares `current` with `baseline`.
pub fn compare(baseline: &Report, current: &Report, plan: &ComparePlan) -> Result<Comparison> {
    let base = measured(baseline);
    let cur = measured(current);
    let mut subjects = Vec::new();
    let mut unmatched = Vec::new();
    for b in &base {
        match cur.iter().find(|c| c.subject == b.subject) {
            Some(c) => subjects.push(compare_subject(b, c, plan)?),
            None => unmatched.push(format!("{} (baseline only)", b.subject)),
        }
    }
    for c in cur
        .iter()
        .filter(|c| !base.iter().any(|b| b.subject == c.subject))
    {
        unmatched.push(format!("{} (current only)", c.subject));
    }
    let regressions = subjects
        .iter()
        .flat_map(|s| &s.rows)
        .filter(|r| r.status == Status::Regression)
        .count();
    Ok(Comparison {
        schema_version: SCHEMA_VERSION,
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        command: "compare".into(),
        max_regression_pct: plan.max_regression_pct,
        alpha: ALPHA,
        method: METHOD.into(),
        subjects,
        unmatched,
        regressions,
    })
}

fn compare_subject(b: &Measured, c: &Measured, plan: &ComparePlan) -> Result<Subject> {
    let hists = match (b.histogram, c.histogram) {
        (Some(hb), Some(hc)) => Some((decode(hb, &b.subject)?, decode(hc, &c.subject)?)),
        _ => None,
    };
    let mut rows = Vec::new();
    if let (Some(lb), Some(lc)) = (b.latency, c.latency) {
        for (name, q, value) in PERCENTILES {
            let test = hists
                .as_ref()
                .and_then(|(hb, hc)| stats::exceedance(hb, hc, q));
            let metric = format!("{name} latency");
            rows.push(row(&metric, "us", value(lb), value(lc), test, plan));
        }
    }
    if let (Some((metric, unit, vb)), Some((_, _, vc))) = (b.rate, c.rate) {
        rows.push(rate_row(metric, unit, vb, vc, plan));
    }
    Ok(Subject {
        subject: b.subject.clone(),
        ks: hists
            .as_ref()
            .and_then(|(hb, hc)| stats::kolmogorov_smirnov(hb, hc)),
        rows,
    })
}

fn decode(h: &EncodedHistogram, subject: &str) -> Result<LatencyHistogram> {
    h.decode()
        .with_context(|| format!("{subject}: latency_histogram"))
}

fn row(
    metric: &str,
    unit: &str,
    baseline: f64,
    current: f64,
    test: Option<TestResult>,
    plan: &ComparePlan,
) -> Row {
    let worse_by_pct = worse_by_pct(current, baseline);
    Row {
        metric: metric.to_string(),
        unit: unit.to_string(),
        baseline,
        current,
        worse_by_pct,
        test,
        status: status(worse_by_pct, test, plan),
    }
}

/// A rate row: lower is worse, and there is no distribution to test.
fn rate_row(metric: &str, unit: &str, baseline: f64, current: f64, plan: &ComparePlan) -> Row {
    // `0.0 -` rather than `-`: an unchanged rate is +0.0, not -0.0.
    let worse_by_pct = 0.0 - worse_by_pct(current, baseline);
    Row {
        status: status(worse_by_pct, None, plan),
        worse_by_pct,
        ..row(metric, unit, baseline, current, None, plan)
    }
}

/// How much worse `value` is than `reference` when higher is worse,
/// percent, one decimal.
fn worse_by_pct(value: f64, reference: f64) -> f64 {
    if reference > 0.0 {
        ((value - reference) / reference * 1000.0).round() / 10.0
    } else {
        0.0
    }
}

fn status(worse_by_pct: f64, test: Option<TestResult>, plan: &ComparePlan) -> Status {
    if worse_by_pct <= plan.max_regression_pct {
        Status::Ok
    } else if test.is_some_and(|t| t.p_value >= ALPHA) {
        Status::Noise
    } else {
        Status::Regression
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> ComparePlan {
        ComparePlan {
            max_regression_pct: 20.0,
        }
    }

    #[test]
    fn status_needs_size_and_significance() {
        let significant = Some(TestResult {
            statistic: 5.0,
            p_value: 1e-9,
        });
        let noisy = Some(TestResult {
            statistic: 0.5,
            p_value: 0.3,
        });
        assert_eq!(status(10.0, significant, &plan()), Status::Ok);
        assert_eq!(status(50.0, significant, &plan()), Status::Regression);
        assert_eq!(status(50.0, noisy, &plan()), Status::Noise);
        assert_eq!(status(50.0, None, &plan()), Status::Regression);
        assert_eq!(status(-50.0, significant, &plan()), Status::Ok);
    }

    #[test]
    fn a_lower_rate_is_worse() {
        let r = rate_row("IOPS", "ops/s", 1000.0, 500.0, &plan());
        assert_eq!((r.worse_by_pct, r.status), (50.0, Status::Regression));
        let r = rate_row("IOPS", "ops/s", 1000.0, 1500.0, &plan());
        assert_eq!((r.worse_by_pct, r.status), (-50.0, Status::Ok));
        let r = rate_row("IOPS", "ops/s", 1000.0, 1000.0, &plan());
        assert_eq!(r.worse_by_pct.to_string(), "0");
    }
}
