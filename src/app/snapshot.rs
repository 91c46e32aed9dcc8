//! `etcd-doctor snapshot`.

use anyhow::{bail, Result};

use crate::cli::snapshot::SnapshotArgs;
use crate::Outcome;

/// Runs `snapshot`.
pub fn run(_args: SnapshotArgs) -> Result<Outcome> {
    bail!("`snapshot` is not implemented yet")
}
