//! What etcd reports about each member, one row per member and view
//! (status, member list, health, alarms, metrics, hashes): the leaf the
//! readers (`inspect`, `metrics`, `consistency`) fill and `facts` and
//! [`super::model::ClusterReport`] build on.

use serde::{Deserialize, Serialize};

use crate::member::{AlarmKind, MemberId, MemberStatus};

/// One member's label: `NAME (ID) on HOST`, the name or host left out when
/// unknown (`ID on HOST`, `NAME (ID)`).
pub fn member_label(name: &str, id: &str, host: Option<&str>) -> String {
    let who = if name.is_empty() {
        id.to_string()
    } else {
        format!("{name} ({id})")
    };
    match host.filter(|h| !h.is_empty()) {
        Some(host) => format!("{who} on {host}"),
        None => who,
    }
}

/// The host part of a URL: `https://[fd00::1]:2380/` -> `fd00::1`,
/// `http://10.0.0.3:2380` -> `10.0.0.3`.
pub fn url_host(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split('/').next().unwrap_or(rest);
    match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(v6),
        None => authority.rsplit_once(':').map_or(authority, |(h, _)| h),
    }
}

/// The port of a URL: `https://10.0.0.1:2379/` -> 2379; `None` without one.
pub fn url_port(url: &str) -> Option<u16> {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split('/').next()?;
    authority.rsplit_once(':')?.1.parse().ok()
}

/// The connection the report was read over, as etcdctl flags.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Connection {
    /// Endpoints asked (after `--cluster` expansion).
    pub endpoints: Vec<String>,
    /// `--cacert`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cacert: Option<String>,
    /// `--cert`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert: Option<String>,
    /// `--key`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    /// `--insecure-skip-tls-verify`.
    #[serde(default)]
    pub insecure_skip_tls_verify: bool,
}

impl Connection {
    /// etcdctl's flags for these TLS files and `endpoints`, e.g.
    /// `--endpoints=https://10.0.0.1:2379 --cacert=/etc/kubernetes/pki/etcd/ca.crt ...`.
    pub fn etcdctl_flags(&self, endpoints: &[String]) -> String {
        let mut flags = vec![format!("--endpoints={}", endpoints.join(","))];
        for (flag, path) in [
            ("cacert", &self.cacert),
            ("cert", &self.cert),
            ("key", &self.key),
        ] {
            if let Some(path) = path {
                flags.push(format!("--{flag}={path}"));
            }
        }
        if self.insecure_skip_tls_verify {
            flags.push("--insecure-skip-tls-verify".to_string());
        }
        flags.join(" ")
    }
}

/// One row of `endpoint status`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct EndpointStatus {
    /// Client URL asked.
    pub endpoint: String,
    /// Member id as 16 hex digits, as etcdctl prints it.
    pub id: Option<MemberId>,
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
    /// Key-value store revision (the response header's), the revision an
    /// `etcdctl compact` would take.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<u64>,
    /// Storage (data) version, reported from etcd 3.6 on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_version: Option<String>,
    /// The backend quota the member runs with (Status' dbSizeQuota, etcd
    /// 3.6 on); None where the member did not report it: before 3.6, and
    /// 3.6.0 to 3.6.5 when the quota is etcd's default (they report 0, see
    /// server/etcdserver/api/v3rpc/maintenance.go at v3.6.6).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db_size_quota_bytes: Option<u64>,
    /// A downgrade in progress (Status' downgradeInfo, etcd 3.6 on): its
    /// target version; None where the member does not report it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub downgrade: Option<Downgrade>,
    /// Errors reported by the member, or why it could not be asked.
    #[serde(default)]
    pub errors: Vec<String>,
    /// The member refused Status for this user's roles (auth on etcd 3.6.0
    /// to 3.6.11 without the root role): it answered, it is not unreachable.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub permission_denied: bool,
}

/// Status' downgradeInfo, as etcdctl 3.6's DOWNGRADE columns show it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Downgrade {
    /// Whether the cluster is being downgraded (`etcdctl downgrade enable`).
    pub enabled: bool,
    /// The version it is being downgraded to (empty when not enabled).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub target_version: String,
}

