//! Stall accounting: the operations etcd would have waited on for longer
//! than a heartbeat, when they happened and whether they come back on a
//! schedule.
//!
//! Percentiles dilute a stall that comes once every few seconds: a
//! flat-out probe doing thousands of fdatasyncs per second puts a 300 ms
//! stall far below p99. etcd notices every one (a heartbeat due while the
//! WAL sync hangs goes out late), so every probe also keeps a stall ledger:
//! operations slower than the heartbeat interval and than half the
//! election timeout are counted; overlapping slow operations (a paced
//! probe's writes queued behind one stall) merge into one stall event with
//! its start offset and longest wait; the gaps between events give a
//! period when they are regular (periodic writeback, a journal commit
//! interval, a neighbour's cron job).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::measure::{median, round3};
use crate::units::Millis;

/// Stall events kept with their times; later ones are counted only.
pub const MAX_EVENTS: usize = 512;

/// Largest spread of the inter-stall gaps, relative to their median, at
/// which the stalls count as periodic (median absolute deviation / median).
pub const REGULAR_SPREAD_RATIO: f64 = 0.2;

/// Fewest inter-stall gaps from which a period is stated.
pub const MIN_GAPS_FOR_PERIOD: usize = 3;

/// The two stall levels, from the profile: etcd's heartbeat interval and
/// half its election timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StallLevels {
    /// An operation longer than this is a stall (a heartbeat goes out late).
    pub heartbeat: Duration,
    /// An operation longer than this is a severe stall (half the election
    /// timeout: followers start counting towards a new election).
    pub half_election: Duration,
}

impl Default for StallLevels {
    /// etcd's defaults: `--heartbeat-interval` 100 ms, `--election-timeout`
    /// 1000 ms (etcd docs, "Tuning").
    fn default() -> Self {
        StallLevels {
            heartbeat: Duration::from_millis(100),
            half_election: Duration::from_millis(500),
        }
    }
}

/// One stall: overlapping operations slower than the heartbeat interval.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct StallEvent {
    /// When the first stalled operation started (or was scheduled),
    /// seconds since the probe started.
    pub at_s: f64,
    /// The longest wait of the event's operations, milliseconds.
    pub longest_ms: f64,
    /// Operations of the event slower than the heartbeat interval.
    pub ops: u64,
}

/// A probe's stall ledger (JSON contract: `disk[].stalls`).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(default)]
pub struct StallSummary {
    /// The stall level used (the profile's heartbeat interval), milliseconds.
    pub heartbeat_ms: f64,
    /// The severe stall level used (half the election timeout), milliseconds.
    pub half_election_ms: f64,
    /// Operations (fdatasyncs, commits) slower than `heartbeat_ms`.
    pub ops_over_heartbeat: u64,
    /// Operations slower than `half_election_ms`.
    pub ops_over_half_election: u64,
    /// Stall events (overlapping slow operations merged).
    pub events_count: u64,
    /// The longest operation of the run, milliseconds (a stall when above
    /// `heartbeat_ms`).
    pub longest_ms: f64,
    /// When the longest operation started, seconds since the probe started.
    pub longest_at_s: f64,
    /// Median time between the starts of consecutive stall events, seconds
    /// (with at least two events).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub median_gap_s: Option<f64>,
    /// Median absolute deviation of those gaps, seconds: small against
    /// `median_gap_s` when the stalls come on a schedule.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gap_spread_s: Option<f64>,
    /// The stall period, seconds: `median_gap_s` when there are at least
    /// three gaps and their spread is within a fifth of the median.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub period_s: Option<f64>,
    /// The first stall events (at most 512), in time order.
    pub events: Vec<StallEvent>,
}

/// Builds a [`StallSummary`] operation by operation.
#[derive(Debug)]
pub struct StallTracker {
    levels: StallLevels,
    summary: StallSummary,
    /// End of the open event (completion of its latest operation).
    open_until: Option<Duration>,
}

