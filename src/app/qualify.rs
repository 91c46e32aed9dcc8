//! `etcd-doctor qualify`: probes the disk and, with peers, the network,
//! watches what else the host does meanwhile, and judges it all against a
//! profile: PASS/WARN/FAIL with findings.

use anyhow::Result;

use crate::cli::verdict::QualifyArgs;
use crate::Outcome;

/// Runs `qualify`.
pub fn run(args: QualifyArgs) -> Result<Outcome> {
    let plan = args.into_plan()?;
    let watch = super::watch_host(&plan);
    let report = super::probe_host("qualify", &plan, watch)?;
    super::conclude(report, &plan.judge, &plan.output)
}
