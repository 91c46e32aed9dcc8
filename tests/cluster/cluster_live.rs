//! `cluster status|members|health` against real three-member clusters of
//! etcd 3.4, 3.5, 3.6 and 3.7: ids, leader, term and indexes (and 3.6's
//! storage version, quota and downgrade state) agree with etcdctl's
//! JSON for the same cluster; the library's `inspect` reads every view at
//! once; a killed member and a peer that accepts TCP
//! but never answers are rows with errors while the others stay correct,
//! and the command returns within its timeouts.

use std::collections::BTreeMap;
use std::net::TcpListener;
use std::process::Output;
use std::time::{Duration, Instant};

use crate::support::doctor::{doctor, exits, report};
use crate::support::etcd::{Cluster, Version};
use etcd_doctor::cluster::facts::QuotaSource;
use etcd_doctor::cluster::tls::TlsRequest;
use etcd_doctor::cluster::{inspect, ConnPlan, ConnRequest, InspectPlan};
use etcd_doctor::findings::FindingId;
use etcd_doctor::rules::cluster::{evaluate, ClusterThresholds};
use serde_json::Value;

/// etcdctl's JSON (ours goes through `support::doctor::report`).
fn json(out: &Output) -> Value {
    serde_json::from_slice(&out.stdout).unwrap()
}

/// etcdctl prints ids in decimal in JSON; ours are 16 hex digits.
fn hex(id: &Value) -> String {
    format!("{:016x}", id.as_u64().expect("numeric id"))
}

/// etcdctl's endpoint status JSON as endpoint -> (id, leader?, term, index, applied, version).
type Row = (String, bool, u64, u64, u64, String);

fn etcdctl_status(c: &Cluster) -> BTreeMap<String, Row> {
    let out = c.etcdctl(&["endpoint", "status", "--cluster", "-w", "json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    json(&out)
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let s = &e["Status"];
            let id = &s["header"]["member_id"];
            let n = |k: &str| s[k].as_u64().unwrap_or(0);
            (
                e["Endpoint"].as_str().unwrap().to_string(),
                (
                    hex(id),
                    s["leader"] == *id,
                    n("raftTerm"),
                    n("raftIndex"),
                    n("raftAppliedIndex"),
                    s["version"].as_str().unwrap().to_string(),
                ),
            )
        })
        .collect()
}

fn our_status(c: &Cluster) -> BTreeMap<String, Row> {
    let ep = c.members[0].client_url();
    report(
        doctor("cluster status --cluster -w json --endpoints").arg(ep),
        0,
    )["cluster"]["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let n = |k: &str| e[k].as_u64().unwrap();
            (
                e["endpoint"].as_str().unwrap().to_string(),
                (
                    e["id"].as_str().unwrap().to_string(),
                    e["is_leader"].as_bool().unwrap(),
                    n("raft_term"),
                    n("raft_index"),
                    n("raft_applied_index"),
                    e["version"].as_str().unwrap().to_string(),
                ),
            )
        })
        .collect()
}

/// Ours read between two identical etcdctl reads (an idle cluster settles
/// within seconds of starting).
fn status_agrees(c: &Cluster) {
    for _ in 0..20 {
        let before = etcdctl_status(c);
        let ours = our_status(c);
        if etcdctl_status(c) == before {
            assert_eq!(ours, before, "etcd-doctor vs etcdctl endpoint status");
            assert_eq!(ours.len(), 3);
            assert_eq!(ours.values().filter(|r| r.1).count(), 1, "one leader");
            return;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    panic!("the cluster never held still for a comparison");
}

fn members_agree(c: &Cluster) {
    let theirs = json(&c.etcdctl(&["member", "list", "-w", "json"]));
    let mut theirs: Vec<(String, String, String, String)> = theirs["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                hex(&m["ID"]),
                m["name"].as_str().unwrap().to_string(),
                m["peerURLs"].to_string(),
                m["clientURLs"].to_string(),
            )
        })
        .collect();
    let out = report(
        doctor("cluster members -w json --endpoints").arg(c.endpoints()),
        0,
    );
    let mut ours: Vec<(String, String, String, String)> = out["cluster"]["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            assert_eq!(m["status"], "started");
            assert_eq!(m["is_learner"], false);
            (
                m["id"].as_str().unwrap().to_string(),
                m["name"].as_str().unwrap().to_string(),
                m["peer_urls"].to_string(),
                m["client_urls"].to_string(),
            )
        })
        .collect();
    theirs.sort();
    ours.sort();
    assert_eq!(ours, theirs, "etcd-doctor vs etcdctl member list");
}

