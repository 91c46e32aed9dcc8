//! Reading a live cluster: what `etcdctl endpoint status`, `member list`,
//! `endpoint health` and `alarm list` show, plus each member's /metrics,
//! all at once. Every member is asked concurrently, each connection bounded
//! by the dial timeout and each request by the command timeout, so a dead
//! member costs one timeout, not one per request. A member that cannot be
//! reached is a row with its error, never a failed run.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use etcd_client::{AlarmAction, AlarmType};

use super::conn::{ConnPlan, Target};
use super::dial::{self, request};
use super::error::{ListError, RequestError};
use super::facts::ClusterFacts;
use super::metrics::{self, Taken};
use super::model::ClusterReport;
pub use super::session::hex_id;
use super::session::{each, open_sessions, status_row, Session};
use super::views::{Alarm, EndpointHealth, Member, MemberMetrics};
use crate::member::{AlarmKind, MemberId, MemberStatus};
use crate::units::now_unix_s;

/// Which views to read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct InspectPlan {
    /// Endpoint status rows (the member list is read too, for the facts).
    pub status: bool,
    /// The member list.
    pub members: bool,
    /// Endpoint health rows.
    pub health: bool,
    /// Active alarms.
    pub alarms: bool,
    /// Ask every member's client URLs, not only the endpoints given
    /// (etcdctl's `--cluster`).
    pub cluster: bool,
    /// Scrape /metrics.
    pub metrics: Option<MetricsPlan>,
    /// Hash every member at one revision after the other views
    /// ([`super::consistency::check`]).
    pub consistency: bool,
}

impl InspectPlan {
    /// Status, members, health and alarms over every member; no metrics
    /// and no hashes: the cheap views `load` checks before a run and
    /// `watch` reads every tick.
    pub fn views() -> InspectPlan {
        InspectPlan {
            status: true,
            members: true,
            health: true,
            alarms: true,
            cluster: true,
            metrics: None,
            consistency: false,
        }
    }

    /// Everything, over every member, with metrics over `interval`: what
    /// `diagnose` reads.
    pub fn everything(interval: Duration) -> InspectPlan {
        InspectPlan {
            status: true,
            members: true,
            health: true,
            alarms: true,
            cluster: true,
            metrics: Some(MetricsPlan {
                urls: Vec::new(),
                interval,
            }),
            consistency: true,
        }
    }
}

/// How to scrape metrics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsPlan {
    /// /metrics URLs to scrape; empty: each member's first client URL.
    pub urls: Vec<String>,
    /// Time between the two scrapes; zero: one scrape (totals since start).
    pub interval: Duration,
}

/// True when `s` is connected to `target`'s URL.
fn same_url(s: &Session, target: &Target) -> bool {
    s.conn.as_ref().is_ok_and(|(t, _)| t.url == target.url)
}

/// Reads the views `views` asks for from the cluster `plan` reaches.
pub async fn inspect(plan: &ConnPlan, views: &InspectPlan) -> ClusterReport {
    let plan = Arc::new(plan.clone());
    let mut errors = Vec::new();
    let mut sessions = open_sessions(&plan, plan.endpoints.clone()).await;
    let members = member_list(&plan, &sessions).await;
    if let Err(e) = &members {
        errors.push(format!("member list: {e}"));
    }
    if views.cluster {
        match &members {
            Ok(list) => sessions = expand(&plan, sessions, list).await,
            Err(_) => errors.push("--cluster: no member list, asked the endpoints given".into()),
        }
    }
    let listed = members.as_deref().unwrap_or_default();
    let (status, health, alarms, metrics) = tokio::join!(
        when(views.status, rows(&plan, &sessions, status_row)),
        when(views.health, rows(&plan, &sessions, health_row)),
        when(views.alarms, alarm_list(&plan, &sessions)),
        async {
            match &views.metrics {
                Some(m) => Some(scrape_all(&plan, m, listed, &sessions).await),
                None => None,
            }
        },
    );
    let alarms = alarms.unwrap_or(Ok(Vec::new())).unwrap_or_else(|e| {
        errors.push(format!("alarm list: {e}"));
        Vec::new()
    });
    let (status, health, metrics) = (
        status.unwrap_or_default(),
        health.unwrap_or_default(),
        metrics.unwrap_or_default(),
    );
    let answered = members.is_ok()
        || status.iter().any(|s| s.id.is_some())
        || health.iter().any(|h| h.answered)
        || metrics.iter().any(|m| m.error.is_none());
    let facts = ClusterFacts::derive(&status, &health, listed, &metrics);
    let shown_members = if views.members || views.status {
        listed.to_vec()
    } else {
        Vec::new()
    };
    let mut report = ClusterReport {
        connection: plan.connection(sessions.iter().map(|s| s.endpoint.clone()).collect()),
        endpoints: status,
        members: shown_members,
        health,
        alarms,
        metrics,
        answered,
        errors,
        facts,
        consistency: None,
    };
    if views.consistency && report.answered {
        report.consistency = Some(super::consistency::check(&plan, &report).await);
    }
    report
}

