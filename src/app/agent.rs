//! `etcd-doctor agent`.

use anyhow::{bail, Result};

use crate::cli::net::AgentArgs;
use crate::Outcome;

/// Runs `agent`.
pub fn run(_args: AgentArgs) -> Result<Outcome> {
    bail!("`agent` is not implemented yet")
}
