//! Facts that follow from what the members reported, computed once so the
//! rules stay simple and the JSON report shows what they saw: how far each
//! member's raft log trails the leader's, how much of each database is
//! free pages and how close it is to the quota, and which listed members
//! are not working members (unreachable, unstarted, or whose client URL is
//! answered by a different member id: the field guide's failed rejoin).

use serde::{Deserialize, Serialize};

use super::views::{EndpointHealth, EndpointStatus, Member, MemberMetrics};
use crate::member::{MemberId, MemberStatus};

/// etcd's default backend quota (`--quota-backend-bytes` 0 means 2 GiB).
pub const ETCD_DEFAULT_QUOTA_BYTES: u64 = 2 * 1024 * 1024 * 1024;

/// Facts for the cluster rules.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ClusterFacts {
    /// The leader's member id (16 hex digits), from the endpoint that says
    /// it is the leader.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leader_id: Option<MemberId>,
    /// Raft progress of every member that answered, against the leader.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub raft_lag: Vec<RaftLag>,
    /// Database size, use and quota of every member that answered.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub db: Vec<DbUsage>,
    /// Started members whose client URLs were asked and did not answer.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unreachable: Vec<UnreachableMember>,
    /// Client URLs answered by a member id other than the listed one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub id_mismatches: Vec<IdMismatch>,
    /// Members added but never started (no name, no client URLs).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unstarted: Vec<ListedMember>,
    /// Learners (non-voting members).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub learners: Vec<ListedMember>,
}

/// One member's raft progress against the leader's.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RaftLag {
    /// Endpoint asked.
    pub endpoint: String,
    /// Member id (16 hex digits).
    pub member_id: MemberId,
    /// The member's raft (committed) index.
    pub raft_index: u64,
    /// The leader's raft index, read in the same round.
    pub leader_raft_index: u64,
    /// Entries the member trails the leader by (0 for the leader).
    pub lag_entries: u64,
    /// Committed entries the member has not applied yet.
    pub apply_gap_entries: u64,
}

/// Where a quota figure came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum QuotaSource {
    /// etcd_server_quota_backend_bytes from the member's /metrics.
    Metrics,
    /// Status' dbSizeQuota (etcd 3.6 on; 3.6.0 to 3.6.5 report 0 for the
    /// default quota, which counts as not reported).
    Status,
    /// Not read: etcd's default of 2 GiB assumed.
    EtcdDefault,
    /// The local etcd's `--quota-backend-bytes`, found by discovery (no
    /// /metrics figure; assumed on every member, as deployments set it).
    Discovered,
}

impl ClusterFacts {
    /// Uses `quota` (the local etcd's `--quota-backend-bytes`) where no
    /// member's /metrics said its quota.
    pub fn adopt_quota(&mut self, quota: u64) {
        if quota == 0 {
            return;
        }
        for d in self
            .db
            .iter_mut()
            .filter(|d| d.quota_from == QuotaSource::EtcdDefault)
        {
            d.quota_bytes = quota;
            d.quota_from = QuotaSource::Discovered;
            d.quota_used_ratio = d.db_size_bytes as f64 / quota as f64;
        }
    }
}

/// One member's database use.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DbUsage {
    /// Endpoint asked.
    pub endpoint: String,
    /// Member id (16 hex digits).
    pub member_id: MemberId,
    /// Backend database file size, bytes.
    pub db_size_bytes: u64,
    /// Bytes in use; the rest are free pages that only a defrag returns.
    pub db_size_in_use_bytes: u64,
    /// `db_size_in_use_bytes / db_size_bytes` (1 = no fragmentation).
    pub in_use_ratio: f64,
    /// Backend quota, bytes.
    pub quota_bytes: u64,
    /// Where `quota_bytes` came from.
    pub quota_from: QuotaSource,
    /// `db_size_bytes / quota_bytes` (at 1 etcd raises NOSPACE).
    pub quota_used_ratio: f64,
}

/// A started member that did not answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct UnreachableMember {
    /// Member id (16 hex digits).
    pub member_id: MemberId,
    /// Member name.
    pub name: String,
    /// Its client URLs.
    pub client_urls: Vec<String>,
    /// Why it did not answer.
    pub error: String,
}

/// A client URL that answers with another member id than the list says.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct IdMismatch {
    /// The client URL.
    pub endpoint: String,
    /// Id the member list gives for that URL.
    pub listed_id: MemberId,
    /// Name the member list gives for that URL.
    pub listed_name: String,
    /// Id the endpoint reported.
    pub reported_id: MemberId,
}

/// A member as listed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ListedMember {
    /// Member id (16 hex digits).
    pub member_id: MemberId,
    /// Name (empty while unstarted).
    pub name: String,
    /// Peer URLs.
    pub peer_urls: Vec<String>,
}

/// `http://10.0.0.1:2379/` and `10.0.0.1:2379` name the same endpoint.
pub(super) fn same_endpoint(a: &str, b: &str) -> bool {
    let bare = |s: &str| {
        let s = s.split_once("://").map_or(s, |(_, rest)| rest);
        s.trim_end_matches('/').to_string()
    };
    bare(a) == bare(b)
}

