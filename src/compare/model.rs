//! The vocabulary of `compare`: what it is asked (the plan), what it
//! answers (rows, subjects, the comparison) and how one worsening is
//! judged. The judging files (`noise`, `stalls`) and the driver in
//! `mod.rs` build on it; it builds only on `noise` and `stats`.

use serde::{Deserialize, Serialize};

use super::noise::Noise;
use super::stats::TestResult;

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

/// How much worse `value` is than `reference` when higher is worse,
/// percent, one decimal.
pub(super) fn worse_by_pct(value: f64, reference: f64) -> f64 {
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
pub(super) fn status(worse_by_pct: f64, noise: &Noise, plan: &ComparePlan, alpha: f64) -> Status {
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
