//! `etcd-doctor watch`: the tool as a long-running canary and exporter on
//! each control-plane node. Every tick (`--interval`) it takes the
//! canary's latest segment (paced fdatasyncs next to the data dir), reads
//! the cluster's views and every member's /metrics, the RTT to the agent
//! peers (`--peers`, the rtt probe alone for a third of a tick), what etcd
//! logged since the last tick, and the host's activity; it then judges the rolling
//! windows (1 min, 10 min, 1 h) with the same rules as `diagnose`, renders
//! `/metrics` and `/report`, and appends the middle window's report to the
//! history every time that window has passed. A member that cannot be
//! read is a row with its error and a 0 in `etcd_doctor_source_up`; the
//! loop goes on. SIGINT and SIGTERM stop it cleanly (the canary's
//! scratch directory removed, the history kept) with exit 0; SIGHUP makes
//! the plan again from the same flags (TLS files, discovery, logs) and
//! keeps the windows and the history, or keeps the running plan when the
//! new one cannot be made.

pub mod alerts;
pub mod canary;
pub mod expose;
pub mod follow;
pub mod history;
pub mod join;
pub mod journal;
pub mod plan;
pub mod replay;
pub mod scrape;
pub mod server;
pub mod window;

use std::sync::atomic::AtomicBool;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::facts::Report;
use crate::host::HostFacts;
use crate::interrupt;
use canary::Canary;
use expose::{Totals, Unread};
use follow::{Excerpt, Follower};
use journal::JournalFollower;
use plan::LogSource;
pub use plan::WatchPlan;
use server::{Pages, Shared};
use window::{Ring, Tick};

/// Makes the plan again (on SIGHUP), from the same flags.
pub type Reload<'a> = &'a dyn Fn() -> Result<WatchPlan>;

/// Runs `plan` until SIGINT or SIGTERM arrives; on SIGHUP `reload` makes
/// the plan again and the cluster, peers, logs and profile are taken
/// from it (the canary, the windows, the history and the listener stay).
pub fn run(plan: &WatchPlan, reload: Reload<'_>) -> Result<()> {
    let cancel = interrupt::install().context("installing SIGINT/SIGTERM/SIGHUP handlers")?;
    interrupt::reload_on_hangup();
    let _cooperate = interrupt::Cooperate::enter();
    let meta =
        std::fs::metadata(&plan.dir).with_context(|| format!("--dir {}", plan.dir.display()))?;
    anyhow::ensure!(
        meta.is_dir(),
        "--dir {}: not a directory",
        plan.dir.display()
    );
    if let Some(h) = &plan.history {
        history::prepare(h)?;
    }
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let listener = rt.block_on(server::bind(plan.listen))?;
    let addr = listener.local_addr()?;
    eprintln!("etcd-doctor watch: serving http://{addr}/metrics, /healthz, /report");
    let pages = Shared::default();
    pages.lock().expect("fresh lock").stale_after = plan.interval * 3 + Duration::from_secs(30);
    let server = rt.spawn(server::serve(listener, pages.clone()));
    let segment = canary::segment_plan(&plan.dir, plan.interval, plan.rate_per_s, plan.stall);
    let canary = Canary::start(segment, cancel).context("starting the canary thread")?;
    let result = rt.block_on(watch_loop(plan.clone(), reload, &canary, &pages, cancel));
    server.abort();
    canary.join();
    drop(rt);
    if result.is_ok() {
        eprintln!(
            "etcd-doctor watch: stopped on {}; canary files removed",
            interrupt::signal_name()
        );
    }
    result
}

/// The state the loop carries between ticks.
struct Loop {
    plan: WatchPlan,
    ring: Ring,
    totals: Totals,
    followers: Vec<(LogSource, Followed)>,
    member: String,
    since_history: usize,
}

async fn watch_loop(
    plan: WatchPlan,
    reload: Reload<'_>,
    canary: &Canary,
    pages: &Shared,
    cancel: &AtomicBool,
) -> Result<()> {
    let mut state = Loop {
        ring: Ring::new(plan.ring_len()),
        totals: Totals::default(),
        followers: plan
            .logs
            .iter()
            .map(|s| (s.clone(), Followed::new(s)))
            .collect(),
        member: HostFacts::collect().hostname,
        since_history: 0,
        plan,
    };
    let start = Instant::now();
    let mut n: u32 = 0;
    loop {
        let host = HostFacts::watch(Some(&state.plan.dir));
        n = n.saturating_add(1);
        let due = start + state.plan.interval.saturating_mul(n);
        loop {
            tokio::select! {
                () = tokio::time::sleep_until(due.into()) => break,
                () = interrupt::wait() => return Ok(()),
                () = interrupt::hangup() => {
                    interrupt::take_hangup();
                    state.reload(reload());
                }
            }
        }
        let plan = &state.plan;
        let reads = async {
            let cluster = async {
                match &plan.conn {
                    Some(conn) => Some(scrape::read(conn).await),
                    None => None,
                }
            };
            let net = async {
                match &plan.peers {
                    Some(p) => crate::probe::net::run(p).await.unwrap_or_else(|e| {
                        eprintln!("etcd-doctor watch: --peers: {e}");
                        Vec::new()
                    }),
                    None => Vec::new(),
                }
            };
            tokio::join!(cluster, net)
        };
        let (cluster, net) = tokio::select! {
            r = reads => r,
            () = interrupt::wait() => return Ok(()),
        };
        if cancel.load(std::sync::atomic::Ordering::SeqCst) {
            return Ok(());
        }
        let mut tick = state.gather(canary, cluster, host.finish());
        tick.net = net;
        state.publish(tick, pages)?;
    }
}