impl ClusterFacts {
    /// Derives the facts from status and health rows, the member list (read
    /// even when not shown) and the metrics.
    pub fn derive(
        status: &[EndpointStatus],
        health: &[EndpointHealth],
        members: &[Member],
        metrics: &[MemberMetrics],
    ) -> ClusterFacts {
        let leader = status.iter().find(|s| s.is_leader == Some(true));
        ClusterFacts {
            leader_id: leader.and_then(|l| l.id.clone()),
            raft_lag: leader
                .and_then(|l| l.raft_index)
                .map(|leader_index| raft_lag(status, leader_index))
                .unwrap_or_default(),
            db: status.iter().filter_map(|s| db_usage(s, metrics)).collect(),
            unreachable: members
                .iter()
                .filter_map(|m| unreachable(m, status, health))
                .collect(),
            id_mismatches: id_mismatches(status, members),
            unstarted: listed(members, |m| m.status == MemberStatus::Unstarted),
            learners: listed(members, |m| m.is_learner),
        }
    }
}

fn raft_lag(status: &[EndpointStatus], leader_index: u64) -> Vec<RaftLag> {
    status
        .iter()
        .filter_map(|s| {
            let (id, index) = (s.id.clone()?, s.raft_index?);
            Some(RaftLag {
                endpoint: s.endpoint.clone(),
                member_id: id,
                raft_index: index,
                leader_raft_index: leader_index,
                lag_entries: leader_index.saturating_sub(index),
                apply_gap_entries: index.saturating_sub(s.raft_applied_index.unwrap_or(index)),
            })
        })
        .collect()
}

fn db_usage(s: &EndpointStatus, metrics: &[MemberMetrics]) -> Option<DbUsage> {
    let (id, size, in_use) = (s.id.clone()?, s.db_size_bytes?, s.db_size_in_use_bytes?);
    let quota = metrics
        .iter()
        .find(|m| m.member_id.as_ref() == Some(&id))
        .and_then(|m| m.quota_bytes)
        .filter(|&q| q > 0.0)
        .map(|q| (q as u64, QuotaSource::Metrics));
    let (quota_bytes, quota_from) = quota
        .or(s.db_size_quota_bytes.map(|q| (q, QuotaSource::Status)))
        .unwrap_or((ETCD_DEFAULT_QUOTA_BYTES, QuotaSource::EtcdDefault));
    Some(DbUsage {
        endpoint: s.endpoint.clone(),
        member_id: id,
        db_size_bytes: size,
        db_size_in_use_bytes: in_use,
        in_use_ratio: if size == 0 {
            1.0
        } else {
            in_use as f64 / size as f64
        },
        quota_bytes,
        quota_from,
        quota_used_ratio: size as f64 / quota_bytes as f64,
    })
}

/// A started member is unreachable when some of its client URLs were asked
/// and none answered.
fn unreachable(
    m: &Member,
    status: &[EndpointStatus],
    health: &[EndpointHealth],
) -> Option<UnreachableMember> {
    if m.status != MemberStatus::Started {
        return None;
    }
    let mine = |endpoint: &str| m.client_urls.iter().any(|u| same_endpoint(u, endpoint));
    let mut asked = false;
    let mut errors = Vec::new();
    for s in status.iter().filter(|s| mine(&s.endpoint)) {
        asked = true;
        if s.id.is_some() || s.permission_denied {
            return None;
        }
        errors.extend(s.errors.iter().cloned());
    }
    for h in health.iter().filter(|h| mine(&h.endpoint)) {
        asked = true;
        if h.answered {
            return None;
        }
        errors.extend(h.error.iter().cloned());
    }
    errors.dedup();
    asked.then(|| UnreachableMember {
        member_id: m.id.clone(),
        name: m.name.clone(),
        client_urls: m.client_urls.clone(),
        error: errors.join("; "),
    })
}

fn id_mismatches(status: &[EndpointStatus], members: &[Member]) -> Vec<IdMismatch> {
    status
        .iter()
        .filter_map(|s| {
            let reported = s.id.as_ref()?;
            let listed = members
                .iter()
                .find(|m| m.client_urls.iter().any(|u| same_endpoint(u, &s.endpoint)))?;
            (listed.id != *reported).then(|| IdMismatch {
                endpoint: s.endpoint.clone(),
                listed_id: listed.id.clone(),
                listed_name: listed.name.clone(),
                reported_id: reported.clone(),
            })
        })
        .collect()
}

