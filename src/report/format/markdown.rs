//! Markdown renderer: pipe tables per section and the findings, sized to fit
//! a CI job summary (GitHub's `$GITHUB_STEP_SUMMARY`).

use std::io::{self, Write};

use crate::facts::Report;
use crate::findings::Finding;
use crate::report::view::{self, sections, Section};

/// Escapes a cell for a Markdown pipe table.
fn cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// Writes each section as a `##` heading and a pipe table.
pub fn write_sections(sections: &[Section], w: &mut dyn Write) -> io::Result<()> {
    for section in sections {
        writeln!(w, "## {}\n", section.title)?;
        writeln!(w, "| {} |", section.headers.join(" | "))?;
        writeln!(w, "|{}", "---|".repeat(section.headers.len()))?;
        let (rows, more) = section.shown();
        for row in rows {
            let cells: Vec<String> = row.iter().map(|c| cell(c)).collect();
            writeln!(w, "| {} |", cells.join(" | "))?;
        }
        if let Some(line) = more {
            writeln!(w, "\n{line}")?;
        }
        writeln!(w)?;
    }
    Ok(())
}

/// Writes `report` as Markdown.
pub fn render(report: &Report, w: &mut dyn Write) -> io::Result<()> {
    writeln!(
        w,
        "# etcd-doctor {}: {}\n",
        report.command,
        view::verdict_text(report)
    )?;
    writeln!(
        w,
        "Host `{}`, kernel {}, {} CPUs, etcd-doctor {}.\n",
        report.host.hostname, report.host.kernel, report.host.cpus, report.tool_version
    )?;
    write_sections(&sections(report), w)?;
    if report.profile.is_none() {
        return writeln!(w, "{}", view::NO_VERDICT);
    }
    writeln!(w, "## Findings\n")?;
    write_findings(&report.findings, w)
}

/// Writes the findings (or "None."), each with its evidence, fix and commands.
pub fn write_findings(findings: &[Finding], w: &mut dyn Write) -> io::Result<()> {
    if findings.is_empty() {
        writeln!(w, "None.")?;
    }
    for f in findings {
        writeln!(w, "### {} `{}`\n\n{}\n", f.severity, f.id, f.summary)?;
        for e in &f.evidence {
            writeln!(
                w,
                "- {}: {} (threshold {})",
                e.metric,
                view::fmt_value(e.observed, e.unit),
                view::fmt_value(e.threshold, e.unit)
            )?;
        }
        writeln!(w, "\n**Fix:** {}\n", f.recommendation)?;
        if !f.commands.is_empty() {
            writeln!(w, "```sh\n{}\n```\n", f.commands.join("\n"))?;
        }
    }
    Ok(())
}
