//! `etcd-doctor net`.

use anyhow::{bail, Result};

use crate::cli::net::NetArgs;
use crate::Outcome;

/// Runs `net`.
pub fn run(_args: NetArgs) -> Result<Outcome> {
    bail!("`net` is not implemented yet")
}
