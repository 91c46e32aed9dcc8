//! Markdown renderer of the fleet report (fits a CI job summary).

use std::io::{self, Write};

use crate::fleet::FleetReport;
use crate::report::format::markdown::{write_findings, write_sections};
use crate::report::view::fleet::{grids, headline, sections};

/// Writes `report` as Markdown, the matrices as pipe-table grids.
pub fn render(report: &FleetReport, w: &mut dyn Write) -> io::Result<()> {
    writeln!(w, "# {}\n", headline(report))?;
    write_sections(&sections(report), w)?;
    for (grid, _) in grids(&report.paths) {
        writeln!(w, "## {}\n", grid.title)?;
        writeln!(w, "| from \\\\ to | {} |", grid.hosts.join(" | "))?;
        writeln!(w, "|---|{}", "---|".repeat(grid.hosts.len()))?;
        for (host, cells) in grid.hosts.iter().zip(&grid.cells) {
            writeln!(w, "| {host} | {} |", cells.join(" | "))?;
        }
        if let Some(line) = grid.more_line() {
            writeln!(w, "\n{line}")?;
        }
        writeln!(w)?;
    }
    writeln!(w, "## Fleet findings\n")?;
    write_findings(&report.findings, w)
}
