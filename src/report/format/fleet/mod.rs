//! Renderers of the fleet report (`merge`): the view's sections and grids
//! as a terminal table, Markdown, or an HTML page with heatmaps.

pub mod heatmap;
pub mod html;
pub mod markdown;
pub mod table;

use std::io::{self, Write};

use crate::fleet::FleetReport;
use crate::report::plan::Format;

/// Renders `report` in `format` to `w`.
pub fn render(report: &FleetReport, format: Format, w: &mut dyn Write) -> io::Result<()> {
    match format {
        Format::Table => table::render(report, w),
        Format::Json => {
            serde_json::to_writer_pretty(&mut *w, report)?;
            writeln!(w)
        }
        Format::Markdown => markdown::render(report, w),
    }
}
