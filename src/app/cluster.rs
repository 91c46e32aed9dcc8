//! `etcd-doctor cluster`: plan, read the cluster, judge it, render.

use anyhow::{bail, Result};

use crate::cli::cluster::ClusterArgs;
use crate::cluster::inspect;
use crate::host::HostFacts;
use crate::report::{self, Report};
use crate::rules::cluster::{evaluate, ClusterThresholds};
use crate::rules::Verdict;
use crate::Outcome;

/// Runs `cluster`.
pub fn run(args: ClusterArgs) -> Result<Outcome> {
    let plans = args.into_plans()?;
    let cluster = super::runtime()?.block_on(inspect(&plans.conn, &plans.views));
    if !cluster.answered {
        bail!("no member answered: {}", cluster.all_errors().join("; "));
    }
    let mut report = Report::new(plans.command, HostFacts::collect());
    report.findings = evaluate(&cluster, &ClusterThresholds::default());
    report.verdict = Verdict::from_findings(&report.findings);
    report.cluster = Some(cluster);
    report::emit(&report, &plans.output)?;
    Ok(match report.verdict {
        Verdict::Fail => Outcome::Findings,
        Verdict::Pass | Verdict::Warn => Outcome::Healthy,
    })
}
