//! How much a metric moves when nothing changed, and whether a move is
//! beyond that: the noise model of `compare` (see [`super::stats`]).
//!
//! Every metric is turned into "badness" in log units (log latency; minus
//! log rate), one value per run and, within a run, one per time block (a
//! timeline interval). Several baseline runs: the runs are the
//! replicates. One baseline run: its blocks are. Either way the result
//! says which model judged, how many runs and blocks it had, the noise
//! floor (the smallest worsening it would have called) and whether that
//! was enough evidence to judge at all.

use serde::{Deserialize, Serialize};

use statrs::distribution::{ContinuousCDF, Normal};

use super::stats;
use crate::measure::{round3, EncodedHistogram, LatencySummary, SummaryField};
use crate::probe::timeline::{TimelinePoint, TIMELINE_INTERVAL};

/// Baseline runs the between-run model needs to judge (two leave one
/// degree of freedom: a floor of about 30 standard deviations).
pub const MIN_RUNS: usize = 3;
/// Time blocks each side needs for the within-run model (2 s of 250 ms
/// intervals).
pub const MIN_BLOCKS: usize = 8;
/// Time blocks a baseline run needs for its sampling variance to bound the
/// between-run spread (1 s of 250 ms intervals: enough for the rate's
/// batch means and for the autocorrelation that inflates either).
pub const MIN_SAMPLING_BLOCKS: usize = 4;
/// Operations a timeline interval needs to count as a block (the last,
/// partial interval of a run can hold a handful).
pub const MIN_BLOCK_OPS: u64 = 5;
/// Between-run spread assumed when the baseline is one run, standard
/// deviation of a run's log value (0.15: a typical run differs from the
/// next by about 16 %). One run cannot measure it, and its time blocks do
/// not see what changes between runs (writeback, neighbours, cache state).
/// Source: the between-run spread of p50, p99 and IOPS over back-to-back
/// 3 s fsync runs on the build machine (`benches/compare_noise.sh`, docs/figures.md).
pub const ASSUMED_RUN_SPREAD: f64 = 0.15;
/// Samples above a percentile a single baseline run needs for that
/// percentile to mean something: 10 (p99 needs 1000 samples, p99.9 10000).
pub const MIN_TAIL_SAMPLES: f64 = 10.0;

/// One run of one probe, as `compare` sees it.
#[derive(Debug, Clone, Copy)]
pub struct RunFacts<'a> {
    /// Latency summary, when the probe measured latency.
    pub latency: Option<&'a LatencySummary>,
    /// Full latency distribution.
    pub histogram: Option<&'a EncodedHistogram>,
    /// A rate (higher is better): metric name, unit, value.
    pub rate: Option<(&'static str, &'static str, f64)>,
    /// Latency per interval.
    pub timeline: &'a [TimelinePoint],
    /// Stall events and observed time, when the probe kept a stall ledger.
    pub stalls: Option<StallFacts>,
}

/// Stall events one run of a probe saw, and how long it observed the disk.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StallFacts {
    /// Stall events (overlapping operations over the heartbeat interval).
    pub events: u64,
    /// Seconds the run observed the disk.
    pub observed_s: f64,
    /// The stall level the run counted against, milliseconds.
    pub heartbeat_ms: f64,
}

/// What is compared: a latency percentile (higher is worse) or the rate.
#[derive(Debug, Clone, Copy)]
pub enum Metric {
    /// Percentile `q` read by `field`.
    Percentile(f64, SummaryField),
    /// The run's rate (higher is better).
    Rate,
}

impl Metric {
    fn run_value(self, r: &RunFacts) -> Option<f64> {
        match self {
            Metric::Percentile(_, field) => r.latency.map(|l| ln(field(l))),
            Metric::Rate => r.rate.map(|(_, _, v)| -ln(v)),
        }
    }