fn health_agrees(c: &Cluster) {
    let theirs = json(&c.etcdctl(&["endpoint", "health", "--cluster", "-w", "json"]));
    let mut theirs: Vec<(String, bool)> = theirs
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["endpoint"].as_str().unwrap().to_string(),
                h["health"].as_bool().unwrap(),
            )
        })
        .collect();
    let ep = c.members[1].client_url();
    let report = report(
        doctor("cluster health --cluster -w json --endpoints").arg(ep),
        0,
    );
    let mut ours: Vec<(String, bool)> = report["cluster"]["health"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            let took = h["took_ms"].as_f64().unwrap();
            assert!(took > 0.0 && took < 5000.0, "took {took} ms");
            (
                h["endpoint"].as_str().unwrap().to_string(),
                h["health"].as_bool().unwrap(),
            )
        })
        .collect();
    theirs.sort();
    ours.sort();
    assert_eq!(ours, theirs, "etcd-doctor vs etcdctl endpoint health");
    assert_eq!(report["verdict"], "pass");
}

/// The library entry point `diagnose` calls: every view at once.
fn inspect_reads_everything(c: &Cluster) {
    let plan = ConnPlan::new(ConnRequest {
        endpoints: vec![c.members[0].client_url()],
        tls: TlsRequest::default(),
        dial_timeout: Duration::from_secs(2),
        command_timeout: Duration::from_secs(5),
    })
    .unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let report = runtime.block_on(inspect(&plan, &InspectPlan::everything(Duration::ZERO)));
    assert!(report.answered);
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    assert_eq!(report.endpoints.len(), 3);
    assert_eq!(report.members.len(), 3);
    assert!(
        report.health.iter().all(|h| h.health),
        "{:?}",
        report.health
    );
    assert_eq!(report.metrics.len(), 3);
    assert!(report.alarms.is_empty());
    let facts = &report.facts;
    assert!(facts.leader_id.is_some());
    assert_eq!(facts.raft_lag.len(), 3);
    assert!(
        facts.raft_lag.iter().all(|l| l.lag_entries < 10),
        "{:?}",
        facts.raft_lag
    );
    assert_eq!(facts.db.len(), 3);
    assert!(facts
        .db
        .iter()
        .all(|d| d.quota_from == QuotaSource::Metrics));
    assert!(
        facts.unreachable.is_empty()
            && facts.unstarted.is_empty()
            && facts.id_mismatches.is_empty()
    );
    // A fresh cluster has nothing wrong with it; only the latency rules
    // may fire, because they measure this machine's disk and CPU, which a
    // busy CI host can make slow for real (WAL fsync p99 over 10 ms).
    let machine_bound = [
        FindingId::ClusterMetricsWalFsyncSlow,
        FindingId::ClusterMetricsBackendCommitSlow,
        FindingId::ClusterMetricsPeerRttHigh,
    ];
    let findings = evaluate(&report, &ClusterThresholds::default());
    for f in &findings {
        assert!(machine_bound.contains(&f.id), "{f:?}");
        assert!(f.evidence.iter().all(|e| e.observed > e.threshold), "{f:?}");
    }
}

#[test]
fn etcd35_status_members_health_match_etcdctl() {
    let c = Cluster::start(Version::V35, 3);
    status_agrees(&c);
    members_agree(&c);
    health_agrees(&c);
    inspect_reads_everything(&c);
}

/// 3.6's new Status fields per endpoint: (etcd-doctor's, etcdctl's).
fn new_status_fields(c: &Cluster) -> (NewFields, NewFields) {
    let out = c.etcdctl(&["endpoint", "status", "--cluster", "-w", "json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let theirs: NewFields = json(&out)
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let s = &e["Status"];
            (
                e["Endpoint"].as_str().unwrap().to_string(),
                (
                    // Absent until the new cluster sets it (proto3 JSON
                    // omits empty fields); the caller waits for it.
                    s["storageVersion"].as_str().unwrap_or_default().to_string(),
                    s["dbSizeQuota"].as_u64().unwrap_or(0),
                    s["downgradeInfo"]["enabled"].as_bool().unwrap_or(false),
                    s["downgradeInfo"]["targetVersion"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                ),
            )
        })
        .collect();
    let ep = c.members[0].client_url();
    let report = report(
        doctor("cluster status --cluster -w json --endpoints").arg(&ep),
        0,
    );
    let ours: NewFields = report["cluster"]["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["endpoint"].as_str().unwrap().to_string(),
                (
                    e["storage_version"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                    e["db_size_quota_bytes"].as_u64().unwrap(),
                    e["downgrade"]["enabled"].as_bool().unwrap(),
                    e["downgrade"]["target_version"]
                        .as_str()
                        .unwrap_or_default()
                        .to_string(),
                ),
            )
        })
        .collect();
    (ours, theirs)
}

/// Endpoint -> (storage version, quota, downgrade enabled, target).
type NewFields = BTreeMap<String, (String, u64, bool, String)>;

