//! The report bundle (`--report DIR`): the same finished report in every
//! format a CI job or an operator wants, each file written whole (beside
//! its final name, then renamed): report.json, report.md (fits a CI job
//! summary), report.html (self-contained, with plots), report.prom
//! (node_exporter textfile collector) and junit.xml (one test case per rule).

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::format::{html, json, junit, markdown, prometheus};
use super::write_file;
use crate::facts::Report;

/// A renderer of the bundle.
type Render = fn(&Report, &mut dyn Write) -> io::Result<()>;

/// File names of the bundle and the renderer of each.
pub const FILES: [(&str, Render); 5] = [
    ("report.json", json::render),
    ("report.md", markdown_printable),
    ("report.html", html::render),
    ("report.prom", prometheus::render),
    ("junit.xml", junit::render),
];

/// The Markdown report with control characters escaped (it is read in
/// terminals and CI job summaries).
fn markdown_printable(report: &Report, w: &mut dyn Write) -> io::Result<()> {
    let mut p = crate::text::Printable::new(w);
    markdown::render(report, &mut p)?;
    p.finish().map(drop)
}

/// Writes every file of the bundle into `dir` (created if missing) and
/// returns their paths.
pub fn write(report: &Report, dir: &Path) -> Result<Vec<PathBuf>> {
    fs::create_dir_all(dir)
        .with_context(|| format!("--report {}: cannot create it", dir.display()))?;
    FILES
        .iter()
        .map(|(name, render)| {
            let path = dir.join(name);
            write_file("--report", &path, |w| render(report, w))?;
            Ok(path)
        })
        .collect()
}
