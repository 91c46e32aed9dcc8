//! `etcd-doctor watch`: plan, then run until a signal ([`crate::watch`]).

use anyhow::Result;

use crate::cli::watch::WatchArgs;
use crate::Outcome;

/// Runs `watch`; SIGINT/SIGTERM end it cleanly (exit 0), SIGHUP makes
/// the plan again from the same flags (TLS files re-read, discovery run
/// again).
pub fn run(args: WatchArgs) -> Result<Outcome> {
    let plan = args.clone().into_plan()?;
    let reload = move || Ok(args.clone().into_plan()?);
    crate::watch::run(&plan, &reload)?;
    Ok(Outcome::Healthy)
}
