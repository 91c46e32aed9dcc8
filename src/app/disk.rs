//! `etcd-doctor disk`: plan, probe (with progress and Ctrl-C handling),
//! collect the device facts of the directory, render the report.

use anyhow::{Context, Result};

use crate::cli::disk::DiskArgs;
use crate::host::activity::ActivitySampler;
use crate::host::device::DeviceFacts;
use crate::host::HostFacts;
use crate::probe::disk::{self, interrupt, Control, DiskPlan, DiskResult, Tick};
use crate::progress::Progress;
use crate::report::{self, Report};
use crate::Outcome;

/// Runs `disk`.
pub fn run(args: DiskArgs) -> Result<Outcome> {
    let (plan, output) = args.into_plans()?;
    let mut host = HostFacts::collect();
    let results = probe(&plan, &mut host)?;
    let mut report = Report::new("disk", host);
    report.disk = results;
    report::emit(&report, &output)?;
    Ok(Outcome::Healthy)
}

/// Runs the probes of `plan` with progress on stderr and SIGINT/SIGTERM
/// handling; records in `host` the directory's device and what else the
/// host did while the probes ran.
pub(crate) fn probe(plan: &DiskPlan, host: &mut HostFacts) -> Result<Vec<DiskResult>> {
    let cancel = interrupt::install().context("installing SIGINT/SIGTERM handlers")?;
    // Collected before the run so free space is what the probe started with;
    // a missing directory is reported by the probe with its own message.
    host.device = DeviceFacts::for_dir(&plan.dir).ok();
    let sampler = ActivitySampler::start(host.device.as_ref());
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
    host.activity = Some(sampler.finish());
    results
}
