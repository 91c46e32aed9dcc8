//! Which member a rebuild starts from, on a real 3-member etcd 3.5 (and 3.6) cluster
//! whose members are at different applied indexes: m2 is stopped while
//! writes continue. `snapshot restore-plan --method force-new-cluster`
//! picks a live, most advanced member and says why with the numbers;
//! `snapshot inspect-db` on each stopped member's db reports the indexes
//! the member reported while it ran; and the generated script, run as
//! printed (only its variables set), brings back a 3-member cluster with
//! every key. With `--members` (cluster down) the runbook reads every
//! member's db file instead.

use std::path::Path;
use std::process::Command;

use crate::support::doctor::{doctor, exits};
use crate::support::etcd::{available, Cluster, Version};
use crate::support::member_start::start_command;
use crate::support::output::succeeded;
use crate::support::process::{run_runbook, stop_gracefully};
use serde_json::Value;

/// (applied index, revision) member `i` reports.
fn position(cluster: &Cluster, i: usize) -> (u64, u64) {
    let out = cluster.etcdctl_at(
        &cluster.members[i].client_url(),
        &["endpoint", "status", "-w", "json"],
    );
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let s = &v[0]["Status"];
    (
        s["raftAppliedIndex"].as_u64().unwrap(),
        s["header"]["revision"].as_u64().unwrap(),
    )
}

/// `inspect-db` of `db`: (consistent index, revision).
fn inspect_db(db: &Path) -> (u64, u64) {
    let out = exits(doctor("snapshot inspect-db -w json").arg(db), 0);
    let v: Value = crate::support::output::json(&out.stdout);
    (
        v["db"]["consistent_index"].as_u64().unwrap(),
        v["db"]["revision"].as_u64().unwrap(),
    )
}

/// The db agrees with what the member reported: the same revision, and
/// the consistent index within a few entries of the applied index (a stop
/// may apply an entry that touches no key, such as a leadership change).
fn agrees(db: (u64, u64), reported: (u64, u64), who: &str) {
    assert_eq!(db.1, reported.1, "{who}: db revision vs reported");
    assert!(
        db.0.abs_diff(reported.0) <= 5,
        "{who}: consistent index {} vs applied index {}",
        db.0,
        reported.0
    );
}

/// Stops the etcd whose pid is in `pidfile` (if it still runs) and waits.
fn stop_command(pidfile: &Path) -> String {
    format!(
        "pid=$(cat {f}); [ -n \"$pid\" ] || exit 0; kill $pid 2>/dev/null || true; while [ -e /proc/$pid ] && ! grep -q zombie /proc/$pid/status; do sleep 0.1; done",
        f = pidfile.display()
    )
}

#[test]
fn the_most_advanced_live_member_is_the_source_and_the_runbook_rebuilds_around_it() {
    rebuilds_around_the_most_advanced(Version::V35);
}

/// The same on etcd 3.6: inspect-db reads its db (storage version in
/// meta), and the force-new-cluster runbook runs as printed.
#[test]
fn etcd36_the_most_advanced_live_member_is_the_source_and_the_runbook_rebuilds_around_it() {
    if available(Version::V36, "etcd36_force_new_cluster_runbook") {
        rebuilds_around_the_most_advanced(Version::V36);
    }
}