/// One row of `member list`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Member {
    /// Member id as 16 hex digits.
    pub id: MemberId,
    /// `started`, or `unstarted` for a member added but never started.
    #[schemars(with = "String")]
    pub status: MemberStatus,
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
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct EndpointHealth {
    /// Client URL asked.
    pub endpoint: String,
    /// Whether a linearizable read succeeded (permission denied counts,
    /// as in etcdctl) and no alarm is active.
    pub health: bool,
    /// Whether the member answered at all (an alarm or "no leader" is an
    /// answer; a refused connection or a timeout is not).
    #[serde(default)]
    pub answered: bool,
    /// How long the read took, milliseconds.
    pub took_ms: f64,
    /// Why it was unhealthy, if it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One active alarm.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Alarm {
    /// Member id as 16 hex digits.
    pub member_id: MemberId,
    /// `NOSPACE` or `CORRUPT`.
    #[schemars(with = "String")]
    pub alarm: AlarmKind,
}

/// Which observations a histogram's percentiles describe.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Span {
    /// Only those between the two scrapes (bucket deltas): what etcd does now.
    Window,
    /// Everything since the member started (one scrape, or none observed in
    /// the window).
    #[default]
    SinceStart,
}

impl Span {
    /// Short label for tables.
    pub fn as_str(self) -> &'static str {
        match self {
            Span::Window => "window",
            Span::SinceStart => "since start",
        }
    }
}

/// Percentiles computed from a Prometheus histogram, milliseconds, with
/// linear interpolation within buckets as PromQL's histogram_quantile does.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct HistogramPercentiles {
    /// Observations the percentiles were computed from.
    pub count: u64,
    /// Whether they cover the scrape window or the member's whole life.
    #[serde(default)]
    pub span: Span,
    /// Median, milliseconds.
    pub p50_ms: f64,
    /// 90th percentile, milliseconds.
    pub p90_ms: f64,
    /// 99th percentile, milliseconds.
    pub p99_ms: f64,
    /// The lower bound of the bucket that holds the second-slowest
    /// observation, milliseconds: two observations took longer than this.
    /// Absent under two observations and in reports written before it.
    /// Under 200 observations one slow observation alone can make the p99,
    /// and rules judge no tail that only one observation makes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub second_slowest_over_ms: Option<f64>,
}

impl HistogramPercentiles {
    /// Observations from which the p99 always rests on two or more.
    pub const TWO_FOR_P99: u64 = 200;

    /// The p99 as far as two observations support it: under
    /// [`Self::TWO_FOR_P99`] observations, never above what the
    /// second-slowest is known to have exceeded. Of 74 fsyncs in a short
    /// window, one of 20 ms and one of 8-16 ms make a 20 ms p99, but only
    /// "two took over 8 ms" is known.
    pub fn judged_p99_ms(&self) -> f64 {
        match self.second_slowest_over_ms {
            Some(over) if self.count < Self::TWO_FOR_P99 => self.p99_ms.min(over),
            _ => self.p99_ms,
        }
    }

    /// True when the p99 is judged lower than it reads (see
    /// [`Self::judged_p99_ms`]).
    pub fn p99_capped(&self) -> bool {
        self.judged_p99_ms() < self.p99_ms
    }
}

/// Peer round-trip time to one peer, as the member measured it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PeerRtt {
    /// The peer's member id (16 hex digits, the metric's `To` label).
    pub peer_id: MemberId,
    /// Percentiles of etcd_network_peer_round_trip_time_seconds to it.
    pub rtt: HistogramPercentiles,
}

/// Calls of one gRPC method per second.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct MethodRate {
    /// The method (grpc_method: `Range`, `Txn`, `Put`, ...).
    pub method: String,
    /// Calls finished per second over the window.
    pub per_s: f64,
}

