//! The view of a [`Comparison`] (`compare`'s result): one section per
//! compared probe with each metric's noise floor and evidence, and the
//! verdict in words.

use super::section::{fmt_us, Section};
use crate::compare::noise::{Model, Noise};
use crate::compare::{Comparison, Row, Status};

/// The verdict line's words: PASS, or FAIL and why.
pub fn verdict(c: &Comparison) -> String {
    let thin = c.not_enough_evidence;
    match (c.regressions, c.strict && thin > 0) {
        (0, false) if thin > 0 => format!("PASS ({thin} worse without enough evidence)"),
        (0, false) => "PASS".to_string(),
        (0, true) => format!("FAIL (not enough evidence for {thin})"),
        (n, _) => format!("FAIL ({n} regressed)"),
    }
}

fn value(v: f64, unit: &str) -> String {
    match unit {
        "us" => fmt_us(v),
        _ => format!("{v:.1} {unit}"),
    }
}

fn p_value(p: f64) -> String {
    if p >= 0.001 {
        format!("{p:.3}")
    } else {
        format!("{p:.0e}")
    }
}

/// Which replicates judged, how many, and whether they were enough.
fn evidence(n: &Noise) -> String {
    let judged = match n.model {
        Model::BetweenRuns => match n.sampling_spread {
            Some(_) => format!(
                "{} vs {} runs, held to sampling error",
                n.baseline_runs, n.current_runs
            ),
            None => format!("{} vs {} runs", n.baseline_runs, n.current_runs),
        },
        Model::WithinRunBlocks => format!(
            "{} vs {} blocks, run spread assumed",
            n.baseline_blocks, n.current_blocks
        ),
        Model::EventCounts => format!(
            "events of {} vs {} runs, Poisson",
            n.baseline_runs, n.current_runs
        ),
        Model::None => "none".to_string(),
    };
    match &n.shortfall {
        Some(why) => format!("{judged}; not enough: {why}"),
        None => judged,
    }
}

fn cells(r: &Row) -> Vec<String> {
    vec![
        r.metric.clone(),
        value(r.baseline, &r.unit),
        value(r.current, &r.unit),
        format!("{:+.1}%", r.worse_by_pct),
        r.noise
            .floor_pct
            .map_or_else(|| "-".into(), |f| format!("{f:.1}%")),
        r.noise.p_value.map_or_else(|| "-".into(), p_value),
        evidence(&r.noise),
        match r.status {
            Status::Ok => "ok",
            Status::Noise => "noise",
            Status::Regression => "REGRESSION",
            Status::NotEnoughEvidence => "not enough evidence",
        }
        .to_string(),
    ]
}

pub fn sections(c: &Comparison) -> Vec<Section> {
    c.subjects
        .iter()
        .map(|s| {
            let mut rows: Vec<Vec<String>> = s.rows.iter().map(cells).collect();
            if let Some(ks) = s.ks {
                rows.push(vec![
                    "distribution (KS D)".into(),
                    String::new(),
                    String::new(),
                    format!("{:.3}", ks.statistic),
                    String::new(),
                    p_value(ks.p_value),
                    "pooled samples".into(),
                    "info".into(),
                ]);
            }
            Section {
                title: s.subject.clone(),
                headers: vec![
                    "METRIC", "BASELINE", "CURRENT", "WORSE BY", "FLOOR", "P-VALUE", "EVIDENCE",
                    "STATUS",
                ],
                rows,
            }
        })
        .collect()
}
