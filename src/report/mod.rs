//! Renderers of a command's finished result ([`Report`], the JSON contract,
//! in [`crate::facts`]): `view/` turns results into the shared table model
//! (titled sections of rows), `format/` lays that model out, one file per
//! format, each writing to any `io::Write` so tests capture bytes. This
//! file picks the format and the destination. Renderers are fed finished
//! results only; they never measure.

pub mod bundle;
pub mod format;
#[cfg(test)]
pub(crate) mod hostile_tests;
pub mod plan;
mod stdout;
pub mod view;

use std::io::{self, Write};
use std::path::Path;

use anyhow::{Context, Result};

use crate::facts::Report;
use crate::files::Output;
use crate::text::Printable;
use format::{json, markdown, table};
pub use plan::{Format, OutputPlan};
pub use stdout::to_stdout;

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
