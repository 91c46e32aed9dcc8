//! Renderers of a command's finished result ([`Report`], the JSON contract,
//! in [`crate::facts`]), one module per format, each writing to any
//! `io::Write` so tests capture bytes. Renderers are fed finished results
//! only; they never measure.

pub mod bundle;
pub mod comparison;
pub mod consistency_view;
pub mod fleet;
#[cfg(test)]
pub mod hostile_tests;
pub mod html;
pub mod json;
pub mod junit;
pub mod keyspace_plot;
pub mod keyspace_view;
pub mod load_view;
pub mod logs;
pub mod markdown;
pub mod plots;
pub mod prometheus;
mod stdout;
pub mod table;
pub mod view;

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::facts::Report;
use crate::files::Output;
use crate::text::Printable;
pub use stdout::to_stdout;

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Terminal tables.
    Table,
    /// The JSON contract.
    Json,
    /// Markdown (fits a CI job summary).
    Markdown,
}

/// Where and how to write a report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutputPlan {
    /// Output format.
    pub format: Format,
    /// File to write instead of standard output.
    pub out: Option<PathBuf>,
}

/// Renders `report` in `format` to `w`.
pub fn render(report: &Report, format: Format, w: &mut dyn Write) -> io::Result<()> {
    match format {
        Format::Table => table::render(report, w),
        Format::Json => json::render(report, w),
        Format::Markdown => markdown::render(report, w),
    }
}

/// Writes `report` as the plan says: to standard output, or to a file that
/// appears whole (written beside it, then renamed).
pub fn emit(report: &Report, plan: &OutputPlan) -> Result<()> {
    emit_with(plan, |w| render(report, plan.format, w))
}

/// Runs `render` into standard output, or into the plan's file (written
/// whole); for outputs that are not a [`Report`]. Table and markdown
/// output has its control characters escaped ([`crate::text::Printable`]).
pub fn emit_with(
    plan: &OutputPlan,
    render: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> Result<()> {
    let escape = plan.format != Format::Json;
    match &plan.out {
        None => to_stdout(escape, render),
        Some(path) => write_file("--out", path, |w| {
            if escape {
                let mut p = Printable::new(w);
                render(&mut p)?;
                p.finish().map(drop)
            } else {
                render(w)
            }
        }),
    }
}

/// Writes a file atomically through [`crate::files::Output`] (only a
/// regular file, or a symlink's regular-file target, is replaced; never
/// one of the command's inputs): into a temporary file beside it, then
/// renamed. A signal meanwhile leaves neither a partial file nor the
/// temporary one: the write is a cooperative section whose temporary file
/// is removed, and `path` keeps its old content (or stays absent). `what`
/// names the flag in errors.
pub fn write_file(
    what: &str,
    path: &Path,
    fill: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> Result<()> {
    let _section = crate::interrupt::Cooperate::enter();
    let output = Output::check(what, path)?;
    let mut tmp = output.temp(".etcd-doctor-", "")?;
    fill(tmp.as_file_mut()).with_context(|| format!("{what} {}: writing", path.display()))?;
    if crate::interrupt::interrupted() {
        anyhow::bail!(
            "interrupted by {}: {} not written",
            crate::interrupt::signal_name(),
            path.display()
        );
    }
    output.commit(tmp)?;
    Ok(())
}
