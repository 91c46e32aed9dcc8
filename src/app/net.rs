//! `etcd-doctor net`: probe the agents, apply the network rules, render
//! the report. Exit 2 when no peer could be measured at all.

use anyhow::{bail, Context, Result};

use super::shared;
use crate::cli::net::NetArgs;
use crate::facts::Report;
use crate::host::HostFacts;
use crate::probe::net::{self, baseline, NetPlan, NetResult};
use crate::Outcome;

/// Runs `net`.
pub fn run(args: NetArgs) -> Result<Outcome> {
    let req = args.into_plans()?;
    // Read before probing: a bad file fails at once.
    let unloaded = match &req.rtt_baseline {
        Some(path) => {
            let earlier = crate::compare::load(path)
                .with_context(|| format!("--rtt-baseline {}", path.display()))?;
            Some(baseline::idle_p99_by_peer(
                &earlier.net,
                req.plan.heartbeat_size(),
            ))
        }
        None => None,
    };
    let mut results = Vec::new();
    for run in 0..req.repeat {
        results.extend(probe_run(&req.plan, run)?);
    }
    if let Some(idle) = &unloaded {
        baseline::apply(&mut results, idle);
    }
    let failed = failed_peers(&results);
    let mut report = Report::new("net", HostFacts::collect());
    report.net = results;
    let outcome = shared::conclude(report, &req.judge, &req.output)?;
    if failed.len() == req.plan.peers.len() {
        bail!("every peer failed; first: {}", failed[0]);
    }
    Ok(outcome)
}

/// Runs the network probes of `plan` on a runtime of their own.
pub(crate) fn probe(plan: &NetPlan) -> Result<Vec<NetResult>> {
    Ok(shared::runtime()?.block_on(net::run(plan))?)
}

/// Runs the network probes of `plan` as run number `run` of a `--repeat` set.
pub(crate) fn probe_run(plan: &NetPlan, run: u32) -> Result<Vec<NetResult>> {
    let mut results = probe(plan)?;
    for r in &mut results {
        r.run = run;
    }
    Ok(results)
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
