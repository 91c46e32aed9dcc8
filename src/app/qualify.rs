//! `etcd-doctor qualify`: probes the disk and, with peers, the network,
//! watches what else the host does meanwhile, and judges it all against a
//! profile: PASS/WARN/FAIL with findings.

use anyhow::Result;

use crate::cli::verdict::QualifyArgs;
use crate::host::HostFacts;
use crate::report::Report;
use crate::Outcome;

/// Runs `qualify`.
pub fn run(args: QualifyArgs) -> Result<Outcome> {
    let plan = args.into_plan()?;
    let watch = HostFacts::watch(Some(&plan.disk.dir));
    let disk = super::disk::probe(&plan.disk)?;
    let net = match &plan.net {
        Some(net_plan) => super::net::probe(net_plan)?,
        None => Vec::new(),
    };
    let mut report = Report::new("qualify", watch.finish());
    report.disk = disk;
    report.net = net;
    super::conclude(report, &plan.judge, &plan.output)
}
