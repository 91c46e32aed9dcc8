//! `compare`: baseline reports against current ones, for CI regression
//! runs. Probes are matched by what they measured (disk probe and engine,
//! network probe and peer); every run of a probe in the baseline reports
//! (files, a directory, `--repeat` runs) is a replicate. Each percentile
//! and rate is compared by size (worse by more than `--max-regression`
//! percent?) and by evidence (beyond noise? see [`noise`]): only a change
//! that is both large and significant is a regression, and a large change
//! the baseline cannot judge is "not enough evidence" (a failure under
//! `--strict`).

mod load;
pub mod noise;
pub mod stalls;
pub mod stats;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

pub use load::{
    expand, load, load_all, parse, MAX_REPORTS, MAX_REPORT_BYTES, OLDEST_SCHEMA_VERSION,
};
use noise::{Metric, Noise, RunFacts};
use stats::TestResult;

use crate::facts::{Report, SCHEMA_VERSION};
use crate::measure::{EncodedHistogram, LatencyHistogram, PERCENTILES};

/// Default `--max-regression`, percent.
pub const DEFAULT_MAX_REGRESSION_PCT: f64 = 20.0;
/// Significance level: a move with a p-value below it is beyond noise.
pub const ALPHA: f64 = 0.01;

/// How the method is explained in every output.
pub const METHOD: &str = "A metric regresses when it is worse by more than the allowed percentage AND \
    the move is beyond noise (one-sided, p < 0.01 / M for the M metrics compared: any one regression fails \
    the comparison, so unchanged runs fail it at most 1 time in 100). Samples of one run are not independent, so noise is \
    measured on runs and time blocks: with 2 or more baseline runs (several reports, a directory, or \
    --repeat), each run is one value and the between-run spread of the log values decides (pooled \
    t-test, 3 runs needed; the spread counts as at least the baseline runs' own sampling error, a \
    percentile's from its histogram and the rate's from its time blocks, so runs that agree by chance do not \
    make a narrow floor); with one baseline run, its 250 ms time blocks are the replicates (rank test \
    of the block statistics, variance inflated for lag-1 autocorrelation; 8 blocks and 10 samples above \
    the percentile needed), and as one run cannot measure the between-run spread, a spread of 0.15 (log \
    units) is assumed (--strict does not accept that). FLOOR is the smallest worsening that would have been \
    called. Disk stalls (operations over the heartbeat interval, merged into events) are compared as a rate \
    per minute of observed disk time: the events of all runs as a Poisson process, judged by the exact \
    conditional binomial test of the current side's share of all events. KS is the Kolmogorov-Smirnov D of \
    the pooled distributions, for context.";

/// What `compare` is asked to do.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ComparePlan {
    /// Largest tolerated worsening, percent.
    pub max_regression_pct: f64,
    /// Fail (exit 1) when a worsening could not be judged for lack of
    /// evidence.
    pub strict: bool,
}

/// Whether one metric regressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Better, unchanged, or worse within the allowed percentage.
    Ok,
    /// Worse beyond the allowed percentage, but not beyond noise.
    Noise,
    /// Worse beyond the allowed percentage and beyond noise.
    Regression,
    /// Worse beyond the allowed percentage, and the baseline had too few
    /// runs, blocks or samples to tell noise from change.
    NotEnoughEvidence,
}

/// One metric of one subject, baseline against current.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Row {
    /// Which metric, e.g. `p99 latency`, `IOPS`.
    pub metric: String,
    /// Unit of `baseline` and `current`: `us`, `ops/s` or `Mbit/s`.
    pub unit: String,
    /// Baseline value (geometric mean over the baseline runs).
    pub baseline: f64,
    /// Current value (geometric mean over the current runs).
    pub current: f64,
    /// How much worse the current value is, percent (negative: better).
    pub worse_by_pct: f64,
    /// How noise was judged for this metric.
    pub noise: Noise,
    /// The verdict for this metric.
    pub status: Status,
}

/// Everything compared for one probe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Subject {
    /// The probe, e.g. `disk fsync (sync)` or `net rtt 10.0.0.2:7379`.
    pub subject: String,
    /// Kolmogorov-Smirnov test of the pooled latency distributions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ks: Option<TestResult>,
    /// Metric rows.
    pub rows: Vec<Row>,
}

