//! The cluster each tick: the views `diagnose` reads (status, members,
//! health, alarms) and every member's /metrics page, kept as text cut down
//! to the families the rules read, so an hour of ticks costs a few MiB
//! and any two of them give a window's deltas ([`window_metrics`]).

use std::sync::Arc;

use crate::cluster::exposition::Scrape;

use crate::cluster::conn::ConnPlan;
use crate::cluster::dial;
use crate::cluster::facts::ClusterFacts;
use crate::cluster::metrics::{self, Taken};
use crate::cluster::model::{ClusterReport, MemberMetrics};
use crate::cluster::{inspect, InspectPlan};
use crate::member::MemberId;

/// Metric families kept from each scrape (name prefixes): what
/// [`metrics::summarize`] reads.
const KEPT: [&str; 6] = [
    metrics::WAL_FSYNC,
    metrics::BACKEND_COMMIT,
    metrics::PEER_RTT,
    "etcd_server_",
    metrics::DB_SIZE,
    metrics::PROCESS_START,
];

/// Most lines kept from one page (an etcd page of many peers has a few
/// hundred in the kept families).
const MAX_KEPT_LINES: usize = 4000;

/// One member's /metrics page at one tick.
#[derive(Debug, Clone)]
pub struct Scraped {
    /// The /metrics URL.
    pub url: String,
    /// The member's id, when the member list named it.
    pub member_id: Option<MemberId>,
    /// When it was read, Unix seconds.
    pub at_unix_s: f64,
    /// The kept lines, or why the page could not be read.
    pub page: Result<String, String>,
}

/// The cluster at one tick.
#[derive(Debug, Clone)]
pub struct ClusterTick {
    /// Status, members, health and alarms (no metrics).
    pub report: ClusterReport,
    /// Each member's page.
    pub scrapes: Vec<Scraped>,
}

/// Reads the views and every member's page.
pub async fn read(plan: &ConnPlan) -> ClusterTick {
    let views = InspectPlan::views();
    let report = inspect(plan, &views).await;
    let targets = targets(plan, &report);
    let plan = Arc::new(plan.clone());
    let tasks: Vec<_> = targets
        .into_iter()
        .map(|(url, member_id)| {
            let plan = plan.clone();
            tokio::spawn(async move {
                let page = dial::get(&plan, &url)
                    .await
                    .map(|text| keep(&text))
                    .map_err(|e| e.to_string());
                Scraped {
                    url,
                    member_id,
                    at_unix_s: crate::units::now_unix_s(),
                    page,
                }
            })
        })
        .collect();
    let mut scrapes = Vec::with_capacity(tasks.len());
    for t in tasks {
        if let Ok(s) = t.await {
            scrapes.push(s);
        }
    }
    ClusterTick { report, scrapes }
}

/// Each member's /metrics URL (its first client URL), else each endpoint's.
fn targets(plan: &ConnPlan, report: &ClusterReport) -> Vec<(String, Option<MemberId>)> {
    let url = |base: &str| format!("{}/metrics", base.trim_end_matches('/'));
    let listed: Vec<_> = report
        .members
        .iter()
        .filter_map(|m| Some((url(m.client_urls.first()?), Some(m.id.clone()))))
        .collect();
    if !listed.is_empty() {
        return listed;
    }
    plan.endpoints.iter().map(|t| (url(&t.url), None)).collect()
}

/// The lines of `page` in the [`KEPT`] families (their HELP and TYPE lines
/// included), at most [`MAX_KEPT_LINES`].
pub fn keep(page: &str) -> String {
    let kept = |name: &str| KEPT.iter().any(|k| name.starts_with(k));
    let mut out = String::new();
    for line in page
        .lines()
        .filter(|l| {
            let name = l
                .strip_prefix("# HELP ")
                .or_else(|| l.strip_prefix("# TYPE "))
                .unwrap_or(l);
            kept(name)
        })
        .take(MAX_KEPT_LINES)
    {
        out.push_str(line);
        out.push('\n');
    }
    out
}

/// A parsed page with its time.
struct Parsed {
    scrape: Scrape,
    at: f64,
    started: Option<f64>,
}

fn taken(p: &Parsed) -> Taken<'_> {
    Taken {
        scrape: &p.scrape,
        at_unix_s: p.at,
    }
}

fn parse(s: &Scraped) -> Option<Parsed> {
    let scrape = metrics::parse(s.page.as_ref().ok()?).ok()?;
    let started = metrics::value(&scrape, metrics::PROCESS_START);
    Some(Parsed {
        scrape,
        at: s.at_unix_s,
        started,
    })
}

