//! A wiped member that cannot rejoin, told apart from a member merely
//! down, on one real etcd 3.5 cluster and one 3.6 cluster (raft is the
//! external go.etcd.io/raft/v3 there, with the same panic text): `diagnose --logs` over every
//! member's log. A healthy cluster gives no warning; a killed follower is
//! `cluster.member-unreachable` only; the same follower with its data dir
//! wiped and started again is `cluster.stale-member`, proven by its own
//! log, in two shapes: with `--initial-cluster-state existing` (raft
//! panics: `tocommit(N) is out of range [lastIndex(0)]`) and with its
//! original `new` flags (`member X has already been bootstrapped`). The
//! finding's runbook commands, run as printed, bring the member back.

mod support;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;
use support::doctor::{doctor, findings, report};
use support::etcd::{Cluster, Version};
use support::etcdlogs::{mark, serious};
use support::leader::leader_and_ids;
use support::printed::run_printed;
use support::releases::available;

/// `diagnose` over the cluster and `logs` (read from `since` on).
fn diagnose(c: &Cluster, logs: &[PathBuf], since: &str, code: i32) -> Value {
    let mut cmd = doctor("diagnose -w json --no-disk --interval 1s --command-timeout 2s");
    cmd.arg("--endpoints")
        .arg(c.endpoints())
        .arg("--logs-since")
        .arg(since)
        .arg("--logs")
        .args(logs);
    report(&mut cmd, code)
}

/// Every log of the cluster: each member's rotated files (`.1`, `.2`,
/// `.3`), oldest first, then its live one.
fn all_logs(c: &Cluster) -> Vec<PathBuf> {
    (0..c.members.len())
        .flat_map(|i| member_logs(c, i))
        .collect()
}

/// Member `i`'s logs, rotated ones first.
fn member_logs(c: &Cluster, i: usize) -> Vec<PathBuf> {
    let log = &c.members[i].log;
    let mut logs: Vec<PathBuf> = (1..=3)
        .map(|n| rotated(log, n))
        .filter(|p| p.exists())
        .collect();
    logs.push(log.clone());
    logs
}

fn rotated(log: &Path, n: usize) -> PathBuf {
    PathBuf::from(format!("{}.{n}", log.display()))
}

/// Moves member `i`'s live log to `.N` (the next start writes a new one).
fn rotate(c: &Cluster, i: usize, n: usize) {
    let log = &c.members[i].log;
    std::fs::rename(log, rotated(log, n)).unwrap();
}

/// Starts member `i` again as its host would after its data dir was
/// wiped: the old log is rotated to `.N` first, as a supervisor keeps it.
fn restart_wiped(c: &mut Cluster, i: usize, state: &str, rotation: usize) {
    rotate(c, i, rotation);
    let m = &c.members[i];
    if m.data_dir.exists() {
        std::fs::remove_dir_all(&m.data_dir).unwrap();
    }
    c.spawn(i, state);
}

