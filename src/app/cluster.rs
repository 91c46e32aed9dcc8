//! `etcd-doctor cluster`.

use anyhow::{bail, Result};

use crate::cli::cluster::ClusterArgs;
use crate::Outcome;

/// Runs `cluster`.
pub fn run(_args: ClusterArgs) -> Result<Outcome> {
    bail!("`cluster` is not implemented yet")
}
