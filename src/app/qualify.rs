//! `etcd-doctor qualify`: probes the disk and, with peers, the network,
//! watches what else the host does meanwhile, and judges it all against a
//! profile: PASS/WARN/FAIL with findings. Without `--dir` it probes beside
//! the data dir of the etcd discovery finds on this host.

use anyhow::Result;

use super::{probes, shared};
use crate::cli::verdict::QualifyArgs;
use crate::Outcome;

/// Runs `qualify`.
pub fn run(args: QualifyArgs) -> Result<Outcome> {
    let plan = args.into_plan()?;
    shared::say_found(plan.discovery.as_ref());
    let probes = &plan.probes;
    let watch = probes::watch_host(probes);
    let mut report = probes::probe_host("qualify", probes, watch)?;
    report.discovery = plan.discovery;
    shared::conclude(report, &probes.judge, &probes.output)
}
