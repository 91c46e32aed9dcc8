//! `etcd-doctor load`: `etcdctl check perf` with open-loop percentiles and
//! the server-side cause of a shortfall.
//!
//! A run checks the cluster first (every member answers, no alarm, the
//! prefix is empty), opens its connections, scrapes every member's
//! /metrics, sends requests on schedule ([`generator`]) while scraping
//! every few seconds ([`server`]), scrapes once more, and deletes the keys
//! it wrote ([`cleanup`]: never another client's key under the prefix,
//! which is reported instead): after a normal end, after an error and
//! after SIGINT/SIGTERM. An interrupted run skips `--compact` and
//! `--defrag` (optional maintenance; defrag blocks each member).
//! The facts ([`result::LoadResult`] and the window's member metrics) go
//! to the rules (src/rules/load.rs and the cluster rules).

pub mod cleanup;
pub mod generator;
pub mod plan;
pub mod result;
pub mod server;

use std::sync::Arc;
use std::time::Duration;

use etcd_client::{Client, GetOptions};
use thiserror::Error;
use tokio::sync::watch;

use crate::cluster::conn::{ConnPlan, Target};
use crate::cluster::model::ClusterReport;
use crate::cluster::{dial, inspect, InspectPlan, RequestError};
use crate::member::MemberId;
use crate::units::{Micros, Nanos};
use generator::{Conn, Group, Recorded};
use plan::{LoadPlan, OpKind};
use result::{LoadResult, OpStats, ScheduleStats};
use server::MemberWatch;

/// What to do around the run besides sending requests.
#[derive(Debug, Clone, PartialEq)]
pub struct Safety {
    /// Run even with an active alarm or a member down.
    pub force: bool,
    /// Compact to the revision of the prefix's deletion afterwards.
    pub compact: bool,
    /// Defragment every member afterwards, one at a time.
    pub defrag: bool,
}

/// Why a run did not start; nothing was written.
#[derive(Debug, Error)]
pub enum LoadError {
    /// No member answered.
    #[error("no member answered: {0}")]
    Unreachable(String),
    /// An alarm is active.
    #[error("alarm {0}: a load run would only add to it (--force runs anyway)")]
    AlarmActive(String),
    /// A member is down.
    #[error("{0} does not answer: the run would measure a degraded cluster (--force runs anyway)")]
    MemberDown(String),
    /// A connection failed.
    #[error("cannot connect to {endpoint}: {error}")]
    Connect {
        /// The member's client URL.
        endpoint: String,
        /// Why.
        error: RequestError,
    },
    /// The prefix already holds keys.
    #[error("--prefix {prefix:?} holds {count} keys: refusing to write there. Delete them with `etcdctl del --prefix {prefix}` or choose another --prefix")]
    PrefixOccupied {
        /// The prefix.
        prefix: String,
        /// Keys found.
        count: i64,
    },
    /// Reading the prefix failed.
    #[error("cannot read --prefix {prefix:?}: {error}")]
    PrefixUnreadable {
        /// The prefix.
        prefix: String,
        /// Why.
        error: RequestError,
    },
}

/// The outcome of a run: its facts and the cluster as seen over its window.
pub struct Finished {
    /// The load facts.
    pub load: LoadResult,
    /// The cluster before the run, with the run window's member metrics.
    pub cluster: ClusterReport,
}

/// Checks that the cluster may be loaded (see [`LoadError`]).
async fn precheck(conn: &ConnPlan, safety: &Safety) -> Result<ClusterReport, LoadError> {
    let views = InspectPlan::views();
    let cluster = inspect(conn, &views).await;
    if !cluster.answered {
        return Err(LoadError::Unreachable(cluster.all_errors().join("; ")));
    }
    if safety.force {
        return Ok(cluster);
    }
    if let Some(a) = cluster.alarms.first() {
        return Err(LoadError::AlarmActive(format!(
            "{} is active on member {}",
            a.alarm,
            cluster.member_label(Some(&a.member_id), "")
        )));
    }
    let down = cluster
        .facts
        .unreachable
        .iter()
        .map(|m| format!("member {}", cluster.member_label(Some(&m.member_id), "")));
    let unhealthy = cluster
        .health
        .iter()
        .filter(|h| !cluster.serves(&h.endpoint))
        .map(|h| format!("{} ({})", h.endpoint, h.error.clone().unwrap_or_default()));
    if let Some(first) = down.chain(unhealthy).next() {
        return Err(LoadError::MemberDown(first));
    }
    Ok(cluster)
}

