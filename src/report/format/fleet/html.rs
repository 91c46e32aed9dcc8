//! HTML renderer of the fleet report: one self-contained page with the
//! verdict, the fleet findings, the RTT and throughput heatmaps and the
//! tables.

use std::io::{self, Write};

use super::heatmap;
use crate::fleet::FleetReport;
use crate::report::format::html::{esc, figure, write_findings, write_tables, STYLE};
use crate::report::view::fleet::{grids, headline, sections};

/// Writes `report` as an HTML page.
pub fn render(report: &FleetReport, w: &mut dyn Write) -> io::Result<()> {
    let title = esc(&headline(report));
    let verdict = report.verdict.to_string();
    writeln!(
        w,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>{title}</title><style>{STYLE}</style></head><body>\
         <h1>etcd-doctor merge <span class=\"verdict {}\">{verdict}</span></h1><p>{title}</p>",
        verdict.to_lowercase()
    )?;
    write_findings(&report.findings, w)?;
    let grids = grids(&report.paths);
    if !grids.is_empty() && !report.paths.is_empty() {
        writeln!(w, "<h2>Path matrix</h2><div class=\"plots\">")?;
        for (grid, values) in &grids {
            writeln!(w, "<figure><figcaption>{}</figcaption>", esc(&grid.title))?;
            figure(w, heatmap::draw(grid, values))?;
            writeln!(w, "</figure>")?;
        }
        writeln!(w, "</div>")?;
    }
    write_tables(&sections(report), w)?;
    writeln!(w, "</body></html>")
}
