//! JSON renderer: the versioned report contract, pretty-printed.

use std::io::{self, Write};

use crate::facts::Report;

/// Writes `report` as one pretty-printed JSON object followed by a newline.
pub fn render(report: &Report, w: &mut dyn Write) -> io::Result<()> {
    serde_json::to_writer_pretty(&mut *w, report)?;
    writeln!(w)
}
