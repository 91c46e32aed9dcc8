//! The server side of a load run: every member's /metrics scraped before
//! the first request, every few seconds during the run and after the last
//! answer (src/cluster/metrics.rs parses and summarizes them). The first
//! and last scrapes give the run's window, which the cluster rules judge;
//! consecutive scrapes give WAL fdatasync over time for the HTML plot.

use std::time::Duration;

use crate::cluster::exposition::{Sample, Scrape};
use tokio::sync::watch;

use super::result::MemberLoad;
use crate::cluster::conn::ConnPlan;
use crate::cluster::dial;
use crate::cluster::metrics::{self, Taken};
use crate::cluster::model::{MemberMetrics, Span};
use crate::measure::median;
use crate::member::MemberId;
use crate::units::{now_unix_s, Millis};

pub use crate::cluster::metrics::{APPLY_DURATION, PROCESS_CPU, PROPOSALS_PENDING};

/// What one member's scrapes showed so far.
#[derive(Debug, Clone)]
pub struct MemberWatch {
    /// The /metrics URL.
    pub url: String,
    /// The member id, when known.
    pub member_id: Option<MemberId>,
    first: Option<(f64, Scrape)>,
    last: Option<(f64, Scrape)>,
    wal_p99_over_time: Vec<(f64, f64)>,
    pending_max: Option<f64>,
    tcp_handshakes_ms: Vec<f64>,
    error: Option<String>,
}

fn taken((at, scrape): &(f64, Scrape)) -> Taken<'_> {
    Taken {
        scrape,
        at_unix_s: *at,
    }
}

impl MemberWatch {
    /// A member to watch at `url`.
    pub fn new(url: String, member_id: Option<MemberId>) -> MemberWatch {
        MemberWatch {
            url,
            member_id,
            first: None,
            last: None,
            wal_p99_over_time: Vec::new(),
            pending_max: None,
            tcp_handshakes_ms: Vec::new(),
            error: None,
        }
    }

    /// Adds one scrape taken at `at` (Unix seconds) `since` seconds into the run.
    fn observe(&mut self, at: f64, since: f64, scrape: Scrape) {
        if let Some(prev) = &self.last {
            let step =
                metrics::summarize(&self.url, Some(taken(prev)), taken(&(at, scrape.clone())));
            if let Some(w) = step.wal_fsync.filter(|w| w.span == Span::Window) {
                self.wal_p99_over_time.push((since, w.p99_ms));
            }
        }
        if let Some(p) = metrics::value(&scrape, PROPOSALS_PENDING) {
            self.pending_max = Some(self.pending_max.map_or(p, |m| m.max(p)));
        }
        if self.first.is_none() {
            self.first = Some((at, scrape.clone()));
        }
        self.last = Some((at, scrape));
    }

    /// The run's window as the cluster rules read it: first to last scrape.
    pub fn window(&self) -> MemberMetrics {
        let mut m = match (&self.first, &self.last) {
            (Some(first), Some(last)) => {
                metrics::summarize(&self.url, Some(taken(first)), taken(last))
            }
            _ => MemberMetrics {
                url: self.url.clone(),
                error: Some(self.error.clone().unwrap_or_else(|| "never scraped".into())),
                ..MemberMetrics::default()
            },
        };
        m.member_id = self.member_id.clone();
        m
    }

    /// The load-specific server facts of the window.
    pub fn load(&self) -> MemberLoad {
        let window = self.first.as_ref().zip(self.last.as_ref());
        let all = |_: &Sample| true;
        MemberLoad {
            url: self.url.clone(),
            member_id: self.member_id.clone(),
            apply: window
                .and_then(|(f, l)| metrics::percentiles(Some(&f.1), &l.1, APPLY_DURATION, all)),
            cpu_cores: window.and_then(|(f, l)| {
                let secs = l.0 - f.0;
                (secs > 0.0)
                    .then(|| metrics::increase(Some(&f.1), &l.1, PROCESS_CPU))
                    .flatten()
                    .map(|cpu| cpu / secs)
            }),
            proposals_pending_max: self.pending_max,
            wal_fsync_p99_ms_over_time: self.wal_p99_over_time.clone(),
            tcp_handshake_ms_median: median(self.tcp_handshakes_ms.iter().copied()),
            tcp_handshakes: self.tcp_handshakes_ms.len(),
        }
    }
}

