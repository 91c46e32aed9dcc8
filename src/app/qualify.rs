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
    let watch = HostFacts::watch(plan.disk.as_ref().map(|d| d.dir.as_path()));
    let (disk, net) = super::probe_host(&plan)?;
    let mut report = Report::new("qualify", watch.finish());
    report.disk = disk;
    report.net = net;
    super::conclude(report, &plan.judge, &plan.output)
}
