//! Stalls in `compare`: a CI run whose disk stalls more often than its
//! baseline regresses even when its percentiles hold (a rare 300 ms hang
//! hides below p99 of a flat-out probe, and it is what costs etcd its
//! heartbeats).
//!
//! Stall events are rare and counted, not measured, so they get a model of
//! their own: the events of all runs of a side as a Poisson process over the
//! time those runs observed the disk. Under "nothing changed" the current
//! side's share of all events follows a binomial law with its share of the
//! observed time; the one-sided tail of that law is the p-value (the exact
//! conditional test for two Poisson rates).

use statrs::distribution::{Binomial, DiscreteCDF};

use super::model::{status, worse_by_pct, ComparePlan, Row};
use super::noise::{Model, Noise, StallFacts};
use crate::measure::round3;

/// Most events a side may claim: far above what any run can record, small
/// enough for the binomial tail to stay exact and fast.
const MAX_EVENTS: u64 = 1_000_000;
/// Largest current count searched for the noise floor.
const MAX_FLOOR_EVENTS: u64 = 10_000;

/// The stall-rate row for one subject, when every run on both sides kept a
/// stall ledger at the same level and observed the disk for some time.
pub fn row(
    b: &[Option<StallFacts>],
    c: &[Option<StallFacts>],
    plan: &ComparePlan,
    alpha: f64,
) -> Option<Row> {
    let (base, cur) = (total(b)?, total(c)?);
    if base.heartbeat_ms != cur.heartbeat_ms {
        return None;
    }
    let per_min = |f: StallFacts| f.events as f64 * 60.0 / f.observed_s;
    // A baseline without stalls is read as "less than one per run": the
    // reference is one event over its observed time, so the worsening is
    // never infinite.
    let reference = per_min(base).max(60.0 / base.observed_s);
    let worse = worse_by_pct(per_min(cur), reference);
    let mut noise = judge(base, cur, alpha);
    (noise.baseline_runs, noise.current_runs) = (b.len(), c.len());
    Some(Row {
        metric: format!("stalls > {} ms per minute", base.heartbeat_ms),
        unit: "/min".into(),
        baseline: round3(per_min(base)),
        current: round3(per_min(cur)),
        worse_by_pct: worse,
        status: status(worse, &noise, plan, alpha),
        noise,
    })
}

/// Whether [`row`] has a row for these ledgers.
pub fn comparable(b: &[Option<StallFacts>], c: &[Option<StallFacts>]) -> bool {
    matches!((total(b), total(c)), (Some(x), Some(y)) if x.heartbeat_ms == y.heartbeat_ms)
}

/// All runs of a side summed; None when a run has no ledger, the runs
/// counted at different levels, or nothing was observed.
fn total(runs: &[Option<StallFacts>]) -> Option<StallFacts> {
    let first = (*runs.first()?)?;
    let mut sum = StallFacts {
        events: 0,
        observed_s: 0.0,
        heartbeat_ms: first.heartbeat_ms,
    };
    for r in runs {
        let r = (*r)?;
        if r.heartbeat_ms != sum.heartbeat_ms || !r.observed_s.is_finite() {
            return None;
        }
        sum.events = sum.events.saturating_add(r.events).min(MAX_EVENTS);
        sum.observed_s += r.observed_s.max(0.0);
    }
    (sum.observed_s > 0.0).then_some(sum)
}

/// The conditional binomial test of the current side's events.
fn judge(base: StallFacts, cur: StallFacts, alpha: f64) -> Noise {
    let share = cur.observed_s / (base.observed_s + cur.observed_s);
    let n = base.events + cur.events;
    let reference = (base.events as f64).max(1.0) / base.observed_s;
    // The fewest current events this baseline would have called.
    let floor = (1..=MAX_FLOOR_EVENTS)
        .find(|&k| tail(base.events + k, share, k) < alpha)
        .map(|k| worse_by_pct(k as f64 / cur.observed_s, reference));
    Noise {
        model: Model::EventCounts,
        baseline_runs: 1,
        current_runs: 1,
        baseline_blocks: 0,
        current_blocks: 0,
        floor_pct: floor,
        p_value: Some(tail(n, share, cur.events)),
        enough: true,
        assumed_run_spread: None,
        sampling_spread: None,
        shortfall: None,
    }
}

/// P(X >= k) for X ~ Binomial(n, p).
fn tail(n: u64, p: f64, k: u64) -> f64 {
    if k == 0 {
        return 1.0;
    }
    match Binomial::new(p.clamp(0.0, 1.0), n) {
        Ok(b) => b.sf(k - 1),
        Err(_) => 1.0,
    }
}

#[cfg(test)]
mod tests {
    use super::super::{Status, ALPHA};
    use super::*;

    fn run(events: u64, observed_s: f64) -> Option<StallFacts> {
        Some(StallFacts {
            events,
            observed_s,
            heartbeat_ms: 100.0,
        })
    }

    fn plan() -> ComparePlan {
        ComparePlan {
            max_regression_pct: 20.0,
            strict: false,
        }
    }

    #[test]
    fn many_more_stalls_regress_and_a_few_are_noise() {
        let r = row(&[run(0, 30.0)], &[run(12, 30.0)], &plan(), ALPHA).unwrap();
        assert_eq!(r.status, Status::Regression, "{r:?}");
        assert_eq!(r.current, 24.0);
        let r = row(&[run(0, 30.0)], &[run(2, 30.0)], &plan(), ALPHA).unwrap();
        assert_eq!(r.status, Status::Noise, "{r:?}");
        let r = row(&[run(10, 30.0)], &[run(10, 30.0)], &plan(), ALPHA).unwrap();
        assert_eq!(r.status, Status::Ok, "{r:?}");
        assert_eq!(r.noise.model, Model::EventCounts);
    }

    #[test]
    fn rates_not_counts_are_compared() {
        // Twice the events over twice the time: the same rate.
        let r = row(&[run(5, 30.0)], &[run(10, 60.0)], &plan(), ALPHA).unwrap();
        assert_eq!(r.status, Status::Ok, "{r:?}");
        // Several baseline runs add up.
        let r = row(
            &[run(1, 30.0), run(0, 30.0), run(1, 30.0)],
            &[run(9, 30.0)],
            &plan(),
            ALPHA,
        )
        .unwrap();
        assert_eq!(r.status, Status::Regression, "{r:?}");
        assert!(r.noise.floor_pct.is_some());
    }

    #[test]
    fn a_smaller_share_of_alpha_needs_more_stalls() {
        let at = |alpha| row(&[run(0, 30.0)], &[run(5, 30.0)], &plan(), alpha).unwrap();
        assert!(at(ALPHA).noise.floor_pct < at(ALPHA / 6.0).noise.floor_pct);
        assert!(comparable(&[run(0, 30.0)], &[run(5, 30.0)]));
        assert!(!comparable(&[None], &[run(5, 30.0)]));
    }

    #[test]
    fn no_row_without_ledgers_or_at_other_levels() {
        assert!(row(&[None], &[run(3, 30.0)], &plan(), ALPHA).is_none());
        assert!(row(&[run(0, 0.0)], &[run(3, 30.0)], &plan(), ALPHA).is_none());
        let other = Some(StallFacts {
            heartbeat_ms: 50.0,
            ..run(0, 30.0).unwrap()
        });
        assert!(row(&[other], &[run(3, 30.0)], &plan(), ALPHA).is_none());
    }
}
