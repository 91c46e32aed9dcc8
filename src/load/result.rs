//! What a load run measured, as serde facts: per operation kind and per
//! target member the latency summary AND the encoded HDR histogram (so
//! `compare` can test whole distributions of two runs), latency over time
//! at 1 s resolution, achieved against target rate, errors by kind, how
//! late the generator itself was, and what the members' /metrics said over
//! the run's window.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::plan::{LoadPlan, OpKind};
use crate::cluster::model::HistogramPercentiles;
use crate::measure::{EncodedHistogram, LatencySummary};
use crate::member::MemberId;
use crate::probe::disk::TimelinePoint;

/// Latency of one group of requests (an operation kind, a member, or all).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct OpStats {
    /// What the group is: an operation kind (`put`), a member's client URL, or `all`.
    pub name: String,
    /// Requests that succeeded.
    pub ok: u64,
    /// Requests that failed (not in the latency figures).
    pub errors: u64,
    /// Successful requests per second over the run.
    pub achieved_ops_s: f64,
    /// Latency from the scheduled send to the answer, microseconds.
    pub latency_us: LatencySummary,
    /// Standard deviation of that latency, microseconds.
    pub stddev_us: f64,
    /// The full latency histogram (nanoseconds, HdrHistogram V2 + deflate, base64).
    pub latency_histogram: EncodedHistogram,
}

/// How well the generator kept its own schedule.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, Default, schemars::JsonSchema)]
pub struct ScheduleStats {
    /// How late the generator woke for a scheduled send (its own timer and
    /// CPU), microseconds; large values mean the client could not keep up.
    pub wake_late_us: LatencySummary,
    /// Time a scheduled request waited for a free client (all `--clients`
    /// busy), microseconds; that wait counts in the request's latency.
    pub client_wait_us: LatencySummary,
    /// Requests scheduled within the run.
    pub scheduled: u64,
    /// Requests actually sent.
    pub sent: u64,
    /// Total time the generator waited for a free client, seconds: the
    /// requests it could not send meanwhile are the cluster's shortfall,
    /// not the generator's.
    #[serde(default)]
    pub client_wait_total_s: f64,
    /// CPU time this process used during the run, in cores (1.0 = one core busy).
    pub client_cpu_cores: f64,
}

/// One member's server side over the run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct MemberLoad {
    /// The member's /metrics URL.
    pub url: String,
    /// The member id, when the member list gave it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member_id: Option<MemberId>,
    /// etcd's apply duration (etcd_server_apply_duration_seconds) over the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub apply: Option<HistogramPercentiles>,
    /// CPU the etcd process used over the run (process_cpu_seconds_total
    /// rate), cores.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu_cores: Option<f64>,
    /// Largest etcd_server_proposals_pending seen by any scrape.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proposals_pending_max: Option<f64>,
    /// WAL fdatasync p99 between consecutive scrapes: (seconds into the run, ms).
    #[serde(default)]
    pub wal_fsync_p99_ms_over_time: Vec<(f64, f64)>,
    /// Median TCP handshake of this client's /metrics requests to the
    /// member, ms: one network round trip, answered by the member's
    /// kernel, so a busy etcd process does not lengthen it. A handshake
    /// that never came counts as the dial timeout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcp_handshake_ms_median: Option<f64>,
    /// TCP handshakes measured (one per /metrics request).
    #[serde(default)]
    pub tcp_handshakes: usize,
}

/// The result of one load run (the report's `load` section).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LoadResult {
    /// What was asked for.
    pub plan: LoadPlan,
    /// Seconds from the first scheduled send to the last answer.
    pub elapsed_s: f64,
    /// Target requests per second.
    pub target_ops_s: f64,
    /// Successful requests per second over the run.
    pub achieved_ops_s: f64,
    /// Every request together.
    pub all: OpStats,
    /// Per operation kind that was sent.
    pub ops: Vec<OpStats>,
    /// Per target member (the client URL its connection went to).
    pub members: Vec<OpStats>,
    /// Failed requests by error, e.g. `Unavailable: etcdserver: request timed out`.
    #[serde(default)]
    pub errors: BTreeMap<String, u64>,
    /// Latency over time, one point per second.
    #[serde(default)]
    pub timeline: Vec<TimelinePoint>,
    /// How the generator kept its schedule.
    pub schedule: ScheduleStats,
    /// The members' metrics over the run's window (first scrape before the
    /// first request, last after the last answer).
    #[serde(default)]
    pub server: Vec<MemberLoad>,
    /// Whether the run was stopped early (a signal) and why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interrupted: Option<String>,
    /// Keys of the run deleted under the prefix afterwards.
    pub deleted_keys: u64,
    /// Keys under the prefix the run did not write (another client's),
    /// left in place.
    #[serde(default, skip_serializing_if = "crate::measure::is_zero")]
    pub foreign_keys: u64,
    /// The first few of them (escaped, cut to 100 characters).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub foreign_key_examples: Vec<String>,
    /// Why `--compact`/`--defrag` did not run (an interrupted run skips
    /// optional maintenance).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maintenance_skipped: Option<String>,
    /// Revision compacted to afterwards (`--compact`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compacted_revision: Option<i64>,
    /// Members defragmented afterwards (`--defrag`), or their errors.
    #[serde(default)]
    pub defragmented: Vec<String>,
}

impl LoadResult {
    /// The stats of `kind`, when it was sent.
    pub fn op(&self, kind: OpKind) -> Option<&OpStats> {
        self.ops.iter().find(|o| o.name == kind.as_str())
    }

    /// Failed requests.
    pub fn error_count(&self) -> u64 {
        self.errors.values().sum()
    }
}
