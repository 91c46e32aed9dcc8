//! When a probe stops: after N ops, after a duration, or adaptively once
//! the p99 estimate is stable.
//!
//! The adaptive rule compares halves without keeping raw samples: it
//! checks at sample counts that double (n/2, n, 2n, ...), so at each
//! checkpoint the samples since the previous checkpoint are exactly the
//! second half of the run and everything before it the first half. Two
//! histograms hold the halves; the run is stable when their p99 agree
//! within the tolerance. A stable p99 ends no run before its minimum span
//! (`AdaptiveStop::min_span`): what recurs every few seconds must have had
//! the time to show.

use std::time::Duration;

use super::plan::{AdaptiveStop, StopRule};
use super::result::StopReason;
use crate::measure::LatencyHistogram;

/// Decides, sample by sample, whether a probe is done.
#[derive(Debug)]
pub struct Stopper {
    rule: StopRule,
    first_half: LatencyHistogram,
    second_half: LatencyHistogram,
    next_checkpoint: u64,
}

impl Stopper {
    /// A stopper for `rule`.
    pub fn new(rule: StopRule) -> Stopper {
        let next_checkpoint = match rule {
            StopRule::Adaptive(a) => (a.min_samples / 2).max(1),
            _ => 0,
        };
        Stopper {
            rule,
            first_half: LatencyHistogram::new(),
            second_half: LatencyHistogram::new(),
            next_checkpoint,
        }
    }

    /// Takes the `ops`-th sample (`latency`, done `elapsed` after the
    /// start) and says whether to stop, and why.
    pub fn observe(
        &mut self,
        ops: u64,
        elapsed: Duration,
        latency: Duration,
    ) -> Option<StopReason> {
        match self.rule {
            StopRule::Ops(n) => (ops >= n).then_some(StopReason::Ops),
            StopRule::Duration(d) => (elapsed >= d).then_some(StopReason::Duration),
            StopRule::Adaptive(a) => self.observe_adaptive(a, ops, elapsed, latency),
        }
    }

    fn observe_adaptive(
        &mut self,
        a: AdaptiveStop,
        ops: u64,
        elapsed: Duration,
        latency: Duration,
    ) -> Option<StopReason> {
        self.second_half.record(latency);
        if ops >= self.next_checkpoint {
            if !self.first_half.is_empty() && ops >= a.min_samples && elapsed >= a.min_span {
                let p_first = self.first_half.quantile_us(0.99);
                let p_second = self.second_half.quantile_us(0.99);
                if relative_difference(p_first, p_second) <= a.tolerance {
                    return Some(StopReason::Stable);
                }
            }
            self.first_half += &self.second_half;
            self.second_half = LatencyHistogram::new();
            self.next_checkpoint = ops.saturating_mul(2);
        }
        (elapsed >= a.time_cap).then_some(StopReason::TimeCap)
    }
}

/// |a - b| relative to the larger of the two (0 when both are 0).
fn relative_difference(a: f64, b: f64) -> f64 {
    let larger = a.max(b);
    if larger <= 0.0 {
        0.0
    } else {
        (a - b).abs() / larger
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CAP: Duration = Duration::from_secs(10);
    fn adaptive(min_samples: u64) -> StopRule {
        StopRule::Adaptive(AdaptiveStop {
            min_samples,
            tolerance: 0.05,
            time_cap: CAP,
            min_span: Duration::ZERO,
        })
    }

    /// Feeds samples until the stopper stops; returns (ops, reason).
    fn run(rule: StopRule, latency: impl Fn(u64) -> Duration) -> (u64, StopReason) {
        let mut s = Stopper::new(rule);
        for ops in 1..1_000_000u64 {
            let elapsed = Duration::from_millis(ops);
            if let Some(r) = s.observe(ops, elapsed, latency(ops)) {
                return (ops, r);
            }
        }
        panic!("never stopped");
    }

    #[test]
    fn op_count_and_duration_stop_exactly() {
        let us = |_| Duration::from_micros(100);
        assert_eq!(run(StopRule::Ops(37), us), (37, StopReason::Ops));
        assert_eq!(
            run(StopRule::Duration(Duration::from_millis(250)), us),
            (250, StopReason::Duration)
        );
    }

    #[test]
    fn steady_latency_is_stable_at_the_first_comparison() {
        let steady = |i: u64| Duration::from_micros(100 + i % 10);
        assert_eq!(run(adaptive(200), steady), (200, StopReason::Stable));
    }

    #[test]
    fn drifting_latency_runs_to_the_time_cap() {
        // Latency keeps growing, so no two halves ever agree.
        let drifting = |i: u64| Duration::from_micros(100 + i * 10);
        let (ops, reason) = run(adaptive(200), drifting);
        assert_eq!(reason, StopReason::TimeCap);
        assert_eq!(ops, CAP.as_millis() as u64);
    }

    #[test]
    fn a_tail_in_the_second_half_delays_stability() {
        // From sample 300 on, one in 20 samples is slow: the halves at the
        // first comparison (400) disagree on p99, so sampling goes on.
        let tail = |i: u64| {
            if i > 300 && i % 20 == 0 {
                Duration::from_millis(5)
            } else {
                Duration::from_micros(100)
            }
        };
        let (ops, reason) = run(adaptive(400), tail);
        assert!(ops > 400, "stopped too early at {ops}");
        assert_eq!(reason, StopReason::Stable);
    }

    #[test]
    fn a_stable_p99_waits_for_the_minimum_span() {
        let steady = |i: u64| Duration::from_micros(100 + i % 10);
        let rule = StopRule::Adaptive(AdaptiveStop {
            min_samples: 200,
            tolerance: 0.05,
            time_cap: CAP,
            min_span: Duration::from_millis(3000),
        });
        // One sample per ms: stable at 200 ops, but the next checkpoint
        // past 3 s (200 doubling to 3200) is the first that may stop.
        assert_eq!(run(rule, steady), (3200, StopReason::Stable));
    }

    #[test]
    fn relative_difference_is_symmetric() {
        assert_eq!(relative_difference(0.0, 0.0), 0.0);
        assert!((relative_difference(100.0, 95.0) - 0.05).abs() < 1e-9);
        assert_eq!(
            relative_difference(95.0, 100.0),
            relative_difference(100.0, 95.0)
        );
    }
}
