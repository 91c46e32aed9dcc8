//! `etcd-doctor snapshot` arguments.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::cluster::ConnArgs;

/// `snapshot` arguments.
#[derive(Debug, Args)]
pub struct SnapshotArgs {
    #[command(subcommand)]
    pub action: SnapshotAction,
}

/// Snapshot actions.
#[derive(Debug, Subcommand)]
pub enum SnapshotAction {
    /// Stream a snapshot from one member into FILE.
    Save {
        /// Destination file.
        file: PathBuf,
        #[command(flatten)]
        conn: ConnArgs,
    },
    /// Check a snapshot file's integrity hash and database structure.
    Verify {
        /// Snapshot file.
        file: PathBuf,
    },
}