/// Runs `fut` only when `wanted`.
async fn when<T>(wanted: bool, fut: impl Future<Output = T>) -> Option<T> {
    if wanted {
        Some(fut.await)
    } else {
        None
    }
}

/// The member list, from the first member that gives it.
async fn member_list(plan: &ConnPlan, sessions: &[Session]) -> Result<Vec<Member>, ListError> {
    let mut last = ListError::NoneAnswered;
    for s in sessions {
        let (target, mut client) = match &s.conn {
            Ok(conn) => conn.clone(),
            Err(e) => {
                last = s.failed(e.clone());
                continue;
            }
        };
        match request(plan, &target, client.member_list()).await {
            Ok(resp) => return Ok(resp.members().iter().map(member).collect()),
            Err(e) => last = s.failed(e),
        }
    }
    Err(last)
}

fn member(m: &etcd_client::Member) -> Member {
    Member {
        id: hex_id(m.id()),
        status: MemberStatus::of_name(m.name()),
        name: m.name().to_string(),
        peer_urls: m.peer_urls().to_vec(),
        client_urls: m.client_urls().to_vec(),
        is_learner: m.is_learner(),
    }
}

/// Sessions for every member's client URLs (sorted, unique, as etcdctl's
/// `--cluster`), reusing the connections already open.
async fn expand(plan: &Arc<ConnPlan>, open: Vec<Session>, members: &[Member]) -> Vec<Session> {
    let mut urls: Vec<String> = members.iter().flat_map(|m| m.client_urls.clone()).collect();
    urls.sort();
    urls.dedup();
    let mut sessions = Vec::new();
    let mut to_open = Vec::new();
    for url in urls {
        match plan.target(&url) {
            Err(e) => sessions.push(Session::bad_endpoint(url, &e)),
            Ok(target) => match open.iter().find(|s| same_url(s, &target)) {
                Some(s) => sessions.push(Session {
                    endpoint: url,
                    conn: s.conn.clone(),
                }),
                None => to_open.push(target),
            },
        }
    }
    sessions.extend(open_sessions(plan, to_open).await);
    sessions.sort_by(|a, b| a.endpoint.cmp(&b.endpoint));
    sessions
}

/// One row per session, every session on its own task.
async fn rows<R, F, Fut>(plan: &Arc<ConnPlan>, sessions: &[Session], row: F) -> Vec<R>
where
    F: Fn(Arc<ConnPlan>, Session) -> Fut,
    Fut: Future<Output = R> + Send + 'static,
    R: Send + 'static,
{
    each(sessions.to_vec(), |s| row(plan.clone(), s)).await
}

