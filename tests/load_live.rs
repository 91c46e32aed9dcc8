//! `etcd-doctor load` against a real three-member etcd 3.5 cluster (one
//! cluster for the whole file): a short `--load s`-like run passes check
//! perf's criteria and leaves no key behind; SIGINT mid-run still deletes
//! the prefix (and skips --compact/--defrag); keys another client wrote
//! under the prefix mid-run survive and are reported; an occupied prefix, an active alarm, an unreachable cluster
//! and impossible rates are refused with exit 2 and nothing written.

mod support;

use std::process::Stdio;
use std::time::{Duration, Instant};

use etcd_client::{AlarmAction, AlarmType, Client};
use serde_json::Value;
use support::doctor::{doctor, exits, report};
use support::etcd::{Cluster, Version};

/// Keys under `prefix`, as etcdctl counts them.
fn keys_under(c: &Cluster, prefix: &str) -> u64 {
    let out = c.etcdctl(&[
        "get",
        "--prefix",
        "--keys-only",
        "--limit",
        "1",
        "-w",
        "json",
        prefix,
    ]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "etcdctl get: {e}: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            c.log_tails(10)
        )
    });
    v["count"].as_u64().unwrap_or(0)
}

/// The cluster's current revision.
fn revision(c: &Cluster) -> u64 {
    // Member 0 is never killed.
    let out = c.etcdctl_at(&c.members[0].client_url(), &["get", "-w", "json", "x"]);
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    v["header"]["revision"].as_u64().unwrap()
}

fn load(c: &Cluster, extra: &str) -> std::process::Command {
    doctor(&format!("load --endpoints {} {extra}", c.endpoints()))
}

fn healthy_run_passes_and_cleans_up(c: &Cluster) {
    // check perf's `s` load (150 puts/s, 50 clients, 256 B keys, 1 KiB
    // values) for 6 s instead of 60.
    let r = report(
        &mut load(
            c,
            "--load s --duration 6s --scrape-interval 2s --prefix /t-healthy/ -w json",
        ),
        0,
    );
    // A shared CI disk may warn (WAL fsync p99 near 10 ms); check perf's
    // criteria must pass.
    assert_ne!(r["verdict"], "fail", "{r:#}");
    let ids: Vec<&str> = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["id"].as_str())
        .collect();
    assert!(!ids.contains(&"load.check-perf-fail"), "{r:#}");
    let l = &r["load"];
    assert_eq!(l["plan"]["rate_per_s"], 150);
    assert_eq!(l["plan"]["clients"], 50);
    let achieved = l["achieved_ops_s"].as_f64().unwrap();
    assert!((135.0..=160.0).contains(&achieved), "achieved {achieved}/s");
    assert_eq!(l["all"]["errors"], 0);
    assert!(l["all"]["ok"].as_u64().unwrap() >= 850);
    assert_eq!(l["deleted_keys"], l["all"]["ok"]);
    // One latency histogram per kind and per member, encoded for compare.
    assert_eq!(l["ops"][0]["name"], "put");
    assert!(l["ops"][0]["latency_histogram"].as_str().unwrap().len() > 20);
    assert_eq!(l["members"].as_array().unwrap().len(), 3);
    assert!(l["timeline"].as_array().unwrap().len() >= 5);
    // The window's metrics of every member: WAL fsyncs seen during the run.
    for m in r["cluster"]["metrics"].as_array().unwrap() {
        assert!(m["wal_fsync"]["count"].as_u64().unwrap() > 10, "{m:#}");
        assert_eq!(m["wal_fsync"]["span"], "window");
    }
    let checked: Vec<&str> = r["rules_checked"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(checked.contains(&"load.check-perf-fail"), "{checked:?}");
    assert_eq!(keys_under(c, "/t-healthy/"), 0);
}

fn sigint_mid_run_still_deletes_the_prefix(c: &Cluster) {
    let child = load(
        c,
        "--rate 200 --clients 20 --duration 60s --prefix /t-sigint/ -w json",
    )
    .stdout(Stdio::null())
    .stderr(Stdio::piped())
    .spawn()
    .unwrap();
    // Wait until keys are being written.
    let deadline = Instant::now() + Duration::from_secs(20);
    while keys_under(c, "/t-sigint/") == 0 {
        assert!(Instant::now() < deadline, "no key written within 20 s");
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_secs(1));
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let started = Instant::now();
    let out = child.wait_with_output().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(15),
        "took {:?} to stop",
        started.elapsed()
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("interrupted by SIGINT"), "{stderr}");
    assert_eq!(keys_under(c, "/t-sigint/"), 0);
}