/// etcd 3.6's new Status fields agree with the same version's etcdctl
/// (its STORAGE VERSION, QUOTA and DOWNGRADE columns), per endpoint, once
/// the storage version is set (a moment after a new cluster elects).
fn new_status_fields_agree(c: &Cluster) {
    let storage = format!("{}.0", c.version.minor());
    let set = |f: &NewFields| f.values().all(|v| v.0 == storage);
    let (mut ours, mut theirs) = new_status_fields(c);
    for _ in 0..40 {
        if ours == theirs && set(&ours) {
            break;
        }
        std::thread::sleep(Duration::from_millis(250));
        (ours, theirs) = new_status_fields(c);
    }
    assert_eq!(ours, theirs, "etcd-doctor vs etcdctl: 3.6's status fields");
    assert!(
        ours.values()
            .all(|v| v.0 == storage && v.1 == 2 << 30 && !v.2),
        "{ours:?}"
    );
    // The table shows them as etcdctl 3.6's does.
    let table = doctor("cluster status --cluster --endpoints")
        .arg(c.members[0].client_url())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&table.stdout);
    assert!(
        text.contains("STORAGE VERSION") && text.contains("QUOTA"),
        "{text}"
    );
    assert!(text.contains(&storage) && text.contains("2.1 GB"), "{text}");
}

/// On the binary's shared 3.6 cluster.
#[test]
fn etcd36_status_members_health_match_etcdctl() {
    let Some(c) = crate::support::shared::etcd36("etcd36_status_members_health_match_etcdctl")
    else {
        return;
    };
    status_agrees(&c);
    new_status_fields_agree(&c);
    members_agree(&c);
    health_agrees(&c);
    inspect_reads_everything(&c);
}

#[test]
fn etcd37_status_members_health_match_etcdctl() {
    let Some(c) = Cluster::start_if(
        Version::V37,
        3,
        "etcd37_status_members_health_match_etcdctl",
    ) else {
        return;
    };
    status_agrees(&c);
    new_status_fields_agree(&c);
    health_agrees(&c);
}

#[test]
fn etcd34_status_members_health_match_etcdctl() {
    let c = Cluster::start(Version::V34, 3);
    status_agrees(&c);
    members_agree(&c);
    health_agrees(&c);
}

#[test]
fn dead_and_silent_members_are_rows_with_errors_within_the_timeouts() {
    let mut c = Cluster::start(Version::V35, 3);
    let ids = etcdctl_status(&c);
    let dead = c.members[2].client_url();
    c.kill(2);
    // Accepts TCP (the kernel's backlog) but never speaks: only the timeouts end it.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let silent_url = format!("http://{}", silent.local_addr().unwrap());
    let endpoints = format!(
        "{},{},{dead},{silent_url}",
        c.members[0].client_url(),
        c.members[1].client_url()
    );
    let start = Instant::now();
    let args = "cluster status -w json --dial-timeout 1s --command-timeout 2s --endpoints";
    // The dead member is listed and does not answer: a failing finding, exit 1.
    let report = report(doctor(args).arg(&endpoints), 1);
    let took = start.elapsed();
    assert!(
        took < Duration::from_secs(8),
        "took {took:?}, bound is dial + command timeouts + start-up"
    );
    let rows = report["cluster"]["endpoints"].as_array().unwrap();
    assert_eq!(rows.len(), 4);
    for row in &rows[..2] {
        let ep = row["endpoint"].as_str().unwrap();
        assert_eq!(row["id"].as_str().unwrap(), ids[ep].0, "{ep}");
        assert_eq!(row["errors"].as_array().unwrap().len(), 0, "{row}");
    }
    let dead_row = &rows[2];
    assert!(dead_row["id"].is_null());
    let err = dead_row["errors"][0].as_str().unwrap();
    assert!(err.contains("refused"), "{err}");
    let silent_row = &rows[3];
    assert!(silent_row["id"].is_null());
    assert!(!silent_row["errors"][0].as_str().unwrap().is_empty());
    let finding = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "cluster.member-unreachable")
        .expect("member-unreachable finding");
    let dead_id = &ids[&dead].0;
    assert!(
        finding["summary"]
            .as_str()
            .unwrap()
            .contains(dead_id.as_str()),
        "{finding}"
    );
    assert!(
        finding["commands"][0]
            .as_str()
            .unwrap()
            .ends_with(&format!("member remove {dead_id}")),
        "{finding}"
    );
    // `cluster health` with one endpoint down (killed, or silent) exits 1
    // with the error row, as `etcdctl endpoint health` does.
    let up = c.members[0].client_url();
    for down in [&dead, &silent_url] {
        let eps = format!("{up},{down}");
        let theirs = c.etcdctl_at(&eps, &["endpoint", "health", "--command-timeout", "2s"]);
        assert_eq!(theirs.status.code(), Some(1), "etcdctl exits 1 here");
        let mut cmd =
            doctor("cluster health -w json --dial-timeout 1s --command-timeout 2s --endpoints");
        let out = exits(cmd.arg(&eps), 1);
        let report: serde_json::Value = crate::support::output::json(&out.stdout);
        let rows = report["cluster"]["health"].as_array().unwrap();
        let health: Vec<bool> = rows
            .iter()
            .map(|h| h["health"].as_bool().unwrap())
            .collect();
        assert_eq!(health, [true, false], "{rows:?}");
        assert!(
            rows[1]["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{rows:?}"
        );
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(
            stderr.lines().last(),
            Some("etcd-doctor: unhealthy cluster"),
            "{stderr}"
        );
    }
    drop(silent);
}
