//! `etcd-doctor cluster`: plan, read the cluster, judge it, render.

use anyhow::{bail, Result};

use crate::cli::cluster::ClusterArgs;
use crate::cluster::inspect;
use crate::host::HostFacts;
use crate::report::Report;
use crate::Outcome;

/// Runs `cluster`.
pub fn run(args: ClusterArgs) -> Result<Outcome> {
    let plans = args.into_plans()?;
    let cluster = super::runtime()?.block_on(inspect(&plans.conn, &plans.views));
    if !cluster.answered {
        bail!("no member answered: {}", cluster.all_errors().join("; "));
    }
    // etcdctl endpoint health exits 1 when any endpoint is unhealthy, and
    // scripts rely on it: the rows are still printed first.
    let unhealthy = plans.views.health && cluster.health.iter().any(|h| !h.health);
    let mut report = Report::new(plans.command, HostFacts::collect());
    report.cluster = Some(cluster);
    let outcome = super::conclude(report, &plans.judge, &plans.output)?;
    if unhealthy {
        eprintln!("etcd-doctor: unhealthy cluster");
        return Ok(Outcome::Findings);
    }
    Ok(outcome)
}
