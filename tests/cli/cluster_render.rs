//! Snapshot tests of how a cluster report looks: the field guide's failed
//! rejoin (three kubeadm members, one reset and unreachable) as etcdctl's
//! status table, the member list and the findings with their commands; and
//! a metrics table with window and since-start spans. Fixed models only.

use etcd_doctor::cluster::facts::ClusterFacts;
use etcd_doctor::cluster::model::{
    ClusterReport, Connection, EndpointStatus, HistogramPercentiles, Member, MemberMetrics, Span,
};
use etcd_doctor::facts::Report;
use etcd_doctor::host::HostFacts;
use etcd_doctor::report::{render, Format};
use etcd_doctor::rules::Profile;

const PKI: &str = "/etc/kubernetes/pki/etcd";

fn row(ip: &str, id: &str, leader: bool) -> EndpointStatus {
    EndpointStatus {
        endpoint: format!("https://{ip}:2379"),
        id: Some(id.into()),
        version: Some("3.5.6".into()),
        db_size_bytes: Some(26_000_000),
        db_size_in_use_bytes: Some(25_100_000),
        is_leader: Some(leader),
        is_learner: Some(false),
        raft_term: Some(5),
        raft_index: Some(7_681_619),
        raft_applied_index: Some(7_681_619),
        revision: Some(6_120_001),
        storage_version: None,
        db_size_quota_bytes: None,
        downgrade: None,
        errors: vec![],
        permission_denied: false,
    }
}

fn member(ip: &str, id: &str, name: &str) -> Member {
    Member {
        id: id.into(),
        status: etcd_doctor::member::MemberStatus::Started,
        name: name.into(),
        peer_urls: vec![format!("https://{ip}:2380")],
        client_urls: vec![format!("https://{ip}:2379")],
        is_learner: false,
    }
}

fn host() -> HostFacts {
    HostFacts {
        hostname: "k8s-master01".into(),
        kernel: "4.20.13-1.el7.elrepo.x86_64".into(),
        cpus: 8,
        ..HostFacts::default()
    }
}

/// The guide's cluster after k8s-master03 was reset: still listed, dead.
fn failed_rejoin() -> Report {
    let mut dead = EndpointStatus {
        endpoint: "https://192.168.20.87:2379".into(),
        ..EndpointStatus::default()
    };
    dead.errors = vec!["no connection within the dial timeout (2s)".into()];
    let endpoints = vec![
        row("192.168.20.85", "63607c0f73ed60dd", false),
        row("192.168.20.86", "ad45a8944d9cf673", true),
        dead,
    ];
    let members = vec![
        member("192.168.20.87", "500d007f149125c3", "k8s-master03"),
        member("192.168.20.85", "63607c0f73ed60dd", "k8s-master01"),
        member("192.168.20.86", "ad45a8944d9cf673", "k8s-master02"),
    ];
    let cluster = ClusterReport {
        connection: Connection {
            endpoints: endpoints.iter().map(|e| e.endpoint.clone()).collect(),
            cacert: Some(format!("{PKI}/ca.crt")),
            cert: Some(format!("{PKI}/healthcheck-client.crt")),
            key: Some(format!("{PKI}/healthcheck-client.key")),
            insecure_skip_tls_verify: false,
        },
        facts: ClusterFacts::derive(&endpoints, &[], &members, &[]),
        endpoints,
        members,
        answered: true,
        ..ClusterReport::default()
    };
    let mut report = Report::new("cluster status", host());
    report.tool_version = "0.0.0-test".into();
    report.cluster = Some(cluster);
    report.judge(&Profile::default());
    report
}

fn pct(p50_ms: f64, p99_ms: f64, span: Span) -> Option<HistogramPercentiles> {
    Some(HistogramPercentiles {
        count: 240,
        span,
        p50_ms,
        p90_ms: (p50_ms + p99_ms) / 2.0,
        p99_ms,
        second_slowest_over_ms: None,
    })
}

/// Two members' metrics: one with a slow disk over a 2 s window, one read once.
fn metrics() -> Report {
    let slow = MemberMetrics {
        url: "https://192.168.20.85:2379/metrics".into(),
        member_id: Some("63607c0f73ed60dd".into()),
        wal_fsync: pct(4.1, 38.5, Span::Window),
        backend_commit: pct(9.0, 61.0, Span::Window),
        peer_rtt: pct(0.4, 1.2, Span::SinceStart),
        leader_changes_total: Some(3.0),
        leader_changes_in_window: Some(0.0),
        proposals_failed_total: Some(2.0),
        proposals_failed_per_s: Some(0.0),
        proposals_pending: Some(0.0),
        slow_applies_total: Some(14.0),
        slow_applies_per_s: Some(0.5),
        db_size_bytes: Some(26_000_000.0),
        quota_bytes: Some(2_147_483_648.0),
        window_s: 2.0,
        ..MemberMetrics::default()
    };
    let unreachable = MemberMetrics {
        url: "https://192.168.20.87:2379/metrics".into(),
        member_id: Some("500d007f149125c3".into()),
        error: Some("no connection within the dial timeout (2s)".into()),
        ..MemberMetrics::default()
    };
    let cluster = ClusterReport {
        metrics: vec![slow, unreachable],
        answered: true,
        ..ClusterReport::default()
    };
    let mut report = Report::new("cluster metrics", host());
    report.tool_version = "0.0.0-test".into();
    report.cluster = Some(cluster);
    report.judge(&Profile::default());
    report
}

fn rendered(report: &Report, format: Format) -> String {
    let mut out = Vec::new();
    render(report, format, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn failed_rejoin_status_as_table() {
    insta::assert_snapshot!(rendered(&failed_rejoin(), Format::Table));
}

#[test]
fn failed_rejoin_status_as_markdown() {
    insta::assert_snapshot!(rendered(&failed_rejoin(), Format::Markdown));
}

#[test]
fn metrics_as_table() {
    insta::assert_snapshot!(rendered(&metrics(), Format::Table));
}