/// Spawns `load` with `args`, waits until it has written keys under
/// `prefix`, then returns the child (its stdout piped).
fn spawn_writing(c: &Cluster, args: &str, prefix: &str) -> std::process::Child {
    let child = load(c, args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while keys_under(c, prefix) == 0 {
        assert!(Instant::now() < deadline, "no key written within 20 s");
        std::thread::sleep(Duration::from_millis(200));
    }
    child
}

/// Keys another client writes under the prefix during the run (one with a
/// name of its own, one of the load's length but not its shape) survive
/// the clean-up and are reported; the run's own keys are gone.
fn foreign_keys_survive_and_are_reported(c: &Cluster) {
    let child = spawn_writing(
        c,
        "--rate 200 --clients 20 --duration 4s --key-size 16 --prefix /t-foreign/ -w json",
        "/t-foreign/",
    );
    for (key, value) in [
        ("/t-foreign/other-client", "theirs"),
        ("/t-foreign/zzzzzzzzzzzzzzzz", "same length"),
    ] {
        assert!(c.etcdctl(&["put", key, value]).status.success());
    }
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(matches!(out.status.code(), Some(0 | 1)), "{stderr}");
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    let l = &r["load"];
    assert_eq!(l["foreign_keys"], 2, "{l:#}");
    let named = l["foreign_key_examples"].to_string();
    assert!(named.contains("/t-foreign/other-client"), "{named}");
    assert!(l["deleted_keys"].as_u64().unwrap() > 0);
    assert_eq!(keys_under(c, "/t-foreign/"), 2);
    let get = c.etcdctl(&["get", "/t-foreign/other-client", "--print-value-only"]);
    assert_eq!(String::from_utf8_lossy(&get.stdout).trim(), "theirs");
    assert!(c
        .etcdctl(&["del", "--prefix", "/t-foreign/"])
        .status
        .success());
}

/// SIGINT during a `--compact --defrag` run: the run's keys are deleted,
/// compact and defrag are skipped and the output says so.
fn sigint_skips_compact_and_defrag(c: &Cluster) {
    let before = revision(c);
    let child = spawn_writing(
        c,
        "--rate 200 --clients 20 --duration 60s --compact --defrag --prefix /t-maint/ -w json",
        "/t-maint/",
    );
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(child.id() as i32),
        nix::sys::signal::Signal::SIGINT,
    )
    .unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--compact/--defrag skipped"), "{stderr}");
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    let l = &r["load"];
    assert!(
        l["maintenance_skipped"]
            .as_str()
            .unwrap()
            .contains("SIGINT"),
        "{l:#}"
    );
    assert!(l.get("compacted_revision").is_none(), "{l:#}");
    assert_eq!(l["defragmented"], serde_json::json!([]));
    assert_eq!(keys_under(c, "/t-maint/"), 0);
    // Nothing compacted: the revision before the run can still be read.
    let old = c.etcdctl(&["get", "x", "--rev", &before.to_string()]);
    assert!(
        old.status.success(),
        "{}",
        String::from_utf8_lossy(&old.stderr)
    );
}

fn occupied_prefix_is_refused(c: &Cluster) {
    let put = c.etcdctl(&["put", "/t-occupied/mine", "x"]);
    assert!(put.status.success());
    let before = revision(c);
    let out = exits(&mut load(c, "--duration 3s --prefix /t-occupied/"), 2);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--prefix \"/t-occupied/\" holds 1 keys"),
        "{stderr}"
    );
    assert!(
        stderr.contains("etcdctl del --prefix /t-occupied/"),
        "{stderr}"
    );
    assert_eq!(revision(c), before, "something was written");
    assert_eq!(keys_under(c, "/t-occupied/"), 1);
}

fn active_alarm_is_refused(c: &Cluster) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let url = c.members[0].client_url();
    let set = |action| {
        rt.block_on(async {
            let mut client = Client::connect([url.as_str()], None).await.unwrap();
            let id = client.status().await.unwrap().header().unwrap().member_id();
            let mut opts = etcd_client::AlarmOptions::new();
            opts.with_member(id);
            client
                .alarm(action, AlarmType::Nospace, Some(opts))
                .await
                .unwrap();
        })
    };
    set(AlarmAction::Activate);
    let before = revision(c);
    let out = exits(&mut load(c, "--duration 3s --prefix /t-alarm/"), 2);
    set(AlarmAction::Deactivate);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("alarm NOSPACE is active"), "{stderr}");
    assert!(stderr.contains("--force"), "{stderr}");
    assert_eq!(revision(c), before, "something was written");
}

