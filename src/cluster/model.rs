//! Facts read from a live cluster (JSON contract, schema 1). An endpoint that
//! cannot be reached is a row with its error, like etcdctl's ERRORS column.

use serde::{Deserialize, Serialize};

pub use super::consistency::Consistency;
pub use super::facts::ClusterFacts;

/// Everything the inspector read from the cluster. Sections a command did
/// not read stay empty.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ClusterReport {
    /// How the cluster was reached: endpoints asked and TLS files, so that
    /// recommended etcdctl commands carry the same flags.
    #[serde(default)]
    pub connection: Connection,
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
    /// Whether any member answered any request; false means the tool could
    /// not run (exit 2).
    #[serde(default)]
    pub answered: bool,
    /// Failures of cluster-wide reads (member list, alarm list).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
    /// What follows from the sections above (lag, fragmentation, stale
    /// members): the input of the cluster rules.
    #[serde(default)]
    pub facts: ClusterFacts,
    /// Whether the members hold the same data: every member's HashKV at one
    /// revision, read after the sections above (`cluster consistency`, `diagnose`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consistency: Option<Consistency>,
}

impl ClusterReport {
    /// Every error met, one line per target, for the message of a run where
    /// no member answered.
    pub fn all_errors(&self) -> Vec<String> {
        let status = self
            .endpoints
            .iter()
            .filter(|e| !e.errors.is_empty())
            .map(|e| format!("{}: {}", e.endpoint, e.errors.join(", ")));
        let health = self
            .health
            .iter()
            .filter_map(|h| h.error.as_ref().map(|e| format!("{}: {e}", h.endpoint)));
        let metrics = self
            .metrics
            .iter()
            .filter_map(|m| m.error.as_ref().map(|e| format!("{}: {e}", m.url)));
        let mut all: Vec<String> = status.chain(health).chain(metrics).collect();
        for e in &self.errors {
            // "member list: EP: error" adds nothing when EP's row says it.
            let tail = e.split_once(": ").map_or(e.as_str(), |(_, t)| t);
            if !all.iter().any(|a| a == tail) {
                all.push(e.clone());
            }
        }
        all
    }
}

impl ClusterReport {
    /// How findings name member `id` (hex), as operators know it: its name,
    /// its id and the host of its peer URL (else its client URL), e.g.
    /// `m3 (a372f26f9d8c9749) on 10.0.0.3`. An id the member list does not
    /// hold is named by itself; no id at all, by `fallback` (an endpoint).
    pub fn member_label(&self, id: Option<&str>, fallback: &str) -> String {
        let Some(id) = id else {
            return fallback.to_string();
        };
        let Some(m) = self.members.iter().find(|m| same_id(&m.id, id)) else {
            return id.to_string();
        };
        let host = m
            .peer_urls
            .iter()
            .chain(&m.client_urls)
            .next()
            .map(|u| url_host(u));
        member_label(&m.name, id, host)
    }
}

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

/// Member ids as hex, leading zeros or not (`0af3` is `af3`).
fn same_id(a: &str, b: &str) -> bool {
    let parse = |s: &str| u64::from_str_radix(s, 16).ok();
    parse(a).is_some_and(|a| Some(a) == parse(b)) || a == b
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
    pub member_id: String,
    /// `NOSPACE` or `CORRUPT`.
    pub alarm: String,
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
}

/// Peer round-trip time to one peer, as the member measured it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PeerRtt {
    /// The peer's member id (16 hex digits, the metric's `To` label).
    pub peer_id: String,
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
    pub member_id: Option<String>,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_are_named_by_name_id_and_host() {
        let report = ClusterReport {
            members: vec![
                Member {
                    id: "a372f26f9d8c9749".into(),
                    name: "m3".into(),
                    peer_urls: vec!["https://10.0.0.3:2380".into()],
                    client_urls: vec!["https://10.0.0.3:2379".into()],
                    ..Member::default()
                },
                Member {
                    id: "0b1".into(),
                    peer_urls: vec!["http://[fd00::7]:2380/".into()],
                    ..Member::default()
                },
            ],
            ..ClusterReport::default()
        };
        let label = |id| report.member_label(id, "http://10.0.0.9:2379");
        assert_eq!(
            label(Some("a372f26f9d8c9749")),
            "m3 (a372f26f9d8c9749) on 10.0.0.3"
        );
        // Unstarted: no name; ids compare as numbers.
        assert_eq!(label(Some("b1")), "b1 on fd00::7");
        assert_eq!(label(Some("ffff")), "ffff");
        assert_eq!(label(None), "http://10.0.0.9:2379");
        assert_eq!(url_host("10.0.0.3:2380"), "10.0.0.3");
        assert_eq!(member_label("m1", "ab", None), "m1 (ab)");
    }
}
