//! The statistics behind `compare`: whether a latency distribution moved
//! beyond noise, computed from the full HDR histograms both reports carry.
//!
//! Two tests, each answering a different question:
//! - Per percentile q, an exceedance test: under "nothing changed", the
//!   share of current samples above the baseline's q-quantile equals the
//!   baseline's own share above it (about 1 - q). A one-sided two-proportion
//!   z-test on those two shares gives the p-value. It looks where the
//!   percentile is, so it sees a tail (p99, p99.9) move that leaves the
//!   bulk of the distribution alone, and it knows that 100 samples say
//!   little about a p99.9.
//! - For the whole distribution, the two-sample Kolmogorov-Smirnov
//!   statistic D (largest gap between the two CDFs) with its asymptotic
//!   p-value: a summary of how much the shape moved overall.

use statrs::distribution::{ContinuousCDF, Normal};

use crate::measure::LatencyHistogram;

/// Result of a one-sided test: the statistic and its p-value.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TestResult {
    /// The test statistic (z for the exceedance test, D for KS).
    pub statistic: f64,
    /// Probability of a difference at least this large if nothing changed.
    pub p_value: f64,
}

/// Samples of `h` above `value_ns`.
fn count_above(h: &LatencyHistogram, value_ns: u64) -> u64 {
    let raw = h.raw();
    raw.len() - raw.count_between(0, value_ns)
}

/// Exceedance test at quantile `q`: are more of `current`'s samples above
/// `baseline`'s q-quantile than `baseline`'s own? One-sided (worse only).
pub fn exceedance(
    baseline: &LatencyHistogram,
    current: &LatencyHistogram,
    q: f64,
) -> Option<TestResult> {
    let (n1, n2) = (baseline.len() as f64, current.len() as f64);
    if n1 == 0.0 || n2 == 0.0 {
        return None;
    }
    let threshold = baseline.raw().value_at_quantile(q);
    let p1 = count_above(baseline, threshold) as f64 / n1;
    let p2 = count_above(current, threshold) as f64 / n2;
    let pooled = (p1 * n1 + p2 * n2) / (n1 + n2);
    let se = (pooled * (1.0 - pooled) * (1.0 / n1 + 1.0 / n2)).sqrt();
    let z = if se == 0.0 {
        // Both shares are 0 or both are 1: no evidence either way, unless
        // they differ outright (one run entirely above, the other not).
        if p2 > p1 {
            f64::INFINITY
        } else {
            0.0
        }
    } else {
        (p2 - p1) / se
    };
    let normal = Normal::standard();
    Some(TestResult {
        statistic: z,
        p_value: 1.0 - normal.cdf(z),
    })
}

/// Two-sample Kolmogorov-Smirnov test on the recorded buckets.
pub fn kolmogorov_smirnov(a: &LatencyHistogram, b: &LatencyHistogram) -> Option<TestResult> {
    let (n1, n2) = (a.len() as f64, b.len() as f64);
    if n1 == 0.0 || n2 == 0.0 {
        return None;
    }
    let mut edges: Vec<u64> = a
        .raw()
        .iter_recorded()
        .chain(b.raw().iter_recorded())
        .map(|v| v.value_iterated_to())
        .collect();
    edges.sort_unstable();
    edges.dedup();
    let d = edges
        .iter()
        .map(|&x| {
            let fa = a.raw().count_between(0, x) as f64 / n1;
            let fb = b.raw().count_between(0, x) as f64 / n2;
            (fa - fb).abs()
        })
        .fold(0.0, f64::max);
    let n = n1 * n2 / (n1 + n2);
    // Stephens' small-sample correction of the asymptotic distribution.
    let lambda = (n.sqrt() + 0.12 + 0.11 / n.sqrt()) * d;
    Some(TestResult {
        statistic: d,
        p_value: kolmogorov_q(lambda),
    })
}

/// The Kolmogorov distribution's tail, Q(λ) = 2 Σ (-1)^(k-1) e^(-2k²λ²).
fn kolmogorov_q(lambda: f64) -> f64 {
    if lambda < 0.2 {
        return 1.0;
    }
    let sum: f64 = (1..=100)
        .map(|k| {
            let k = k as f64;
            let sign = if k as u64 % 2 == 1 { 1.0 } else { -1.0 };
            sign * (-2.0 * k * k * lambda * lambda).exp()
        })
        .sum();
    (2.0 * sum).clamp(0.0, 1.0)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// A deterministic pseudo-random latency sample around `center_us`.
    fn sample(
        n: usize,
        center_us: f64,
        seed: u64,
        tail_every: usize,
        tail_us: f64,
    ) -> LatencyHistogram {
        let mut rng = fastrand::Rng::with_seed(seed);
        let mut h = LatencyHistogram::new();
        for i in 0..n {
            let us = if tail_every > 0 && i % tail_every == 0 {
                tail_us
            } else {
                center_us * (0.8 + 0.4 * rng.f64())
            };
            h.record(Duration::from_secs_f64(us / 1e6));
        }
        h
    }

    #[test]
    fn the_same_distribution_is_not_a_change() {
        let a = sample(5000, 500.0, 1, 0, 0.0);
        let b = sample(5000, 500.0, 2, 0, 0.0);
        for q in [0.5, 0.9, 0.99] {
            let t = exceedance(&a, &b, q).unwrap();
            assert!(t.p_value > 0.01, "q {q}: {t:?}");
        }
        assert!(kolmogorov_smirnov(&a, &b).unwrap().p_value > 0.01);
    }

    #[test]
    fn a_shift_is_a_change_for_both_tests() {
        let a = sample(5000, 500.0, 1, 0, 0.0);
        let b = sample(5000, 600.0, 2, 0, 0.0);
        assert!(exceedance(&a, &b, 0.5).unwrap().p_value < 1e-6);
        assert!(kolmogorov_smirnov(&a, &b).unwrap().p_value < 1e-6);
        // Faster is not worse: the test is one-sided.
        assert!(exceedance(&b, &a, 0.5).unwrap().p_value > 0.5);
    }

    #[test]
    fn a_tail_change_is_seen_where_ks_barely_moves() {
        let a = sample(10_000, 500.0, 1, 0, 0.0);
        // 2 % of ops now take 20 ms: p99 moves, the bulk does not.
        let b = sample(10_000, 500.0, 2, 50, 20_000.0);
        assert!(exceedance(&a, &b, 0.99).unwrap().p_value < 1e-6);
        assert!(kolmogorov_smirnov(&a, &b).unwrap().statistic < 0.05);
    }

    #[test]
    fn few_samples_are_weak_evidence() {
        let a = sample(50, 500.0, 1, 0, 0.0);
        let b = sample(50, 500.0, 2, 25, 900.0);
        assert!(exceedance(&a, &b, 0.99).unwrap().p_value > 0.01);
    }

    #[test]
    fn kolmogorov_tail_matches_known_values() {
        // Q(1.36) ~ 0.049, Q(1.63) ~ 0.010 (the classic 5 % and 1 % points).
        assert!((kolmogorov_q(1.36) - 0.049).abs() < 0.002);
        assert!((kolmogorov_q(1.63) - 0.010).abs() < 0.001);
        assert_eq!(kolmogorov_q(0.0), 1.0);
    }
}