/// Waits until member `i`'s etcd exits: a wiped member crashes at start.
fn wait_exit(c: &mut Cluster, i: usize) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while c.members[i].is_running() {
        assert!(
            Instant::now() < deadline,
            "the wiped member kept running (a new leader sends it a snapshot \
             instead of a heartbeat past its log):\n{}",
            c.log_tails(20)
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The stale-member finding for member `id`, with no member-unreachable
/// beside it; checks the proof and the runbook.
fn stale_finding(r: &Value, name: &str, id: &str, proof: &str) -> Value {
    assert!(
        findings(r, "cluster.member-unreachable").is_empty(),
        "a stale member is not also merely unreachable: {r:#}"
    );
    // One cause, one finding: the peers' prober lines about the stale
    // member are its symptom, explained and at info (issue 25).
    for f in findings(r, "net.peer-unhealthy") {
        assert_eq!(f["severity"], "info", "{f:#}");
        assert!(
            f["summary"].as_str().unwrap().contains("explained"),
            "{f:#}"
        );
    }
    let stale = findings(r, "cluster.stale-member");
    assert_eq!(stale.len(), 1, "{:#}", r["findings"]);
    let f = stale[0].clone();
    let summary = f["summary"].as_str().unwrap();
    assert!(
        summary.contains(&format!("member {name} ({id})")) && summary.contains(proof),
        "{summary}"
    );
    assert_eq!(f["severity"], "fail");
    let recommendation = f["recommendation"].as_str().unwrap();
    assert!(
        recommendation.contains("--initial-cluster-state existing"),
        "{recommendation}"
    );
    let commands: Vec<&str> = f["commands"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    assert!(
        commands[0].ends_with(&format!("member remove {id}")),
        "{commands:?}"
    );
    assert!(
        commands[2].contains(&format!("member add {name} --peer-urls=http://")),
        "{commands:?}"
    );
    f
}

#[test]
fn a_wiped_member_is_stale_and_a_killed_one_only_unreachable() {
    wiped_and_killed(Version::V35);
}

#[test]
fn etcd36_a_wiped_member_is_stale_and_a_killed_one_only_unreachable() {
    if available(Version::V36, "etcd36_a_wiped_member_is_stale") {
        wiped_and_killed(Version::V36);
    }
}

fn wiped_and_killed(version: Version) {
    let started = Instant::now();
    let mut c = Cluster::start(version, 3);
    c.put_keys(50);
    let (leader, ids) = leader_and_ids(&c);
    // A follower: the leader keeps its progress (match index) for it, so
    // its first heartbeat to the wiped member carries a commit index past
    // the member's empty log.
    let f = (leader + 1) % 3;
    let (name, id) = (c.members[f].name.clone(), ids[f].clone());

    // Healthy: a fresh cluster's logs and state raise nothing.
    let start = mark();
    let r = diagnose(&c, &all_logs(&c), "24h", 0);
    assert!(serious(&r).is_empty(), "{:#}", r["findings"]);

    // Killed: merely down, its log ends without a word.
    c.kill(f);
    c.wait_healthy(Duration::from_secs(15));
    let r = diagnose(&c, &all_logs(&c), &start, 1);
    let unreachable = findings(&r, "cluster.member-unreachable");
    assert_eq!(unreachable.len(), 1, "{:#}", r["findings"]);
    assert!(unreachable[0]["summary"]
        .as_str()
        .unwrap()
        .contains(&format!("member {name} ({id})")));
    assert!(findings(&r, "cluster.stale-member").is_empty(), "{r:#}");

    // Wiped and started with --initial-cluster-state existing: raft panics.
    let wiped = mark();
    restart_wiped(&mut c, f, "existing", 1);
    wait_exit(&mut c, f);
    let r = diagnose(&c, &all_logs(&c), &wiped, 1);
    let finding = stale_finding(&r, &name, &id, "tocommit(");
    assert!(
        finding["summary"]
            .as_str()
            .unwrap()
            .contains("is out of range [lastIndex(0)]"),
        "{finding:#}"
    );
    // The member's own log alone says as much, without the cluster.
    let alone = report(
        doctor("logs -w json --fail-on warn").arg(&c.members[f].log),
        1,
    );
    assert_eq!(
        findings(&alone, "cluster.stale-member").len(),
        1,
        "{alone:#}"
    );

    // Wiped again and started with its original flags (state new):
    // etcd refuses to bootstrap a member the cluster already has.
    let rebooted = mark();
    restart_wiped(&mut c, f, "new", 2);
    wait_exit(&mut c, f);
    let r = diagnose(&c, &all_logs(&c), &rebooted, 1);
    let finding = stale_finding(&r, &name, &id, "has already been bootstrapped");

    // The runbook as printed (remove, set the data dir aside, add), then
    // the member started empty with --initial-cluster-state existing.
    let commands: Vec<String> = finding["commands"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect();
    std::fs::create_dir_all(&c.members[f].data_dir).unwrap();
    for command in &commands[..3] {
        run_printed(&c, command);
    }
    assert!(
        !c.members[f].data_dir.exists(),
        "set aside: {}",
        commands[1]
    );
    let rejoined = mark();
    rotate(&c, f, 3);
    c.spawn(f, "existing");
    c.wait_healthy(Duration::from_secs(30));
    let r = diagnose(&c, &all_logs(&c), &rejoined, 0);
    assert!(serious(&r).is_empty(), "{:#}", r["findings"]);
    // Its old crashes, still in the logs read, name the old member id:
    // the rejoined member (a new id) answers and is not called stale.
    let r = diagnose(&c, &member_logs(&c, f), &start, 0);
    let proofs = r["logs"]["stale_members"].as_array().unwrap();
    assert_eq!(proofs.len(), 2, "{:#}", r["logs"]);
    assert!(proofs.iter().all(|p| p["member_id"] == id.as_str()));
    assert!(serious(&r).is_empty(), "{:#}", r["findings"]);
    eprintln!(
        "etcd {}: stale/killed family took {:.1} s",
        version.minor(),
        started.elapsed().as_secs_f64()
    );
}

/// etcd 3.4 (capnslog text, raft's panic through Go's log package): the
/// wiped follower restarted twice, as a supervisor would, crashes each
/// time; both crashes are counted, and it is stale, not unreachable.
#[test]
fn a_wiped_etcd_3_4_member_crash_loops_and_is_stale() {
    let mut c = Cluster::start(Version::V34, 3);
    c.put_keys(50);
    let (leader, ids) = leader_and_ids(&c);
    let f = (leader + 2) % 3;
    c.kill(f);
    c.wait_healthy(Duration::from_secs(15));
    restart_wiped(&mut c, f, "existing", 1);
    wait_exit(&mut c, f);
    // The supervisor starts it again, its data dir as the crash left it.
    rotate(&c, f, 2);
    c.spawn(f, "existing");
    wait_exit(&mut c, f);
    let r = diagnose(&c, &all_logs(&c), "24h", 1);
    let name = c.members[f].name.clone();
    let finding = stale_finding(&r, &name, &ids[f], "[lastIndex(0)]");
    assert!(
        finding["summary"]
            .as_str()
            .unwrap()
            .contains("2 line(s) from"),
        "{finding:#}"
    );
    let proofs = r["logs"]["stale_members"].as_array().unwrap();
    assert_eq!(proofs[0]["lines"], 2, "{proofs:#?}");
    assert_eq!(proofs[0]["member_last_index"], 0, "{proofs:#?}");
}
