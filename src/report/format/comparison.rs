//! Renders a [`Comparison`] (`compare`'s result) in every output format:
//! the same table/Markdown layout as reports, the view's sections, the
//! method in words, and the verdict line CI logs show.

use std::io::{self, Write};

use super::{markdown, table};
use crate::compare::Comparison;
use crate::report::plan::Format;
use crate::report::view::comparison::{sections, verdict};

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

fn footer(c: &Comparison, bullet: &str, w: &mut dyn Write) -> io::Result<()> {
    for u in &c.unmatched {
        writeln!(w, "{bullet}not compared: {u}")?;
    }
    writeln!(
        w,
        "{bullet}baseline: {} report(s), current: {} report(s)",
        c.baseline_reports, c.current_reports
    )?;
    writeln!(w, "{bullet}method: {}", c.method)?;
    writeln!(
        w,
        "\nVerdict: {} (allowed worsening {}%{})",
        verdict(c),
        c.max_regression_pct,
        if c.strict { ", strict" } else { "" }
    )
}