    fn block_values(self, r: &RunFacts) -> Option<Vec<f64>> {
        let mut prev_t = 0.0;
        let mut out = Vec::with_capacity(r.timeline.len());
        for p in r.timeline {
            let secs = (p.t_s - prev_t).clamp(1e-6, TIMELINE_INTERVAL.as_secs_f64());
            prev_t = p.t_s;
            if p.ops < MIN_BLOCK_OPS {
                continue;
            }
            out.push(match self {
                Metric::Percentile(q, _) => ln(block_percentile(p, q)?),
                Metric::Rate => ln(secs / p.ops as f64),
            });
        }
        Some(out)
    }

    /// Worsening in percent for a badness shift `d` (log units).
    pub fn pct(self, d: f64) -> f64 {
        let pct = match self {
            Metric::Percentile(..) => d.exp() - 1.0,
            Metric::Rate => 1.0 - (-d).exp(),
        };
        (pct * 1000.0).round() / 10.0
    }
}

fn ln(v: f64) -> f64 {
    v.max(1e-3).ln()
}

/// A block's value of percentile `q`; schema 1 points hold p50, p99 and
/// max only (their max stands in for p99.9).
fn block_percentile(p: &TimelinePoint, q: f64) -> Option<f64> {
    match q {
        q if q <= 0.5 => Some(p.p50_us),
        q if q <= 0.9 => p.p90_us,
        q if q <= 0.99 => Some(p.p99_us),
        _ => Some(p.p999_us.unwrap_or(p.max_us)),
    }
}

/// Which replicates judged a metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum Model {
    /// Several baseline runs: the between-run spread (pooled t-test on log
    /// values), never below the runs' own sampling error.
    BetweenRuns,
    /// One baseline run: its time blocks (rank test, autocorrelation
    /// corrected), with the between-run spread assumed
    /// ([`ASSUMED_RUN_SPREAD`]).
    WithinRunBlocks,
    /// Stall events of all runs as a Poisson process over the observed
    /// time: the exact conditional (binomial) test of two rates.
    EventCounts,
    /// Nothing to measure noise with.
    None,
}

/// How the noise of one metric was judged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Noise {
    /// Which replicates judged.
    pub model: Model,
    /// Baseline runs.
    pub baseline_runs: usize,
    /// Current runs.
    pub current_runs: usize,
    /// Baseline time blocks (all runs).
    pub baseline_blocks: usize,
    /// Current time blocks (all runs).
    pub current_blocks: usize,
    /// The smallest worsening, percent, the model would have called a
    /// regression (absent when it could call none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub floor_pct: Option<f64>,
    /// One-sided p-value of the observed move.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p_value: Option<f64>,
    /// Whether the baseline had enough runs, blocks and samples to judge.
    pub enough: bool,
    /// The between-run spread (log units) assumed because the baseline is
    /// one run; absent when the spread was measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub assumed_run_spread: Option<f64>,
    /// The between-run spread (log units) used because the runs' measured
    /// spread was below the baseline runs' own sampling error (see
    /// `sampling_variance`); absent when the measured spread was used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sampling_spread: Option<f64>,
    /// What was missing, when not enough.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shortfall: Option<String>,
}

