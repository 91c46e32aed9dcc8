//! Command dispatch: turns parsed arguments into plans, runs them, renders
//! the report and maps the verdict to an [`Outcome`]. One file per command.

mod agent;
mod cluster;
mod compare;
mod diagnose;
mod disk;
mod net;
mod qualify;
mod snapshot;

use anyhow::Result;

use crate::cli::{Cli, Command};
use crate::Outcome;

/// Runs one command to completion.
pub fn run(cli: Cli) -> Result<Outcome> {
    match cli.command {
        Command::Disk(args) => disk::run(args),
        Command::Agent(args) => agent::run(args),
        Command::Net(args) => net::run(args),
        Command::Cluster(args) => cluster::run(args),
        Command::Snapshot(args) => snapshot::run(args),
        Command::Qualify(args) => qualify::run(args),
        Command::Diagnose(args) => diagnose::run(args),
        Command::Compare(args) => compare::run(args),
    }
}

/// Builds the multi-threaded tokio runtime that network commands run on.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}
