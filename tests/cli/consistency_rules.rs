//! The consistency rules over fixed reports (the data-inconsistent rule runs
//! against real diverged members in cluster_consistency.rs): version skew
//! by minor and by patch release and by storage version, a learner whose gap
//! grows or stands still against one that closes it, a proposal queue at
//! each level, defragmentation ordered leader last with health checks, and
//! a healthy report that fires nothing.

use etcd_doctor::cluster::consistency::{Consistency, LearnerProgress};
use etcd_doctor::cluster::facts::{ClusterFacts, DbUsage, QuotaSource};
use etcd_doctor::cluster::model::{ClusterReport, Connection, EndpointStatus, MemberMetrics};
use etcd_doctor::rules::cluster::ClusterThresholds;
use etcd_doctor::rules::consistency::{evaluate, ConsistencyThresholds};
use etcd_doctor::rules::{Finding, FindingId, Profile, Severity};

fn status(n: u8, version: &str) -> EndpointStatus {
    EndpointStatus {
        endpoint: format!("http://10.0.0.{n}:2379"),
        id: Some(format!("{n:016x}").into()),
        version: Some(version.into()),
        is_leader: Some(n == 1),
        ..EndpointStatus::default()
    }
}

fn cluster(versions: &[&str]) -> ClusterReport {
    let endpoints: Vec<EndpointStatus> = versions
        .iter()
        .enumerate()
        .map(|(i, v)| status(i as u8 + 1, v))
        .collect();
    ClusterReport {
        connection: Connection {
            endpoints: endpoints.iter().map(|e| e.endpoint.clone()).collect(),
            ..Connection::default()
        },
        endpoints,
        answered: true,
        ..ClusterReport::default()
    }
}

fn run(report: &ClusterReport) -> Vec<Finding> {
    evaluate(report, &ConsistencyThresholds::default())
}

fn of(findings: &[Finding], id: FindingId) -> Vec<&Finding> {
    findings.iter().filter(|f| f.id == id).collect()
}

#[test]
fn a_healthy_cluster_fires_nothing() {
    let mut report = cluster(&["3.5.9", "3.5.9", "3.5.9"]);
    report.metrics = vec![MemberMetrics {
        proposals_pending: Some(0.0),
        ..MemberMetrics::default()
    }];
    report.consistency = Some(Consistency {
        learners: vec![learner(500, 20)],
        ..Consistency::default()
    });
    assert_eq!(run(&report), vec![]);
}

#[test]
fn version_skew_warns_across_minors_and_informs_across_patches() {
    let f = run(&cluster(&["3.5.9", "3.4.30", "3.5.9"]));
    let skew = of(&f, FindingId::ClusterVersionSkew);
    assert_eq!(skew.len(), 1);
    assert_eq!(skew[0].severity, Severity::Warn);
    assert!(
        skew[0].summary.contains("3.4.30 (0000000000000002)"),
        "{}",
        skew[0].summary
    );
    let f = run(&cluster(&["3.5.9", "3.5.1", "3.5.9"]));
    assert_eq!(
        of(&f, FindingId::ClusterVersionSkew)[0].severity,
        Severity::Info
    );
    let mut storage = cluster(&["3.6.0", "3.6.0"]);
    storage.endpoints[0].storage_version = Some("3.6.0".into());
    storage.endpoints[1].storage_version = Some("3.5.0".into());
    let f = run(&storage);
    assert!(of(&f, FindingId::ClusterVersionSkew)[0]
        .summary
        .contains("storage version"));
}

fn learner(first_gap: u64, second_gap: u64) -> LearnerProgress {
    LearnerProgress {
        endpoint: "http://10.0.0.4:2379".into(),
        member_id: "0000000000000004".into(),
        first_gap_entries: first_gap,
        second_gap_entries: second_gap,
        applied_index: 10_000 - second_gap,
        leader_applied_index: 10_000,
    }
}