/// Metrics of one member: percentiles over the scrape window where two
/// scrapes were taken (otherwise since the member started).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct MemberMetrics {
    /// The /metrics URL scraped.
    pub url: String,
    /// The member the URL belongs to (16 hex digits), when the member list
    /// says so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member_id: Option<MemberId>,
    /// etcd_disk_wal_fsync_duration_seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wal_fsync: Option<HistogramPercentiles>,
    /// etcd_disk_backend_commit_duration_seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend_commit: Option<HistogramPercentiles>,
    /// etcd_network_peer_round_trip_time_seconds, all peers together.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peer_rtt: Option<HistogramPercentiles>,
    /// etcd_network_peer_round_trip_time_seconds per peer: which link is slow.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub peer_rtt_by_peer: Vec<PeerRtt>,
    /// etcd_server_leader_changes_seen_total (the first election counts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leader_changes_total: Option<f64>,
    /// Leader changes between the two scrapes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leader_changes_in_window: Option<f64>,
    /// etcd_server_has_leader: whether the member knows a leader.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub has_leader: Option<bool>,
    /// Seconds since the member's process started (process_start_time_seconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub uptime_s: Option<f64>,
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
    /// Slow applies per second over the scrape window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slow_applies_per_s: Option<f64>,
    /// etcd_mvcc_db_total_size_in_bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub db_size_bytes: Option<f64>,
    /// etcd_server_quota_backend_bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota_bytes: Option<f64>,
    /// Alarms this member applied since it started, from
    /// etcd_debugging_server_alarms (etcd 3.6 on, which no longer logs
    /// `alarm raised`; an alarm older than the process is only in the
    /// alarm list).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alarms: Vec<Alarm>,
    /// etcd_server_range_duration_seconds (etcd 3.6 on): the time of a
    /// range's own work in the store, without its wait for the read index.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub range_duration: Option<HistogramPercentiles>,
    /// Unary gRPC calls finished per second over the scrape window, by
    /// method (grpc_server_handled_total), most first.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub grpc_calls: Vec<MethodRate>,
    /// Bytes per second sent to gRPC clients over the scrape window
    /// (etcd_network_client_grpc_sent_bytes_total): responses and watch events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_sent_bytes_per_s: Option<f64>,
    /// Seconds between the two scrapes (0 when only one was taken).
    pub window_s: f64,
    /// Why the scrape failed, if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What the consistency check found.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Consistency {
    /// The revision every member's hash was taken at (none when no member
    /// reported a revision).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revision: Option<u64>,
    /// Status-and-hash rounds it took (more than 1 after a compaction or a
    /// member behind the common revision).
    pub attempts: u32,
    /// The hash a strict majority of the hashed members agree on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reference_hash: Option<u32>,
    /// Members whose hash differs from the reference (ids, or endpoints when
    /// the id is unknown); every hashed member when no majority agrees.
    #[serde(default)]
    pub differing: Vec<String>,
    /// Hashed members not compared: their compacted revision or hash
    /// revision differs from the one most members hashed at.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_compared: Vec<String>,
    /// One row per endpoint asked.
    #[serde(default)]
    pub members: Vec<MemberHash>,
    /// How each learner moved between the two status reads.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub learners: Vec<LearnerProgress>,
}

impl Consistency {
    /// True when at least two members were hashed and no hash differs.
    pub fn consistent(&self) -> bool {
        self.reference_hash.is_some() && self.differing.is_empty()
    }
}

/// One member's hash and raft position, read in the same round.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct MemberHash {
    /// The member's status (id, term, committed and applied index, revision).
    pub status: EndpointStatus,
    /// Member name, from the member list.
    #[serde(default)]
    pub name: String,
    /// HashKV at [`Consistency::revision`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hash: Option<u32>,
    /// The member's compacted revision, as HashKV reports it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compact_revision: Option<i64>,
    /// The revision the hash covers up to, as HashKV reports it (etcd 3.6
    /// on; None before).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hash_revision: Option<i64>,
    /// Why the member could not be hashed, if it could not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl MemberHash {
    /// The member id, else the endpoint: how findings name the member.
    pub fn who(&self) -> &str {
        self.status.id.as_deref().unwrap_or(&self.status.endpoint)
    }
}

/// A learner's distance to the leader's applied index, at both status reads.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LearnerProgress {
    /// Endpoint asked.
    pub endpoint: String,
    /// Member id (16 hex digits).
    pub member_id: MemberId,
    /// Leader applied index minus the learner's, at the first read, entries.
    pub first_gap_entries: u64,
    /// The same at the second read, entries.
    pub second_gap_entries: u64,
    /// The learner's applied index at the second read.
    pub applied_index: u64,
    /// The leader's applied index at the second read.
    pub leader_applied_index: u64,
}
