//! The field guide's failed rejoin, reproduced on a real etcd 3.5 (and 3.6) cluster:
//! a member whose node was reset (killed, data dir wiped) stays listed; it
//! is reported with the exact `member remove <ID>` command, which works as
//! printed. The same node back with a fresh data dir answers under another
//! id (stale entry), and a member added but never started is listed
//! `unstarted`; each is reported with its own working `member remove`.

use std::path::Path;

use crate::support::doctor::{doctor, exits, findings, report};
use crate::support::etcd::{available, Cluster, Version};
use crate::support::printed::run_printed;
use serde_json::Value;

/// `cluster status --cluster -w json`, expecting exit `code`.
fn status(c: &Cluster, code: i32) -> Value {
    let args = "cluster status --cluster --command-timeout 2s -w json --endpoints";
    report(doctor(args).arg(c.members[0].client_url()), code)
}

fn member_ids(c: &Cluster) -> Vec<(String, String)> {
    let out = c.etcdctl_at(
        &c.members[0].client_url(),
        &["member", "list", "-w", "json"],
    );
    let list: Value = serde_json::from_slice(&out.stdout).unwrap();
    list["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (
                m["name"].as_str().unwrap_or("").to_string(),
                format!("{:016x}", m["ID"].as_u64().unwrap()),
            )
        })
        .collect()
}

fn wipe(dir: &Path) {
    if dir.exists() {
        std::fs::remove_dir_all(dir).unwrap();
    }
}

#[test]
fn failed_rejoin_is_reported_with_working_member_remove_commands() {
    failed_rejoin(Version::V35);
}

#[test]
fn etcd36_failed_rejoin_is_reported_with_working_member_remove_commands() {
    if available(Version::V36, "etcd36_failed_rejoin") {
        failed_rejoin(Version::V36);
    }
}

fn failed_rejoin(version: Version) {
    let mut c = Cluster::start(version, 3);
    let ids = member_ids(&c);
    let old_id = ids.iter().find(|(n, _)| n == "m2").unwrap().1.clone();

    // The node was reset: process gone, data dir wiped, entry still listed.
    // If it led, the other two elect a new leader first (about 1-2 s); a
    // proposal made meanwhile is dropped and its command times out, so the
    // test waits for a leader as an operator would see one.
    c.kill(2);
    wipe(&c.members[2].data_dir);
    c.wait_healthy(std::time::Duration::from_secs(15));
    let report = status(&c, 1);
    let unreachable = findings(&report, "cluster.member-unreachable");
    assert_eq!(unreachable.len(), 1, "{report}");
    let commands = unreachable[0]["commands"].as_array().unwrap();
    let remove = commands[0].as_str().unwrap();
    assert!(remove.starts_with("etcdctl --endpoints="), "{remove}");
    assert!(
        remove.ends_with(&format!("member remove {old_id}")),
        "{remove}"
    );
    assert!(
        !remove.contains(&c.members[2].client_url()),
        "commands go to members that answer: {remove}"
    );
    let rejoin = commands[1].as_str().unwrap();
    assert!(
        rejoin.starts_with("etcd-doctor snapshot rejoin-plan --member m2 "),
        "{rejoin}"
    );

    // The node comes back with a fresh data dir, as a new member: its URL
    // answers under another id while the old entry stays.
    let token = std::mem::replace(&mut c.token, "reset-node".into());
    let alone = format!("m2={}", c.members[2].peer_url());
    c.spawn_with(2, "new", &alone);
    c.token = token;
    let report = (0..50)
        .map(|_| {
            std::thread::sleep(std::time::Duration::from_millis(200));
            status(&c, 1)
        })
        .find(|r| !findings(r, "cluster.stale-member").is_empty())
        .expect("the reset node's endpoint never answered");
    let stale = findings(&report, "cluster.stale-member");
    // Named as operators know it: name, id and host (issue 25).
    let summary = stale[0]["summary"].as_str().unwrap();
    assert!(
        summary.contains(&format!("listed for member m2 ({old_id}) on "))
            && summary.contains(" but answers as"),
        "{}",
        stale[0]
    );
    let commands = stale[0]["commands"].as_array().unwrap();
    let remove = commands[0].as_str().unwrap();
    assert!(
        remove.ends_with(&format!("member remove {old_id}")),
        "{remove}"
    );
    // The runbook command runs as printed while the entry is still listed.
    let plan = run_printed(&c, commands[1].as_str().unwrap());
    assert!(
        String::from_utf8_lossy(&plan.stdout).contains("member remove"),
        "rejoin runbook"
    );
    run_printed(&c, remove);
    c.kill(2);
    assert_eq!(member_ids(&c).len(), 2);

    // Added again, never started: listed unstarted. etcd refuses the add
    // ("unhealthy cluster") until its peers have been connected for 5 s.
    let peer = format!("--peer-urls={}", c.members[2].peer_url());
    let add = || c.etcdctl_at(&c.members[0].client_url(), &["member", "add", "m2", &peer]);
    let added = (0..40).any(|_| {
        std::thread::sleep(std::time::Duration::from_millis(250));
        add().status.success()
    });
    assert!(
        added,
        "member add: {}",
        String::from_utf8_lossy(&add().stderr)
    );
    let new_id = member_ids(&c)
        .into_iter()
        .find(|(n, _)| n.is_empty())
        .unwrap()
        .1;
    let members = exits(
        doctor("cluster members --endpoints").arg(c.members[0].client_url()),
        1,
    );
    assert!(String::from_utf8_lossy(&members.stdout).contains(&format!("{new_id} | unstarted")));
    let report = status(&c, 1);
    let stale = findings(&report, "cluster.stale-member");
    assert_eq!(stale.len(), 1, "{report}");
    assert!(stale[0]["summary"]
        .as_str()
        .unwrap()
        .contains("never started"));
    let remove = stale[0]["commands"][0].as_str().unwrap();
    assert!(
        remove.ends_with(&format!("member remove {new_id}")),
        "{remove}"
    );
    run_printed(&c, remove);

    // Two healthy members left: nothing to report.
    let report = status(&c, 0);
    assert_eq!(report["verdict"], "pass");
    assert_eq!(report["cluster"]["members"].as_array().unwrap().len(), 2);
}
