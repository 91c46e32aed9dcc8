//! `etcd-doctor cluster`: plan, read the cluster, judge it, render.

use anyhow::{bail, Result};

use super::shared;
use crate::cli::cluster::ClusterArgs;
use crate::cluster::conn::ConnPlan;
use crate::cluster::dial;
use crate::cluster::inspect;
use crate::facts::Report;
use crate::host::HostFacts;
use crate::keyspace::live::{self, LivePlan};
use crate::keyspace::KeyspaceReport;
use crate::Outcome;

/// Runs `cluster`.
pub fn run(args: ClusterArgs) -> Result<Outcome> {
    let plans = args.into_plans()?;
    shared::say_found(plans.discovery.as_ref());
    if let Some(live) = &plans.keyspace {
        let mut report = Report::new(plans.command, HostFacts::collect());
        report.discovery = plans.discovery.clone();
        report.keyspace = Some(shared::runtime()?.block_on(live_keyspace(&plans.conn, live))?);
        return shared::conclude(report, &plans.judge, &plans.output);
    }
    // One thread: the views wait on the members, not on our CPU; worker
    // threads cost more to start and wake than they saved (a fifth of the
    // wall time of a `status` or one-scrape `metrics`, perf stat).
    let mut cluster = shared::runtime_one_thread()?.block_on(inspect(&plans.conn, &plans.views));
    if let Some(q) = plans
        .discovery
        .as_ref()
        .and_then(|d| d.settings.quota_backend_bytes)
    {
        cluster.facts.adopt_quota(q);
    }
    if !cluster.answered {
        bail!("no member answered: {}", cluster.all_errors().join("; "));
    }
    // etcdctl endpoint health exits 1 when any endpoint is unhealthy, and
    // scripts rely on it: the rows are still printed first.
    let unhealthy = plans.views.health && cluster.health.iter().any(|h| !h.health);
    // So does etcdctl endpoint hashkv when a member gives no hash (down,
    // or the user lacks the root role HashKV needs): a check that compared
    // nothing there is no pass.
    let unhashed = cluster
        .consistency
        .as_ref()
        .is_some_and(|c| c.members.iter().any(|m| m.hash.is_none()));
    let mut report = Report::new(plans.command, HostFacts::collect());
    report.discovery = plans.discovery.clone();
    report.cluster = Some(cluster);
    let outcome = shared::conclude(report, &plans.judge, &plans.output)?;
    if unhealthy {
        eprintln!("etcd-doctor: unhealthy cluster");
    }
    if unhashed {
        eprintln!("etcd-doctor: not every member could be hashed");
    }
    Ok(Outcome::judged(
        unhealthy || unhashed || outcome == Outcome::Findings,
    ))
}

/// Counts the live keys per prefix on the first member that answers.
pub(crate) async fn live_keyspace(conn: &ConnPlan, plan: &LivePlan) -> Result<KeyspaceReport> {
    let mut client = dial::connect_first(conn).await?;
    let origin = conn
        .endpoints
        .iter()
        .map(|t| t.endpoint.as_str())
        .collect::<Vec<_>>()
        .join(",");
    live::count(&mut client, &origin, plan).await
}