/// The result of `compare` (its `-w json` object).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Comparison {
    /// JSON schema version.
    pub schema_version: u32,
    /// etcd-doctor version.
    pub tool_version: String,
    /// Always `compare`.
    pub command: String,
    /// Largest tolerated worsening, percent.
    pub max_regression_pct: f64,
    /// Significance level of the whole comparison: the chance that
    /// unchanged runs fail it.
    pub alpha: f64,
    /// Significance level of each metric's noise test: `alpha` divided by
    /// the number of metrics judged (Bonferroni; CI fails on any one).
    #[serde(default = "default_alpha")]
    pub alpha_per_metric: f64,
    /// Whether a worsening without enough evidence fails.
    #[serde(default)]
    pub strict: bool,
    /// How regressions are decided.
    pub method: String,
    /// Baseline reports read.
    #[serde(default)]
    pub baseline_reports: usize,
    /// Current reports read.
    #[serde(default)]
    pub current_reports: usize,
    /// Probes found in both sides.
    pub subjects: Vec<Subject>,
    /// Probes found on one side only (not compared).
    #[serde(default)]
    pub unmatched: Vec<String>,
    /// Number of regressed metrics.
    pub regressions: usize,
    /// Metrics worse beyond the allowance that the baseline could not judge.
    #[serde(default)]
    pub not_enough_evidence: usize,
}

impl Comparison {
    /// True when CI should fail: a regression, or under `--strict` a
    /// worsening without enough evidence.
    pub fn failed(&self) -> bool {
        self.regressions > 0 || (self.strict && self.not_enough_evidence > 0)
    }
}

/// The runs of every probe in `reports`, grouped by subject in order of
/// first appearance.
fn subjects(reports: &[Report]) -> Vec<(String, Vec<RunFacts<'_>>)> {
    let mut out: Vec<(String, Vec<RunFacts>)> = Vec::new();
    for report in reports {
        for (subject, facts) in runs(report) {
            match out.iter_mut().find(|(s, _)| *s == subject) {
                Some((_, v)) => v.push(facts),
                None => out.push((subject, vec![facts])),
            }
        }
    }
    out
}

fn runs(report: &Report) -> impl Iterator<Item = (String, RunFacts<'_>)> {
    let disk = report.disk.iter().map(|r| {
        let subject = format!("disk {} ({})", r.probe.as_str(), r.engine.as_str());
        let facts = RunFacts {
            latency: Some(&r.latency_us),
            histogram: Some(&r.latency_histogram),
            rate: Some(("IOPS", "ops/s", r.iops)),
            timeline: &r.timeline,
            // A ledger written by a probe always has a positive level;
            // reports from before stalls were counted have none.
            stalls: (r.stalls.heartbeat_ms > 0.0).then_some(stalls::StallFacts {
                events: r.stalls.events_count,
                observed_s: r.duration_s,
                heartbeat_ms: r.stalls.heartbeat_ms,
            }),
        };
        (subject, facts)
    });
    let net = report.net.iter().filter(|r| r.error.is_none()).map(|r| {
        let size = r
            .message_size_bytes
            .map(|b| format!(" {b} B"))
            .unwrap_or_default();
        let subject = format!("net {} {}{size}", r.probe.as_str(), r.peer);
        let facts = RunFacts {
            latency: r.latency_us.as_ref(),
            histogram: r.latency_histogram.as_ref(),
            rate: r.throughput_mbit_s.map(|t| ("throughput", "Mbit/s", t)),
            timeline: &r.timeline,
            stalls: None,
        };
        (subject, facts)
    });
    // A load run: one subject per operation kind and one for all of them
    // (per-member rows are keyed by client URL, which changes between CI
    // clusters, so they are not matched). Only the run-wide timeline exists.
    let load = report.load.iter().flat_map(|l| {
        std::iter::once(&l.all).chain(&l.ops).map(|o| {
            let facts = RunFacts {
                latency: Some(&o.latency_us),
                histogram: Some(&o.latency_histogram),
                rate: Some(("throughput", "ops/s", o.achieved_ops_s)),
                timeline: if std::ptr::eq(o, &l.all) {
                    &l.timeline
                } else {
                    &[]
                },
                stalls: None,
            };
            (format!("load {}", o.name), facts)
        })
    });
    disk.chain(net).chain(load)
}

