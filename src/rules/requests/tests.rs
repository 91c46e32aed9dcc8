//! `cluster.expensive-requests` on made-up tallies: storms by count and by
//! time, counting, waits on the disk, 3.6's range latency.

use super::*;
use crate::cluster::model::{HistogramPercentiles, MemberMetrics, MethodRate};
use crate::logs::request::RequestLine;

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

/// `l` with one `slow fdatasync` line that `took`.
fn with_slow_sync(l: &mut LogsReport, took: &str) {
    let line = format!(
        r#"{{"level":"warn","ts":"2024-03-01T12:00:00Z","msg":"slow fdatasync","took":"{took}"}}"#
    );
    let mut t = crate::logs::Timeline::default();
    t.add(
        0,
        crate::logs::zap::parse(&line).unwrap().event.unwrap(),
        &line,
    );
    l.events = t.finish().0;
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
    with_slow_sync(&mut l, "1.5s");
    let f = expensive_requests(Some(&l), None, &RequestThresholds::default(), 20).unwrap();
    assert_eq!(f.severity, Severity::Info);
    assert!(f.summary.contains("waited on the disk"));
}

/// The list-storm row on a host at load 29: six LISTs got through,
/// 21.2 s together, worst 4.55 s; under the count's warn, over the time's.
#[test]
fn a_few_long_lists_weigh_as_much_as_many_short_ones() {
    let mut g = group(
        RequestShape::UnpaginatedRange,
        "/registry/pods/",
        6,
        21_200.0,
        6 * 21_300_000,
    );
    g.worst_ms = 4_550.0;
    let l = logs(vec![g]);
    let f = expensive_requests(Some(&l), None, &RequestThresholds::default(), 20).unwrap();
    assert_eq!(f.severity, Severity::Warn);
    assert!(
        f.summary.contains(
            "6 unpaginated range (LIST without limit) of /registry/pods/ (100 % of \
             slow-request time, worst 4550 ms"
        ),
        "{}",
        f.summary
    );
    assert!(f
        .summary
        .contains("6 slow wide read(s) took 21.2 s together"));
    assert!(f
        .evidence
        .iter()
        .any(|e| e.metric.starts_with("time the slow wide reads") && e.observed == 21_200.0));
    // Past the fail time, fail.
    let l = logs(vec![group(
        RequestShape::UnpaginatedRange,
        "/registry/pods/",
        8,
        40_000.0,
        0,
    )]);
    let f = expensive_requests(Some(&l), None, &RequestThresholds::default(), 20).unwrap();
    assert_eq!(f.severity, Severity::Fail);
    // A few short ones, under both: nothing.
    let l = logs(vec![group(
        RequestShape::UnpaginatedRange,
        "/registry/pods/",
        6,
        1_500.0,
        0,
    )]);
    assert_eq!(
        expensive_requests(Some(&l), None, &RequestThresholds::default(), 20),
        None
    );
}

/// One slow fdatasync line beside reads that took far longer than it:
/// the reads did work of their own.
#[test]
fn reads_much_longer_than_any_sync_are_not_explained_by_it() {
    let mut l = logs(vec![group(
        RequestShape::UnpaginatedRange,
        "/registry/pods/",
        6,
        21_000.0,
        0,
    )]);
    with_slow_sync(&mut l, "1.1s");
    let f = expensive_requests(Some(&l), None, &RequestThresholds::default(), 20).unwrap();
    assert_eq!(f.severity, Severity::Warn, "{}", f.summary);
    assert!(!f.summary.contains("waited on the disk"));
}

#[test]
fn a_count_only_storm_is_told_as_counting_with_its_own_fix() {
    let l = logs(vec![
        group(RequestShape::CountOnly, "/registry/events/", 40, 9_000.0, 0),
        group(
            RequestShape::UnpaginatedRange,
            "/registry/pods/",
            2,
            400.0,
            0,
        ),
    ]);
    let f = expensive_requests(Some(&l), None, &RequestThresholds::default(), 20).unwrap();
    assert_eq!(f.severity, Severity::Warn);
    assert!(
        f.summary
            .contains("40 count-only range of /registry/events/ (96 % of"),
        "{}",
        f.summary
    );
    assert!(f
        .summary
        .contains("count-only ranges: etcd walks every key"));
    assert!(
        f.recommendation
            .starts_with("Count-only ranges walk every key"),
        "{}",
        f.recommendation
    );
    assert!(f.recommendation.contains("--etcd-count-metric-poll-period"));
    // LISTs took most of the time: the LIST fix alone.
    let l = logs(vec![
        group(RequestShape::CountOnly, "/registry/events/", 4, 900.0, 0),
        group(
            RequestShape::UnpaginatedRange,
            "/registry/pods/",
            20,
            9_000.0,
            0,
        ),
    ]);
    let f = expensive_requests(Some(&l), None, &RequestThresholds::default(), 20).unwrap();
    assert!(!f.summary.contains("count-only ranges: etcd walks"));
    assert!(f.recommendation.starts_with("Reads that walk"));
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
                second_slowest_over_ms: None,
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
