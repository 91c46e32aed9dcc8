//! Latency measurement in layers: raw samples go into an HDR histogram
//! ([`LatencyHistogram`], nanoseconds, 3 significant figures); finished
//! histograms become serde summaries ([`LatencySummary`], microseconds) and
//! a portable encoded form ([`EncodedHistogram`]) so `compare` can test
//! whole distributions rather than single percentiles.
//!
//! Histograms are mergeable: per-thread or per-peer recorders are combined
//! with `+=`, as raft-engine does with its per-thread histograms.

use std::ops::AddAssign;
use std::time::Duration;

use anyhow::{Context, Result};
use base64::Engine as _;
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

/// Highest latency a histogram can hold: 10 minutes in nanoseconds. Larger
/// samples are clamped to it (and show up as `max`).
const HIGHEST_TRACKABLE_NS: u64 = 600 * 1_000_000_000;
/// Significant figures kept by every latency histogram.
const SIGNIFICANT_FIGURES: u8 = 3;

/// A latency histogram in nanoseconds.
#[derive(Debug, Clone)]
pub struct LatencyHistogram {
    hist: Histogram<u64>,
}

impl Default for LatencyHistogram {
    fn default() -> Self {
        Self::new()
    }
}

impl LatencyHistogram {
    /// An empty histogram covering 1 ns to 10 minutes at 3 significant figures.
    pub fn new() -> Self {
        let hist = Histogram::new_with_bounds(1, HIGHEST_TRACKABLE_NS, SIGNIFICANT_FIGURES)
            .expect("constant histogram bounds are valid");
        Self { hist }
    }

    /// Records one latency sample.
    #[inline]
    pub fn record(&mut self, latency: Duration) {
        let ns = u64::try_from(latency.as_nanos()).unwrap_or(u64::MAX);
        self.hist.saturating_record(ns.max(1));
    }

    /// Number of samples recorded.
    pub fn len(&self) -> u64 {
        self.hist.len()
    }

    /// True when no sample has been recorded.
    pub fn is_empty(&self) -> bool {
        self.hist.is_empty()
    }

    /// Latency at quantile `q` (0.0..=1.0) in microseconds.
    pub fn quantile_us(&self, q: f64) -> f64 {
        ns_to_us(self.hist.value_at_quantile(q))
    }

    /// The underlying hdrhistogram, for callers that iterate buckets (plots,
    /// distribution tests).
    pub fn raw(&self) -> &Histogram<u64> {
        &self.hist
    }

    /// Summary in microseconds.
    pub fn summary(&self) -> LatencySummary {
        LatencySummary {
            samples: self.hist.len(),
            mean: round3(self.hist.mean() / 1_000.0),
            min: ns_to_us(if self.hist.is_empty() {
                0
            } else {
                self.hist.min()
            }),
            p50: self.quantile_us(0.50),
            p90: self.quantile_us(0.90),
            p99: self.quantile_us(0.99),
            p999: self.quantile_us(0.999),
            max: ns_to_us(self.hist.max()),
        }
    }

    /// Encodes the histogram (HdrHistogram V2 + deflate, base64).
    pub fn encode(&self) -> EncodedHistogram {
        let mut buf = Vec::new();
        V2DeflateSerializer::new()
            .serialize(&self.hist, &mut buf)
            .expect("serializing to a Vec cannot fail");
        EncodedHistogram(base64::engine::general_purpose::STANDARD.encode(buf))
    }
}

impl AddAssign<&LatencyHistogram> for LatencyHistogram {
    fn add_assign(&mut self, rhs: &LatencyHistogram) {
        self.hist
            .add(&rhs.hist)
            .expect("histograms with identical bounds always merge");
    }
}

/// A latency histogram in its portable form: HdrHistogram's V2 compressed
/// serialization (values in nanoseconds), base64-encoded. Any HdrHistogram
/// implementation (Java, Go, Python) can decode it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct EncodedHistogram(pub String);