impl StallTracker {
    /// An empty ledger judging operations against `levels`.
    pub fn new(levels: StallLevels) -> StallTracker {
        StallTracker {
            levels,
            summary: StallSummary {
                heartbeat_ms: ms(levels.heartbeat),
                half_election_ms: ms(levels.half_election),
                ..StallSummary::default()
            },
            open_until: None,
        }
    }

    /// Takes an operation that completed `done` after the probe started
    /// and waited `latency` (so it started at `done - latency`).
    pub fn record(&mut self, done: Duration, latency: Duration) {
        let start = done.saturating_sub(latency);
        let s = &mut self.summary;
        if ms(latency) > s.longest_ms {
            s.longest_ms = ms(latency);
            s.longest_at_s = start.as_secs_f64();
        }
        if latency <= self.levels.heartbeat {
            return;
        }
        s.ops_over_heartbeat += 1;
        if latency > self.levels.half_election {
            s.ops_over_half_election += 1;
        }
        match self.open_until {
            Some(end) if start < end => {
                let kept = s.events_count as usize <= MAX_EVENTS;
                if let Some(e) = s.events.last_mut().filter(|_| kept) {
                    e.longest_ms = e.longest_ms.max(ms(latency));
                    e.ops += 1;
                }
                self.open_until = Some(end.max(done));
            }
            _ => {
                s.events_count += 1;
                if s.events.len() < MAX_EVENTS {
                    s.events.push(StallEvent {
                        at_s: start.as_secs_f64(),
                        longest_ms: ms(latency),
                        ops: 1,
                    });
                }
                self.open_until = Some(done);
            }
        }
    }

    /// The finished ledger, with the gap statistics.
    pub fn finish(mut self) -> StallSummary {
        gap_statistics(&mut self.summary);
        self.summary
    }
}

/// Sets the gap statistics of `s` (median gap, spread, period) from its
/// kept events; also for ledgers joined from several runs (`watch`'s
/// windows), whose events are in time order on one clock.
pub fn gap_statistics(s: &mut StallSummary) {
    let gaps: Vec<f64> = s.events.windows(2).map(|w| w[1].at_s - w[0].at_s).collect();
    (s.median_gap_s, s.gap_spread_s, s.period_s) = (None, None, None);
    if let Some(median) = median(gaps.iter().copied()) {
        let deviations: Vec<f64> = gaps.iter().map(|g| (g - median).abs()).collect();
        let spread = median_or_zero(&deviations);
        s.median_gap_s = Some(round3(median));
        s.gap_spread_s = Some(round3(spread));
        let regular = gaps.len() >= MIN_GAPS_FOR_PERIOD
            && median > 0.0
            && spread <= REGULAR_SPREAD_RATIO * median;
        s.period_s = regular.then_some(round3(median));
    }
}

fn ms(d: Duration) -> f64 {
    Millis::from(d).0
}

