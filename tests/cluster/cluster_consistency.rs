//! `cluster consistency` against real 3-member clusters (etcd 3.4 to 3.6):
//! an unaltered cluster is consistent; then one member is stopped, a value
//! of its `key` bucket is changed in place in its bbolt file (found with our
//! own bbolt reader, so the pages still parse and etcd starts), and the
//! member restarted: the check names that member and only it, the
//! data-inconsistent finding carries the remove/add commands, and
//! `snapshot restore-plan` will not pick it as the source. The altered real
//! db, mutated further at random, never panics `inspect-db`'s reader.

use std::path::Path;

use crate::support::doctor::{doctor, exits, report};
use crate::support::etcd::{available, Cluster, Version};
use crate::support::process::stop_gracefully;
use etcd_doctor::snapshot::bbolt::{Db, Item, Value};
use etcd_doctor::snapshot::dbstate::inspect_bytes;
use proptest::prelude::*;
use serde_json::Value as Json;

/// The value whose last byte the test changes (etcd stores it last in the
/// protobuf KeyValue, so the record still decodes).
const MARKER: &[u8] = b"consistency-probe-AAAAAAAA";

/// File offsets of every value in the `key` bucket that ends with `MARKER`.
fn marker_offsets(data: &[u8]) -> Vec<usize> {
    let db = Db::open(data).expect("a bbolt file");
    let mut key_bucket = None;
    db.walk(db.root(), &mut |item| {
        if let Item::Entry {
            key: b"key",
            value: Value::Bucket(b),
        } = item
        {
            key_bucket = Some(b);
        }
        Ok(())
    })
    .unwrap();
    let mut offsets = Vec::new();
    db.walk(key_bucket.expect("a key bucket"), &mut |item| {
        if let Item::Entry {
            value: Value::Plain(v),
            ..
        } = item
        {
            if v.ends_with(MARKER) {
                offsets.push(v.as_ptr() as usize - data.as_ptr() as usize + v.len() - 1);
            }
        }
        Ok(())
    })
    .unwrap();
    offsets
}

/// Changes the marker value's last byte in member `i`'s stopped db file;
/// returns the altered file's bytes.
fn alter_value(cluster: &Cluster, i: usize) -> Vec<u8> {
    let path = cluster.members[i].data_dir.join("member/snap/db");
    let mut data = std::fs::read(&path).unwrap();
    let offsets = marker_offsets(&data);
    assert_eq!(offsets.len(), 1, "one marker value in the key bucket");
    data[offsets[0]] = b'B';
    std::fs::write(&path, &data).unwrap();
    data
}

fn consistency(cluster: &Cluster, code: i32) -> Json {
    report(
        &mut doctor(&format!(
            "cluster consistency --interval 0 -w json --endpoints {}",
            cluster.endpoints()
        )),
        code,
    )
}

fn member_id(cluster: &Cluster, i: usize) -> String {
    let out = cluster.etcdctl_at(
        &cluster.members[i].client_url(),
        &["endpoint", "status", "-w", "json"],
    );
    let v: Json = serde_json::from_slice(&out.stdout).unwrap();
    format!(
        "{:016x}",
        v[0]["Status"]["header"]["member_id"].as_u64().unwrap()
    )
}

fn findings(report: &Json, id: &str) -> Vec<Json> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["id"] == id)
        .cloned()
        .collect()
}

fn check_a_diverged_member_is_named(version: Version) {
    let mut cluster = Cluster::start(version, 3);
    cluster.put_keys(300);
    let out = cluster.etcdctl(&["put", "probe", std::str::from_utf8(MARKER).unwrap()]);
    assert!(out.status.success());
    cluster.put_keys(50);

    let healthy = consistency(&cluster, 0);
    let c = &healthy["cluster"]["consistency"];
    assert_eq!(c["differing"], serde_json::json!([]), "{c}");
    assert!(c["reference_hash"].is_u64(), "{c}");
    let rows = c["members"].as_array().unwrap();
    assert_eq!(rows.len(), 3);
    assert!(rows.iter().all(|r| r["hash"] == c["reference_hash"]), "{c}");
    // 3.6's HashKV names the revision it hashed: the common one.
    let named = matches!(version, Version::V36 | Version::V37);
    assert!(
        rows.iter()
            .all(|r| (r["hash_revision"] == c["revision"]) == named),
        "{c}"
    );
    assert!(c.get("not_compared").is_none(), "{c}");
    assert!(rows
        .iter()
        .all(|r| r["status"]["raft_applied_index"].is_u64()));
    assert!(findings(&healthy, "cluster.data-inconsistent").is_empty());
    let checked = healthy["rules_checked"].to_string();
    assert!(checked.contains("cluster.data-inconsistent"), "{checked}");

    let bad = member_id(&cluster, 2);
    stop_gracefully(&mut cluster, 2);
    let altered = alter_value(&cluster, 2);
    cluster.spawn(2, "existing");
    cluster.wait_healthy(std::time::Duration::from_secs(30));

    let diverged = consistency(&cluster, 1);
    let c = &diverged["cluster"]["consistency"];
    assert_eq!(c["differing"], serde_json::json!([bad]), "{c}");
    let found = findings(&diverged, "cluster.data-inconsistent");
    assert_eq!(found.len(), 1, "{found:?}");
    assert_eq!(found[0]["severity"], "fail");
    assert!(found[0]["summary"].as_str().unwrap().contains(&bad));
    let commands = found[0]["commands"].to_string();
    assert!(
        commands.contains(&format!("member remove {bad}")),
        "{commands}"
    );
    assert!(
        commands.contains("member add m2 --peer-urls="),
        "{commands}"
    );
    assert!(
        commands.contains("snapshot rejoin-plan --member m2"),
        "{commands}"
    );

    let table = exits(
        &mut doctor(&format!(
            "cluster consistency --interval 0 --endpoints {}",
            cluster.endpoints()
        )),
        1,
    );
    let table = String::from_utf8_lossy(&table.stdout).to_string();
    assert!(table.contains("Consistency (HashKV at revision"), "{table}");
    assert_eq!(table.matches("| NO ").count(), 1, "{table}");

    // The diverged member is never the source of a rebuild.
    let plan = exits(
        &mut doctor(&format!(
            "snapshot restore-plan --method force-new-cluster -w markdown --endpoints {}",
            cluster.endpoints()
        )),
        0,
    );
    let plan = String::from_utf8_lossy(&plan.stdout).to_string();
    assert!(plan.contains("(chosen from live facts)"), "{plan}");
    assert!(!plan.contains("around m2 "), "{plan}");
    assert!(plan.contains("excluded: its HashKV differs"), "{plan}");

    // A real db, damaged further at random, never panics the reader.
    proptest!(ProptestConfig::with_cases(64), |(at in 0..altered.len(), byte: u8)| {
        let mut data = altered.clone();
        data[at] = byte;
        let _ = inspect_bytes(Path::new("db"), &data);
    });
}

