//! The host measurements `qualify` and `diagnose` share: the disk probes,
//! then the network probes, while the host is watched.

use anyhow::{bail, Result};

use super::{disk, net};
use crate::cli::verdict::ProbePlan;
use crate::facts::Report;
use crate::host::{HostFacts, HostWatch};
use crate::interrupt;

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
