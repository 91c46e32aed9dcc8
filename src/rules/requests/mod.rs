//! `cluster.expensive-requests`: reads whose own work is large, the
//! apiserver LIST storm of etcd-io/etcd #14329 and kubernetes' unpaginated
//! LISTs. Two kinds of evidence, either enough:
//!
//! - etcd's slow-request lines name the request ([`crate::logs::request`]):
//!   ranges over a prefix without a limit, count-only and keys-only
//!   ranges, and any read with a large response. They are weighed by their
//!   count and by the time they took (each line's `took`), either enough:
//!   on a loaded host six LISTs of 3.5 s each are as much a storm as a
//!   hundred of 200 ms. Slow reads that asked for little (one key, one
//!   page) waited on something else (the read index, the disk) and do not
//!   count; a slow disk (etcd's `slow fdatasync` lines) makes them waits
//!   as well, and the finding drops to info, unless the reads took longer
//!   on average than twice the slowest fdatasync: no wait on the disk
//!   explains that.
//! - etcd 3.6's `etcd_server_range_duration_seconds`: the range's work in
//!   the store alone, never its wait for the read index, so a slow disk
//!   cannot raise it.
//!
//! The finding names the prefixes and shapes that took the most time with
//! their share, and the gRPC methods' call rates over the metrics window.

use serde::{Deserialize, Serialize};

use crate::cluster::model::{ClusterReport, Span};
use crate::findings::emit::Emit;
use crate::findings::registry::ids;
use crate::findings::{Draft, Evidence, Finding, Severity, Unit};
use crate::logs::request::{RequestGroup, RequestShape, RequestsReport};
use crate::logs::{EventKind, LogsReport};
use crate::rules::bounds::{positive, BadKey};
use crate::rules::by;
use crate::rules::disk::level;

/// Builds the ids of this file's findings: all are `run::requests`'s.
const EMIT: Emit<by::requests> = Emit::new();

/// Groups named in the summary.
const NAMED_GROUPS: usize = 3;

/// Thresholds of `cluster.expensive-requests` (`[requests]`); `Default`
/// matches `profiles/etcd-default.toml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct RequestThresholds {
    /// Slow wide reads in the logs that warn. Each is a read over
    /// --warning-apply-duration (100 ms, embed/config.go); a healthy
    /// cluster logs a few around a compaction or an apiserver restart.
    pub wide_read_warn_lines: f64,
    /// Slow wide reads that fail: a storm.
    pub wide_read_fail_lines: f64,
    /// Time the slow wide reads in the logs took together that warns, ms:
    /// a few long LISTs weigh as much as many short ones.
    pub wide_read_warn_ms: f64,
    /// Time of slow wide reads that fails, ms.
    pub wide_read_fail_ms: f64,
    /// Mean response bytes at which any slow read counts as wide: 1 MiB,
    /// a thousand Kubernetes objects.
    pub large_response_bytes: f64,
    /// etcd 3.6's range p99 (etcd_server_range_duration_seconds) that
    /// warns: etcd's own 100 ms warn for a request.
    pub range_p99_warn_ms: f64,
    /// Range p99 that fails: a read holding the store for a second.
    pub range_p99_fail_ms: f64,
}

impl Default for RequestThresholds {
    fn default() -> Self {
        RequestThresholds {
            wide_read_warn_lines: 10.0,
            wide_read_fail_lines: 100.0,
            wide_read_warn_ms: 5_000.0,
            wide_read_fail_ms: 30_000.0,
            large_response_bytes: 1_048_576.0,
            range_p99_warn_ms: 100.0,
            range_p99_fail_ms: 1000.0,
        }
    }
}

impl RequestThresholds {
    /// Checks every pair is positive and ordered.
    pub fn validate(&self) -> Result<(), BadKey> {
        use crate::rules::bounds::levels;
        let s = "requests";
        levels(
            s,
            ("wide_read_warn_lines", self.wide_read_warn_lines),
            ("wide_read_fail_lines", self.wide_read_fail_lines),
        )?;
        levels(
            s,
            ("wide_read_warn_ms", self.wide_read_warn_ms),
            ("wide_read_fail_ms", self.wide_read_fail_ms),
        )?;
        levels(
            s,
            ("range_p99_warn_ms", self.range_p99_warn_ms),
            ("range_p99_fail_ms", self.range_p99_fail_ms),
        )?;
        positive(s, "large_response_bytes", self.large_response_bytes)
    }
}

/// True when the group's reads did work of their own.
fn is_wide(g: &RequestGroup, t: &RequestThresholds) -> bool {
    g.shape.is_read()
        && (g.shape.is_wide_read()
            || g.requests > 0
                && g.response_bytes as f64 / g.requests as f64 >= t.large_response_bytes)
}