/// Judges `metric` of the current runs against the baseline runs at `alpha`.
pub fn judge(metric: Metric, base: &[RunFacts], cur: &[RunFacts], alpha: f64) -> Noise {
    let values = |runs: &[RunFacts]| -> Vec<f64> {
        runs.iter().filter_map(|r| metric.run_value(r)).collect()
    };
    let per_run = |runs: &[RunFacts]| -> Option<Vec<Vec<f64>>> {
        runs.iter().map(|r| metric.block_values(r)).collect()
    };
    let (bv, cv) = (values(base), values(cur));
    let base_blocks = per_run(base);
    let least_var = base_blocks
        .as_deref()
        .map_or(0.0, |blocks| sampling_variance(metric, base, blocks));
    let (bb, cb) = (
        base_blocks.map(|v| v.concat()),
        per_run(cur).map(|v| v.concat()),
    );
    let mut noise = Noise {
        model: Model::None,
        baseline_runs: bv.len(),
        current_runs: cv.len(),
        baseline_blocks: bb.as_ref().map_or(0, Vec::len),
        current_blocks: cb.as_ref().map_or(0, Vec::len),
        floor_pct: None,
        p_value: None,
        enough: false,
        assumed_run_spread: None,
        sampling_spread: None,
        shortfall: None,
    };
    if let Some(t) = stats::runs_test(&bv, &cv, alpha, least_var) {
        noise.model = Model::BetweenRuns;
        noise.p_value = Some(t.test.p_value);
        // Beyond a factor of 1000 (two runs: Student's t with one degree of
        // freedom) no move is callable, as with the rank test's floor.
        noise.floor_pct = (t.floor <= stats::MAX_SHIFT).then(|| metric.pct(t.floor));
        noise.sampling_spread = t.held.then_some(round3(t.spread));
        noise.enough = bv.len() >= MIN_RUNS;
        if !noise.enough {
            noise.shortfall = Some(format!("{} baseline runs, {MIN_RUNS} needed", bv.len()));
        }
        return noise;
    }
    let (Some(bb), Some(cb)) = (bb, cb) else {
        noise.shortfall = Some("no per-interval values for this percentile (schema 1)".into());
        return noise;
    };
    let Some(test) = stats::rank_test(&bb, &cb) else {
        noise.shortfall = Some(format!("{} vs {} time blocks", bb.len(), cb.len()));
        return noise;
    };
    noise.model = Model::WithinRunBlocks;
    noise.p_value = Some(test.p_value);
    noise.assumed_run_spread = Some(ASSUMED_RUN_SPREAD);
    // Two runs, each off by the assumed spread: their difference.
    let assumed = Normal::standard().inverse_cdf(1.0 - alpha) * 2.0_f64.sqrt() * ASSUMED_RUN_SPREAD;
    noise.floor_pct = stats::rank_floor(&bb, alpha).map(|d| metric.pct(d.max(assumed)));
    noise.shortfall = shortfall(metric, base, &bb, &cb, noise.floor_pct.is_some());
    noise.enough = noise.shortfall.is_none();
    noise
}

/// The variance a run's value has from its own measurement, the least
/// between-run variance the between-run test credits; the mean over the
/// baseline runs that have [`MIN_SAMPLING_BLOCKS`] time blocks (0 when
/// none has). Runs cannot spread less than they measure themselves, so
/// five runs that agree by chance within 1 % do not make a 1 % floor for
/// a p99 that each run measured to 20 %.
fn sampling_variance(metric: Metric, runs: &[RunFacts], blocks: &[Vec<f64>]) -> f64 {
    let per_run: Vec<f64> = runs
        .iter()
        .zip(blocks)
        .filter(|(_, b)| b.len() >= MIN_SAMPLING_BLOCKS)
        .filter_map(|(run, b)| Some(run_sampling_variance(metric, run, b)? * stats::inflation(b)))
        .collect();
    if per_run.is_empty() {
        return 0.0;
    }
    per_run.iter().sum::<f64>() / per_run.len() as f64
}

/// One run's sampling variance of `metric` (log units squared) as if its
/// samples were independent; the caller inflates it for the blocks' lag-1
/// autocorrelation. A percentile: from the run's histogram, by the
/// distribution-free interval of a sample quantile (the values at
/// q -/+ one binomial standard deviation sqrt(q (1 - q) / n) are the
/// estimate's one-SD range). A rate: the variance of the mean of its
/// blocks (a rate is a mean of operations, so blocks are batch means).
fn run_sampling_variance(metric: Metric, run: &RunFacts, blocks: &[f64]) -> Option<f64> {
    match metric {
        Metric::Percentile(q, _) => {
            let h = run.histogram?.decode().ok()?;
            let n = h.len() as f64;
            if n < 2.0 {
                return None;
            }
            let sd_q = (q * (1.0 - q) / n).sqrt();
            let (lo, hi) = (
                h.quantile_us((q - sd_q).max(0.0)),
                h.quantile_us((q + sd_q).min(1.0)),
            );
            Some(((ln(hi) - ln(lo)) / 2.0).powi(2))
        }
        Metric::Rate => Some(stats::mean_var(blocks).1 / blocks.len() as f64),
    }
}

