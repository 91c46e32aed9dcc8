//! Terminal renderer of the fleet report.

use std::io::{self, Write};

use comfy_table::{presets::ASCII_FULL, ContentArrangement, Table};

use crate::fleet::FleetReport;
use crate::report::format::table::{write_findings, write_sections};
use crate::report::view::fleet::{grids, headline, sections};

/// Writes `report` as terminal tables, the matrices as grids.
pub fn render(report: &FleetReport, w: &mut dyn Write) -> io::Result<()> {
    write_sections(sections(report), w)?;
    for (grid, _) in grids(&report.paths) {
        writeln!(w, "{}", grid.title)?;
        let mut table = Table::new();
        let mut header = vec![String::from("from \\ to")];
        header.extend(grid.hosts.iter().cloned());
        table
            .load_preset(ASCII_FULL)
            .set_content_arrangement(ContentArrangement::Disabled)
            .set_header(header);
        for (host, cells) in grid.hosts.iter().zip(&grid.cells) {
            let mut row = vec![host.clone()];
            row.extend(cells.iter().cloned());
            table.add_row(row);
        }
        writeln!(w, "{table}")?;
        if let Some(line) = grid.more_line() {
            writeln!(w, "{line}")?;
        }
        writeln!(w)?;
    }
    if !report.findings.is_empty() {
        writeln!(w, "Fleet findings")?;
        write_findings(&report.findings, w)?;
    }
    writeln!(w, "\n{}", headline(report))
}
