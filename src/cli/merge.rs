//! `merge` arguments: host reports (files, or `-` for standard input) into
//! one fleet report.

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use super::judge::FailOnArg;
use crate::fleet::Source;
use crate::report::{Format, OutputPlan};
use crate::rules::{Profile, ProfileError, Severity};

/// `merge -w` values: the report formats and the HTML heatmap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MergeFormatArg {
    Table,
    Json,
    Markdown,
    /// A self-contained HTML page with the RTT and throughput heatmaps.
    Html,
}

/// `merge` arguments.
#[derive(Debug, Args)]
pub struct MergeArgs {
    /// JSON reports (`qualify -w json`, report.json of `--report`); `-`
    /// reads concatenated reports from standard input, as `kubectl logs`
    /// prints them (lines that are not JSON are skipped and counted).
    #[arg(required = true, value_name = "REPORT.json|-")]
    pub reports: Vec<PathBuf>,
    /// Threshold profile: etcd-default, kubernetes-large, cloud-essd, or a TOML file.
    #[arg(long, value_name = "NAME|FILE", default_value = "etcd-default")]
    pub profile: String,
    /// Lowest severity (host verdicts and fleet findings) that makes the exit code 1.
    #[arg(long, value_enum, default_value = "fail")]
    pub fail_on: FailOnArg,
    /// Output format.
    #[arg(short = 'w', long = "write-out", value_enum, default_value = "table")]
    pub write_out: MergeFormatArg,
    /// Write the fleet report to FILE instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// What `merge` reads, how it judges and where it writes.
#[derive(Debug, Clone, PartialEq)]
pub struct MergePlan {
    /// The inputs, in order.
    pub sources: Vec<Source>,
    /// Thresholds.
    pub profile: Profile,
    /// Lowest severity that fails the command (exit 1).
    pub fail_on: Severity,
    /// Where the report goes (`format` unused when `html`).
    pub output: OutputPlan,
    /// Whether to write the HTML heatmap page.
    pub html: bool,
}

impl MergeArgs {
    /// The plan; an unknown or malformed profile names the key.
    pub fn into_plan(self) -> Result<MergePlan, ProfileError> {
        let sources = self
            .reports
            .into_iter()
            .map(|p| {
                if p.as_os_str() == "-" {
                    Source::Stdin
                } else {
                    Source::File(p)
                }
            })
            .collect();
        let format = match self.write_out {
            MergeFormatArg::Table | MergeFormatArg::Html => Format::Table,
            MergeFormatArg::Json => Format::Json,
            MergeFormatArg::Markdown => Format::Markdown,
        };
        Ok(MergePlan {
            sources,
            profile: Profile::load(&self.profile)?,
            fail_on: match self.fail_on {
                FailOnArg::Warn => Severity::Warn,
                FailOnArg::Fail => Severity::Fail,
            },
            output: OutputPlan {
                format,
                out: self.out,
            },
            html: self.write_out == MergeFormatArg::Html,
        })
    }
}
