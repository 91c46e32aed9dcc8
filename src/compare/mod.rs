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
mod model;
pub mod noise;
mod runs;
pub mod stalls;
pub mod stats;

use anyhow::{Context, Result};

pub use load::{
    expand, load, load_all, load_counted, parse, MAX_REPORTS, MAX_REPORT_BYTES,
    MAX_TOTAL_REPORT_BYTES, OLDEST_SCHEMA_VERSION,
};
pub use model::{
    alpha_per_metric, ComparePlan, Comparison, Row, Status, Subject, ALPHA,
    DEFAULT_MAX_REGRESSION_PCT, METHOD,
};
use model::{status, worse_by_pct};
use noise::{Metric, RunFacts, StallFacts};
use runs::subjects;

use crate::facts::{Report, SCHEMA_VERSION};
use crate::measure::{round3, EncodedHistogram, LatencyHistogram, PERCENTILES};

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

fn has_latency(runs: &[RunFacts]) -> bool {
    runs.iter().all(|r| r.latency.is_some())
}

fn has_rate(b: &[RunFacts], c: &[RunFacts]) -> bool {
    b[0].rate.is_some() && c[0].rate.is_some()
}

fn ledger(runs: &[RunFacts]) -> Vec<Option<StallFacts>> {
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
    round3(g)
}

#[cfg(test)]
mod tests {
    use super::noise::Noise;
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