/// Compares the `current` reports with the `baseline` reports.
pub fn compare(baseline: &[Report], current: &[Report], plan: &ComparePlan) -> Result<Comparison> {
    let base = subjects(baseline);
    let cur = subjects(current);
    let mut pairs = Vec::new();
    let mut unmatched = Vec::new();
    for (name, b) in &base {
        match cur.iter().find(|(c, _)| c == name) {
            Some((_, c)) => pairs.push((name, b, c)),
            None => unmatched.push(format!("{name} (baseline only)")),
        }
    }
    let judged: usize = pairs.iter().map(|(_, b, c)| metric_count(b, c)).sum();
    let alpha = alpha_per_metric(judged);
    let mut compared = Vec::new();
    for (name, b, c) in pairs {
        compared.push(compare_subject(name, b, c, plan, alpha)?);
    }
    for (name, _) in cur
        .iter()
        .filter(|(c, _)| !base.iter().any(|(b, _)| b == c))
    {
        unmatched.push(format!("{name} (current only)"));
    }
    let count = |status| {
        compared
            .iter()
            .flat_map(|s: &Subject| &s.rows)
            .filter(|r| r.status == status)
            .count()
    };
    Ok(Comparison {
        schema_version: SCHEMA_VERSION,
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        command: "compare".into(),
        max_regression_pct: plan.max_regression_pct,
        alpha: ALPHA,
        alpha_per_metric: alpha,
        strict: plan.strict,
        method: METHOD.into(),
        baseline_reports: baseline.len(),
        current_reports: current.len(),
        regressions: count(Status::Regression),
        not_enough_evidence: count(Status::NotEnoughEvidence),
        subjects: compared,
        unmatched,
    })
}

/// What reports of before `alpha_per_metric` judged at.
fn default_alpha() -> f64 {
    ALPHA
}

/// [`ALPHA`] shared among `judged` metrics: CI fails when any metric
/// regresses, so unchanged runs fail with probability up to the sum of
/// the metrics' levels (Bonferroni).
pub fn alpha_per_metric(judged: usize) -> f64 {
    ALPHA / judged.max(1) as f64
}

fn has_latency(runs: &[RunFacts]) -> bool {
    runs.iter().all(|r| r.latency.is_some())
}

fn has_rate(b: &[RunFacts], c: &[RunFacts]) -> bool {
    b[0].rate.is_some() && c[0].rate.is_some()
}

fn ledger(runs: &[RunFacts]) -> Vec<Option<stalls::StallFacts>> {
    runs.iter().map(|r| r.stalls).collect()
}

/// How many metric rows [`compare_subject`] judges for these runs.
fn metric_count(b: &[RunFacts], c: &[RunFacts]) -> usize {
    let latency = if has_latency(b) && has_latency(c) {
        PERCENTILES.len()
    } else {
        0
    };
    latency + usize::from(has_rate(b, c)) + usize::from(stalls::comparable(&ledger(b), &ledger(c)))
}

fn compare_subject(
    name: &str,
    b: &[RunFacts],
    c: &[RunFacts],
    plan: &ComparePlan,
    alpha: f64,
) -> Result<Subject> {
    let mut rows = Vec::new();
    if has_latency(b) && has_latency(c) {
        for (label, q, field) in PERCENTILES {
            let metric = Metric::Percentile(q, field);
            let value = |r: &RunFacts| r.latency.map(field);
            rows.push(row(
                &format!("{label} latency"),
                "us",
                metric,
                b,
                c,
                value,
                (plan, alpha),
            ));
        }
    }
    if let (Some((label, unit, _)), true) = (b[0].rate, has_rate(b, c)) {
        let value = |r: &RunFacts| r.rate.map(|(_, _, v)| v);
        rows.push(row(label, unit, Metric::Rate, b, c, value, (plan, alpha)));
    }
    rows.extend(stalls::row(&ledger(b), &ledger(c), plan, alpha));
    Ok(Subject {
        subject: name.to_string(),
        ks: match (pooled(b, name)?, pooled(c, name)?) {
            (Some(hb), Some(hc)) => stats::kolmogorov_smirnov(&hb, &hc),
            _ => None,
        },
        rows,
    })
}

/// Every run's latency histogram merged; None when a run has none.
fn pooled(runs: &[RunFacts], subject: &str) -> Result<Option<LatencyHistogram>> {
    let mut all = LatencyHistogram::new();
    for r in runs {
        let Some(h) = r.histogram else {
            return Ok(None);
        };
        all += &decode(h, subject)?;
    }
    Ok(Some(all))
}

fn decode(h: &EncodedHistogram, subject: &str) -> Result<LatencyHistogram> {
    h.decode()
        .with_context(|| format!("{subject}: latency_histogram"))
}

