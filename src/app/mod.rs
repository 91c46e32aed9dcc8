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
mod qualify;
mod snapshot;
mod watch;

use anyhow::{bail, Context, Result};

use crate::cli::judge::JudgePlan;
use crate::cli::verdict::ProbePlan;
use crate::cli::{Cli, Command};
use crate::facts::Report;
use crate::host::{HostFacts, HostWatch};
use crate::interrupt;
use crate::report::{self, OutputPlan};
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

/// Builds the multi-threaded tokio runtime that network commands run on.
/// Says on stderr what discovery found and from where, before any result:
/// the operator sees which etcd the run is about.
pub(crate) fn say_found(found: Option<&crate::discover::Discovery>) {
    if let Some(d) = found {
        eprint!("{}", crate::discover::render::table(d));
    }
}

pub(crate) fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

/// Starts watching the host (CPU, the probed data device, other writers)
/// for the run of `plan`.
pub(crate) fn watch_host(plan: &ProbePlan) -> HostWatch {
    HostFacts::watch(plan.disk.as_ref().map(|d| d.dir.as_path()))
}

/// Runs the host measurements of `plan`: the disk probes, then the network
/// probes (a bulk flow must not share the disk's window), `--repeat` times
/// in turn. Returns the `command` report holding them and what `watch`
/// saw meanwhile.
pub(crate) fn probe_host(command: &str, plan: &ProbePlan, watch: HostWatch) -> Result<Report> {
    let (mut disk, mut net) = (Vec::new(), Vec::new());
    for run in 0..plan.repeat {
        if let Some(d) = &plan.disk {
            disk.extend(disk::probe_run(d, run)?);
        }
        // A signal after the disk probe's last check must not wait for the
        // network phase.
        if interrupt::interrupted() {
            bail!("interrupted");
        }
        if let Some(n) = &plan.net {
            net.extend(net::probe_run(n, run)?);
        }
    }
    let mut report = Report::new(command, watch.finish());
    report.disk = disk;
    report.net = net;
    Ok(report)
}

/// Judges a finished report against the plan's profile, writes it (and the
/// report bundle when asked), and maps the findings to the exit outcome.
pub(crate) fn conclude(
    mut report: Report,
    judge: &JudgePlan,
    output: &OutputPlan,
) -> Result<Outcome> {
    report.judge(&judge.profile);
    emit_judged(report, judge, output)
}

/// Writes an already judged report (and the report bundle when asked)
/// and maps its findings to the exit outcome.
pub(crate) fn emit_judged(
    report: Report,
    judge: &JudgePlan,
    output: &OutputPlan,
) -> Result<Outcome> {
    report::emit(&report, output)?;
    if let Some(dir) = &judge.report_dir {
        report::bundle::write(&report, dir)?;
    }
    Ok(Outcome::judged(report.verdict.fails_at(judge.fail_on)))
}
