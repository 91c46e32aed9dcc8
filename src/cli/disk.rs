//! `etcd-doctor disk` arguments.

use std::path::PathBuf;

use clap::Args;

use super::output::OutputArgs;

/// `disk` arguments.
#[derive(Debug, Args)]
pub struct DiskArgs {
    /// Directory whose disk is probed (a fresh temporary directory is made inside it).
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,
    #[command(flatten)]
    pub output: OutputArgs,
}