/// Each member's metrics over the ticks `window` (oldest first): the
/// deltas from the member's first page in the window to its last, from
/// the same etcd process (a restart starts the count again: counters
/// reset); a member whose last page could not be read is a row with the
/// error.
pub fn window_metrics(window: &[&[Scraped]]) -> Vec<MemberMetrics> {
    let Some(latest) = window.last() else {
        return Vec::new();
    };
    latest
        .iter()
        .map(|last| {
            let row = |m: MemberMetrics| MemberMetrics {
                member_id: last.member_id.clone(),
                ..m
            };
            let Some(l) = parse(last) else {
                return row(MemberMetrics {
                    url: last.url.clone(),
                    error: Some(match &last.page {
                        Err(e) => e.clone(),
                        Ok(_) => "the /metrics page does not parse".to_string(),
                    }),
                    ..MemberMetrics::default()
                });
            };
            let first = window
                .iter()
                .filter_map(|tick| tick.iter().find(|s| s.url == last.url))
                .filter_map(parse)
                .find(|p| p.at < l.at && p.started == l.started);
            row(metrics::summarize(
                &last.url,
                first.as_ref().map(taken),
                taken(&l),
            ))
        })
        .collect()
}

/// The latest views with `metrics` and the facts derived from them.
pub fn with_metrics(latest: &ClusterReport, metrics: Vec<MemberMetrics>) -> ClusterReport {
    let facts = ClusterFacts::derive(&latest.endpoints, &latest.health, &latest.members, &metrics);
    ClusterReport {
        metrics,
        facts,
        ..latest.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(count: u64, started: u64) -> String {
        format!(
            "# HELP go_goroutines x\n# TYPE go_goroutines gauge\ngo_goroutines 5\n\
             # HELP etcd_disk_wal_fsync_duration_seconds x\n\
             # TYPE etcd_disk_wal_fsync_duration_seconds histogram\n\
             etcd_disk_wal_fsync_duration_seconds_bucket{{le=\"0.001\"}} {count}\n\
             etcd_disk_wal_fsync_duration_seconds_bucket{{le=\"0.512\"}} {}\n\
             etcd_disk_wal_fsync_duration_seconds_bucket{{le=\"+Inf\"}} {}\n\
             etcd_disk_wal_fsync_duration_seconds_sum 1\n\
             etcd_disk_wal_fsync_duration_seconds_count {}\n\
             process_start_time_seconds {started}\n",
            count + count / 10,
            count + count / 10,
            count + count / 10
        )
    }

    fn scraped(at: f64, page: Result<String, String>) -> Scraped {
        Scraped {
            url: "http://a:2379/metrics".into(),
            member_id: Some("1".into()),
            at_unix_s: at,
            page: page.map(|p| keep(&p)),
        }
    }

    #[test]
    fn only_the_families_read_are_kept() {
        let k = keep(&page(10, 1));
        assert!(!k.contains("go_goroutines"));
        assert!(k.contains("# TYPE etcd_disk_wal_fsync_duration_seconds histogram"));
        assert!(k.contains("process_start_time_seconds 1"));
    }

    #[test]
    fn a_window_is_the_delta_from_its_first_page_of_the_same_process() {
        let ticks = [
            vec![scraped(100.0, Ok(page(1000, 1)))],
            vec![scraped(110.0, Ok(page(1100, 1)))],
            vec![scraped(120.0, Ok(page(1300, 1)))],
        ];
        let refs: Vec<&[Scraped]> = ticks.iter().map(Vec::as_slice).collect();
        let m = &window_metrics(&refs)[0];
        assert_eq!(m.window_s, 20.0);
        assert_eq!(m.member_id.as_deref(), Some("1"));
        // A restart between: the window starts at the restarted process.
        let restarted = [
            vec![scraped(100.0, Ok(page(1000, 1)))],
            vec![scraped(110.0, Ok(page(10, 105)))],
            vec![scraped(120.0, Ok(page(30, 105)))],
        ];
        let refs: Vec<&[Scraped]> = restarted.iter().map(Vec::as_slice).collect();
        assert_eq!(window_metrics(&refs)[0].window_s, 10.0);
    }

    #[test]
    fn an_unread_page_is_a_row_with_its_error() {
        let ticks = [
            vec![scraped(100.0, Ok(page(1000, 1)))],
            vec![scraped(110.0, Err("connection refused".into()))],
        ];
        let refs: Vec<&[Scraped]> = ticks.iter().map(Vec::as_slice).collect();
        let m = &window_metrics(&refs)[0];
        assert_eq!(m.error.as_deref(), Some("connection refused"));
    }
}