#[test]
fn a_learner_is_stuck_when_its_gap_grows_or_stands_still_below_the_ready_bar() {
    for (first, second, stuck) in [
        (3000, 4000, true),  // falling further behind
        (3000, 3000, true),  // not moving while the leader idles
        (3000, 1500, false), // catching up
        (500, 900, false),   // behind but within 90 % of the leader
    ] {
        let mut report = cluster(&["3.5.9", "3.5.9"]);
        report.consistency = Some(Consistency {
            learners: vec![learner(first, second)],
            ..Consistency::default()
        });
        let f = run(&report);
        let found = of(&f, FindingId::ClusterLearnerStuck);
        assert_eq!(
            found.len(),
            usize::from(stuck),
            "{first} -> {second}: {f:#?}"
        );
        if stuck {
            assert!(found[0].commands[1].ends_with("member remove 0000000000000004"));
        }
    }
}

#[test]
fn pending_proposals_warn_then_fail() {
    for (pending, severity) in [
        (99.0, None),
        (150.0, Some(Severity::Warn)),
        (6000.0, Some(Severity::Fail)),
    ] {
        let mut report = cluster(&["3.5.9"]);
        report.metrics = vec![MemberMetrics {
            member_id: Some("0000000000000001".into()),
            proposals_pending: Some(pending),
            ..MemberMetrics::default()
        }];
        let f = run(&report);
        let found = of(&f, FindingId::ClusterProposalsPending);
        assert_eq!(found.first().map(|f| f.severity), severity, "{pending}");
    }
}

fn fragmented(n: u8) -> DbUsage {
    DbUsage {
        endpoint: format!("http://10.0.0.{n}:2379"),
        member_id: format!("{n:016x}").into(),
        db_size_bytes: 4 << 30,
        db_size_in_use_bytes: 1 << 30,
        in_use_ratio: 0.25,
        quota_bytes: 8 << 30,
        quota_from: QuotaSource::Metrics,
        quota_used_ratio: 0.5,
    }
}

#[test]
fn defragmentation_goes_one_member_at_a_time_leader_last() {
    let mut report = cluster(&["3.5.9", "3.5.9", "3.5.9"]);
    report.facts = ClusterFacts {
        leader_id: Some(format!("{:016x}", 1).into()),
        db: vec![fragmented(1), fragmented(2), fragmented(3)],
        ..ClusterFacts::default()
    };
    let f = etcd_doctor::rules::cluster::evaluate(&report, &ClusterThresholds::default());
    let defrag = of(&f, FindingId::ClusterDbFragmented);
    assert_eq!(defrag.len(), 3);
    let expected: Vec<String> = [2, 3, 1]
        .iter()
        .flat_map(|n| {
            [
                format!("etcdctl --endpoints=http://10.0.0.{n}:2379 defrag"),
                format!("etcdctl --endpoints=http://10.0.0.{n}:2379 endpoint health"),
            ]
        })
        .collect();
    assert_eq!(defrag[0].commands, expected);
}

#[test]
fn consistency_thresholds_load_from_profiles_and_are_checked() {
    let p = Profile::parse(
        "name = \"x\"\n[consistency]\nproposals_pending_warn = 10.0\n",
        "x",
    )
    .unwrap();
    assert_eq!(p.consistency.proposals_pending_warn, 10.0);
    let e = Profile::parse(
        "name = \"x\"\n[consistency]\nlearner_ready_ratio = 2.0\n",
        "x",
    )
    .unwrap_err();
    assert!(
        e.to_string().contains("consistency.learner_ready_ratio"),
        "{e}"
    );
    let e = Profile::parse(
        "name = \"x\"\n[consistency]\nproposals_pending_warn = 9000.0\n",
        "x",
    )
    .unwrap_err();
    assert!(
        e.to_string().contains("consistency.proposals_pending_warn"),
        "{e}"
    );
}
