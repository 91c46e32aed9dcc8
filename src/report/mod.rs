//! Renderers of a command's finished result ([`Report`], the JSON contract,
//! in [`crate::facts`]), one module per format, each writing to any
//! `io::Write` so tests capture bytes. Renderers are fed finished results
//! only; they never measure.

pub mod bundle;
pub mod comparison;
pub mod consistency_view;
pub mod fleet;
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
pub mod table;
pub mod view;

use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::facts::Report;

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
/// whole); for outputs that are not a [`Report`].
pub fn emit_with(
    plan: &OutputPlan,
    render: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> Result<()> {
    match &plan.out {
        None => {
            let stdout = io::stdout();
            let mut lock = stdout.lock();
            render(&mut lock)
                .and_then(|()| lock.flush())
                .context("writing to standard output")
        }
        Some(path) => write_file(path, render),
    }
}

/// Writes a file atomically: into a temporary file beside `path`, then
/// renamed. A signal meanwhile leaves neither a partial file nor the
/// temporary one: the write is a cooperative section whose temporary file
/// is removed, and `path` keeps its old content (or stays absent).
pub fn write_file(path: &Path, fill: impl FnOnce(&mut dyn Write) -> io::Result<()>) -> Result<()> {
    let _section = crate::interrupt::Cooperate::enter();
    let parent = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".etcd-doctor-")
        .tempfile_in(parent)
        .with_context(|| format!("cannot write {}", path.display()))?;
    fill(tmp.as_file_mut()).with_context(|| format!("writing {}", path.display()))?;
    // Reports are for other users too (node_exporter reads report.prom).
    tmp.as_file()
        .set_permissions(fs::Permissions::from_mode(0o644))
        .and_then(|()| tmp.as_file().sync_all())
        .with_context(|| format!("syncing {}", path.display()))?;
    if crate::interrupt::interrupted() {
        anyhow::bail!(
            "interrupted by {}: {} not written",
            crate::interrupt::signal_name(),
            path.display()
        );
    }
    tmp.persist(path)
        .map_err(|e| e.error)
        .with_context(|| format!("cannot write {}", path.display()))?;
    fs::metadata(path).with_context(|| format!("cannot stat {}", path.display()))?;
    Ok(())
}
