//! The cluster rules over fixed reports: each finding fires at its
//! threshold and not below it, carries the evidence and the etcdctl
//! commands with the report's connection flags, and the thresholds load
//! from TOML with unknown keys refused.

use etcd_doctor::cluster::facts::{ClusterFacts, DbUsage, ListedMember, QuotaSource, RaftLag};
use etcd_doctor::cluster::model::{
    Alarm, ClusterReport, Connection, EndpointHealth, EndpointStatus, HistogramPercentiles,
    MemberMetrics, PeerRtt, Span,
};
use etcd_doctor::rules::cluster::{evaluate, ClusterThresholds};
use etcd_doctor::rules::{Finding, FindingId, Severity, Unit};

const EP: &str = "https://10.0.0.1:2379";

fn base() -> ClusterReport {
    ClusterReport {
        connection: Connection {
            endpoints: vec![EP.into()],
            cacert: Some("/pki/ca.crt".into()),
            cert: Some("/pki/c.crt".into()),
            key: Some("/pki/c.key".into()),
            insecure_skip_tls_verify: false,
        },
        endpoints: vec![EndpointStatus {
            endpoint: EP.into(),
            id: Some("aaaaaaaaaaaaaaaa".into()),
            revision: Some(4242),
            ..EndpointStatus::default()
        }],
        answered: true,
        ..ClusterReport::default()
    }
}

fn with_facts(facts: ClusterFacts) -> ClusterReport {
    ClusterReport { facts, ..base() }
}

fn run(report: &ClusterReport) -> Vec<Finding> {
    evaluate(report, &ClusterThresholds::default())
}

fn only(findings: &[Finding], id: FindingId) -> &Finding {
    let matching: Vec<&Finding> = findings.iter().filter(|f| f.id == id).collect();
    assert_eq!(matching.len(), 1, "{findings:#?}");
    matching[0]
}

const FLAGS: &str =
    "--endpoints=https://10.0.0.1:2379 --cacert=/pki/ca.crt --cert=/pki/c.crt --key=/pki/c.key";

fn lag(entries: u64) -> ClusterReport {
    with_facts(ClusterFacts {
        raft_lag: vec![RaftLag {
            endpoint: EP.into(),
            member_id: "bbbbbbbbbbbbbbbb".into(),
            raft_index: 10_000 - entries,
            leader_raft_index: 10_000,
            lag_entries: entries,
            apply_gap_entries: 0,
        }],
        ..ClusterFacts::default()
    })
}

#[test]
fn raft_lag_warns_then_fails() {
    assert!(run(&lag(999)).is_empty());
    assert_eq!(
        only(&run(&lag(1000)), FindingId::ClusterRaftLag).severity,
        Severity::Warn
    );
    let f = run(&lag(5000));
    let f = only(&f, FindingId::ClusterRaftLag);
    assert_eq!(f.severity, Severity::Fail);
    assert_eq!(f.evidence[0].observed, 5000.0);
    assert_eq!(f.evidence[0].unit, Unit::Entries);
}

fn db(size: u64, in_use: u64, quota: u64, quota_from: QuotaSource) -> ClusterReport {
    with_facts(ClusterFacts {
        db: vec![DbUsage {
            endpoint: EP.into(),
            member_id: "aaaaaaaaaaaaaaaa".into(),
            db_size_bytes: size,
            db_size_in_use_bytes: in_use,
            in_use_ratio: in_use as f64 / size as f64,
            quota_bytes: quota,
            quota_from,
            quota_used_ratio: size as f64 / quota as f64,
        }],
        ..ClusterFacts::default()
    })
}

const MIB: u64 = 1024 * 1024;
const GIB: u64 = 1024 * MIB;

#[test]
fn fragmentation_needs_a_low_ratio_and_a_real_size() {
    // 40 % in use but only 40 MiB: not worth a defrag.
    assert!(run(&db(100 * MIB, 40 * MIB, 8 * GIB, QuotaSource::Metrics)).is_empty());
    assert!(run(&db(400 * MIB, 210 * MIB, 8 * GIB, QuotaSource::Metrics)).is_empty());
    let f = run(&db(400 * MIB, 150 * MIB, 8 * GIB, QuotaSource::Metrics));
    let f = only(&f, FindingId::ClusterDbFragmented);
    assert_eq!(f.severity, Severity::Warn);
    assert_eq!(
        f.commands,
        vec![
            format!("etcdctl {FLAGS} defrag"),
            format!("etcdctl {FLAGS} endpoint health")
        ]
    );
}