/// The slowest member's range p99 over the window (3.6 on), with the
/// member's label.
fn range_p99(cluster: Option<&ClusterReport>, min_count: u64) -> Option<(f64, String)> {
    let c = cluster?;
    c.metrics
        .iter()
        .filter_map(|m| {
            let h = m
                .range_duration
                .filter(|h| h.span == Span::Window && h.count >= min_count)?;
            Some((
                h.judged_p99_ms(),
                c.member_label(m.member_id.as_deref(), &m.url),
            ))
        })
        .max_by(|a, b| a.0.total_cmp(&b.0))
}

/// Judges expensive requests from the logs and the metrics.
pub fn expensive_requests(
    logs: Option<&LogsReport>,
    cluster: Option<&ClusterReport>,
    t: &RequestThresholds,
    min_histogram_count: u64,
) -> Option<Finding> {
    let requests = logs.and_then(|l| l.requests.as_ref());
    let wide: Vec<&RequestGroup> = requests
        .iter()
        .flat_map(|r| &r.groups)
        .filter(|g| is_wide(g, t))
        .collect();
    let wide_lines: u64 = wide.iter().map(|g| g.requests).sum();
    let wide_ms: f64 = wide.iter().map(|g| g.total_ms).sum();
    let by_lines = level(
        wide_lines as f64,
        t.wide_read_warn_lines,
        t.wide_read_fail_lines,
    );
    let by_time = level(wide_ms, t.wide_read_warn_ms, t.wide_read_fail_ms);
    let range = range_p99(cluster, min_histogram_count);
    let by_metric = range
        .as_ref()
        .and_then(|(p99, _)| level(*p99, t.range_p99_warn_ms, t.range_p99_fail_ms));
    let mut severity = by_lines.max(by_time).max(by_metric)?;
    let (disk_lines, worst_sync_ms) = logs
        .and_then(|l| l.kind(EventKind::SlowFdatasync))
        .map_or((0, 0.0), |k| (k.count, k.worst_ms.unwrap_or(0.0)));
    // Slow fdatasync makes every read wait, but for no longer than the
    // syncs took; the store's own range time (3.6) does not include that
    // wait at all.
    let mean_ms = wide_ms / wide_lines.max(1) as f64;
    let waited = disk_lines > 0 && by_metric.is_none() && mean_ms <= 2.0 * worst_sync_ms;
    if waited {
        severity = Severity::Info;
    }
    let mut evidence = log_evidence(wide_lines, wide_ms, t);
    if let Some((p99, who)) = &range {
        evidence.push(Evidence::new(
            format!("etcd_server_range_duration_seconds p99 of {who}"),
            *p99,
            t.range_p99_warn_ms,
            Unit::Ms,
        ));
    }
    evidence.extend(call_evidence(cluster));
    let counting = mostly_count_only(&wide);
    let mut parts = log_parts(requests, &wide, wide_ms, counting);
    if let Some((p99, who)) = &range {
        parts.push(format!("range p99 {p99:.0} ms in the store on {who}"));
    }
    parts.extend(call_share(cluster));
    if waited {
        parts.push(format!(
            "explained: {disk_lines} slow fdatasync line(s), the reads waited on the disk (see disk.fsync-slow)"
        ));
    }
    let summary = format!("expensive reads: {}", parts.join("; "));
    Some(EMIT.finding(
        ids::ClusterExpensiveRequests,
        Draft {
            severity,
            summary,
            evidence,
            recommendation: if counting {
                format!("{COUNT_ONLY_RECOMMENDATION} {RECOMMENDATION}")
            } else {
                RECOMMENDATION.to_string()
            },
            commands: vec![
                "etcd-doctor cluster keyspace".to_string(),
                "kubectl get --raw /metrics | grep apiserver_storage_list".to_string(),
            ],
        },
    ))
}

/// The evidence of the logs' wide reads: their count and their time.
fn log_evidence(wide_lines: u64, wide_ms: f64, t: &RequestThresholds) -> Vec<Evidence> {
    let mut evidence = vec![Evidence::new(
        "slow wide reads in logs (no limit, count-only, keys-only or large responses)",
        wide_lines as f64,
        t.wide_read_warn_lines,
        Unit::Requests,
    )];
    if wide_lines > 0 {
        evidence.push(Evidence::new(
            "time the slow wide reads in logs took together",
            wide_ms,
            t.wide_read_warn_ms,
            Unit::Ms,
        ));
    }
    evidence
}

/// The summary's words on the logs' wide reads: the groups that took the
/// most time, the time together, and whether they were counts.
fn log_parts(
    requests: Option<&RequestsReport>,
    wide: &[&RequestGroup],
    wide_ms: f64,
    counting: bool,
) -> Vec<String> {
    let Some(r) = requests.filter(|_| !wide.is_empty()) else {
        return Vec::new();
    };
    let lines: u64 = wide.iter().map(|g| g.requests).sum();
    let mut parts = vec![
        name_groups(wide, r),
        format!(
            "{lines} slow wide read(s) took {:.1} s together",
            wide_ms / 1000.0
        ),
    ];
    if counting {
        parts.push(
            "most of that time was count-only ranges: etcd walks every key under the prefix \
             to count them"
                .to_string(),
        );
    }
    parts
}

