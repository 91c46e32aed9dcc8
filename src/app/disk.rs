//! `etcd-doctor disk`: plan, probe (with progress and Ctrl-C handling)
//! while watching the host, render the report.

use anyhow::{Context, Result};

use crate::cli::disk::DiskArgs;
use crate::facts::Report;
use crate::host::HostFacts;
use crate::interrupt;
use crate::probe::disk::{self, Control, DiskPlan, DiskResult, Tick};
use crate::progress::Progress;
use crate::report;
use crate::Outcome;

/// Runs `disk`.
pub fn run(args: DiskArgs) -> Result<Outcome> {
    let (plan, repeat, output) = args.into_plans()?;
    let watch = HostFacts::watch(Some(&plan.dir));
    let mut results = Vec::new();
    for run in 0..repeat {
        results.extend(probe_run(&plan, run)?);
    }
    let mut report = Report::new("disk", watch.finish());
    report.disk = results;
    report::emit(&report, &output)?;
    Ok(Outcome::Healthy)
}

/// Runs the probes of `plan` as run number `run` of a `--repeat` set.
pub(crate) fn probe_run(plan: &DiskPlan, run: u32) -> Result<Vec<DiskResult>> {
    let mut results = probe(plan)?;
    for r in &mut results {
        r.run = run;
    }
    Ok(results)
}

/// Runs the probes of `plan` with progress on stderr; SIGINT, SIGTERM or
/// SIGHUP stop it between operations and its scratch files are removed.
pub(crate) fn probe(plan: &DiskPlan) -> Result<Vec<DiskResult>> {
    let cancel = interrupt::install().context("installing SIGINT/SIGTERM/SIGHUP handlers")?;
    let _cooperate = interrupt::Cooperate::enter();
    let progress = Progress::stderr();
    let tick = |t: &Tick| {
        progress.update(t.fraction, || {
            format!(
                "{} probe: {} ops in {:.1} s",
                t.probe.as_str(),
                t.ops,
                t.elapsed.as_secs_f64()
            )
        })
    };
    let results = disk::run(plan, &Control::quiet().cancel_on(cancel).progress(&tick));
    progress.finish();
    results
}
