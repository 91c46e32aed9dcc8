//! Terminal renderer: one comfy-table per report section, then the findings
//! with their evidence and fix, then the verdict line.

use std::io::{self, Write};

use comfy_table::{presets::ASCII_FULL, ContentArrangement, Table};

use crate::facts::Report;
use crate::findings::Finding;
use crate::report::view::{self, sections, Section};

/// Writes each section as a titled terminal table.
pub fn write_sections(sections: Vec<Section>, w: &mut dyn Write) -> io::Result<()> {
    for section in sections {
        writeln!(w, "{}", section.title)?;
        let mut table = Table::new();
        table
            .load_preset(ASCII_FULL)
            .set_content_arrangement(ContentArrangement::Disabled)
            .set_header(&section.headers);
        let (rows, more) = section.shown();
        for row in rows {
            table.add_row(row);
        }
        writeln!(w, "{table}")?;
        if let Some(line) = more {
            writeln!(w, "{line}")?;
        }
        writeln!(w)?;
    }
    Ok(())
}

/// Writes `report` as terminal tables.
pub fn render(report: &Report, w: &mut dyn Write) -> io::Result<()> {
    write_sections(sections(report), w)?;
    if report.profile.is_none() {
        return writeln!(w, "{}", view::NO_VERDICT);
    }
    if report.findings.is_empty() {
        return writeln!(w, "Verdict: {} (no findings)", report.verdict);
    }
    writeln!(w, "Findings")?;
    write_findings(&report.findings, w)?;
    writeln!(w, "\nVerdict: {}", report.verdict)
}

/// Writes each finding with its evidence, fix and commands.
pub fn write_findings(findings: &[Finding], w: &mut dyn Write) -> io::Result<()> {
    for f in findings {
        writeln!(w, "[{}] {}: {}", f.severity, f.id, f.summary)?;
        for e in &f.evidence {
            writeln!(
                w,
                "    {} = {} (threshold {})",
                e.metric,
                view::fmt_value(e.observed, e.unit),
                view::fmt_value(e.threshold, e.unit)
            )?;
        }
        writeln!(w, "    fix: {}", f.recommendation)?;
        for c in &f.commands {
            writeln!(w, "    $ {c}")?;
        }
    }
    Ok(())
}
