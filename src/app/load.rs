//! `etcd-doctor load`: plan, check and load the cluster, judge the run
//! with its window's metrics, render. An interrupted run still writes its
//! report (the prefix is deleted first) and then exits 2.

use anyhow::{bail, Result};

use super::shared;
use crate::cli::load::LoadArgs;
use crate::facts::Report;
use crate::host::HostFacts;
use crate::Outcome;

/// Runs `load`.
pub fn run(args: LoadArgs) -> Result<Outcome> {
    let plans = args.into_plans()?;
    shared::say_found(plans.discovery.as_ref());
    let finished = shared::runtime_one_thread()?.block_on(crate::load::run(
        &plans.conn,
        &plans.load,
        &plans.safety,
    ))?;
    let interrupted = finished.load.interrupted.clone();
    let deleted = finished.load.deleted_keys;
    let skipped = finished
        .load
        .maintenance_skipped
        .as_ref()
        .map(|_| "; --compact/--defrag skipped")
        .unwrap_or_default();
    let mut report = Report::new("load", HostFacts::collect());
    report.discovery = plans.discovery.clone();
    report.cluster = Some(finished.cluster);
    report.load = Some(finished.load);
    let outcome = shared::conclude(report, &plans.judge, &plans.output)?;
    if let Some(signal) = interrupted {
        bail!(
            "interrupted by {signal}: the {deleted} keys written under --prefix {:?} were deleted{skipped}",
            plans.load.prefix
        );
    }
    Ok(outcome)
}