#[test]
fn fragmentation_is_judged_by_what_a_defrag_returns() {
    // 3 GiB file, 4 MiB in use: the mixin's in-use floor never fires, but
    // a defrag returns almost everything.
    let f = run(&db(3 * GIB, 4 * MIB, 8 * GIB, QuotaSource::Metrics));
    let f = only(&f, FindingId::ClusterDbFragmented);
    assert!(
        f.summary.contains("a defrag would return 3068 MiB"),
        "{}",
        f.summary
    );
    assert_eq!(f.evidence[0].observed, 3068.0);
    // 60 % in use, but the free 600 MiB are over a quarter of a 2 GiB quota.
    let f = run(&db(1500 * MIB, 900 * MIB, 2 * GIB, QuotaSource::Metrics));
    assert!(
        f.iter().any(|f| f.id == FindingId::ClusterDbFragmented),
        "{f:#?}"
    );
    // Small and sparse: 90 MiB reclaimable is under the floor.
    assert!(run(&db(100 * MIB, 10 * MIB, 8 * GIB, QuotaSource::Metrics)).is_empty());
}

#[test]
fn near_quota_warns_at_80_and_fails_at_95_percent() {
    assert!(run(&db(GIB, GIB, 2 * GIB, QuotaSource::Metrics)).is_empty());
    let warn = run(&db(
        17 * GIB / 10,
        17 * GIB / 10,
        2 * GIB,
        QuotaSource::EtcdDefault,
    ));
    let warn = only(&warn, FindingId::ClusterDbNearQuota);
    assert_eq!(warn.severity, Severity::Warn);
    assert!(
        warn.summary.contains("etcd's default 2 GiB assumed"),
        "{}",
        warn.summary
    );
    let fail = run(&db(1950 * MIB, 1950 * MIB, 2 * GIB, QuotaSource::Metrics));
    let fail = only(&fail, FindingId::ClusterDbNearQuota);
    assert_eq!(fail.severity, Severity::Fail);
    assert_eq!(
        fail.commands,
        vec![
            format!("etcdctl {FLAGS} compact 4242"),
            format!("etcdctl {FLAGS} defrag --cluster"),
        ]
    );
}

#[test]
fn alarms_fail_with_their_recovery() {
    let mut report = base();
    report.alarms = vec![
        Alarm {
            member_id: "aaaaaaaaaaaaaaaa".into(),
            alarm: "NOSPACE".into(),
        },
        Alarm {
            member_id: "bbbbbbbbbbbbbbbb".into(),
            alarm: "CORRUPT".into(),
        },
    ];
    let findings = run(&report);
    assert_eq!(findings.len(), 2);
    let nospace = &findings[0];
    assert_eq!(nospace.id, FindingId::ClusterAlarmActive);
    assert_eq!(nospace.severity, Severity::Fail);
    assert_eq!(
        nospace.commands.last().unwrap(),
        &format!("etcdctl {FLAGS} alarm disarm")
    );
    assert!(nospace.commands[0].ends_with("compact 4242"));
    let corrupt = &findings[1];
    assert!(corrupt.summary.contains("CORRUPT"));
    assert!(
        !corrupt.commands.iter().any(|c| c.contains("disarm")),
        "never disarm CORRUPT"
    );
    assert_eq!(
        corrupt.commands,
        vec![format!(
            "etcdctl {FLAGS} endpoint hashkv --cluster -w table"
        )]
    );
}

#[test]
fn unstarted_members_are_stale_with_their_remove_command() {
    let report = with_facts(ClusterFacts {
        unstarted: vec![ListedMember {
            member_id: "cccccccccccccccc".into(),
            name: String::new(),
            peer_urls: vec!["https://10.0.0.3:2380".into()],
        }],
        ..ClusterFacts::default()
    });
    let f = run(&report);
    let f = only(&f, FindingId::ClusterStaleMember);
    assert_eq!(f.severity, Severity::Fail);
    assert_eq!(
        f.commands,
        vec![format!("etcdctl {FLAGS} member remove cccccccccccccccc")]
    );
}

#[test]
fn commands_name_each_answering_endpoint_once() {
    // Two members answered status and health (listed twice in the report);
    // a third is listed but unstarted.
    let second = "https://10.0.0.2:2379";
    let mut report = with_facts(ClusterFacts {
        unstarted: vec![ListedMember {
            member_id: "cccccccccccccccc".into(),
            name: String::new(),
            peer_urls: vec!["https://10.0.0.3:2380".into()],
        }],
        ..ClusterFacts::default()
    });
    report.endpoints.push(EndpointStatus {
        endpoint: second.into(),
        id: Some("bbbbbbbbbbbbbbbb".into()),
        ..EndpointStatus::default()
    });
    report.health = [EP, second]
        .into_iter()
        .map(|ep| EndpointHealth {
            endpoint: ep.into(),
            health: true,
            answered: true,
            ..EndpointHealth::default()
        })
        .collect();
    let f = run(&report);
    let f = only(&f, FindingId::ClusterStaleMember);
    assert!(
        f.commands[0].starts_with(&format!("etcdctl --endpoints={EP},{second} --cacert")),
        "{}",
        f.commands[0]
    );
}

