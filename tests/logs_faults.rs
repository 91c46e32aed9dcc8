//! `etcd-doctor logs` over logs real etcd 3.5 and 3.6 (zap JSON, and 3.6's
//! `--log-format=console`) and 3.4 (capnslog) members wrote under real
//! faults. One 3-member cluster per
//! version goes through phases, each read back with `--since`/`--until`:
//! healthy (no warn or fail finding), leadership moved five times with
//! `etcdctl move-leader` (cluster.leader-churn), a member SIGKILLed
//! (net.peer-unhealthy: lost streams, then the prober's unhealthy lines
//! naming it), and the quota filled (cluster.alarm-active). Then the same
//! log, as kubelet lays it out (CRI with partial lines, a rotated .gz and
//! the live file), read through `--kubeadm`, gives the same counts, and
//! `diagnose --logs` carries the logs' findings.

mod support;

use std::time::Duration;

use serde_json::Value;
use support::doctor::{doctor, report};
use support::etcd::{available, Cluster, Version};
use support::etcdlogs::*;

/// A small quota the fill phase passes in a few dozen puts.
const QUOTA_BYTES: u64 = 4 * 1024 * 1024;

/// How long a killed peer is left dead: the prober checks a healthy peer
/// every 30 s (rafthttp statusMonitoringInterval), so its first
/// "unhealthy" line can take that long.
const DEAD_FOR: Duration = Duration::from_secs(36);

fn faults(version: Version, flags: &[&str]) {
    etcd_env(QUOTA_BYTES);
    let mut cluster = Cluster::start_flags(version, 3, flags);
    let logs = member_logs(&cluster);

    let t0 = mark();
    cluster.put_keys(200);
    let t1 = mark();
    let healthy = logs_between(&logs, &t0, &t1, 0);
    assert_eq!(
        serious(&healthy),
        Vec::<String>::new(),
        "healthy: {healthy:#}"
    );
    let sum = |field: &str| -> u64 {
        healthy["logs"]["sources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| s[field].as_u64().unwrap())
            .sum()
    };
    assert!(sum("lines") > 0);
    if flags.contains(&"--log-format=console") {
        // etcd writes a few JSON lines before its logger is configured.
        assert!(
            sum("zap_console_lines") > 10 * sum("zap_lines"),
            "{healthy:#}"
        );
    }

    move_leader(&cluster, 5);
    let t2 = mark();
    let churn = logs_between(&logs, &t1, &t2, 1);
    assert!(
        serious(&churn).contains(&"cluster.leader-churn".to_string()),
        "{churn:#}"
    );
    assert!(
        churn["logs"]["elections"].as_array().unwrap().len() >= 5,
        "{churn:#}"
    );

    let victim = leadership(&cluster)
        .iter()
        .position(|m| !m.2)
        .expect("a follower");
    let victim_id = leadership(&cluster)[victim].1.clone();
    cluster.kill(victim);
    std::thread::sleep(DEAD_FOR);
    let t3 = mark();
    let dead = logs_between(&logs, &t2, &t3, 1);
    assert!(
        serious(&dead).contains(&"net.peer-unhealthy".to_string()),
        "{dead:#}"
    );
    assert!(count(&dead, "stream-lost") >= 1, "{dead:#}");
    assert!(count(&dead, "peer-unhealthy") >= 1, "{dead:#}");
    let finding = dead["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "net.peer-unhealthy")
        .unwrap();
    assert!(
        finding["summary"].as_str().unwrap().contains(&victim_id),
        "{finding:#}"
    );

    let puts = fill_quota(&cluster);
    let t4 = mark();
    match version {
        Version::V34 | Version::V35 => {
            let full = logs_between(&logs, &t3, &t4, 1);
            assert!(
                serious(&full).contains(&"cluster.alarm-active".to_string()),
                "after {puts} puts: {full:#}"
            );
            assert!(count(&full, "space-exceeded") >= 1);
        }
        // 3.6 raises NOSPACE in the gRPC quota check without a log line
        // (server/etcdserver/api/v3rpc/quota.go; `alarm raised` is gone
        // from apply): the logs are silent, the alarm list and
        // etcd_debugging_server_alarms say it.
        Version::V36 | Version::V37 => {
            // The killed member's peers still log it unhealthy: exit 1.
            let full = logs_between(&logs, &t3, &t4, 1);
            assert_eq!(count(&full, "space-exceeded"), 0, "{full:#}");
            assert!(
                !serious(&full).contains(&"cluster.alarm-active".to_string()),
                "{full:#}"
            );
            nospace_from_the_api_and_metrics(&cluster);
        }
    }

    diagnose_reads_the_logs(&cluster, &logs);
    same_counts_through_kubeadm(&cluster.members[0].log);
}

/// A NOSPACE alarm the logs do not show is read live: from the alarm list,
/// and from the metrics alone (`cluster metrics` reads no alarm list).
fn nospace_from_the_api_and_metrics(cluster: &Cluster) {
    let alarm_in = |r: &Value| {
        r["findings"].as_array().unwrap().iter().any(|f| {
            f["id"] == "cluster.alarm-active" && f["summary"].as_str().unwrap().contains("NOSPACE")
        })
    };
    let status = report(
        doctor("cluster alarms -w json --endpoints").arg(cluster.endpoints()),
        1,
    );
    assert_eq!(
        status["cluster"]["alarms"][0]["alarm"], "NOSPACE",
        "{status:#}"
    );
    assert!(alarm_in(&status), "{status:#}");
    let metrics = report(
        doctor("cluster metrics -w json --interval 0 --endpoints").arg(cluster.endpoints()),
        1,
    );
    assert!(metrics["cluster"].get("alarms").is_none(), "{metrics:#}");
    let from_metrics = metrics["cluster"]["metrics"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["alarms"][0]["alarm"] == "NOSPACE")
        .count();
    assert!(from_metrics >= 1, "{metrics:#}");
    assert!(alarm_in(&metrics), "{metrics:#}");
}

/// `diagnose --logs` puts the logs' findings beside the live ones.
fn diagnose_reads_the_logs(cluster: &Cluster, logs: &[std::path::PathBuf]) {
    let mut cmd = doctor("diagnose -w json --no-disk --interval 1s --logs");
    cmd.args(logs).arg("--endpoints").arg(cluster.endpoints());
    let r = report(&mut cmd, 1);
    assert!(count(&r, "leader-elected") >= 5, "{:#}", r["logs"]);
    let findings = r["findings"].as_array().unwrap();
    let from_logs = |id: &str| {
        findings
            .iter()
            .any(|f| f["id"] == id && f["summary"].as_str().unwrap().contains("etcd"))
    };
    assert!(
        from_logs("cluster.leader-churn") && from_logs("net.peer-unhealthy"),
        "{findings:#?}"
    );
    let mut cmd = doctor("diagnose -w json --no-disk --interval 1s --no-logs");
    cmd.arg("--endpoints").arg(cluster.endpoints());
    assert!(report(&mut cmd, 1).get("logs").is_none());
}

/// The kubelet's view of one member's log gives the same counts as the file.
fn same_counts_through_kubeadm(log: &std::path::Path) {
    let tmp = tempfile::tempdir().unwrap();
    let copy = tmp.path().join("m0.log");
    std::fs::copy(log, &copy).unwrap();
    let pods = tmp.path().join("pods");
    as_pod_logs(&copy, "m0", &pods);
    // A second etcd pod of another node must not be read.
    as_pod_logs(&copy, "other", &pods);
    std::fs::remove_file(pods.join("kube-system_etcd-other_0a1b2c3d/etcd/0.log")).unwrap();
    let manifest = manifest(tmp.path(), "m0");
    let direct = report(doctor("logs -w json --fail-on warn").arg(&copy), 1);
    let kubelet = report(
        doctor("logs -w json --fail-on warn --kubeadm")
            .arg("--manifest")
            .arg(&manifest)
            .arg("--pod-logs")
            .arg(&pods),
        1,
    );
    let kinds = |r: &Value| -> Vec<(String, u64)> {
        r["logs"]["events"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["kind"].as_str().unwrap().to_string(),
                    e["count"].as_u64().unwrap(),
                )
            })
            .collect()
    };
    assert!(!kinds(&direct).is_empty());
    assert_eq!(kinds(&direct), kinds(&kubelet));
    assert_eq!(direct["logs"]["elections"], kubelet["logs"]["elections"]);
    let sources = kubelet["logs"]["sources"].as_array().unwrap();
    assert_eq!(
        sources.len(),
        2,
        "the rotated .gz and the live file: {sources:#?}"
    );
    assert!(sources[0]["name"].as_str().unwrap().ends_with(".gz"));
    let unparsed: u64 = sources
        .iter()
        .map(|s| s["unparsed_lines"].as_u64().unwrap())
        .sum();
    assert_eq!(
        unparsed,
        direct["logs"]["sources"][0]["unparsed_lines"]
            .as_u64()
            .unwrap()
    );
}

