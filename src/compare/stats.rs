//! The statistics behind `compare`, on the right unit of replication.
//!
//! Latency samples of one run are not independent draws: a disk drifts
//! (writeback, neighbours, cache state) and stalls hit many operations in
//! a row, so a test that counts samples sees "significant" moves between
//! two runs of the same unchanged disk. The tests here count runs and time
//! blocks instead:
//! - [`runs_test`]: several runs per side. Each run is one value (log of
//!   its percentile or rate); the between-run spread is measured, and a
//!   one-sided pooled t-test (Student's t: few runs, wide intervals)
//!   decides.
//! - [`rank_test`]: one run per side. The run's time blocks (timeline
//!   intervals) are the replicates: block statistics of both runs are
//!   ranked together and the mean-rank difference is tested, its variance
//!   inflated for the lag-1 autocorrelation of each run's blocks (a stall
//!   that spans neighbouring blocks counts as fewer independent blocks).
//! - [`kolmogorov_smirnov`] of the pooled sample distributions, for
//!   context only.
//!
//! Each test also gives its noise floor: the smallest shift (in log units)
//! that it would have called significant.

use statrs::distribution::{ContinuousCDF, Normal, StudentsT};

use crate::measure::LatencyHistogram;

/// Result of a one-sided test: the statistic and its p-value.
#[derive(
    Debug, Clone, Copy, PartialEq, serde::Serialize, serde::Deserialize, schemars::JsonSchema,
)]
pub struct TestResult {
    /// The test statistic (t, z of the mean-rank difference, or KS D).
    pub statistic: f64,
    /// Probability of a difference at least this large if nothing changed.
    pub p_value: f64,
}

/// Largest shift the floor search tries, log units (a factor of 1000).
pub(crate) const MAX_SHIFT: f64 = 6.907_755_278_982_137;
/// Largest lag-1 autocorrelation credited; above it a run counts as 1/19
/// of its blocks.
const MAX_AUTOCORRELATION: f64 = 0.9;

/// What [`runs_test`] found.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RunsTest {
    /// The t-test.
    pub test: TestResult,
    /// The noise floor at the test's alpha, log units.
    pub floor: f64,
    /// The between-run standard deviation used, log units.
    pub spread: f64,
    /// Whether the measured spread was below the least variance and raised
    /// to it.
    pub held: bool,
}

/// Between-run test on log values (higher is worse): is the mean of
/// `current` above the mean of `baseline` beyond the runs' spread? Needs
/// two or more baseline runs. The variance used is at least `least_var`
/// (log units squared: the runs' own sampling error): a few runs that
/// agree by chance must not make a floor narrower than a run can measure
/// itself.
pub fn runs_test(
    baseline: &[f64],
    current: &[f64],
    alpha: f64,
    least_var: f64,
) -> Option<RunsTest> {
    let (k, m) = (baseline.len(), current.len());
    if k < 2 || m == 0 {
        return None;
    }
    let (mx, vx) = mean_var(baseline);
    let (my, vy) = mean_var(current);
    // The current runs' spread joins the estimate when there are several.
    let (var, df) = if m >= 2 {
        (
            ((k - 1) as f64 * vx + (m - 1) as f64 * vy) / (k + m - 2) as f64,
            (k + m - 2) as f64,
        )
    } else {
        (vx, (k - 1) as f64)
    };
    let held = least_var > var;
    let var = var.max(least_var);
    let se = (var * (1.0 / k as f64 + 1.0 / m as f64)).sqrt();
    let t_dist = StudentsT::new(0.0, 1.0, df).ok()?;
    let critical = t_dist.inverse_cdf(1.0 - alpha);
    let diff = my - mx;
    let (statistic, p_value) = if se > 0.0 {
        let t = diff / se;
        (t, 1.0 - t_dist.cdf(t))
    } else if diff > 0.0 {
        (f64::INFINITY, 0.0)
    } else {
        (0.0, 1.0)
    };
    Some(RunsTest {
        test: TestResult { statistic, p_value },
        floor: critical * se,
        spread: var.sqrt(),
        held,
    })
}