fn median_or_zero(v: &[f64]) -> f64 {
    median(v.iter().copied()).unwrap_or(0.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: fn(u64) -> Duration = Duration::from_millis;

    /// A paced timeline: one op every 10 ms for `span_ms`, each 1 ms,
    /// except that the disk hangs for `stall_ms` from every multiple of
    /// `period_ms` (plus `jitter(i)` for the i-th stall): every op
    /// scheduled during the hang completes when it ends.
    fn paced(
        span_ms: u64,
        period_ms: u64,
        stall_ms: u64,
        jitter: impl Fn(u64) -> u64,
    ) -> StallSummary {
        let mut t = StallTracker::new(StallLevels::default());
        let stall_of = |at: u64| {
            let i = at / period_ms;
            let from = i * period_ms + jitter(i);
            (i >= 1 && at >= from && at < from + stall_ms).then_some(from + stall_ms)
        };
        for sched in (0..span_ms).step_by(10) {
            let done = stall_of(sched).map_or(sched + 1, |end| end + 1);
            t.record(MS(done), MS(done - sched));
        }
        t.finish()
    }

    #[test]
    fn a_steady_disk_has_no_stall() {
        let s = paced(10_000, 2_000, 0, |_| 0);
        assert_eq!(s.ops_over_heartbeat, 0);
        assert_eq!(s.events_count, 0);
        assert!(s.events.is_empty());
        assert_eq!(s.period_s, None);
        assert!((s.longest_ms - 1.0).abs() < 1e-9);
        assert_eq!(s.heartbeat_ms, 100.0);
        assert_eq!(s.half_election_ms, 500.0);
    }

    #[test]
    fn periodic_hangs_are_events_with_their_period() {
        // 300 ms hangs every 2 s: ops scheduled in the first 200 ms of a
        // hang (and the one at 200 ms) wait more than the 100 ms heartbeat,
        // and merge into one event.
        let s = paced(10_500, 2_000, 300, |_| 0);
        assert_eq!(s.events_count, 5);
        assert_eq!(s.ops_over_heartbeat, 5 * 21);
        assert_eq!(s.ops_over_half_election, 0);
        assert!((s.longest_ms - 301.0).abs() < 1e-6, "{}", s.longest_ms);
        assert!((s.longest_at_s - 2.0).abs() < 1e-9);
        assert_eq!(s.events[1].at_s, 4.0);
        assert_eq!(s.events[1].ops, 21);
        assert_eq!(s.median_gap_s, Some(2.0));
        assert_eq!(s.gap_spread_s, Some(0.0));
        assert_eq!(s.period_s, Some(2.0));
    }

    #[test]
    fn long_hangs_count_over_half_the_election_timeout() {
        let s = paced(7_000, 3_000, 800, |_| 0);
        assert_eq!(s.events_count, 2);
        // Scheduled in the first 300 ms of each 800 ms hang: waits > 500 ms.
        assert_eq!(s.ops_over_half_election, 2 * 31);
        // Two events are one gap: a gap, but no period.
        assert_eq!(s.median_gap_s, Some(3.0));
        assert_eq!(s.period_s, None);
    }

    #[test]
    fn irregular_hangs_have_gaps_but_no_period() {
        // Jitter of 0, 900, 100, 1000, 50 ms on a 2 s grid: gaps 2.9, 1.2,
        // 2.9, 1.05 s spread far beyond a fifth of their median.
        let jitter = [0, 0, 900, 100, 1000, 50];
        let s = paced(12_000, 2_000, 300, |i| jitter[i as usize]);
        assert_eq!(s.events_count, 5);
        assert!(s.median_gap_s.is_some());
        assert!(s.gap_spread_s.unwrap() > 0.2 * s.median_gap_s.unwrap());
        assert_eq!(s.period_s, None);
    }

    #[test]
    fn a_flat_out_probe_stall_is_one_op_at_its_start() {
        let mut t = StallTracker::new(StallLevels::default());
        let mut now = MS(0);
        for i in 0..1000u64 {
            let lat = if i == 400 { MS(250) } else { MS(1) };
            now += lat;
            t.record(now, lat);
        }
        let s = t.finish();
        assert_eq!((s.events_count, s.ops_over_heartbeat), (1, 1));
        assert!((s.events[0].at_s - 0.4).abs() < 1e-9);
        assert_eq!(s.longest_at_s, s.events[0].at_s);
        assert_eq!(s.median_gap_s, None);
    }

    #[test]
    fn events_beyond_the_cap_are_counted_not_kept() {
        let mut t = StallTracker::new(StallLevels::default());
        for i in 0..(MAX_EVENTS as u64 + 10) {
            t.record(MS(i * 1000 + 200), MS(200));
        }
        let s = t.finish();
        assert_eq!(s.events_count, MAX_EVENTS as u64 + 10);
        assert_eq!(s.events.len(), MAX_EVENTS);
        assert_eq!(s.period_s, Some(1.0));
    }

    #[test]
    fn old_reports_without_stalls_load() {
        let s: StallSummary = serde_json::from_str("{}").unwrap();
        assert_eq!(s, StallSummary::default());
    }
}
