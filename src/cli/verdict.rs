//! `etcd-doctor qualify`, `diagnose` and `compare` arguments.

use std::path::PathBuf;

use clap::Args;

use super::cluster::ConnArgs;
use super::output::OutputArgs;

/// `qualify` arguments.
#[derive(Debug, Args)]
pub struct QualifyArgs {
    /// Directory whose disk is qualified.
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// `diagnose` arguments.
#[derive(Debug, Args)]
pub struct DiagnoseArgs {
    #[command(flatten)]
    pub conn: ConnArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// `compare` arguments.
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// Baseline JSON report.
    pub baseline: PathBuf,
    /// Current JSON report.
    pub current: PathBuf,
}
