//! `etcd-doctor compare`.

use anyhow::{bail, Result};

use crate::cli::verdict::CompareArgs;
use crate::Outcome;

/// Runs `compare`.
pub fn run(_args: CompareArgs) -> Result<Outcome> {
    bail!("`compare` is not implemented yet")
}
