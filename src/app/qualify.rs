//! `etcd-doctor qualify`: probes the disk (and, with peers, the network),
//! samples what else the host does meanwhile, and judges it all against a
//! profile: PASS/WARN/FAIL with findings.

use anyhow::Result;

use crate::cli::verdict::QualifyArgs;
use crate::host::HostFacts;
use crate::report::Report;
use crate::Outcome;

/// Runs `qualify`.
pub fn run(args: QualifyArgs) -> Result<Outcome> {
    let disk_plan = args.disk.into_plan(args.dir)?;
    let judge = args.judge.into_plan()?;
    let watch = HostFacts::watch(Some(&disk_plan.dir));
    let disk = super::disk::probe(&disk_plan)?;
    let mut report = Report::new("qualify", watch.finish());
    report.disk = disk;
    super::conclude(report, &judge, &args.output.into())
}