fn row(
    label: &str,
    unit: &str,
    metric: Metric,
    b: &[RunFacts],
    c: &[RunFacts],
    value: impl Fn(&RunFacts) -> Option<f64>,
    (plan, alpha): (&ComparePlan, f64),
) -> Row {
    let (baseline, current) = (geomean(b, &value), geomean(c, &value));
    let worse_by_pct = match metric {
        // `0.0 -`: an unchanged rate is +0.0, not -0.0.
        Metric::Rate => 0.0 - worse_by_pct(current, baseline),
        Metric::Percentile(..) => worse_by_pct(current, baseline),
    };
    let noise = noise::judge(metric, b, c, alpha);
    Row {
        metric: label.to_string(),
        unit: unit.to_string(),
        baseline,
        current,
        worse_by_pct,
        status: status(worse_by_pct, &noise, plan, alpha),
        noise,
    }
}

/// Geometric mean of the runs' values, 3 decimals (the mean the
/// between-run test compares).
fn geomean(runs: &[RunFacts], value: impl Fn(&RunFacts) -> Option<f64>) -> f64 {
    let logs: Vec<f64> = runs
        .iter()
        .filter_map(&value)
        .map(|v| v.max(1e-3).ln())
        .collect();
    if logs.is_empty() {
        return 0.0;
    }
    let g = (logs.iter().sum::<f64>() / logs.len() as f64).exp();
    (g * 1000.0).round() / 1000.0
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

/// Ok within the allowance; beyond it, a regression only with enough
/// evidence (under `--strict`: a measured between-run spread), a p-value
/// below `alpha` (the metric's share of [`ALPHA`]) and a worsening above
/// the noise floor.
fn status(worse_by_pct: f64, noise: &Noise, plan: &ComparePlan, alpha: f64) -> Status {
    let beyond_floor = noise.floor_pct.is_some_and(|f| worse_by_pct >= f);
    if worse_by_pct <= plan.max_regression_pct {
        Status::Ok
    } else if !noise.enough || (plan.strict && noise.assumed_run_spread.is_some()) {
        Status::NotEnoughEvidence
    } else if noise.p_value.is_some_and(|p| p < alpha) && beyond_floor {
        Status::Regression
    } else {
        Status::Noise
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use noise::Model;

    fn plan() -> ComparePlan {
        ComparePlan {
            max_regression_pct: 20.0,
            strict: false,
        }
    }

    fn judged(p_value: f64, enough: bool) -> Noise {
        Noise {
            model: Model::WithinRunBlocks,
            baseline_runs: 1,
            current_runs: 1,
            baseline_blocks: 20,
            current_blocks: 20,
            floor_pct: Some(30.0),
            p_value: Some(p_value),
            enough,
            assumed_run_spread: Some(0.15),
            sampling_spread: None,
            shortfall: None,
        }
    }

    #[test]
    fn status_needs_size_significance_and_evidence() {
        let (sig, noisy) = (judged(1e-9, true), judged(0.3, true));
        assert_eq!(status(10.0, &sig, &plan(), ALPHA), Status::Ok);
        assert_eq!(status(50.0, &sig, &plan(), ALPHA), Status::Regression);
        assert_eq!(status(50.0, &noisy, &plan(), ALPHA), Status::Noise);
        assert_eq!(status(-50.0, &sig, &plan(), ALPHA), Status::Ok);
        let thin = judged(1e-9, false);
        assert_eq!(
            status(50.0, &thin, &plan(), ALPHA),
            Status::NotEnoughEvidence
        );
        assert_eq!(status(5.0, &thin, &plan(), ALPHA), Status::Ok);
        // Significant but below the floor: noise.
        assert_eq!(status(25.0, &sig, &plan(), ALPHA), Status::Noise);
        // Strict: an assumed between-run spread is not evidence.
        let strict = ComparePlan {
            strict: true,
            ..plan()
        };
        assert_eq!(
            status(50.0, &sig, &strict, ALPHA),
            Status::NotEnoughEvidence
        );
        // One of six metrics: p = 0.005 is beyond 0.01 but not 0.01 / 6.
        let p005 = judged(0.005, true);
        assert_eq!(status(50.0, &p005, &plan(), ALPHA), Status::Regression);
        let sixth = alpha_per_metric(6);
        assert_eq!(status(50.0, &p005, &plan(), sixth), Status::Noise);
        assert_eq!(alpha_per_metric(0), ALPHA);
    }

    #[test]
    fn worse_by_is_relative_with_one_decimal() {
        assert_eq!(worse_by_pct(150.0, 100.0), 50.0);
        assert_eq!(worse_by_pct(50.0, 100.0), -50.0);
        assert_eq!(worse_by_pct(5.0, 0.0), 0.0);
    }
}
