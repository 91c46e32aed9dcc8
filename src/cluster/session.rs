//! One connection per endpoint and the rows read over it: what
//! `inspect` and `consistency` share (each runs its reads concurrently,
//! one task per session).

use std::future::Future;
use std::sync::Arc;

use etcd_client::Client;

use super::conn::{ConnError, ConnPlan, Target};
use super::dial::{connect, request};
use super::error::{AtEndpoint, ListError, RequestError};
use super::views::{Downgrade, EndpointStatus};
use crate::member::MemberId;

/// One endpoint and its connection (or why there is none).
#[derive(Clone)]
pub(super) struct Session {
    /// The endpoint as given or listed, shown in rows.
    pub(super) endpoint: String,
    pub(super) conn: Result<(Target, Client), RequestError>,
}

impl Session {
    /// A session that cannot connect: the plan refused `endpoint`.
    pub(super) fn bad_endpoint(endpoint: String, error: &ConnError) -> Session {
        Session {
            endpoint,
            conn: Err(RequestError::Endpoint(error.to_string())),
        }
    }

    /// `error`, met at this session's endpoint.
    pub(super) fn failed(&self, error: RequestError) -> ListError {
        ListError::Failed(AtEndpoint {
            endpoint: self.endpoint.clone(),
            error,
        })
    }
}

/// Runs `task` for every item on its own tokio task; results in item order.
pub(super) async fn each<T, R, F, Fut>(items: Vec<T>, task: F) -> Vec<R>
where
    F: Fn(T) -> Fut,
    Fut: Future<Output = R> + Send + 'static,
    R: Send + 'static,
{
    let handles: Vec<_> = items.into_iter().map(|i| tokio::spawn(task(i))).collect();
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        out.push(h.await.expect("an inspector task panicked"));
    }
    out
}

pub(super) async fn open_sessions(plan: &Arc<ConnPlan>, targets: Vec<Target>) -> Vec<Session> {
    each(targets, |target| {
        let plan = plan.clone();
        async move {
            let endpoint = target.endpoint.clone();
            let conn = connect(&plan, &target).await.map(|c| (target, c));
            Session { endpoint, conn }
        }
    })
    .await
}

/// A member id as etcdctl prints it: 16 hex digits.
pub fn hex_id(id: u64) -> MemberId {
    MemberId::from(id)
}

/// One `endpoint status` row; an unreachable endpoint is a row with its error.
pub(super) async fn status_row(plan: Arc<ConnPlan>, s: Session) -> EndpointStatus {
    let mut row = EndpointStatus {
        endpoint: s.endpoint,
        ..EndpointStatus::default()
    };
    let status = match s.conn {
        Ok((target, mut c)) => request(&plan, &target, c.status()).await,
        Err(e) => Err(e),
    };
    match status {
        Err(e) => {
            row.permission_denied = matches!(e, RequestError::PermissionDenied(_));
            row.errors.push(e.to_string());
        }
        Ok(st) => {
            let header = st.header();
            let id = header.map(|h| h.member_id());
            row.id = id.map(hex_id);
            row.revision = header.map(|h| h.revision().max(0) as u64);
            row.version = Some(st.version().to_string());
            row.db_size_bytes = Some(st.db_size().max(0) as u64);
            row.db_size_in_use_bytes = Some(st.raft_used_db_size().max(0) as u64);
            row.is_leader = Some(id == Some(st.leader()));
            row.is_learner = Some(st.is_learner());
            row.raft_term = Some(st.raft_term());
            row.raft_index = Some(st.raft_index());
            row.raft_applied_index = Some(st.raft_applied_index());
            row.storage_version = Some(st.storage_version().to_string()).filter(|v| !v.is_empty());
            row.db_size_quota_bytes = u64::try_from(st.db_size_quota()).ok().filter(|&q| q > 0);
            row.downgrade = st.downgrade_info().map(|d| Downgrade {
                enabled: d.enabled(),
                target_version: d.target_version().to_string(),
            });
            row.errors = st.errors().to_vec();
        }
    }
    row
}