/// etcdctl's `endpoint health`: a linearizable Get of key "health"
/// (permission denied still proves the member serves reads), then the
/// alarm list: an active alarm makes the member unhealthy.
async fn health_row(plan: Arc<ConnPlan>, s: Session) -> EndpointHealth {
    let mut row = EndpointHealth {
        endpoint: s.endpoint,
        ..EndpointHealth::default()
    };
    let (target, mut client) = match s.conn {
        Ok(conn) => conn,
        Err(e) => {
            row.error = Some(e.to_string());
            return row;
        }
    };
    let start = Instant::now();
    let read = tokio::time::timeout(plan.command_timeout, client.get("health", None)).await;
    row.took_ms = start.elapsed().as_secs_f64() * 1000.0;
    let read = match read {
        Err(_) => Err(RequestError::NoAnswer(plan.command_timeout)),
        Ok(Ok(_)) => Ok(()),
        Ok(Err(etcd_client::Error::GRpcStatus(st)))
            if st.code() == tonic::Code::PermissionDenied =>
        {
            Ok(())
        }
        Ok(Err(e)) => {
            // etcd's own errors ("etcdserver: no leader") are answers.
            if let etcd_client::Error::GRpcStatus(st) = &e {
                row.answered = st.message().starts_with("etcdserver:");
            }
            Err(dial::explain(&e, &plan, &target.host))
        }
    };
    if let Err(e) = read {
        row.error = Some(e.to_string());
        return row;
    }
    row.answered = true;
    match request(
        &plan,
        &target,
        client.alarm(AlarmAction::Get, AlarmType::None, None),
    )
    .await
    {
        Ok(resp) if resp.alarms().is_empty() => row.health = true,
        Ok(resp) => {
            let names: Vec<&str> = resp
                .alarms()
                .iter()
                .map(|a| a.alarm().as_str_name())
                .collect();
            row.error = Some(format!("Active Alarm(s): {}", names.join(", ")));
        }
        Err(e) => row.error = Some(format!("unable to fetch the alarm list: {e}")),
    }
    row
}

/// Active alarms (cluster-wide), from the first member that answers.
async fn alarm_list(plan: &ConnPlan, sessions: &[Session]) -> Result<Vec<Alarm>, ListError> {
    let mut last = ListError::NoneAnswered;
    for s in sessions {
        let Ok((target, mut client)) = s.conn.clone() else {
            continue;
        };
        match request(
            plan,
            &target,
            client.alarm(AlarmAction::Get, AlarmType::None, None),
        )
        .await
        {
            Ok(resp) => {
                return Ok(resp
                    .alarms()
                    .iter()
                    .filter(|a| a.alarm() != AlarmType::None)
                    .map(|a| Alarm {
                        member_id: hex_id(a.member_id()),
                        alarm: AlarmKind::from(a.alarm().as_str_name()),
                    })
                    .collect())
            }
            Err(e) => last = s.failed(e),
        }
    }
    Err(last)
}

/// The /metrics URLs to scrape and the member each belongs to.
fn metrics_targets(
    plan: &MetricsPlan,
    members: &[Member],
    sessions: &[Session],
) -> Vec<(String, Option<MemberId>)> {
    if !plan.urls.is_empty() {
        return plan.urls.iter().map(|u| (u.clone(), None)).collect();
    }
    let url = |base: &str| format!("{}/metrics", base.trim_end_matches('/'));
    if members.iter().any(|m| !m.client_urls.is_empty()) {
        return members
            .iter()
            .filter_map(|m| Some((url(m.client_urls.first()?), Some(m.id.clone()))))
            .collect();
    }
    sessions
        .iter()
        .filter_map(|s| Some((url(&s.conn.as_ref().ok()?.0.url), None)))
        .collect()
}

async fn scrape_all(
    plan: &Arc<ConnPlan>,
    metrics: &MetricsPlan,
    members: &[Member],
    sessions: &[Session],
) -> Vec<MemberMetrics> {
    let interval = metrics.interval;
    each(
        metrics_targets(metrics, members, sessions),
        |(url, member_id)| {
            let plan = plan.clone();
            async move {
                let mut m = scrape(&plan, &url, interval)
                    .await
                    .unwrap_or_else(|e| MemberMetrics {
                        url: url.clone(),
                        error: Some(e.to_string()),
                        ..MemberMetrics::default()
                    });
                m.member_id = member_id;
                m
            }
        },
    )
    .await
}

/// One scrape, or two `interval` apart, summarized.
async fn scrape(
    plan: &ConnPlan,
    url: &str,
    interval: Duration,
) -> Result<MemberMetrics, RequestError> {
    let first_at = now_unix_s();
    let first = metrics::parse(&dial::get(plan, url).await?)?;
    if interval.is_zero() {
        let last = Taken {
            scrape: &first,
            at_unix_s: first_at,
        };
        return Ok(metrics::summarize(url, None, last));
    }
    tokio::time::sleep(interval).await;
    let last_at = now_unix_s();
    let last = metrics::parse(&dial::get(plan, url).await?)?;
    Ok(metrics::summarize(
        url,
        Some(Taken {
            scrape: &first,
            at_unix_s: first_at,
        }),
        Taken {
            scrape: &last,
            at_unix_s: last_at,
        },
    ))
}
