//! `etcd-doctor diagnose`: everything it can reach, in an order that keeps
//! the measurements apart. The live cluster first (status, members, health,
//! alarms, and two metrics scrapes `--interval` apart: what etcd sees now),
//! then a short disk probe next to the data dir, so the probe's own writes
//! never show up in etcd's metrics window; the host is watched throughout
//! (CPU steal, the data device, other writers). The rules then tell a slow
//! disk from a busy one and name the fix, most severe first. With
//! `--bundle` the raw inputs go into an archive beside the report; with
//! `--from-bundle` such an archive is judged offline ([`crate::archive`]).

use anyhow::Result;

use super::{probes, shared};
use crate::archive::write::Contents;
use crate::cli::verdict::{DiagnoseArgs, DiagnosePlan};
use crate::cluster::conn::ConnPlan;
use crate::cluster::{dial, inspect};
use crate::facts::Report;
use crate::logs::LogSource;
use crate::Outcome;

/// Runs `diagnose`.
pub fn run(args: DiagnoseArgs) -> Result<Outcome> {
    let plan = args.into_plan()?;
    shared::say_found(plan.discovery.as_ref());
    let probes = &plan.probes;
    if let Some(path) = &plan.from_bundle {
        let bundle = crate::archive::read::read(path)?;
        eprintln!(
            "etcd-doctor: judging the bundle {} (written by etcd-doctor {})",
            path.display(),
            bundle.manifest.tool_version
        );
        return shared::conclude(bundle.report, &probes.judge, &probes.output);
    }
    if let Some((dir, since)) = &plan.history {
        let now = crate::logs::time::now_ms() / 1000;
        let from = u64::try_from(now)
            .unwrap_or(0)
            .saturating_sub(since.as_secs());
        let report = crate::watch::replay::judge_since(dir, from, &probes.judge.profile)?;
        return shared::emit_judged(report, &probes.judge, &probes.output);
    }
    let watch = probes::watch_host(probes);
    let mut cluster = shared::runtime()?.block_on(inspect(&plan.conn, &plan.views));
    if let Some(q) = plan
        .discovery
        .as_ref()
        .and_then(|d| d.settings.quota_backend_bytes)
    {
        cluster.facts.adopt_quota(q);
    }
    // A member too starved or stuck to answer is what diagnose is for:
    // the host and the logs are still judged, and the report fails.
    if !cluster.answered {
        eprintln!(
            "etcd-doctor: no member answered ({}); judging the host and the logs",
            cluster.all_errors().join("; ")
        );
    }
    let keyspace = match &plan.keyspace {
        Some(live) if cluster.answered => {
            Some(shared::runtime()?.block_on(super::cluster::live_keyspace(&plan.conn, live))?)
        }
        _ => None,
    };
    if let Some(why) = &plan.no_disk_reason {
        eprintln!("etcd-doctor: no disk probe ({why}); pass --dir DIR on the etcd data disk");
    }
    // After the metrics window: our own writes and a loaded-rtt flow
    // would otherwise show in etcd's fsync and peer RTT metrics.
    let mut report = probes::probe_host("diagnose", probes, watch)?;
    report.cluster = Some(cluster);
    report.keyspace = keyspace;
    report.discovery = plan.discovery.clone();
    if let Some(why) = &plan.no_logs_reason {
        eprintln!("etcd-doctor: etcd's logs not read ({why}); pass --logs PATH...");
    }
    report.logs = plan.logs.as_ref().map(crate::logs::source::read);
    if plan.bundle.is_none() {
        return shared::conclude(report, &probes.judge, &probes.output);
    }
    report.judge(&probes.judge.profile);
    write_bundle(&plan, &report)?;
    shared::conclude(report, &probes.judge, &probes.output)
}

/// Writes `--bundle`: the judged report, each member's raw /metrics page
/// (read once more, since start) and the log lines the catalogue reads.
fn write_bundle(plan: &DiagnosePlan, report: &Report) -> Result<()> {
    let Some(path) = &plan.bundle else {
        return Ok(());
    };
    let mut contents = Contents::new(report)?;
    let urls: Vec<String> = report
        .cluster
        .iter()
        .flat_map(|c| &c.metrics)
        .map(|m| m.url.clone())
        .collect();
    let pages = shared::runtime()?.block_on(raw_pages(&plan.conn, &urls));
    for (i, (url, page)) in urls.iter().zip(pages).enumerate() {
        contents.metrics_page(i, url, &page);
    }
    let files: Vec<_> = plan
        .logs
        .iter()
        .flat_map(|l| &l.sources)
        .filter_map(|s| match s {
            LogSource::File(p) => Some(p.clone()),
            _ => None,
        })
        .collect();
    contents.log_excerpts(&files);
    contents.write(path)?;
    eprintln!("etcd-doctor: wrote the bundle {}", path.display());
    Ok(())
}

/// Each URL's page, or a comment line saying why there is none.
async fn raw_pages(conn: &ConnPlan, urls: &[String]) -> Vec<String> {
    let mut out = Vec::with_capacity(urls.len());
    for url in urls {
        out.push(
            dial::get(conn, url)
                .await
                .unwrap_or_else(|e| format!("# etcd-doctor: not read: {e}\n")),
        );
    }
    out
}
