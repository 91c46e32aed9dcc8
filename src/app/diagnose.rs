//! `etcd-doctor diagnose`.

use anyhow::{bail, Result};

use crate::cli::verdict::DiagnoseArgs;
use crate::Outcome;

/// Runs `diagnose`.
pub fn run(_args: DiagnoseArgs) -> Result<Outcome> {
    bail!("`diagnose` is not implemented yet")
}