#[test]
fn etcd_3_5_faults_show_in_its_logs() {
    faults(Version::V35, &[]);
}

#[test]
fn etcd_3_4_faults_show_in_its_logs() {
    faults(Version::V34, &[]);
}

/// 3.6 logs no `alarm raised`: the quota phase is found from `message
/// exceeded backend quota; raising alarm`, which it still writes.
#[test]
fn etcd_3_6_faults_show_in_its_logs() {
    if available(Version::V36, "etcd_3_6_faults_show_in_its_logs") {
        faults(Version::V36, &[]);
    }
}

#[test]
fn etcd_3_6_console_faults_show_in_its_logs() {
    if available(Version::V36, "etcd_3_6_console_faults_show_in_its_logs") {
        faults(Version::V36, &["--log-format=console"]);
    }
}

/// A smoke run on 3.7, console format.
#[test]
fn etcd_3_7_faults_show_in_its_logs() {
    if available(Version::V37, "etcd_3_7_faults_show_in_its_logs") {
        faults(Version::V37, &["--log-format=console"]);
    }
}

/// A smoke run on 3.7, zap JSON (etcd's default format).
#[test]
fn etcd_3_7_json_faults_show_in_its_logs() {
    if available(Version::V37, "etcd_3_7_json_faults_show_in_its_logs") {
        let started = std::time::Instant::now();
        faults(Version::V37, &[]);
        eprintln!(
            "etcd 3.7 JSON logs smoke took {:.1} s",
            started.elapsed().as_secs_f64()
        );
    }
}