/// True when count-only ranges took most of the wide reads' time.
fn mostly_count_only(wide: &[&RequestGroup]) -> bool {
    let time = |count_only: bool| -> f64 {
        wide.iter()
            .filter(|g| (g.shape == RequestShape::CountOnly) == count_only)
            .map(|g| g.total_ms)
            .sum()
    };
    let counting = time(true);
    counting > 0.0 && counting >= time(false)
}

const COUNT_ONLY_RECOMMENDATION: &str = "Count-only ranges walk every key under the prefix \
    to count them (etcd keeps no counts): each costs the store what a LIST costs, and \
    pagination does not apply. They come from kube-apiserver's object-count polling (one count \
    per resource every --etcd-count-metric-poll-period, 1m by default: poll less often, or 0 \
    to stop it) and from monitoring or scripts counting keys (`etcdctl get --prefix \
    --count-only`): count less often, or read the apiserver's apiserver_storage_objects \
    instead of asking etcd.";

const RECOMMENDATION: &str = "Reads that walk a whole prefix hold etcd's store and CPU and \
    delay every other request, heartbeats included; the disk is not the cause. Find the client \
    (the `remote` of etcd's `request stats` lines, the apiserver's audit log) and: paginate \
    LISTs (`limit`/`continue`; client-go's pager, kubectl --chunk-size); let kube-apiserver \
    serve LISTs from its watch cache (--watch-cache=true, resourceVersion=\"0\" or \
    consistent reads from cache in 1.31+) instead of etcd; put events in their own etcd \
    (kube-apiserver --etcd-servers-overrides=/events#https://etcd-events:2379); slow down \
    the client (API Priority and Fairness, client QPS/burst) and a frequent object count \
    (--etcd-count-metric-poll-period); keep the prefix small (event TTL, fewer objects).";

/// `240 unpaginated range (LIST without limit) of /registry/pods/ (92 %
/// of slow-request time, worst 1800 ms, 21.0 MiB a response), …`.
fn name_groups(wide: &[&RequestGroup], all: &RequestsReport) -> String {
    let total = all.total_ms().max(f64::MIN_POSITIVE);
    let named: Vec<String> = wide
        .iter()
        .take(NAMED_GROUPS)
        .map(|g| {
            // A count's response is a few bytes: no size worth naming.
            let mib = g.response_bytes as f64 / g.requests.max(1) as f64 / 1_048_576.0;
            let size = if mib >= 0.05 {
                format!(", {mib:.1} MiB a response")
            } else {
                String::new()
            };
            format!(
                "{} {} of {} ({:.0} % of slow-request time, worst {:.0} ms{size})",
                g.requests,
                g.shape.describe(),
                g.prefix,
                100.0 * g.total_ms / total,
                g.worst_ms
            )
        })
        .collect();
    let more = wide.len().saturating_sub(NAMED_GROUPS);
    let tail = if more > 0 {
        format!(" and {more} more group(s)")
    } else {
        String::new()
    };
    named.join("; ") + &tail
}

/// Calls per second by method, summed over the members.
fn calls(cluster: Option<&ClusterReport>) -> Vec<(String, f64)> {
    let mut sum: Vec<(String, f64)> = Vec::new();
    for rate in cluster
        .iter()
        .flat_map(|c| &c.metrics)
        .flat_map(|m| &m.grpc_calls)
    {
        match sum.iter_mut().find(|(m, _)| *m == rate.method) {
            Some(slot) => slot.1 += rate.per_s,
            None => sum.push((rate.method.clone(), rate.per_s)),
        }
    }
    sum.sort_by(|a, b| b.1.total_cmp(&a.1));
    sum
}

/// `Range 85 % of 1234 gRPC calls/s, 40.2 MiB/s to clients`.
fn call_share(cluster: Option<&ClusterReport>) -> Option<String> {
    let calls = calls(cluster);
    let total: f64 = calls.iter().map(|(_, n)| n).sum();
    let (top, n) = calls.first().filter(|_| total > 0.0)?;
    let sent: f64 = cluster
        .iter()
        .flat_map(|c| &c.metrics)
        .filter_map(|m| m.client_sent_bytes_per_s)
        .sum();
    Some(format!(
        "{top} {:.0} % of {total:.0} gRPC calls/s, {:.1} MiB/s sent to clients",
        100.0 * n / total,
        sent / 1_048_576.0
    ))
}

fn call_evidence(cluster: Option<&ClusterReport>) -> Vec<Evidence> {
    calls(cluster)
        .into_iter()
        .take(NAMED_GROUPS)
        .map(|(method, n)| {
            Evidence::new(
                format!("{method} calls (metrics window)"),
                n,
                0.0,
                Unit::CallsPerSec,
            )
        })
        .collect()
}

#[cfg(test)]
mod tests;
