//! `etcd-doctor qualify`.

use anyhow::{bail, Result};

use crate::cli::verdict::QualifyArgs;
use crate::Outcome;

/// Runs `qualify`.
pub fn run(_args: QualifyArgs) -> Result<Outcome> {
    bail!("`qualify` is not implemented yet")
}