/// Scrapes every member once; a member that fails keeps its error.
pub async fn scrape_round(conn: &ConnPlan, members: &mut [MemberWatch], run_start_unix_s: f64) {
    for m in members.iter_mut() {
        let got = dial::get_timed(conn, &m.url).await;
        let at = now_unix_s();
        m.tcp_handshakes_ms
            .extend(got.tcp_handshake.map(|d| Millis::from(d).0));
        let page = got.body.and_then(|t| metrics::parse(&t));
        match page {
            Ok(scrape) => m.observe(at, at - run_start_unix_s, scrape),
            Err(e) => m.error = Some(e.to_string()),
        }
    }
}

/// The time scrapes are dated from: now, Unix seconds.
pub fn run_start() -> f64 {
    now_unix_s()
}

/// After the first round: scrapes every `interval` until `done` turns
/// true, then once more.
pub async fn watch_members(
    conn: ConnPlan,
    mut members: Vec<MemberWatch>,
    interval: Duration,
    start: f64,
    mut done: watch::Receiver<bool>,
) -> Vec<MemberWatch> {
    loop {
        let finished = tokio::select! {
            _ = tokio::time::sleep(interval) => false,
            _ = done.wait_for(|d| *d) => true,
        };
        if finished {
            break;
        }
        scrape_round(&conn, &mut members, start).await;
    }
    scrape_round(&conn, &mut members, start).await;
    members
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(wal_fast: u64, wal_slow: u64, cpu: f64, pending: f64) -> Scrape {
        let total = wal_fast + wal_slow;
        metrics::parse(&format!(
            "# TYPE etcd_disk_wal_fsync_duration_seconds histogram
etcd_disk_wal_fsync_duration_seconds_bucket{{le=\"0.001\"}} {wal_fast}
etcd_disk_wal_fsync_duration_seconds_bucket{{le=\"0.1\"}} {total}
etcd_disk_wal_fsync_duration_seconds_bucket{{le=\"+Inf\"}} {total}
etcd_disk_wal_fsync_duration_seconds_sum 1
etcd_disk_wal_fsync_duration_seconds_count {total}
# TYPE process_cpu_seconds_total counter
process_cpu_seconds_total {cpu}
# TYPE etcd_server_proposals_pending gauge
etcd_server_proposals_pending {pending}
"
        ))
        .unwrap()
    }

    #[test]
    fn the_window_runs_from_the_first_to_the_last_scrape() {
        let mut m = MemberWatch::new("http://a/metrics".into(), Some("01".into()));
        m.observe(100.0, 0.0, page(100, 0, 10.0, 0.0));
        m.observe(102.0, 2.0, page(100, 50, 11.0, 7.0));
        m.observe(104.0, 4.0, page(200, 50, 13.0, 1.0));
        let w = m.window();
        let wal = w.wal_fsync.unwrap();
        assert_eq!((wal.span, wal.count), (Span::Window, 150));
        assert_eq!(w.member_id.as_deref(), Some("01"));
        let load = m.load();
        assert_eq!(load.cpu_cores, Some(0.75));
        assert_eq!(load.proposals_pending_max, Some(7.0));
        // The slow interval, then the fast one.
        let over: Vec<f64> = load
            .wal_fsync_p99_ms_over_time
            .iter()
            .map(|p| p.0)
            .collect();
        assert_eq!(over, [2.0, 4.0]);
        assert!(load.wal_fsync_p99_ms_over_time[0].1 > 50.0);
        assert!(load.wal_fsync_p99_ms_over_time[1].1 < 1.0);
    }

    #[test]
    fn a_member_never_scraped_carries_its_error() {
        let mut m = MemberWatch::new("http://b/metrics".into(), None);
        m.error = Some("refused".into());
        assert_eq!(m.window().error.as_deref(), Some("refused"));
        assert_eq!(m.load().cpu_cores, None);
    }
}