/// The members' client URLs to spread connections over (those that
/// serve, slow ones included: they are what a run is to find), else the
/// endpoints given.
fn targets(conn: &ConnPlan, cluster: &ClusterReport) -> Vec<(Target, Option<MemberId>)> {
    let listed: Vec<(Target, Option<MemberId>)> = cluster
        .members
        .iter()
        .filter_map(|m| {
            let url = m.client_urls.first()?;
            Some((conn.target(url).ok()?, Some(m.id.clone()))).filter(|_| cluster.serves(url))
        })
        .collect();
    if listed.is_empty() {
        conn.endpoints.iter().map(|t| (t.clone(), None)).collect()
    } else {
        listed
    }
}

/// Opens `n` connections round-robin over `targets`, concurrently.
async fn connect_all(
    conn: &ConnPlan,
    targets: &[(Target, Option<MemberId>)],
    n: u32,
) -> Result<Vec<(usize, Client)>, LoadError> {
    let plan = Arc::new(conn.clone());
    let handles: Vec<_> = (0..n as usize)
        .map(|i| {
            let t = i % targets.len();
            let (plan, target) = (plan.clone(), targets[t].0.clone());
            tokio::spawn(async move {
                (
                    t,
                    dial::connect(&plan, &target)
                        .await
                        .map_err(|e| (target.url, e)),
                )
            })
        })
        .collect();
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        let (t, client) = h.await.expect("a connect task panicked");
        let client = client.map_err(|(endpoint, error)| LoadError::Connect { endpoint, error })?;
        out.push((t, client));
    }
    Ok(out)
}

/// One client per member, the leader's first: the prefix check and the
/// cleanup go to the leader (nothing forwarded), and on to the next member
/// when one does not answer, so a member behind a slow link cannot leave
/// the prefix behind.
fn admins(
    clients: &[(usize, Client)],
    targets: &[(Target, Option<MemberId>)],
    cluster: &ClusterReport,
) -> Vec<(Target, Client)> {
    let leader = cluster
        .endpoints
        .iter()
        .find(|e| e.is_leader == Some(true))
        .and_then(|e| e.id.clone());
    let mut seen = Vec::new();
    let mut out: Vec<(bool, Target, Client)> = Vec::new();
    for (t, client) in clients {
        if !seen.contains(t) {
            seen.push(*t);
            let (target, id) = &targets[*t];
            let is_leader = leader.is_some() && *id == leader;
            out.push((is_leader, target.clone(), client.clone()));
        }
    }
    out.sort_by_key(|(is_leader, ..)| !is_leader);
    out.into_iter().map(|(_, t, c)| (t, c)).collect()
}