/// What a one-run baseline lacks for `metric`, if anything.
fn shortfall(
    metric: Metric,
    base: &[RunFacts],
    bb: &[f64],
    cb: &[f64],
    has_floor: bool,
) -> Option<String> {
    let fewest = bb.len().min(cb.len());
    if fewest < MIN_BLOCKS {
        return Some(format!("{fewest} time blocks, {MIN_BLOCKS} needed"));
    }
    if !has_floor {
        return Some("blocks too autocorrelated to call any change".into());
    }
    if let Metric::Percentile(q, _) = metric {
        let needed = (MIN_TAIL_SAMPLES / (1.0 - q)).round() as u64;
        let samples = base
            .iter()
            .filter_map(|r| r.latency.map(|l| l.samples))
            .min()
            .unwrap_or(0);
        if samples < needed {
            return Some(format!("{samples} baseline samples, {needed} needed"));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::{LatencyHistogram, PERCENTILES};
    use std::time::Duration;

    fn point(i: usize, p99: f64) -> TimelinePoint {
        TimelinePoint {
            t_s: (i + 1) as f64 * 0.25,
            ops: 250,
            p50_us: p99 / 4.0,
            p90_us: Some(p99 / 2.0),
            p99_us: p99,
            p999_us: Some(p99 * 1.5),
            max_us: p99 * 2.0,
        }
    }

    fn timeline(n: usize, p99: f64, seed: u64) -> Vec<TimelinePoint> {
        let mut rng = fastrand::Rng::with_seed(seed);
        (0..n)
            .map(|i| point(i, p99 * (0.8 + 0.4 * rng.f64())))
            .collect()
    }

    fn summary(p99: f64, samples: u64) -> LatencySummary {
        LatencySummary {
            samples,
            p50: p99 / 4.0,
            p90: p99 / 2.0,
            p99,
            p999: p99 * 1.5,
            max: p99 * 2.0,
            ..LatencySummary::default()
        }
    }

    fn facts<'a>(l: &'a LatencySummary, t: &'a [TimelinePoint]) -> RunFacts<'a> {
        RunFacts {
            latency: Some(l),
            histogram: None,
            rate: Some(("IOPS", "ops/s", 1000.0)),
            timeline: t,
            stalls: None,
        }
    }

    const P99: Metric = Metric::Percentile(0.99, PERCENTILES[2].2);

    #[test]
    fn one_run_each_is_judged_by_blocks() {
        let (lb, lc) = (summary(1000.0, 6000), summary(2500.0, 6000));
        let (tb, tc) = (timeline(24, 1000.0, 1), timeline(24, 2500.0, 2));
        let n = judge(P99, &[facts(&lb, &tb)], &[facts(&lc, &tc)], 0.01);
        assert_eq!(n.model, Model::WithinRunBlocks);
        assert!(n.enough, "{n:?}");
        assert!(n.p_value.unwrap() < 0.01);
        // The assumed between-run spread sets the floor: 2.33 * 1.41 * 0.15.
        assert_eq!(n.floor_pct, Some(63.8));
        assert_eq!(n.assumed_run_spread, Some(ASSUMED_RUN_SPREAD));
    }

    #[test]
    fn short_runs_and_thin_tails_are_not_enough_evidence() {
        let l = summary(1000.0, 6000);
        let short = timeline(4, 1000.0, 1);
        let n = judge(P99, &[facts(&l, &short)], &[facts(&l, &short)], 0.01);
        assert!(!n.enough);
        assert!(n.shortfall.unwrap().contains("time blocks"));
        let thin = summary(1000.0, 500);
        let t = timeline(24, 1000.0, 1);
        let n = judge(P99, &[facts(&thin, &t)], &[facts(&l, &t)], 0.01);
        assert!(n
            .shortfall
            .unwrap()
            .contains("500 baseline samples, 1000 needed"));
    }

    #[test]
    fn several_runs_are_judged_by_their_spread() {
        let ls: Vec<LatencySummary> = [1000.0, 1100.0, 950.0, 1050.0]
            .iter()
            .map(|&v| summary(v, 6000))
            .collect();
        let t = timeline(24, 1000.0, 1);
        let base: Vec<RunFacts> = ls.iter().map(|l| facts(l, &t)).collect();
        let n = judge(P99, &base, &base[..1], 0.01);
        assert_eq!((n.model, n.enough), (Model::BetweenRuns, true));
        let two = judge(P99, &base[..2], &base[..1], 0.01);
        assert!(!two.enough && two.shortfall.unwrap().contains("3 needed"));
        assert!(two.floor_pct.unwrap() > n.floor_pct.unwrap());
    }

    #[test]
    fn runs_that_agree_by_chance_are_held_to_what_each_run_measures() {
        // Five runs whose p99s agree within 0.5 %, each measured from only
        // 300 samples (log-normal, sigma 0.5): a p99 that uncertain.
        let ls: Vec<LatencySummary> = [1000.0, 1005.0, 995.0, 1002.0, 998.0]
            .iter()
            .map(|&v| summary(v, 300))
            .collect();
        let hists: Vec<EncodedHistogram> = (0..5)
            .map(|seed| {
                let mut rng = fastrand::Rng::with_seed(seed);
                let mut h = LatencyHistogram::new();
                for _ in 0..300 {
                    let z: f64 = (0..12).map(|_| rng.f64()).sum::<f64>() - 6.0;
                    h.record(Duration::from_secs_f64(300e-6 * (0.5 * z).exp()));
                }
                h.encode()
            })
            .collect();
        let tl = timeline(24, 1000.0, 1);
        let run = |l, h| RunFacts {
            histogram: Some(h),
            ..facts(l, &tl)
        };
        let base: Vec<RunFacts> = ls.iter().zip(&hists).map(|(l, h)| run(l, h)).collect();
        let worse = summary(1150.0, 300);
        let n = judge(P99, &base, &[run(&worse, &hists[0])], 0.01);
        assert_eq!(n.model, Model::BetweenRuns);
        assert!(n.p_value.unwrap() > 0.01, "{n:?}");
        // About 0.125: half the log distance between p98.4 and p99.6.
        let spread = n.sampling_spread.unwrap();
        assert!((0.06..0.25).contains(&spread), "{n:?}");
        // The runs' spread alone would have called it.
        let values: Vec<f64> = ls.iter().map(|l| l.p99.ln()).collect();
        let raw = stats::runs_test(&values, &[1150.0_f64.ln()], 0.01, 0.0).unwrap();
        assert!(raw.test.p_value < 0.01, "{raw:?}");
        // Twice as slow is still a regression.
        let twice = summary(2000.0, 300);
        let n = judge(P99, &base, &[run(&twice, &hists[0])], 0.01);
        assert!(n.p_value.unwrap() < 0.01, "{n:?}");
        // Without histograms a percentile has no sampling floor.
        let bare: Vec<RunFacts> = ls.iter().map(|l| facts(l, &tl)).collect();
        let n = judge(P99, &bare, &[facts(&worse, &tl)], 0.01);
        assert_eq!(n.sampling_spread, None);
    }

    #[test]
    fn rates_are_worse_when_lower() {
        assert_eq!(Metric::Rate.pct(2.0_f64.ln()), 50.0);
        assert_eq!(P99.pct(2.0_f64.ln()), 100.0);
    }
}
