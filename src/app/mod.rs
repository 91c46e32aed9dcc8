//! Command dispatch: turns parsed arguments into plans, runs them, renders
//! the report and maps the verdict to an [`Outcome`]. One file per command.

mod agent;
mod cluster;
mod compare;
mod diagnose;
mod disk;
mod load;
mod logs;
mod merge;
mod net;
mod packaging;
mod probes;
mod qualify;
mod shared;
mod snapshot;
mod watch;

use anyhow::{bail, Context, Result};

use crate::cli::{Cli, Command};
use crate::interrupt;
use crate::Outcome;

/// Runs one command to completion. SIGINT, SIGTERM and SIGHUP end every
/// command but `agent` with exit 2 (the agent stops serving and exits 0);
/// see [`crate::interrupt`], the one handler of all three.
pub fn run(cli: Cli) -> Result<Outcome> {
    interrupt::install().context("installing SIGINT/SIGTERM/SIGHUP handlers")?;
    // The agent and `watch` are stopped by a signal by design: a clean end.
    let stops_on_signal = matches!(cli.command, Command::Agent(_) | Command::Watch(_));
    let outcome = match cli.command {
        Command::Disk(args) => disk::run(args),
        Command::Agent(args) => agent::run(args),
        Command::Net(args) => net::run(args),
        Command::Cluster(args) => cluster::run(args),
        Command::Snapshot(args) => snapshot::run(args),
        Command::Qualify(args) => qualify::run(args),
        Command::Diagnose(args) => diagnose::run(*args),
        Command::Compare(args) => compare::run(args),
        Command::Logs(args) => logs::run(args),
        Command::Load(args) => load::run(args),
        Command::Merge(args) => merge::run(args),
        Command::Watch(args) => watch::run(*args),
        Command::Completions(args) => packaging::completions(args),
        Command::Man(args) => packaging::man(args),
    }?;
    if interrupt::interrupted() && !stops_on_signal {
        bail!("interrupted");
    }
    Ok(outcome)
}