/// Mean and sample variance (n - 1) of `v`; variance 0 for one value.
pub(crate) fn mean_var(v: &[f64]) -> (f64, f64) {
    let n = v.len() as f64;
    let mean = v.iter().sum::<f64>() / n;
    let var = if v.len() > 1 {
        v.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    (mean, var)
}

/// Block-level rank test (higher is worse): are `current`'s blocks ranked
/// above `baseline`'s beyond what autocorrelated blocks allow? Blocks are
/// in time order within each run.
pub fn rank_test(baseline: &[f64], current: &[f64]) -> Option<TestResult> {
    let (n1, n2) = (baseline.len(), current.len());
    if n1 < 2 || n2 < 2 {
        return None;
    }
    let ranks = ranks(baseline.iter().chain(current).copied().collect());
    let (r1, r2) = ranks.split_at(n1);
    let n = (n1 + n2) as f64;
    let var_rank = rank_variance(&ranks, n);
    let se = (var_rank * (inflation(r1) / n1 as f64 + inflation(r2) / n2 as f64)).sqrt();
    let diff = mean(r2) - mean(r1);
    let z = if se > 0.0 { diff / se } else { 0.0 };
    Some(TestResult {
        statistic: z,
        p_value: 1.0 - Normal::standard().cdf(z),
    })
}

/// Noise floor of [`rank_test`] for these baseline blocks: the smallest
/// shift `d` (log units) such that the blocks moved up by `d` would be
/// called worse than themselves at `alpha`. None when no shift up to a
/// factor of 1000 would (too few blocks).
pub fn rank_floor(baseline: &[f64], alpha: f64) -> Option<f64> {
    let p = |d: f64| {
        let shifted: Vec<f64> = baseline.iter().map(|x| x + d).collect();
        rank_test(baseline, &shifted).map_or(1.0, |t| t.p_value)
    };
    if p(MAX_SHIFT) >= alpha {
        return None;
    }
    let (mut lo, mut hi) = (0.0, MAX_SHIFT);
    for _ in 0..40 {
        let mid = (lo + hi) / 2.0;
        if p(mid) < alpha {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    Some(hi)
}

fn mean(v: &[f64]) -> f64 {
    v.iter().sum::<f64>() / v.len() as f64
}

/// Ranks from 1, ties sharing their mean rank.
fn ranks(values: Vec<f64>) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut ranks = vec![0.0; values.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && values[order[j + 1]] == values[order[i]] {
            j += 1;
        }
        let shared = (i + j) as f64 / 2.0 + 1.0;
        for &k in &order[i..=j] {
            ranks[k] = shared;
        }
        i = j + 1;
    }
    ranks
}

/// Variance of one rank among `n`, ties accounted for.
fn rank_variance(ranks: &[f64], n: f64) -> f64 {
    let center = (n + 1.0) / 2.0;
    ranks.iter().map(|r| (r - center).powi(2)).sum::<f64>() / n
}

/// How many times a mean of `v`'s values varies more than a mean of as
/// many independent ones, from their lag-1 autocorrelation (credited up to
/// [`MAX_AUTOCORRELATION`]): (1 + rho) / (1 - rho).
pub(crate) fn inflation(v: &[f64]) -> f64 {
    let rho = lag1_autocorrelation(v).clamp(0.0, MAX_AUTOCORRELATION);
    (1.0 + rho) / (1.0 - rho)
}

/// Lag-1 autocorrelation of a sequence (0 for fewer than 3 values or no
/// spread).
fn lag1_autocorrelation(v: &[f64]) -> f64 {
    if v.len() < 3 {
        return 0.0;
    }
    let m = mean(v);
    let denom: f64 = v.iter().map(|x| (x - m).powi(2)).sum();
    if denom == 0.0 {
        return 0.0;
    }
    let num: f64 = v.windows(2).map(|w| (w[0] - m) * (w[1] - m)).sum();
    num / denom
}

/// Two-sample Kolmogorov-Smirnov test on the recorded buckets.
pub fn kolmogorov_smirnov(a: &LatencyHistogram, b: &LatencyHistogram) -> Option<TestResult> {
    let (n1, n2) = (a.len() as f64, b.len() as f64);
    if n1 == 0.0 || n2 == 0.0 {
        return None;
    }
    // Both histograms' recorded buckets, ascending: one walk over the two.
    let buckets = |h: &LatencyHistogram| -> Vec<(u64, u64)> {
        h.raw()
            .iter_recorded()
            .map(|v| (v.value_iterated_to(), v.count_at_value()))
            .collect()
    };
    let (ba, bb) = (buckets(a), buckets(b));
    let (mut i, mut j, mut ca, mut cb, mut d) = (0, 0, 0u64, 0u64, 0.0f64);
    while i < ba.len() || j < bb.len() {
        let x = match (ba.get(i), bb.get(j)) {
            (Some(&(va, _)), Some(&(vb, _))) => va.min(vb),
            (Some(&(va, _)), None) => va,
            (None, Some(&(vb, _))) => vb,
            (None, None) => break,
        };
        while i < ba.len() && ba[i].0 == x {
            ca += ba[i].1;
            i += 1;
        }
        while j < bb.len() && bb[j].0 == x {
            cb += bb[j].1;
            j += 1;
        }
        d = d.max((ca as f64 / n1 - cb as f64 / n2).abs());
    }
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

    /// Deterministic pseudo-random log values around `center`.
    fn blocks(n: usize, center: f64, spread: f64, seed: u64) -> Vec<f64> {
        let mut rng = fastrand::Rng::with_seed(seed);
        (0..n)
            .map(|_| center + spread * (rng.f64() - 0.5))
            .collect()
    }

    #[test]
    fn ranks_share_ties() {
        assert_eq!(ranks(vec![3.0, 1.0, 3.0, 2.0]), vec![3.5, 1.0, 3.5, 2.0]);
    }

    #[test]
    fn same_blocks_are_not_a_change_and_a_shift_is() {
        for seed in 0..20 {
            let a = blocks(24, 7.0, 0.4, seed);
            let b = blocks(24, 7.0, 0.4, seed + 100);
            assert!(rank_test(&a, &b).unwrap().p_value > 0.001, "seed {seed}");
        }
        let a = blocks(24, 7.0, 0.4, 1);
        let b = blocks(24, 7.0 + 0.7, 0.4, 2);
        assert!(rank_test(&a, &b).unwrap().p_value < 1e-4);
        // Faster is not worse: one-sided.
        assert!(rank_test(&b, &a).unwrap().p_value > 0.5);
    }

    #[test]
    fn autocorrelated_blocks_count_for_less() {
        // A slow drift: every block close to its neighbours.
        let drift: Vec<f64> = (0..24).map(|i| 7.0 + i as f64 * 0.02).collect();
        let shuffled: Vec<f64> = (0..24).map(|i| drift[(i * 7) % 24]).collect();
        let shifted: Vec<f64> = drift.iter().map(|x| x + 0.1).collect();
        let shifted_shuffled: Vec<f64> = shuffled.iter().map(|x| x + 0.1).collect();
        let p_drift = rank_test(&drift, &shifted).unwrap().p_value;
        let p_iid = rank_test(&shuffled, &shifted_shuffled).unwrap().p_value;
        assert!(p_drift > p_iid, "drift {p_drift} iid {p_iid}");
    }

    #[test]
    fn more_blocks_lower_the_floor_and_too_few_have_none() {
        let few = rank_floor(&blocks(8, 7.0, 0.4, 1), 0.01).unwrap();
        let many = rank_floor(&blocks(40, 7.0, 0.4, 1), 0.01).unwrap();
        assert!(many < few, "40 blocks {many} vs 8 blocks {few}");
        assert_eq!(rank_floor(&blocks(2, 7.0, 0.4, 1), 0.01), None);
    }

    #[test]
    fn runs_test_uses_the_between_run_spread() {
        let base = [7.0, 7.2, 6.9, 7.1, 7.05];
        let same = runs_test(&base, &[7.1], 0.01, 0.0).unwrap();
        let floor = same.floor;
        assert!(same.test.p_value > 0.01);
        assert!(floor > 0.1 && floor < 1.5, "floor {floor}");
        let worse = runs_test(&base, &[7.0 + 2.0_f64.ln() + 0.1], 0.01, 0.0).unwrap();
        assert!(worse.test.p_value < 0.01, "{worse:?}");
        // More runs: a narrower floor for the same spread.
        let ten: Vec<f64> = base.iter().chain(&base).copied().collect();
        assert!(runs_test(&ten, &[7.1], 0.01, 0.0).unwrap().floor < floor);
        assert!(runs_test(&[7.0], &[7.1], 0.01, 0.0).is_none());
        // The same value throughout: no spread, no change.
        assert_eq!(
            runs_test(&[7.0; 3], &[7.0], 0.01, 0.0)
                .unwrap()
                .test
                .p_value,
            1.0
        );
    }

    fn sample(n: usize, center_us: f64, seed: u64) -> LatencyHistogram {
        let mut rng = fastrand::Rng::with_seed(seed);
        let mut h = LatencyHistogram::new();
        for _ in 0..n {
            let us = center_us * (0.8 + 0.4 * rng.f64());
            h.record(Duration::from_secs_f64(
                crate::units::Micros(us).as_secs_f64(),
            ));
        }
        h
    }

    #[test]
    fn runs_that_agree_by_chance_are_held_to_the_least_variance() {
        let close = [7.0, 7.001, 6.999, 7.0005, 6.9995];
        let raw = runs_test(&close, &[7.1], 0.01, 0.0).unwrap();
        assert!(raw.test.p_value < 0.01 && !raw.held, "{raw:?}");
        let held = runs_test(&close, &[7.1], 0.01, 0.01).unwrap();
        assert!(held.test.p_value > 0.01 && held.held, "{held:?}");
        assert!((held.spread - 0.1).abs() < 1e-9, "{held:?}");
        assert!(held.floor > 10.0 * raw.floor, "{held:?} vs {raw:?}");
        // A move far beyond it is still called; a wide spread is untouched.
        let far = runs_test(&close, &[7.7], 0.01, 0.01).unwrap();
        assert!(far.test.p_value < 0.01);
        let wide = [7.0, 7.5, 6.5, 7.2, 6.8];
        assert_eq!(
            runs_test(&wide, &[7.3], 0.01, 0.01),
            runs_test(&wide, &[7.3], 0.01, 0.0)
        );
    }

    #[test]
    fn ks_sees_a_shift_and_not_a_resample() {
        let a = sample(5000, 500.0, 1);
        assert!(
            kolmogorov_smirnov(&a, &sample(5000, 500.0, 2))
                .unwrap()
                .p_value
                > 0.01
        );
        assert!(
            kolmogorov_smirnov(&a, &sample(5000, 600.0, 2))
                .unwrap()
                .p_value
                < 1e-6
        );
    }

    #[test]
    fn kolmogorov_tail_matches_known_values() {
        // Q(1.36) ~ 0.049, Q(1.63) ~ 0.010 (the classic 5 % and 1 % points).
        assert!((kolmogorov_q(1.36) - 0.049).abs() < 0.002);
        assert!((kolmogorov_q(1.63) - 0.010).abs() < 0.001);
        assert_eq!(kolmogorov_q(0.0), 1.0);
    }
}
