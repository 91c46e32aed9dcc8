//! `cluster.expensive-requests`: reads whose own work is large, the
//! apiserver LIST storm of etcd-io/etcd #14329 and kubernetes' unpaginated
//! LISTs. Two kinds of evidence, either enough:
//!
//! - etcd's slow-request lines name the request ([`crate::logs::request`]):
//!   ranges over a prefix without a limit, count-only and keys-only
//!   ranges, and any read with a large response. Slow reads that asked for
//!   little (one key, one page) waited on something else (the read index,
//!   the disk) and do not count; a slow disk (etcd's `slow fdatasync`
//!   lines) makes them waits as well, and the finding drops to info.
//! - etcd 3.6's `etcd_server_range_duration_seconds`: the range's work in
//!   the store alone, never its wait for the read index, so a slow disk
//!   cannot raise it.
//!
//! The finding names the prefixes and shapes that took the most time with
//! their share, and the gRPC methods' call rates over the metrics window.

use serde::{Deserialize, Serialize};

use crate::cluster::model::{ClusterReport, Span};
use crate::findings::{Evidence, Finding, FindingId, Severity, Unit};
use crate::logs::request::{RequestGroup, RequestsReport};
use crate::logs::{EventKind, LogsReport};
use crate::rules::bounds::{positive, BadKey};
use crate::rules::disk::level;

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
            Some((h.p99_ms, c.member_label(m.member_id.as_deref(), &m.url)))
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
    let by_lines = level(
        wide_lines as f64,
        t.wide_read_warn_lines,
        t.wide_read_fail_lines,
    );
    let range = range_p99(cluster, min_histogram_count);
    let by_metric = range
        .as_ref()
        .and_then(|(p99, _)| level(*p99, t.range_p99_warn_ms, t.range_p99_fail_ms));
    let mut severity = by_lines.max(by_metric)?;
    let disk_lines = logs.map_or(0, |l| l.count(EventKind::SlowFdatasync));
    // Slow fdatasync makes every read wait; the store's own range time
    // (3.6) does not include that wait.
    let waited = disk_lines > 0 && by_metric.is_none();
    if waited {
        severity = Severity::Info;
    }
    let mut evidence = vec![Evidence::new(
        "slow wide reads in logs (no limit, count-only, keys-only or large responses)",
        wide_lines as f64,
        t.wide_read_warn_lines,
        Unit::Requests,
    )];
    if let Some((p99, who)) = &range {
        evidence.push(Evidence::new(
            format!("etcd_server_range_duration_seconds p99 of {who}"),
            *p99,
            t.range_p99_warn_ms,
            Unit::Ms,
        ));
    }
    evidence.extend(call_evidence(cluster));
    let mut parts: Vec<String> = requests
        .filter(|_| wide_lines > 0)
        .map(|r| name_groups(&wide, r))
        .into_iter()
        .collect();
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
    Some(Finding {
        id: FindingId::ClusterExpensiveRequests,
        severity,
        summary,
        evidence,
        recommendation: RECOMMENDATION.to_string(),
        commands: vec![
            "etcd-doctor cluster keyspace".to_string(),
            "kubectl get --raw /metrics | grep apiserver_storage_list".to_string(),
        ],
    })
}

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
            let size = match g.response_bytes {
                0 => String::new(),
                b => format!(
                    ", {:.1} MiB a response",
                    b as f64 / g.requests.max(1) as f64 / 1_048_576.0
                ),
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
mod tests {
    use super::*;
    use crate::cluster::model::{HistogramPercentiles, MemberMetrics, MethodRate};
    use crate::logs::request::{RequestLine, RequestShape};

    fn group(
        shape: RequestShape,
        prefix: &str,
        requests: u64,
        total_ms: f64,
        bytes: u64,
    ) -> RequestGroup {
        RequestGroup {
            shape,
            prefix: prefix.into(),
            requests,
            total_ms,
            worst_ms: total_ms / requests as f64 * 2.0,
            response_bytes: bytes,
            line: RequestLine::Apply,
        }
    }

    fn logs(groups: Vec<RequestGroup>) -> LogsReport {
        LogsReport {
            requests: Some(RequestsReport {
                groups,
                other_lines: 0,
            }),
            ..LogsReport::default()
        }
    }

    #[test]
    fn an_unpaginated_list_storm_names_its_prefix_and_share() {
        let l = logs(vec![
            group(
                RequestShape::UnpaginatedRange,
                "/registry/pods/",
                120,
                60_000.0,
                120 * 21_000_000,
            ),
            group(RequestShape::CountOnly, "/registry/events/", 30, 4_000.0, 0),
            group(
                RequestShape::Get,
                "/registry/leases/kube-node-lease/",
                50,
                6_000.0,
                50 * 500,
            ),
        ]);
        let f = expensive_requests(Some(&l), None, &RequestThresholds::default(), 20).unwrap();
        assert_eq!(f.severity, Severity::Fail);
        assert!(
            f.summary
                .contains("120 unpaginated range (LIST without limit) of /registry/pods/ (86 % of"),
            "{}",
            f.summary
        );
        assert!(f.summary.contains("count-only range of /registry/events/"));
        assert!(
            !f.summary.contains("leases"),
            "gets waited, they are not wide"
        );
        assert!(f.recommendation.contains("--etcd-servers-overrides"));
    }

    #[test]
    fn slow_small_reads_and_writes_are_not_expensive() {
        let l = logs(vec![
            group(RequestShape::Write, "/registry/pods/", 500, 90_000.0, 0),
            group(
                RequestShape::Get,
                "/registry/pods/default/",
                300,
                40_000.0,
                300 * 800,
            ),
            group(
                RequestShape::PaginatedRange,
                "/registry/pods/",
                9,
                1_000.0,
                9 * 500_000,
            ),
            group(
                RequestShape::UnpaginatedRange,
                "/registry/pods/",
                9,
                900.0,
                9 * 500_000,
            ),
        ]);
        assert_eq!(
            expensive_requests(Some(&l), None, &RequestThresholds::default(), 20),
            None
        );
        // A page of 2 MiB is a large response.
        let l = logs(vec![group(
            RequestShape::PaginatedRange,
            "/registry/configmaps/",
            12,
            3_000.0,
            12 * 2_097_152,
        )]);
        let f = expensive_requests(Some(&l), None, &RequestThresholds::default(), 20).unwrap();
        assert_eq!(f.severity, Severity::Warn);
    }

    #[test]
    fn slow_fdatasync_makes_the_reads_waits() {
        let mut l = logs(vec![group(
            RequestShape::UnpaginatedRange,
            "/registry/pods/",
            40,
            8_000.0,
            0,
        )]);
        let line =
            r#"{"level":"warn","ts":"2024-03-01T12:00:00Z","msg":"slow fdatasync","took":"1.5s"}"#;
        let mut t = crate::logs::Timeline::default();
        t.add(
            0,
            crate::logs::zap::parse(line).unwrap().event.unwrap(),
            line,
        );
        l.events = t.finish().0;
        let f = expensive_requests(Some(&l), None, &RequestThresholds::default(), 20).unwrap();
        assert_eq!(f.severity, Severity::Info);
        assert!(f.summary.contains("waited on the disk"));
    }

    #[test]
    fn etcd_3_6_range_latency_alone_fires_with_the_call_shares() {
        let c = ClusterReport {
            metrics: vec![MemberMetrics {
                url: "http://10.0.0.2:2379/metrics".into(),
                range_duration: Some(HistogramPercentiles {
                    count: 400,
                    span: Span::Window,
                    p50_ms: 80.0,
                    p90_ms: 150.0,
                    p99_ms: 240.0,
                }),
                grpc_calls: vec![
                    MethodRate {
                        method: "Range".into(),
                        per_s: 90.0,
                    },
                    MethodRate {
                        method: "Put".into(),
                        per_s: 10.0,
                    },
                ],
                client_sent_bytes_per_s: Some(52_428_800.0),
                ..MemberMetrics::default()
            }],
            ..ClusterReport::default()
        };
        let f = expensive_requests(None, Some(&c), &RequestThresholds::default(), 20).unwrap();
        assert_eq!(f.severity, Severity::Warn);
        assert!(
            f.summary.contains("range p99 240 ms in the store"),
            "{}",
            f.summary
        );
        assert!(
            f.summary
                .contains("Range 90 % of 100 gRPC calls/s, 50.0 MiB/s"),
            "{}",
            f.summary
        );
        // Too few ranges in the window: not judged.
        assert_eq!(
            expensive_requests(None, Some(&c), &RequestThresholds::default(), 500),
            None
        );
    }
}
