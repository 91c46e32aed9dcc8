//! Facts read from a live cluster (JSON contract, schema 1). An endpoint that
//! cannot be reached is a row with its error, like etcdctl's ERRORS column.

use serde::{Deserialize, Serialize};

/// Everything the inspector read from the cluster. Sections a command did
/// not read stay empty.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ClusterReport {
    /// `endpoint status`, one row per endpoint asked.
    #[serde(default)]
    pub endpoints: Vec<EndpointStatus>,
    /// `member list`.
    #[serde(default)]
    pub members: Vec<Member>,
    /// `endpoint health`, one row per endpoint asked.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub health: Vec<EndpointHealth>,
    /// Active alarms.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alarms: Vec<Alarm>,
    /// Metrics scraped from each member's /metrics.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<MemberMetrics>,
}

/// One row of `endpoint status`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EndpointStatus {
    /// Client URL asked.
    pub endpoint: String,
    /// Member id as 16 hex digits, as etcdctl prints it.
    pub id: Option<String>,
    /// etcd server version.
    pub version: Option<String>,
    /// Backend database size, bytes.
    pub db_size_bytes: Option<u64>,
    /// Backend database bytes in use (the rest is free pages: fragmentation).
    pub db_size_in_use_bytes: Option<u64>,
    /// Whether this member is the leader.
    pub is_leader: Option<bool>,
    /// Whether this member is a learner.
    pub is_learner: Option<bool>,
    /// Raft term.
    pub raft_term: Option<u64>,
    /// Raft index (committed).
    pub raft_index: Option<u64>,
    /// Raft applied index.
    pub raft_applied_index: Option<u64>,
    /// Errors reported by the member, or why it could not be asked.
    #[serde(default)]
    pub errors: Vec<String>,
}

/// One row of `member list`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Member {
    /// Member id as 16 hex digits.
    pub id: String,
    /// `started`, or `unstarted` for a member added but never started.
    pub status: String,
    /// Member name (empty while unstarted).
    pub name: String,
    /// Peer URLs.
    pub peer_urls: Vec<String>,
    /// Client URLs (empty while unstarted).
    pub client_urls: Vec<String>,
    /// Whether the member is a learner.
    pub is_learner: bool,
}

/// One row of `endpoint health`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct EndpointHealth {
    /// Client URL asked.
    pub endpoint: String,
    /// Whether a linearizable read succeeded.
    pub health: bool,
    /// How long the read took, milliseconds.
    pub took_ms: f64,
    /// Why it was unhealthy, if it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One active alarm.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alarm {
    /// Member id as 16 hex digits.
    pub member_id: String,
    /// `NOSPACE` or `CORRUPT`.
    pub alarm: String,
}

/// Percentiles computed from a Prometheus histogram, milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct HistogramPercentiles {
    /// Observations the percentiles were computed from.
    pub count: u64,
    /// Median, milliseconds.
    pub p50_ms: f64,
    /// 90th percentile, milliseconds.
    pub p90_ms: f64,
    /// 99th percentile, milliseconds.
    pub p99_ms: f64,
}

/// Metrics of one member: percentiles over the scrape window where two
/// scrapes were taken (otherwise since the member started).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct MemberMetrics {
    /// The /metrics URL scraped.
    pub url: String,
    /// etcd_disk_wal_fsync_duration_seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wal_fsync: Option<HistogramPercentiles>,
    /// etcd_disk_backend_commit_duration_seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend_commit: Option<HistogramPercentiles>,
    /// etcd_network_peer_round_trip_time_seconds, all peers together.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer_rtt: Option<HistogramPercentiles>,
    /// etcd_server_leader_changes_seen_total.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leader_changes_total: Option<f64>,
    /// etcd_server_proposals_failed_total.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proposals_failed_total: Option<f64>,
    /// Failed proposals per second over the scrape window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proposals_failed_per_s: Option<f64>,
    /// etcd_server_proposals_pending.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proposals_pending: Option<f64>,
    /// etcd_server_slow_apply_total.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slow_applies_total: Option<f64>,
    /// etcd_mvcc_db_total_size_in_bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db_size_bytes: Option<f64>,
    /// etcd_server_quota_backend_bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota_bytes: Option<f64>,
    /// Seconds between the two scrapes (0 when only one was taken).
    pub window_s: f64,
    /// Why the scrape failed, if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}
