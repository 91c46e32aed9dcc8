//! Renders a [`Comparison`] (`compare`'s result) in every output format:
//! the same table/Markdown layout as reports, one section per compared
//! probe, the method in words, and the verdict line CI logs show.

use std::io::{self, Write};

use super::view::{fmt_us, Section};
use super::{markdown, table, Format};
use crate::compare::{Comparison, Row, Status};

/// Writes `c` in `format` to `w`.
pub fn render(c: &Comparison, format: Format, w: &mut dyn Write) -> io::Result<()> {
    match format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut *w, c)?;
            writeln!(w)
        }
        Format::Table => {
            table::write_sections(sections(c), w)?;
            footer(c, "", w)
        }
        Format::Markdown => {
            writeln!(w, "# etcd-doctor compare: {}\n", verdict(c))?;
            markdown::write_sections(&sections(c), w)?;
            footer(c, "- ", w)
        }
    }
}

fn verdict(c: &Comparison) -> String {
    match c.regressions {
        0 => "PASS".to_string(),
        n => format!("FAIL ({n} regressed)"),
    }
}

fn footer(c: &Comparison, bullet: &str, w: &mut dyn Write) -> io::Result<()> {
    for u in &c.unmatched {
        writeln!(w, "{bullet}not compared: {u}")?;
    }
    writeln!(w, "{bullet}method: {}", c.method)?;
    writeln!(
        w,
        "\nVerdict: {} (allowed worsening {}%)",
        verdict(c),
        c.max_regression_pct
    )
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

fn cells(r: &Row) -> Vec<String> {
    vec![
        r.metric.clone(),
        value(r.baseline, &r.unit),
        value(r.current, &r.unit),
        format!("{:+.1}%", r.worse_by_pct),
        r.test
            .map(|t| p_value(t.p_value))
            .unwrap_or_else(|| "-".into()),
        match r.status {
            Status::Ok => "ok",
            Status::Noise => "noise",
            Status::Regression => "REGRESSION",
        }
        .to_string(),
    ]
}

fn sections(c: &Comparison) -> Vec<Section> {
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
                    p_value(ks.p_value),
                    "info".into(),
                ]);
            }
            Section {
                title: s.subject.clone(),
                headers: vec![
                    "METRIC", "BASELINE", "CURRENT", "WORSE BY", "P-VALUE", "STATUS",
                ],
                rows,
            }
        })
        .collect()
}