impl Loop {
    /// Takes the cluster, peers, logs and profile of a plan made again;
    /// a plan that could not be made keeps the running one, said on stderr.
    fn reload(&mut self, made: Result<WatchPlan>) {
        let new = match made {
            Ok(p) => p,
            Err(e) => {
                eprintln!(
                    "etcd-doctor watch: SIGHUP: the configuration could not be read again, \
                     keeping the running one: {e:#}"
                );
                self.totals.reload_failed = true;
                return;
            }
        };
        let mut old: Vec<(LogSource, Followed)> = std::mem::take(&mut self.followers);
        self.followers = new
            .logs
            .iter()
            .map(|s| match old.iter().position(|(o, _)| o == s) {
                // Unchanged: followed on from where it was.
                Some(i) => old.swap_remove(i),
                None => (s.clone(), Followed::new(s)),
            })
            .collect();
        self.plan.conn = new.conn;
        self.plan.peers = new.peers;
        self.plan.logs = new.logs;
        self.plan.profile = new.profile;
        self.totals.reload_failed = false;
        self.totals.reloads += 1;
        eprintln!(
            "etcd-doctor watch: SIGHUP: configuration read again (TLS files, discovery, \
             logs: {} sources); windows and history kept",
            self.followers.len()
        );
    }

    /// The tick's parts, the canary's totals updated.
    fn gather(
        &mut self,
        canary: &Canary,
        cluster: Option<scrape::ClusterTick>,
        host: HostFacts,
    ) -> Tick {
        let (mut segments, mut canary_error) = (Vec::new(), None);
        for outcome in canary.drain() {
            match outcome {
                Ok(s) => {
                    if let Ok(h) = s.result.latency_histogram.decode() {
                        self.totals.add(&h, &s.result.stalls);
                    }
                    segments.push(s);
                }
                Err(e) => canary_error = Some(e),
            }
        }
        self.totals.ticks += 1;
        Tick {
            at_unix_s: crate::units::now_unix_s(),
            segments,
            canary_error,
            cluster,
            net: Vec::new(),
            logs: self.followers.iter_mut().map(|(_, f)| f.read()).collect(),
            host,
        }
    }

    /// Adds `tick`, judges the windows, renders the pages and writes the
    /// history when its window has passed.
    fn publish(&mut self, tick: Tick, pages: &Shared) -> Result<()> {
        let unread = unread(&tick);
        if let Some(e) = &tick.canary_error {
            eprintln!("etcd-doctor watch: {e}");
        }
        let at = tick.at_unix_s as u64;
        self.ring.push(tick);
        let reports: Vec<Report> = self
            .plan
            .windows
            .iter()
            .filter_map(|w| {
                let ticks = self.ring.last(self.plan.ticks_in(*w));
                window::report(&ticks, *w, &self.plan.profile)
            })
            .collect();
        self.write_history(&reports, at);
        let metrics = expose::render(&self.totals, &reports, &unread, &self.member);
        let json: Vec<(String, String)> = reports
            .iter()
            .map(|r| {
                let name = r.command.trim_start_matches("watch ").to_string();
                (name, serde_json::to_string_pretty(r).unwrap_or_default())
            })
            .collect();
        let mut p = pages
            .lock()
            .map_err(|_| anyhow::anyhow!("pages lock poisoned"))?;
        *p = Pages {
            metrics,
            reports: json,
            last_tick: Some(Instant::now()),
            stale_after: p.stale_after,
        };
        Ok(())
    }

    /// Appends the history window's report each time it has passed; a
    /// failed write is said on stderr and the loop goes on.
    fn write_history(&mut self, reports: &[Report], at: u64) {
        let Some(h) = &self.plan.history else { return };
        let i = usize::from(self.plan.windows.len() > 1);
        let (Some(w), Some(report)) = (self.plan.windows.get(i), reports.get(i)) else {
            return;
        };
        self.since_history += 1;
        if self.since_history < self.plan.ticks_in(*w) {
            return;
        }
        self.since_history = 0;
        if let Err(e) = history::append(h, report, &plan::window_name(*w), at) {
            eprintln!("etcd-doctor watch: {e:#}");
        }
    }
}

/// One log source being followed.
enum Followed {
    File(Follower),
    Journal(JournalFollower),
}

impl Followed {
    fn new(source: &LogSource) -> Followed {
        match source {
            LogSource::File(p) => Followed::File(Follower::new(p.clone())),
            LogSource::Journal(j) => Followed::Journal(JournalFollower::new(j.clone())),
        }
    }

    fn read(&mut self) -> Excerpt {
        match self {
            Followed::File(f) => f.read(),
            Followed::Journal(j) => j.read(),
        }
    }
}

/// What the tick could and could not read.
fn unread(tick: &Tick) -> Unread {
    Unread {
        pages: tick
            .cluster
            .iter()
            .flat_map(|c| &c.scrapes)
            .map(|s| (s.url.clone(), s.page.is_ok()))
            .collect(),
        cluster_answered: tick.cluster.as_ref().map(|c| c.report.answered),
        peers: tick
            .net
            .iter()
            .map(|r| (r.peer.clone(), r.error.is_none()))
            .collect(),
        logs: tick
            .logs
            .iter()
            .map(|e| (e.source.clone(), e.error.is_none()))
            .collect(),
        canary: tick.canary_error.is_none(),
    }
}