fn churn(total: f64, uptime_s: f64, in_window: f64) -> ClusterReport {
    let mut report = base();
    report.metrics = vec![MemberMetrics {
        url: format!("{EP}/metrics"),
        leader_changes_total: Some(total),
        leader_changes_in_window: Some(in_window),
        uptime_s: Some(uptime_s),
        proposals_failed_total: Some(7.0),
        ..MemberMetrics::default()
    }];
    report
}

#[test]
fn leader_churn_is_a_rate_not_a_lifetime_total() {
    // The first election does not count; a young member counts as 15 min old.
    assert!(run(&churn(4.0, 60.0, 0.0)).is_empty());
    let f = run(&churn(5.0, 60.0, 0.0));
    assert_eq!(
        only(&f, FindingId::ClusterLeaderChurn).severity,
        Severity::Warn
    );
    // 100 changes over 30 days is calm.
    assert!(run(&churn(100.0, 30.0 * 86400.0, 0.0)).is_empty());
    // An election during the scrape window is reported whatever the rate.
    let f = run(&churn(100.0, 30.0 * 86400.0, 1.0));
    let f = only(&f, FindingId::ClusterLeaderChurn);
    assert!(f
        .evidence
        .iter()
        .any(|e| e.metric.contains("failed proposals") && e.observed == 7.0));
}

fn latency(count: u64, p99_ms: f64) -> Option<HistogramPercentiles> {
    Some(HistogramPercentiles {
        count,
        span: Span::Window,
        p50_ms: p99_ms / 4.0,
        p90_ms: p99_ms / 2.0,
        p99_ms,
        second_slowest_over_ms: None,
    })
}

#[test]
fn slow_disk_and_peer_metrics_follow_etcd_guidance() {
    let mut report = base();
    report.metrics = vec![MemberMetrics {
        url: format!("{EP}/metrics"),
        member_id: Some("aaaaaaaaaaaaaaaa".into()),
        wal_fsync: latency(500, 12.0),
        backend_commit: latency(500, 300.0),
        peer_rtt_by_peer: vec![
            PeerRtt {
                peer_id: "bbbbbbbbbbbbbbbb".into(),
                rtt: latency(50, 180.0).unwrap(),
            },
            PeerRtt {
                peer_id: "cccccccccccccccc".into(),
                rtt: latency(50, 2.0).unwrap(),
            },
        ],
        ..MemberMetrics::default()
    }];
    let findings = run(&report);
    assert_eq!(findings.len(), 3, "{findings:#?}");
    assert_eq!(findings[0].id, FindingId::ClusterMetricsBackendCommitSlow);
    assert_eq!(findings[0].severity, Severity::Fail, "most severe first");
    let wal = only(&findings, FindingId::ClusterMetricsWalFsyncSlow);
    assert_eq!(wal.severity, Severity::Warn);
    assert_eq!(wal.evidence[0].threshold, 10.0);
    let rtt = only(&findings, FindingId::ClusterMetricsPeerRttHigh);
    assert!(
        rtt.summary.contains("to bbbbbbbbbbbbbbbb"),
        "{}",
        rtt.summary
    );
    assert!(rtt.recommendation.contains("--heartbeat-interval"));
    // Since the member started: a past burst, reported as context only.
    let mut since_start = report.clone();
    since_start.metrics[0].wal_fsync = latency(500, 40.0).map(|h| HistogramPercentiles {
        span: Span::SinceStart,
        ..h
    });
    let f = run(&since_start);
    let wal = only(&f, FindingId::ClusterMetricsWalFsyncSlow);
    assert_eq!(wal.severity, Severity::Info);
    assert!(wal.summary.contains("context only"), "{}", wal.summary);
    // Too few observations: no verdict on a p99 that is one sample.
    report.metrics[0].wal_fsync = latency(5, 500.0);
    report.metrics[0].backend_commit = None;
    report.metrics[0].peer_rtt_by_peer.clear();
    assert!(run(&report).is_empty());
    // Enough observations, but one slow fsync alone makes the p99: an
    // event, not a slow WAL. A second slow one makes it a tail.
    let one_slow = |second_slowest_over_ms| HistogramPercentiles {
        second_slowest_over_ms: Some(second_slowest_over_ms),
        ..latency(66, 21.4).unwrap()
    };
    report.metrics[0].wal_fsync = Some(one_slow(8.0));
    assert!(run(&report).is_empty(), "{:#?}", run(&report));
    report.metrics[0].wal_fsync = Some(one_slow(16.0));
    let f = run(&report);
    let wal = only(&f, FindingId::ClusterMetricsWalFsyncSlow);
    assert_eq!(wal.severity, Severity::Warn);
    assert_eq!(wal.evidence[0].observed, 16.0);
    assert!(
        wal.summary.contains(
            "p99 21.4 ms over 66 observations (window); the second slowest took over 16.0 ms"
        ),
        "{}",
        wal.summary
    );
}