/// `op` with each admin client in turn until one answers; the last error
/// when none does.
async fn first_answer<T, F, Fut>(admins: &[(Target, Client)], op: F) -> Result<T, RequestError>
where
    F: Fn(Target, Client) -> Fut,
    Fut: std::future::Future<Output = Result<T, RequestError>>,
{
    let mut last = RequestError::Endpoint("no member to ask".into());
    for (target, client) in admins {
        match op(target.clone(), client.clone()).await {
            Ok(answer) => return Ok(answer),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// Keys under `prefix`.
async fn count(
    conn: &ConnPlan,
    target: &Target,
    mut client: Client,
    prefix: &str,
) -> Result<i64, RequestError> {
    let opts = GetOptions::new().with_prefix().with_count_only();
    let resp = dial::request(conn, target, client.get(prefix, Some(opts))).await?;
    Ok(resp.count())
}

/// Stops the run on SIGINT, SIGTERM or SIGHUP, through the process-wide
/// handler of [`crate::interrupt`]: inside the run's
/// [`crate::interrupt::Cooperate`] section it only sets the flag this
/// watches. Ends with the run (its receiver dropped).
fn stop_on_signals(stop: watch::Sender<bool>) {
    tokio::spawn(async move {
        tokio::select! {
            _ = crate::interrupt::wait() => {
                let _ = stop.send(true);
            }
            _ = stop.closed() => {}
        }
    });
}

/// Checks the cluster, runs `plan`, cleans up and returns the facts.
pub async fn run(conn: &ConnPlan, plan: &LoadPlan, safety: &Safety) -> anyhow::Result<Finished> {
    let mut cluster = precheck(conn, safety).await?;
    let targets = targets(conn, &cluster);
    let clients = connect_all(conn, &targets, plan.conns).await?;
    let admins = admins(&clients, &targets, &cluster);
    let occupied = first_answer(&admins, |t, c| async move {
        count(conn, &t, c, &plan.prefix).await
    })
    .await
    .map_err(|error| LoadError::PrefixUnreadable {
        prefix: plan.prefix.clone(),
        error,
    })?;
    if occupied > 0 {
        return Err(LoadError::PrefixOccupied {
            prefix: plan.prefix.clone(),
            count: occupied,
        }
        .into());
    }
    // From the first write until the prefix is deleted, a signal stops the
    // run and leaves the deletion to it instead of ending the process.
    let _cooperate = crate::interrupt::Cooperate::enter();
    let (stop_tx, stop_rx) = watch::channel(false);
    stop_on_signals(stop_tx);

    let mut members: Vec<MemberWatch> = targets
        .iter()
        .map(|(t, id)| MemberWatch::new(format!("{}/metrics", t.url), id.clone()))
        .collect();
    let start = server::run_start();
    server::scrape_round(conn, &mut members, start).await;
    let (done_tx, done_rx) = watch::channel(false);
    let interval = Duration::from_secs_f64(plan.scrape_interval_s);
    let watcher = tokio::spawn(server::watch_members(
        conn.clone(),
        members,
        interval,
        start,
        done_rx,
    ));

    let conns: Vec<Conn> = clients
        .iter()
        .map(|(t, c)| Conn {
            target: *t,
            kv: c.kv_client(),
        })
        .collect();
    let cpu_before = cpu_seconds();
    let recorded =
        generator::generate(plan, &conns, targets.len(), conn.command_timeout, stop_rx).await;
    let client_cpu = (cpu_seconds() - cpu_before) / recorded.elapsed.as_secs_f64().max(1e-3);
    let _ = done_tx.send(true);
    let members = watcher.await.expect("the metrics watcher panicked");

    let cleaned = first_answer(&admins, |t, c| async move {
        cleanup::clean(conn, &t, c, plan).await
    })
    .await
    .map_err(|e| {
        anyhow::anyhow!(
            "deleting --prefix {:?} failed: {e}; delete it with `etcdctl del --prefix {}`",
            plan.prefix,
            plan.prefix
        )
    })?;
    let mut load = summarize(plan, &recorded, &targets, client_cpu);
    load.deleted_keys = cleaned.deleted;
    load.foreign_keys = cleaned.foreign;
    load.foreign_key_examples = cleaned.foreign_examples;
    load.interrupted =
        crate::interrupt::interrupted().then(|| crate::interrupt::signal_name().to_string());
    load.server = members.iter().map(MemberWatch::load).collect();
    cluster.metrics = members.iter().map(MemberWatch::window).collect();
    if let Some(signal) = &load.interrupted {
        if safety.compact || safety.defrag {
            load.maintenance_skipped = Some(format!(
                "--compact/--defrag skipped: interrupted by {signal} (the run's keys were deleted)"
            ));
        }
        return Ok(Finished { load, cluster });
    }
    let revision = cleaned.revision;
    if safety.compact && revision > 0 {
        first_answer(&admins, |t, mut c| async move {
            dial::request(conn, &t, c.compact(revision, None)).await
        })
        .await
        .map_err(|e| anyhow::anyhow!("--compact {revision}: {e}"))?;
        load.compacted_revision = Some(revision);
    }
    if safety.defrag {
        load.defragmented = defrag_all(conn, &clients, &targets).await;
    }
    Ok(Finished { load, cluster })
}

/// Defragments each member in turn; one line per member.
async fn defrag_all(
    conn: &ConnPlan,
    clients: &[(usize, Client)],
    targets: &[(Target, Option<MemberId>)],
) -> Vec<String> {
    let mut out = Vec::new();
    for (i, (target, _)) in targets.iter().enumerate() {
        if crate::interrupt::interrupted() {
            out.push(format!(
                "{}: not defragmented: interrupted by {}",
                target.url,
                crate::interrupt::signal_name()
            ));
            continue;
        }
        // A member no load client went to (fewer clients than members)
        // is defragmented too, over a connection of its own.
        let mut maint = match clients.iter().find(|(t, _)| *t == i) {
            Some((_, client)) => client.clone(),
            None => match dial::connect(conn, target).await {
                Ok(client) => client,
                Err(e) => {
                    out.push(format!("{}: not defragmented: {e}", target.url));
                    continue;
                }
            },
        };
        let line = match dial::request(conn, target, maint.defragment()).await {
            Ok(_) => format!("{}: defragmented", target.url),
            Err(e) => format!("{}: {e}", target.url),
        };
        out.push(line);
    }
    out
}

/// CPU time (user + system) this process used so far, seconds.
fn cpu_seconds() -> f64 {
    // SAFETY: getrusage writes into the zeroed struct we pass and nothing else.
    let usage = unsafe {
        let mut u: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut u);
        u
    };
    let secs = |t: libc::timeval| t.tv_sec as f64 + Micros(t.tv_usec as f64).as_secs_f64();
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

fn stats(name: &str, g: &Group, elapsed_s: f64) -> OpStats {
    OpStats {
        name: name.to_string(),
        ok: g.latency.len(),
        errors: g.errors,
        achieved_ops_s: g.latency.len() as f64 / elapsed_s,
        latency_us: g.latency.summary(),
        stddev_us: Nanos(g.latency.raw().stdev()).as_us(),
        latency_histogram: g.latency.encode(),
    }
}

/// The serde facts of what the generator recorded.
pub fn summarize(
    plan: &LoadPlan,
    rec: &Recorded,
    targets: &[(Target, Option<MemberId>)],
    client_cpu_cores: f64,
) -> LoadResult {
    let elapsed_s = rec.elapsed.as_secs_f64().max(1e-3);
    let all = stats("all", &rec.all, elapsed_s);
    LoadResult {
        plan: plan.clone(),
        elapsed_s,
        target_ops_s: f64::from(plan.rate_per_s),
        achieved_ops_s: all.achieved_ops_s,
        all,
        ops: OpKind::ALL
            .iter()
            .zip(&rec.by_kind)
            .filter(|(_, g)| g.errors > 0 || !g.latency.is_empty())
            .map(|(k, g)| stats(k.as_str(), g, elapsed_s))
            .collect(),
        members: targets
            .iter()
            .zip(&rec.by_target)
            .map(|((t, _), g)| stats(&t.url, g, elapsed_s))
            .collect(),
        errors: rec.errors.clone(),
        timeline: rec.timeline.clone(),
        schedule: ScheduleStats {
            wake_late_us: rec.wake_late.summary(),
            client_wait_us: rec.client_wait.summary(),
            scheduled: rec.scheduled,
            sent: rec.sent,
            client_wait_total_s: rec.client_wait_total.as_secs_f64(),
            client_cpu_cores,
        },
        server: Vec::new(),
        interrupted: None,
        deleted_keys: 0,
        foreign_keys: 0,
        foreign_key_examples: Vec::new(),
        maintenance_skipped: None,
        compacted_revision: None,
        defragmented: Vec::new(),
    }
}