/// A killed member (its status and its read both refused) is down: the
/// run is refused by name, nothing written. A member that is only slow
/// (its read timing out, its status answering) is loaded: see load_netns.
fn a_down_member_is_refused(c: &mut Cluster) {
    c.kill(2);
    let before = revision(c);
    let out = exits(
        &mut load(c, "--duration 3s --prefix /t-down/ --dial-timeout 1s"),
        2,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("does not answer: the run would measure a degraded cluster"),
        "{stderr}"
    );
    assert!(stderr.contains("--force"), "{stderr}");
    assert_eq!(revision(c), before, "something was written");
}

fn impossible_rates_are_refused(c: &Cluster) {
    let before = revision(c);
    for (args, needle) in [
        ("--rate 0", "--rate must be from 1 to 100000"),
        ("--rate 1000000", "--rate must be from 1"),
        ("--rate 1 --duration 500ms", "sends no request"),
        (
            "--clients 5 --conns 10",
            "--conns 10 is more than --clients 5",
        ),
        ("--duration 20m", "longer than --max-duration"),
    ] {
        let out = exits(&mut load(c, &format!("{args} --prefix /t-bad/")), 2);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains(needle), "{args}: {stderr}");
    }
    assert_eq!(revision(c), before, "something was written");
}

#[test]
fn load_on_a_live_cluster() {
    load_family(Version::V35);
}

#[test]
fn etcd36_load_on_a_live_cluster() {
    if support::releases::available(Version::V36, "etcd36_load_on_a_live_cluster") {
        load_family(Version::V36);
    }
}

/// etcdctl's own `check perf --load s` (60 s, etcd 3.6's etcdctl) on the
/// cluster `load --load s` just passed: it passes too, at the same
/// throughput (150 writes/s within 10 %), and leaves no key behind.
///
/// etcdctl's own verdict includes its slowest request under 0.5 s; one
/// stall of this shared VM made it fail that alone once in a CI run
/// (0.72 s, throughput and spread passing). Such a run is taken again,
/// once; the second must pass every verdict as the first had to.
fn check_perf_agrees(c: &Cluster) {
    let started = Instant::now();
    let check = || c.etcdctl(&["check", "perf", "--load", "s", "--prefix", "/t-checkperf/"]);
    let mut out = check();
    let only_slowest_failed = |text: &str| {
        text.contains("Slowest request took too long")
            && text.lines().filter(|l| l.starts_with("PASS")).count() == 2
    };
    if !out.status.success() && only_slowest_failed(&String::from_utf8_lossy(&out.stdout)) {
        eprintln!(
            "etcdctl check perf failed only on its slowest request; again:\n{}",
            String::from_utf8_lossy(&out.stdout)
        );
        // A failed run may leave its keys; check perf refuses a used prefix.
        c.etcdctl(&["del", "--prefix", "/t-checkperf/"]);
        out = check();
    }
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let verdicts: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("PASS") || l.starts_with("FAIL"))
        .collect();
    assert_eq!(verdicts.len(), 4, "{stdout}");
    assert!(verdicts.iter().all(|l| l.starts_with("PASS")), "{stdout}");
    let throughput: f64 = verdicts[0]
        .strip_prefix("PASS: Throughput is ")
        .and_then(|t| t.strip_suffix(" writes/s"))
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("{stdout}"));
    assert!((135.0..=165.0).contains(&throughput), "{stdout}");
    assert_eq!(keys_under(c, "/t-checkperf/"), 0);
    eprintln!(
        "etcdctl check perf: {throughput} writes/s in {:.1} s",
        started.elapsed().as_secs_f64()
    );
}

fn load_family(version: Version) {
    let started = Instant::now();
    let mut c = Cluster::start(version, 3);
    healthy_run_passes_and_cleans_up(&c);
    if version == Version::V36 {
        check_perf_agrees(&c);
    }
    sigint_mid_run_still_deletes_the_prefix(&c);
    foreign_keys_survive_and_are_reported(&c);
    sigint_skips_compact_and_defrag(&c);
    occupied_prefix_is_refused(&c);
    active_alarm_is_refused(&c);
    impossible_rates_are_refused(&c);
    a_down_member_is_refused(&mut c);
    eprintln!(
        "etcd {}: load family took {:.1} s",
        version.minor(),
        started.elapsed().as_secs_f64()
    );
}

#[test]
fn an_unreachable_cluster_is_refused() {
    let port = support::etcd::free_port();
    let started = Instant::now();
    let out = exits(
        &mut doctor(&format!(
            "load --endpoints http://127.0.0.1:{port} --duration 3s --dial-timeout 1s"
        )),
        2,
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no member answered"), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(10));
}
