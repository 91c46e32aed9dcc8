//! `etcd-doctor watch`: plan, then run until a signal ([`crate::watch`]).

use anyhow::Result;

use crate::cli::watch::WatchArgs;
use crate::Outcome;

/// Runs `watch`; a signal ends it cleanly (exit 0).
pub fn run(args: WatchArgs) -> Result<Outcome> {
    let plan = args.into_plan()?;
    crate::watch::run(&plan)?;
    Ok(Outcome::Healthy)
}