#[test]
fn thresholds_load_from_toml_and_refuse_unknown_keys() {
    let t: ClusterThresholds = toml::from_str("wal_fsync_p99_warn_ms = 5.0\n").unwrap();
    assert_eq!(t.wal_fsync_p99_warn_ms, 5.0);
    assert_eq!(
        t.backend_commit_p99_warn_ms, 25.0,
        "the rest keep etcd's guidance"
    );
    let e = toml::from_str::<ClusterThresholds>("wal_fsync_p99_ms = 5.0\n").unwrap_err();
    assert!(e.to_string().contains("unknown field"), "{e}");
}

/// etcd 3.6.0 to 3.6.11 refuse Status to a user without the root role
/// (server/etcdserver/api/v3rpc/maintenance.go `isPermitted`; 3.6.12 asks
/// only for a user). No binary of those releases is built here, so the
/// refusal is fed as etcd sends it, a gRPC PermissionDenied "etcdserver:
/// permission denied", through the same classification a live request
/// takes: every member answered health and is listed, so none is
/// unreachable or unhealthy, and each row names the missing role.
#[test]
fn status_refused_for_the_role_is_no_unhealthy_member() {
    use etcd_doctor::cluster::dial::explain;
    use etcd_doctor::cluster::error::RequestError;
    use etcd_doctor::cluster::model::Member;
    use etcd_doctor::cluster::tls::TlsRequest;
    use etcd_doctor::cluster::{ConnPlan, ConnRequest};
    use std::time::Duration;

    let plan = ConnPlan::new(ConnRequest {
        endpoints: vec!["http://10.0.0.1:2379".into()],
        tls: TlsRequest::default(),
        dial_timeout: Duration::from_secs(1),
        command_timeout: Duration::from_secs(1),
    })
    .unwrap();
    let eps = [
        "https://10.0.0.1:2379",
        "https://10.0.0.2:2379",
        "https://10.0.0.3:2379",
    ];
    let refused = etcd_client::Error::GRpcStatus(tonic::Status::permission_denied(
        "etcdserver: permission denied",
    ));
    let status: Vec<EndpointStatus> = eps
        .iter()
        .map(|ep| {
            let e = explain(&refused, &plan, "10.0.0.1");
            assert!(matches!(e, RequestError::PermissionDenied(_)), "{e:?}");
            EndpointStatus {
                endpoint: ep.to_string(),
                permission_denied: matches!(e, RequestError::PermissionDenied(_)),
                errors: vec![e.to_string()],
                ..EndpointStatus::default()
            }
        })
        .collect();
    let health: Vec<EndpointHealth> = eps
        .iter()
        .map(|ep| EndpointHealth {
            endpoint: ep.to_string(),
            health: true,
            answered: true,
            took_ms: 2.0,
            error: None,
        })
        .collect();
    let members: Vec<Member> = eps
        .iter()
        .enumerate()
        .map(|(i, ep)| Member {
            id: format!("{:016x}", i + 1).into(),
            status: etcd_doctor::member::MemberStatus::Started,
            name: format!("m{i}"),
            peer_urls: vec![ep.replace("2379", "2380")],
            client_urls: vec![ep.to_string()],
            is_learner: false,
        })
        .collect();
    let facts = ClusterFacts::derive(&status, &health, &members, &[]);
    assert!(facts.unreachable.is_empty(), "{:?}", facts.unreachable);
    for row in &status {
        assert!(row.errors[0].contains("lacks the root role"), "{row:?}");
    }
    let report = ClusterReport {
        endpoints: status,
        health,
        members,
        facts,
        ..base()
    };
    let findings = run(&report);
    assert!(
        findings
            .iter()
            .all(|f| f.id != FindingId::ClusterMemberUnreachable),
        "{findings:#?}"
    );
    assert!(
        findings.iter().all(|f| f.severity != Severity::Fail),
        "{findings:#?}"
    );
}