fn listed(members: &[Member], pick: impl Fn(&Member) -> bool) -> Vec<ListedMember> {
    members
        .iter()
        .filter(|m| pick(m))
        .map(|m| ListedMember {
            member_id: m.id.clone(),
            name: m.name.clone(),
            peer_urls: m.peer_urls.clone(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(id: &str, name: &str, client: &str) -> Member {
        Member {
            id: id.into(),
            status: MemberStatus::of_name(name),
            name: name.into(),
            peer_urls: vec![format!("http://{name}:2380")],
            client_urls: if client.is_empty() {
                vec![]
            } else {
                vec![client.into()]
            },
            is_learner: false,
        }
    }

    fn row(endpoint: &str, id: Option<&str>, leader: bool, index: u64) -> EndpointStatus {
        EndpointStatus {
            endpoint: endpoint.into(),
            id: id.map(MemberId::from),
            is_leader: id.map(|_| leader),
            raft_index: id.map(|_| index),
            raft_applied_index: id.map(|_| index - 2),
            db_size_bytes: id.map(|_| 4_000_000),
            db_size_in_use_bytes: id.map(|_| 1_000_000),
            errors: if id.is_none() {
                vec!["connection refused".into()]
            } else {
                vec![]
            },
            ..EndpointStatus::default()
        }
    }

    #[test]
    fn derives_lag_usage_and_member_problems() {
        let members = vec![
            member("a1", "m0", "http://127.0.0.1:1"),
            member("b2", "m1", "http://127.0.0.1:2"),
            member("c3", "m2", "http://127.0.0.1:3"),
            member("d4", "", ""),
        ];
        let status = vec![
            row("http://127.0.0.1:1", Some("a1"), true, 100),
            row("http://127.0.0.1:2", Some("ff"), false, 40),
            row("127.0.0.1:3", None, false, 0),
        ];
        let f = ClusterFacts::derive(&status, &[], &members, &[]);
        assert_eq!(f.leader_id.as_deref(), Some("a1"));
        assert_eq!(f.raft_lag.len(), 2);
        assert_eq!(f.raft_lag[1].lag_entries, 60);
        assert_eq!(f.raft_lag[1].apply_gap_entries, 2);
        assert_eq!(f.db[0].in_use_ratio, 0.25);
        assert_eq!(f.db[0].quota_from, QuotaSource::EtcdDefault);
        assert_eq!(f.unreachable.len(), 1);
        assert_eq!(f.unreachable[0].member_id, "c3");
        assert_eq!(f.unreachable[0].error, "connection refused");
        assert_eq!(f.id_mismatches.len(), 1);
        assert_eq!(f.id_mismatches[0].listed_id, "b2");
        assert_eq!(f.id_mismatches[0].reported_id, "ff");
        assert_eq!(f.unstarted.len(), 1);
        assert_eq!(f.unstarted[0].member_id, "d4");
        assert!(f.learners.is_empty());
    }

    #[test]
    fn members_not_asked_are_not_judged_and_health_counts() {
        let members = vec![member("a1", "m0", "http://127.0.0.1:1")];
        let f = ClusterFacts::derive(&[], &[], &members, &[]);
        assert!(f.unreachable.is_empty());
        let health = vec![EndpointHealth {
            endpoint: "http://127.0.0.1:1".into(),
            health: false,
            answered: true,
            took_ms: 1.0,
            error: Some("etcdserver: no leader".into()),
        }];
        let f = ClusterFacts::derive(&[], &health, &members, &[]);
        assert!(
            f.unreachable.is_empty(),
            "an answer, even unhealthy, is reachable"
        );
    }

    #[test]
    fn a_member_refusing_status_for_a_role_is_not_unreachable() {
        let members = vec![member("a1", "m0", "http://127.0.0.1:1")];
        let mut denied = row("http://127.0.0.1:1", None, false, 0);
        denied.errors = vec!["etcdserver: permission denied: this user lacks the root role".into()];
        let f = ClusterFacts::derive(std::slice::from_ref(&denied), &[], &members, &[]);
        assert_eq!(f.unreachable.len(), 1, "an error alone is no answer");
        denied.permission_denied = true;
        let f = ClusterFacts::derive(&[denied], &[], &members, &[]);
        assert!(f.unreachable.is_empty(), "{:?}", f.unreachable);
    }

    #[test]
    fn quota_comes_from_metrics_when_scraped() {
        let status = vec![row("http://127.0.0.1:1", Some("a1"), true, 10)];
        let metrics = vec![MemberMetrics {
            member_id: Some("a1".into()),
            quota_bytes: Some(8_000_000.0),
            ..MemberMetrics::default()
        }];
        let f = ClusterFacts::derive(&status, &[], &[], &metrics);
        assert_eq!(f.db[0].quota_from, QuotaSource::Metrics);
        assert_eq!(f.db[0].quota_used_ratio, 0.5);
    }

    #[test]
    fn quota_comes_from_status_on_3_6_without_metrics() {
        let mut status = vec![row("http://127.0.0.1:1", Some("a1"), true, 10)];
        status[0].db_size_quota_bytes = Some(16_000_000);
        let f = ClusterFacts::derive(&status, &[], &[], &[]);
        assert_eq!(f.db[0].quota_from, QuotaSource::Status);
        assert_eq!(f.db[0].quota_bytes, 16_000_000);
        assert_eq!(f.db[0].quota_used_ratio, 0.25);
        // 3.6.0-3.6.5 report 0 for the default quota: not reported.
        status[0].db_size_quota_bytes = None;
        let f = ClusterFacts::derive(&status, &[], &[], &[]);
        assert_eq!(f.db[0].quota_from, QuotaSource::EtcdDefault);
        assert_eq!(f.db[0].quota_bytes, ETCD_DEFAULT_QUOTA_BYTES);
    }
}
