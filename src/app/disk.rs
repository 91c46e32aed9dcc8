//! `etcd-doctor disk`.

use anyhow::{bail, Result};

use crate::cli::disk::DiskArgs;
use crate::Outcome;

/// Runs `disk`.
pub fn run(_args: DiskArgs) -> Result<Outcome> {
    bail!("`disk` is not implemented yet")
}
