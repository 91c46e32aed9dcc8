//! Runs a generated restore plan (`snapshot restore-plan -w sh`) for real:
//! a 3-member etcd 3.5 cluster is saved, then stopped and rebuilt by the
//! script as printed; only the variables at its top are set (binaries,
//! runners, data dirs, how etcd stops and starts). The rebuilt cluster must
//! be healthy, hold a new cluster id and serve every key.
//!
//! Twice: members on loopback ports of this host, the plan listed from the
//! live cluster; and each member on a host of its own (a network namespace,
//! etcd's standard ports), the plan built from `--members` as when the
//! cluster is down. There the script runs in the root namespace, which has
//! no route to the hosts: every command on a member goes through that
//! member's runner (`ip netns exec NS sh -c`, as `ssh HOST` would), and the
//! clients (etcdctl, snapshot save) run on a fourth host.

mod support;

use std::process::Command;

use support::etcd::{Cluster, Member, Placement, Version};
use support::member_start::start_command;
use support::netns::Net;
use support::output::succeeded;
use support::process::run_runbook;

/// The runner for member commands: `sh -c` in the member's namespace, if any.
fn runner(m: &Member) -> String {
    match &m.placement.netns {
        Some(ns) => format!("ip netns exec {ns} sh -c"),
        None => "sh -c".to_string(),
    }
}

/// How member `m` stops, as `systemctl stop` does: SIGTERM, then wait
/// until etcd has exited (it stays a zombie until the test reaps it).
fn stop_command(m: &Member) -> String {
    let pid = m.pid().expect("the member runs");
    format!("kill {pid}; while [ -e /proc/{pid} ] && ! grep -q zombie /proc/{pid}/status; do sleep 0.1; done")
}

fn keys(cluster: &Cluster) -> String {
    let out = cluster.etcdctl(&["get", "key-", "--prefix"]);
    succeeded(&out);
    String::from_utf8(out.stdout).unwrap()
}

fn cluster_id(cluster: &Cluster) -> String {
    let out = cluster.etcdctl(&["endpoint", "status", "-w", "json"]);
    succeeded(&out);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v[0]["Status"]["header"]["cluster_id"].to_string()
}

/// Saves `cluster`, runs the restore plan made with `plan_args` (it stops
/// the cluster and rebuilds it), and checks the rebuilt cluster.
fn restore_with_plan(cluster: Cluster, plan_args: &[String]) {
    cluster.put_keys(1000);
    let before = keys(&cluster);
    let old_id = cluster_id(&cluster);
    let snapshot = cluster.dir().join("backup.db");
    let doctor_bin = assert_cmd::cargo::cargo_bin("etcd-doctor");
    let out = cluster
        .client_command(&doctor_bin)
        .args([
            "snapshot",
            "save",
            "--endpoints",
            &cluster.members[0].client_url(),
        ])
        .arg(&snapshot)
        .output()
        .unwrap();
    succeeded(&out);

    let plan = cluster
        .client_command(&doctor_bin)
        .args(["snapshot", "restore-plan", "-w", "sh", "--snapshot"])
        .arg(&snapshot)
        .args(plan_args)
        .output()
        .unwrap();
    succeeded(&plan);
    let script = cluster.dir().join("restore.sh");
    std::fs::write(&script, &plan.stdout).unwrap();

    let mut run = Command::new("sh");
    run.arg(&script)
        .env("ETCD_DOCTOR", &doctor_bin)
        .env("ETCDUTL", cluster.bins.etcdutl.as_ref().unwrap())
        .env("ETCDCTL", &cluster.bins.etcdctl)
        .env("REMOTE_SNAPSHOT", cluster.dir().join("copy.db"))
        .env("TRIES", "30");
    let mut pidfiles = Vec::new();
    for (i, m) in cluster.members.iter().enumerate() {
        let n = i + 1;
        let pidfile = cluster.dir().join(format!("{}.pid", m.name));
        run.env(format!("ON_{n}"), runner(m))
            .env(format!("DATA_DIR_{n}"), &m.data_dir)
            .env(format!("STOP_{n}"), stop_command(m))
            .env(
                format!("START_{n}"),
                start_command(&cluster, m, &pidfile, ""),
            );
        pidfiles.push(pidfile);
    }
    let (_started, stdout) = run_runbook(&mut run, pidfiles, &cluster);
    assert!(
        stdout.contains(": Verify the restored etcd cluster"),
        "{stdout}"
    );
    assert!(stdout.contains("+ "), "commands are echoed: {stdout}");

    assert_eq!(keys(&cluster), before, "restored cluster serves other keys");
    // From 3.6 the plan restores with --bump-revision 1000000000 --mark-compacted.
    let bumped = matches!(cluster.version, Version::V36 | Version::V37);
    assert_eq!(
        String::from_utf8_lossy(&plan.stdout)
            .contains("--bump-revision 1000000000 --mark-compacted"),
        bumped
    );
    let out = cluster.etcdctl(&["endpoint", "status", "-w", "json"]);
    let status: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let revision = status[0]["Status"]["header"]["revision"].as_u64().unwrap();
    assert_eq!(revision > 1_000_000_000, bumped, "revision {revision}");
    assert_ne!(
        cluster_id(&cluster),
        old_id,
        "a restore makes a new cluster"
    );
    for m in &cluster.members {
        let aside = std::fs::read_dir(cluster.dir())
            .unwrap()
            .filter_map(|e| e.ok())
            .any(|e| {
                e.file_name()
                    .to_string_lossy()
                    .starts_with(&format!("{}.etcd.before-restore-", m.name))
            });
        assert!(aside, "the old data dir of {} is kept aside", m.name);
    }
}