#[test]
fn a_diverged_member_is_named_etcd_35() {
    check_a_diverged_member_is_named(Version::V35);
}

/// 3.6's HashKV also names the revision it hashed: compared at the same one.
#[test]
fn a_diverged_member_is_named_etcd_36() {
    if available(Version::V36, "a_diverged_member_is_named_etcd_36") {
        check_a_diverged_member_is_named(Version::V36);
    }
}

/// A smoke run on etcd 3.7: HashKV compared at matching hash revisions.
#[test]
fn a_diverged_member_is_named_etcd_37() {
    if available(Version::V37, "a_diverged_member_is_named_etcd_37") {
        let started = std::time::Instant::now();
        check_a_diverged_member_is_named(Version::V37);
        eprintln!(
            "etcd 3.7 consistency smoke took {:.1} s",
            started.elapsed().as_secs_f64()
        );
    }
}

#[test]
fn a_diverged_member_is_named_etcd_34() {
    check_a_diverged_member_is_named(Version::V34);
}

/// The second way to a 3.6 alarm: etcd's own periodic corruption check
/// (`--corrupt-check-time`, 3.6's name for 3.5's experimental flag) finds
/// the altered member, logs `same compact revision then hashes must match`
/// and raises CORRUPT for it. `cluster alarms` names the member, and `logs` over the members'
/// logs reads the mismatch as cluster.alarm-active.
#[test]
fn etcd36_its_own_corruption_check_raises_corrupt() {
    if !available(
        Version::V36,
        "etcd36_its_own_corruption_check_raises_corrupt",
    ) {
        return;
    }
    let mut cluster = Cluster::start_flags(Version::V36, 3, &["--corrupt-check-time=1s"]);
    cluster.put_keys(100);
    let out = cluster.etcdctl(&["put", "probe", std::str::from_utf8(MARKER).unwrap()]);
    assert!(out.status.success());
    // The leader checks its followers: alter a follower.
    let (leader, _) = crate::support::leader::leader_and_ids(&cluster);
    let bad_i = (leader + 1) % 3;
    let bad = member_id(&cluster, bad_i);
    stop_gracefully(&mut cluster, bad_i);
    alter_value(&cluster, bad_i);
    cluster.spawn(bad_i, "existing");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(40);
    let alarms = loop {
        let out = doctor("cluster alarms -w json --endpoints")
            .arg(cluster.endpoints())
            .output()
            .unwrap();
        let r: Json = serde_json::from_slice(&out.stdout).unwrap_or(Json::Null);
        let corrupt = r["cluster"]["alarms"]
            .as_array()
            .is_some_and(|a| a.iter().any(|a| a["alarm"] == "CORRUPT"));
        if corrupt || std::time::Instant::now() > deadline {
            break r;
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    };
    assert_eq!(
        alarms["cluster"]["alarms"][0],
        serde_json::json!({"member_id": bad, "alarm": "CORRUPT"}),
        "{alarms:#}"
    );
    let found = findings(&alarms, "cluster.alarm-active");
    assert!(
        found
            .iter()
            .any(|f| f["summary"].as_str().unwrap().contains(&bad)),
        "{found:?}"
    );
    let logs: Vec<_> = cluster.members.iter().map(|m| m.log.clone()).collect();
    let read = report(doctor("logs -w json --fail-on warn").args(&logs), 1);
    let mismatch = read["logs"]["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "hash-mismatch")
        .cloned();
    assert!(mismatch.is_some(), "{:#}", read["logs"]["events"]);
    assert!(
        !findings(&read, "cluster.alarm-active").is_empty(),
        "{read:#}"
    );
}
