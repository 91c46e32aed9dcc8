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
    let mut report = Report::new(plans.command, HostFacts::collect());
    report.cluster = Some(cluster);
    super::conclude(report, &plans.judge, &plans.output)
}
