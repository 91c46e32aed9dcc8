//! `etcd-doctor net`: probe the agents, apply the network rules, render
//! the report. Exit 2 when no peer could be measured at all.

use anyhow::{bail, Result};

use crate::cli::net::NetArgs;
use crate::host::HostFacts;
use crate::probe::net::{self, NetResult};
use crate::report::{self, Report};
use crate::rules::net::evaluate;
use crate::rules::Verdict;
use crate::Outcome;

/// Runs `net`.
pub fn run(args: NetArgs) -> Result<Outcome> {
    let (plan, thresholds, output) = args.into_plans()?;
    let results = super::runtime()?.block_on(net::run(&plan))?;
    let mut report = Report::new("net", HostFacts::collect());
    report.findings = evaluate(&results, &thresholds);
    report.verdict = Verdict::from_findings(&report.findings);
    report.net = results;
    report::emit(&report, &output)?;
    let failed = failed_peers(&report.net);
    if failed.len() == plan.peers.len() {
        bail!("every peer failed; first: {}", failed[0]);
    }
    Ok(match report.verdict {
        Verdict::Fail => Outcome::Findings,
        Verdict::Pass | Verdict::Warn => Outcome::Healthy,
    })
}

/// `PEER: error` for each peer none of whose probes succeeded, in order.
fn failed_peers(results: &[NetResult]) -> Vec<String> {
    let mut peers: Vec<&str> = Vec::new();
    for r in results {
        if !peers.contains(&r.peer.as_str()) {
            peers.push(&r.peer);
        }
    }
    peers
        .into_iter()
        .filter_map(|p| {
            let mine = results.iter().filter(|r| r.peer == p);
            let mut errors = mine.clone().filter_map(|r| r.error.as_deref());
            let all_failed = mine.clone().all(|r| r.error.is_some());
            all_failed.then(|| format!("{p}: {}", errors.next().unwrap_or("failed")))
        })
        .collect()
}