/// A smoke run on etcd 3.7: `inspect-db` on a stopped member's db agrees
/// with etcdutl 3.7's `snapshot status` of the same file (revision, and
/// the size bbolt reports: high-water mark times page size) and with the
/// member's last reported position.
#[test]
fn etcd37_inspect_db_agrees_with_etcdutl() {
    if !available(Version::V37, "etcd37_inspect_db_agrees_with_etcdutl") {
        return;
    }
    let started = std::time::Instant::now();
    let mut cluster = Cluster::start(Version::V37, 1);
    cluster.put_keys(300);
    std::thread::sleep(std::time::Duration::from_millis(300));
    let ran = position(&cluster, 0);
    stop_gracefully(&mut cluster, 0);
    let db = cluster.members[0].data_dir.join("member/snap/db");
    agrees(inspect_db(&db), ran, "m0");
    let out = exits(doctor("snapshot inspect-db -w json").arg(&db), 0);
    let ours: Value = crate::support::output::json(&out.stdout);
    let etcdutl = cluster.bins.etcdutl.as_ref().expect("3.7 has etcdutl");
    let theirs = crate::support::run(
        Command::new(etcdutl)
            .args(["snapshot", "status", "-w", "json"])
            .arg(&db),
    )
    .unwrap();
    let theirs: Value = serde_json::from_str(&theirs).unwrap();
    assert_eq!(
        ours["db"]["revision"], theirs["revision"],
        "{ours:#} {theirs:#}"
    );
    assert_eq!(
        ours["db"]["size_bytes"], theirs["totalSize"],
        "{ours:#} {theirs:#}"
    );
    assert_eq!(theirs["version"], "3.7.0", "{theirs:#}");
    eprintln!(
        "etcd 3.7 inspect-db smoke took {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

fn rebuilds_around_the_most_advanced(version: Version) {
    let mut cluster = Cluster::start(version, 3);
    cluster.put_keys(300);
    std::thread::sleep(std::time::Duration::from_millis(500));
    let m2_ran = position(&cluster, 2);
    stop_gracefully(&mut cluster, 2);
    let m2_db = cluster.members[2].data_dir.join("member/snap/db");
    agrees(inspect_db(&m2_db), m2_ran, "m2");

    // Writes continue without m2: m0 and m1 move ahead of it.
    cluster.put_keys_with(600, |k| format!("after-{k}"));
    let before: String = {
        let out = cluster.etcdctl_at(
            &cluster.members[0].client_url(),
            &["get", "key-", "--prefix"],
        );
        String::from_utf8(out.stdout).unwrap()
    };
    let live = [position(&cluster, 0), position(&cluster, 1)];
    assert!(live[0].0 > m2_ran.0 && live[0].1 > m2_ran.1);

    let plan = exits(
        &mut doctor(&format!(
            "snapshot restore-plan --method force-new-cluster -w sh --endpoints {}",
            cluster.endpoints()
        )),
        0,
    );
    let script = String::from_utf8(plan.stdout).unwrap();
    let source = if script.contains("Rebuild etcd around m0 ") {
        0
    } else {
        1
    };
    assert!(
        script.contains(&format!("Rebuild etcd around m{source} with")),
        "{script}"
    );
    assert!(
        script.contains(&format!(
            "Source member: m{source} (chosen from live facts)"
        )),
        "{script}"
    );
    assert!(script.contains("m2 did not answer"), "{script}");
    let (applied, revision) = live[source];
    assert!(
        script.contains(&format!("m{source} applied index"))
            && script.contains(&format!("revision {revision}")),
        "the reason carries the numbers ({applied}, {revision}): {script}"
    );

    // Offline (cluster down): the runbook reads every member's db file.
    let members = cluster.initial_cluster();
    let offline = exits(
        &mut doctor(&format!(
            "snapshot restore-plan --method force-new-cluster -w markdown --members {members}"
        )),
        0,
    );
    let offline = String::from_utf8(offline.stdout).unwrap();
    assert!(
        offline.contains("Find the member with the most recent data"),
        "{offline}"
    );
    assert!(
        offline.contains("snapshot inspect-db $DATA_DIR_3/member/snap/db"),
        "{offline}"
    );

    // The script's member order: the source first, the others by name.
    let order: Vec<usize> = std::iter::once(source)
        .chain((0..3).filter(|&i| i != source))
        .collect();
    let other = order[1];
    let other_ran = live[other];
    let script_path = cluster.dir().join("force.sh");
    std::fs::write(&script_path, &script).unwrap();
    let doctor_bin = assert_cmd::cargo::cargo_bin("etcd-doctor");
    let mut run = Command::new("timeout");
    run.args(["240", "sh"])
        .arg(&script_path)
        .env("ETCDCTL", &cluster.bins.etcdctl)
        .env("ETCD_DOCTOR", &doctor_bin)
        .env("TRIES", "30");
    let mut pidfiles = Vec::new();
    for (n, &i) in order.iter().enumerate().map(|(n, i)| (n + 1, i)) {
        let m = &cluster.members[i];
        let pidfile = cluster.dir().join(format!("{}.pid", m.name));
        let pid = m.pid().map_or(String::new(), |p| p.to_string());
        std::fs::write(&pidfile, pid).unwrap();
        let initial = order[..n]
            .iter()
            .map(|&j| {
                format!(
                    "{}={}",
                    cluster.members[j].name,
                    cluster.members[j].peer_url()
                )
            })
            .collect::<Vec<_>>()
            .join(",");
        run.env(format!("ON_{n}"), "sh -c")
            .env(format!("DATA_DIR_{n}"), &m.data_dir)
            .env(format!("STOP_{n}"), stop_command(&pidfile))
            .env(
                format!("START_{n}"),
                start_command(&cluster, m, &pidfile, ""),
            )
            .env(
                format!("START_FORCE_{n}"),
                start_command(&cluster, m, &pidfile, "--force-new-cluster"),
            )
            .env(
                format!("START_EXISTING_{n}"),
                start_command(
                    &cluster,
                    m,
                    &pidfile,
                    &format!("--initial-cluster {initial} --initial-cluster-state existing"),
                ),
            );
        pidfiles.push(pidfile);
    }
    let (_started, stdout) = run_runbook(&mut run, pidfiles, &cluster);
    assert!(stdout.contains(": Verify the cluster"), "{stdout}");

    // The member the script moved aside kept the db it stopped with.
    let aside = std::fs::read_dir(cluster.dir())
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with(&format!("m{other}.etcd.before-rejoin-"))
        })
        .expect("the old data dir is kept aside");
    agrees(
        inspect_db(&aside.join("member/snap/db")),
        other_ran,
        &format!("m{other}"),
    );

    let after = cluster.etcdctl(&["get", "key-", "--prefix"]);
    succeeded(&after);
    assert_eq!(
        String::from_utf8(after.stdout).unwrap(),
        before,
        "every key survives"
    );
    let list = cluster.etcdctl(&["member", "list"]);
    assert_eq!(String::from_utf8_lossy(&list.stdout).lines().count(), 3);
}