impl EncodedHistogram {
    /// Decodes back into a histogram.
    pub fn decode(&self) -> Result<LatencyHistogram> {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(&self.0)
            .context("latency histogram is not valid base64")?;
        let decoded: Histogram<u64> = Deserializer::new()
            .deserialize(&mut bytes.as_slice())
            .map_err(|e| anyhow::anyhow!("latency histogram does not decode: {e:?}"))?;
        let mut hist = LatencyHistogram::new();
        hist.hist
            .add(&decoded)
            .map_err(|e| anyhow::anyhow!("latency histogram out of range: {e:?}"))?;
        Ok(hist)
    }
}

/// Reads one statistic of a [`LatencySummary`].
pub type SummaryField = fn(&LatencySummary) -> f64;

/// The percentiles every summary reports: name, quantile, field.
pub const PERCENTILES: [(&str, f64, SummaryField); 4] = [
    ("p50", 0.50, |l| l.p50),
    ("p90", 0.90, |l| l.p90),
    ("p99", 0.99, |l| l.p99),
    ("p99.9", 0.999, |l| l.p999),
];

/// Latency distribution of one probe, in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default)]
pub struct LatencySummary {
    /// Number of samples the summary was computed from.
    pub samples: u64,
    /// Arithmetic mean, microseconds.
    pub mean: f64,
    /// Smallest sample, microseconds.
    pub min: f64,
    /// Median, microseconds.
    pub p50: f64,
    /// 90th percentile, microseconds.
    pub p90: f64,
    /// 99th percentile, microseconds.
    pub p99: f64,
    /// 99.9th percentile, microseconds.
    pub p999: f64,
    /// Largest sample, microseconds.
    pub max: f64,
}

fn ns_to_us(ns: u64) -> f64 {
    round3(ns as f64 / 1_000.0)
}

fn round3(v: f64) -> f64 {
    (v * 1_000.0).round() / 1_000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_reports_microseconds_within_three_significant_figures() {
        let mut h = LatencyHistogram::new();
        for ms in 1..=100u64 {
            h.record(Duration::from_millis(ms));
        }
        let s = h.summary();
        assert_eq!(s.samples, 100);
        assert!((s.p50 - 50_000.0).abs() / 50_000.0 < 0.001, "p50 {}", s.p50);
        assert!((s.p99 - 99_000.0).abs() / 99_000.0 < 0.001, "p99 {}", s.p99);
        assert!(
            (s.max - 100_000.0).abs() / 100_000.0 < 0.001,
            "max {}",
            s.max
        );
        assert!(
            (s.mean - 50_500.0).abs() / 50_500.0 < 0.001,
            "mean {}",
            s.mean
        );
        assert!((s.min - 1_000.0).abs() < 1.0);
    }

    #[test]
    fn merging_adds_counts() {
        let mut a = LatencyHistogram::new();
        let mut b = LatencyHistogram::new();
        a.record(Duration::from_micros(10));
        b.record(Duration::from_micros(20));
        b.record(Duration::from_micros(30));
        a += &b;
        assert_eq!(a.len(), 3);
        assert!((a.summary().max - 30.0).abs() < 0.1);
    }

    #[test]
    fn encoding_round_trips() {
        let mut h = LatencyHistogram::new();
        for us in [5u64, 50, 500, 5_000, 50_000] {
            h.record(Duration::from_micros(us));
        }
        let back = h.encode().decode().unwrap();
        assert_eq!(back.summary(), h.summary());
    }

    #[test]
    fn garbage_does_not_decode() {
        assert!(EncodedHistogram("not base64!".into()).decode().is_err());
        assert!(EncodedHistogram("aGVsbG8=".into()).decode().is_err());
    }

    #[test]
    fn huge_samples_are_clamped_not_lost() {
        let mut h = LatencyHistogram::new();
        h.record(Duration::from_secs(3600));
        assert_eq!(h.len(), 1);
    }
}
