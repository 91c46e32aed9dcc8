//! What a command was asked for its output: the format and where to
//! write it. CLI flags convert into this plan; renderers only read it.

use std::path::PathBuf;

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