#[test]
fn restore_plan_script_rebuilds_a_live_listed_cluster() {
    restore_live_listed(Cluster::start(Version::V35, 3));
}

/// etcd 3.6's etcdctl has no `snapshot restore`: the plan read from the
/// live 3.6 members prints etcdutl's, and the script rebuilds the cluster.
#[test]
fn restore_plan_script_rebuilds_a_live_listed_etcd36_cluster() {
    if let Some(c) = Cluster::start_if(Version::V36, 3, "restore_plan_etcd36") {
        restore_live_listed(c);
    }
}

#[test]
fn restore_plan_script_rebuilds_a_live_listed_etcd37_cluster() {
    if let Some(c) = Cluster::start_if(Version::V37, 3, "restore_plan_etcd37") {
        restore_live_listed(c);
    }
}

fn restore_live_listed(cluster: Cluster) {
    let endpoints = cluster.endpoints();
    restore_with_plan(
        cluster,
        &[
            "--endpoints".into(),
            endpoints,
            "--initial-cluster-token".into(),
            "restored-by-test".into(),
        ],
    );
}

#[test]
fn restore_plan_script_rebuilds_a_cluster_of_three_hosts() {
    if !support::privileged("restore_plan_script_rebuilds_a_cluster_of_three_hosts") {
        return;
    }
    // Hosts 0-2 run the members, host 3 the clients.
    let net = Net::switched(4).expect("test net");
    let placements = (0..3).map(|i| Placement::on(net.host(i))).collect();
    let cluster = Cluster::start_on(Version::V35, placements, Some(net.host(3).netns.clone()));
    let members = cluster.initial_cluster();
    restore_with_plan(cluster, &["--members".into(), members]);
}

/// The rejoin plan (`snapshot rejoin-plan -w sh`) run as printed: a
/// member's node was reset (process gone, data dir wiped, its entry still
/// listed). The script removes the entry, adds the member back, moves what
/// is left of its data dir aside and starts it empty with
/// `--initial-cluster-state existing`; it must come back under a new id,
/// healthy, and serve every key the cluster holds.
fn rejoin_with_plan(mut cluster: Cluster) {
    cluster.put_keys(500);
    let before = keys(&cluster);
    let old_id = member_id(&cluster, "m2");
    cluster.kill(2);
    std::fs::remove_dir_all(&cluster.members[2].data_dir).unwrap();
    cluster.wait_healthy(std::time::Duration::from_secs(15));
    // etcd refuses `member add` ("unhealthy cluster") until the member
    // asked has been connected to every voting member for 5 s
    // (HealthInterval, mayAddMember): a cluster an operator repairs has run
    // for longer than this one, started a moment ago.
    std::thread::sleep(std::time::Duration::from_secs(6));

    let doctor_bin = assert_cmd::cargo::cargo_bin("etcd-doctor");
    let alive = format!(
        "{},{}",
        cluster.members[0].client_url(),
        cluster.members[1].client_url()
    );
    let plan = cluster
        .client_command(&doctor_bin)
        .args(["snapshot", "rejoin-plan", "--member", "m2", "-w", "sh"])
        .args(["--endpoints", &alive])
        .output()
        .unwrap();
    succeeded(&plan);
    let script = cluster.dir().join("rejoin.sh");
    std::fs::write(&script, &plan.stdout).unwrap();

    let m2 = &cluster.members[2];
    let pidfile = cluster.dir().join("m2.pid");
    let existing = format!(
        "--initial-cluster {} --initial-cluster-state existing",
        cluster.initial_cluster()
    );
    let mut run = Command::new("sh");
    run.arg(&script)
        .env("ETCDCTL", &cluster.bins.etcdctl)
        .env("TRIES", "30")
        // Already down: stopping it again succeeds, as systemctl stop does.
        .env("STOP_3", "true")
        .env(
            "START_EXISTING_3",
            start_command(&cluster, m2, &pidfile, &existing),
        );
    for (i, m) in cluster.members.iter().enumerate() {
        run.env(format!("ON_{}", i + 1), runner(m))
            .env(format!("DATA_DIR_{}", i + 1), &m.data_dir);
    }
    let (_started, stdout) = run_runbook(&mut run, vec![pidfile], &cluster);
    assert!(stdout.contains(": Verify the cluster"), "{stdout}");

    let new_id = member_id(&cluster, "m2");
    assert_ne!(new_id, old_id, "m2 came back as a new member");
    let health = cluster.etcdctl(&["endpoint", "health"]);
    succeeded(&health);
    // m2 serves what the others hold, from its own store.
    let out = cluster.etcdctl_at(
        &m2.client_url(),
        &["get", "key-", "--prefix", "--consistency=s"],
    );
    succeeded(&out);
    assert_eq!(String::from_utf8(out.stdout).unwrap(), before);
}

/// The id etcdctl lists for member `name`, as hex.
fn member_id(cluster: &Cluster, name: &str) -> String {
    let out = cluster.etcdctl(&["member", "list", "-w", "json"]);
    succeeded(&out);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == name)
        .map(|m| format!("{:x}", m["ID"].as_u64().unwrap()))
        .unwrap_or_else(|| panic!("no member {name}: {v}"))
}

#[test]
fn rejoin_plan_script_brings_a_wiped_member_back() {
    rejoin_with_plan(Cluster::start(Version::V35, 3));
}

#[test]
fn rejoin_plan_script_brings_a_wiped_etcd36_member_back() {
    if let Some(c) = Cluster::start_if(Version::V36, 3, "rejoin_plan_etcd36") {
        rejoin_with_plan(c);
    }
}
