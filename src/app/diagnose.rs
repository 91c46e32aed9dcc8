//! `etcd-doctor diagnose`: everything it can reach, in an order that keeps
//! the measurements apart. The live cluster first (status, members, health,
//! alarms, and two metrics scrapes `--interval` apart: what etcd sees now),
//! then a short disk probe next to the data dir, so the probe's own writes
//! never show up in etcd's metrics window; the host is watched throughout
//! (CPU steal, the data device, other writers). The rules then tell a slow
//! disk from a busy one and name the fix, most severe first.

use anyhow::{bail, Result};

use crate::cli::verdict::DiagnoseArgs;
use crate::cluster::inspect;
use crate::Outcome;

/// Runs `diagnose`.
pub fn run(args: DiagnoseArgs) -> Result<Outcome> {
    let plan = args.into_plan()?;
    super::say_found(plan.discovery.as_ref());
    let probes = &plan.probes;
    let watch = super::watch_host(probes);
    let mut cluster = super::runtime()?.block_on(inspect(&plan.conn, &plan.views));
    if let Some(q) = plan
        .discovery
        .as_ref()
        .and_then(|d| d.settings.quota_backend_bytes)
    {
        cluster.facts.adopt_quota(q);
    }
    if !cluster.answered {
        bail!("no member answered: {}", cluster.all_errors().join("; "));
    }
    let keyspace = match &plan.keyspace {
        Some(live) => {
            Some(super::runtime()?.block_on(super::cluster::live_keyspace(&plan.conn, live))?)
        }
        None => None,
    };
    if let Some(why) = &plan.no_disk_reason {
        eprintln!("etcd-doctor: no disk probe ({why}); pass --dir DIR on the etcd data disk");
    }
    // After the metrics window: our own writes and a loaded-rtt flow
    // would otherwise show in etcd's fsync and peer RTT metrics.
    let mut report = super::probe_host("diagnose", probes, watch)?;
    report.cluster = Some(cluster);
    report.keyspace = keyspace;
    report.discovery = plan.discovery.clone();
    if let Some(why) = &plan.no_logs_reason {
        eprintln!("etcd-doctor: etcd's logs not read ({why}); pass --logs PATH...");
    }
    report.logs = plan.logs.as_ref().map(crate::logs::source::read);
    super::conclude(report, &probes.judge, &probes.output)
}
