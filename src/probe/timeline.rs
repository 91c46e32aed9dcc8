//! Latency over time, shared by the disk and network probes: a run is cut
//! into fixed intervals and each becomes a [`TimelinePoint`]. The points
//! feed the latency-over-time plots and are `compare`'s within-run
//! replicates: successive seconds of one run are closer to independent
//! draws than successive operations are (a stall hits many operations in a
//! row).

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::measure::LatencyHistogram;

/// Length of one timeline interval.
pub const TIMELINE_INTERVAL: Duration = Duration::from_millis(250);

/// One interval of a run, for latency-over-time plots and `compare`'s
/// block-level noise model.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TimelinePoint {
    /// End of the interval, seconds since the run started.
    pub t_s: f64,
    /// Operations completed in the interval.
    pub ops: u64,
    /// Median latency in the interval, microseconds.
    pub p50_us: f64,
    /// 90th percentile latency in the interval, microseconds (absent in
    /// schema 1 reports).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p90_us: Option<f64>,
    /// 99th percentile latency in the interval, microseconds.
    pub p99_us: f64,
    /// 99.9th percentile latency in the interval, microseconds (absent in
    /// schema 1 reports).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub p999_us: Option<f64>,
    /// Largest latency in the interval, microseconds.
    pub max_us: f64,
}

/// Per-interval histograms turned into [`TimelinePoint`]s.
#[derive(Debug)]
pub struct Timeline {
    interval_end: Duration,
    hist: LatencyHistogram,
    points: Vec<TimelinePoint>,
}

impl Default for Timeline {
    fn default() -> Self {
        Self::new()
    }
}

impl Timeline {
    /// An empty timeline starting at 0.
    pub fn new() -> Timeline {
        Timeline {
            interval_end: TIMELINE_INTERVAL,
            hist: LatencyHistogram::new(),
            points: Vec::new(),
        }
    }

    /// Records a sample that completed `elapsed` after the run started.
    pub fn record(&mut self, elapsed: Duration, latency: Duration) {
        if elapsed >= self.interval_end {
            self.flush();
            while elapsed >= self.interval_end {
                self.interval_end += TIMELINE_INTERVAL;
            }
        }
        self.hist.record(latency);
    }

    fn flush(&mut self) {
        if self.hist.is_empty() {
            return;
        }
        let s = self.hist.summary();
        self.points.push(TimelinePoint {
            t_s: self.interval_end.as_secs_f64(),
            ops: s.samples,
            p50_us: s.p50,
            p90_us: Some(s.p90),
            p99_us: s.p99,
            p999_us: Some(s.p999),
            max_us: s.max,
        });
        self.hist = LatencyHistogram::new();
    }

    /// The points of a run that ended `elapsed` after it started.
    pub fn finish(mut self, elapsed: Duration) -> Vec<TimelinePoint> {
        self.interval_end = self.interval_end.min(elapsed);
        self.flush();
        self.points
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeline_groups_samples_by_interval() {
        let mut t = Timeline::new();
        let ms = Duration::from_millis;
        t.record(ms(10), ms(1));
        t.record(ms(200), ms(3));
        t.record(ms(600), ms(2)); // skips the empty 250-500 interval
        let points = t.finish(ms(610));
        assert_eq!(points.len(), 2);
        assert_eq!(points[0].ops, 2);
        assert!((points[0].t_s - 0.25).abs() < 1e-9);
        assert!((points[0].max_us - 3000.0).abs() < 5.0);
        assert!((points[0].p999_us.unwrap() - 3000.0).abs() < 5.0);
        assert_eq!(points[1].ops, 1);
        assert!((points[1].t_s - 0.61).abs() < 1e-9);
    }

    #[test]
    fn schema_1_points_read_without_the_new_percentiles() {
        let p: TimelinePoint =
            serde_json::from_str(r#"{"t_s":0.25,"ops":3,"p50_us":1.0,"p99_us":2.0,"max_us":3.0}"#)
                .unwrap();
        assert_eq!((p.p90_us, p.p999_us), (None, None));
    }
}
