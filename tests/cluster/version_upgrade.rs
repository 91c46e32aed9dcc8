//! A rolling upgrade of a real 3-member cluster from etcd 3.5.1 to 3.6, one
//! member at a time and the leader last, as `kubeadm upgrade` moves one
//! control-plane node after the other. After each step `cluster status`
//! shows every member's version and storage version; while the releases
//! are mixed `cluster.version-skew` warns that the upgrade is half-way and
//! names the members still to upgrade (and that etcd asks for 3.5.26 or
//! later before 3.6); after the last one the storage version moves to
//! 3.6.0 on every member and nothing fires.

use std::time::{Duration, Instant};

use crate::support::doctor::{doctor, findings, report};
use crate::support::etcd::{available, Cluster, Version};
use crate::support::leader::leader_and_ids;
use serde_json::Value;

/// `cluster status --cluster -w json` (warn findings exit 0).
fn status(c: &Cluster) -> Value {
    report(
        doctor("cluster status --cluster -w json --endpoints").arg(c.members[0].client_url()),
        0,
    )
}

/// Member id -> (server version, storage version) from a status report.
fn versions(r: &Value) -> Vec<(String, String, Option<String>)> {
    let mut rows: Vec<_> = r["cluster"]["endpoints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["id"].as_str().unwrap().to_string(),
                e["version"].as_str().unwrap().to_string(),
                e["storage_version"].as_str().map(str::to_string),
            )
        })
        .collect();
    rows.sort();
    rows
}

#[test]
fn a_rolling_upgrade_from_3_5_to_3_6_is_followed_to_its_end() {
    if !available(Version::V36, "a_rolling_upgrade_from_3_5_to_3_6") {
        return;
    }
    let mut c = Cluster::start(Version::V35, 3);
    c.put_keys(200);
    let (leader, ids) = leader_and_ids(&c);
    let order: Vec<usize> = (0..3).filter(|&i| i != leader).chain([leader]).collect();
    for (step, &i) in order.iter().enumerate() {
        c.restart_as(i, Version::V36);
        c.wait_healthy(Duration::from_secs(30));
        if step == order.len() - 1 {
            break;
        }
        let r = status(&c);
        let rows = versions(&r);
        for (id, version, storage) in &rows {
            let upgraded = order[..=step].iter().any(|&u| &ids[u] == id);
            assert_eq!(version.starts_with("3.6."), upgraded, "{rows:?}");
            // A 3.6 member of a 3.5 cluster keeps the 3.5 storage version.
            let expected = upgraded.then(|| "3.5.0".to_string());
            assert_eq!(storage, &expected, "{rows:?}");
        }
        let skew = findings(&r, "cluster.version-skew");
        assert_eq!(skew.len(), 1, "{r:#}");
        assert_eq!(skew[0]["severity"], "warn");
        let summary = skew[0]["summary"].as_str().unwrap();
        assert!(summary.contains("rolling upgrade in progress"), "{summary}");
        assert!(
            summary.contains(&format!("{} of 3 members still on 3.5", 2 - step)),
            "{summary}"
        );
        let next = skew[0]["recommendation"].as_str().unwrap();
        for &rest in &order[step + 1..] {
            assert!(next.contains(&ids[rest]), "{} not named: {next}", ids[rest]);
        }
        assert!(next.contains("3.5.26"), "{next}");
    }
    // The last member runs 3.6: the cluster version, then every member's
    // storage version, moves to 3.6 within etcd's monitor intervals.
    let deadline = Instant::now() + Duration::from_secs(30);
    let done = loop {
        let r = status(&c);
        let rows = versions(&r);
        let moved = rows
            .iter()
            .all(|(_, v, s)| v.starts_with("3.6.") && s.as_deref() == Some("3.6.0"));
        if moved || Instant::now() > deadline {
            break (r, rows, moved);
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    let (r, rows, moved) = done;
    assert!(moved, "storage versions never moved: {rows:?}");
    assert!(findings(&r, "cluster.version-skew").is_empty(), "{r:#}");
    let out = c.etcdctl(&["get", "key-", "--prefix", "--keys-only"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let keys = String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| !l.is_empty())
        .count();
    assert_eq!(keys, 200, "every key survived the upgrade");
}
