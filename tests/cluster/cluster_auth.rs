//! A real etcd 3.6 cluster with auth enabled and client-certificate
//! authentication (the certificate's CN is the user, as in kubeadm), read
//! by a user without the root role: status, members, health and metrics
//! answer (3.6.12 on lets any user read Status; 3.6.0-3.6.11 asked for
//! root), and the HashKV that `cluster consistency` needs is refused for
//! the role on every member. Each refusal is a row naming the missing root
//! role, never an unreachable or unhealthy member; etcdctl's `endpoint
//! hashkv` exits 1 for the same user, and so does the check. The other
//! maintenance calls the tool makes and 3.6.17 keeps for root (v3.6.x
//! `authMaintenanceServer`: Defragment, Snapshot, Hash, HashKV,
//! MoveLeader, Downgrade, alarm changes; the tool never calls MoveLeader)
//! read the same way: `snapshot save` fails naming the role and leaves no
//! file, and `load --defrag`, allowed to write its own prefix, runs and
//! says per member that the defrag needs the root role.

use crate::support::certs::Pki;
use crate::support::doctor::{doctor, exits, findings, report};
use crate::support::etcd::{available, Cluster, ServerTls, Version};
use crate::support::output;
use serde_json::Value;

/// `--cacert/--cert/--key` of client `user`.
fn as_user(pki: &Pki, user: &str) -> Vec<String> {
    vec![
        format!("--cacert={}", pki.file("ca.crt").display()),
        format!("--cert={}", pki.file(&format!("{user}.crt")).display()),
        format!("--key={}", pki.file(&format!("{user}.key")).display()),
    ]
}

fn ok(c: &Cluster, args: &[&str]) {
    let out = c.etcdctl(args);
    assert!(
        out.status.success(),
        "etcdctl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn etcd36_a_user_without_the_root_role_reads_what_it_may() {
    if !available(Version::V36, "etcd36_a_user_without_the_root_role") {
        return;
    }
    let pki = Pki::generate();
    pki.client("root");
    pki.client("reader");
    // The tests' own etcdctl is root.
    let c = Cluster::start_tls(
        Version::V36,
        3,
        ServerTls {
            ca: pki.file("ca.crt"),
            cert: pki.file("server.crt"),
            key: pki.file("server.key"),
            client_cert: pki.file("root.crt"),
            client_key: pki.file("root.key"),
        },
    );
    c.put_keys(20);
    ok(&c, &["user", "add", "root", "--no-password"]);
    ok(&c, &["user", "grant-role", "root", "root"]);
    ok(&c, &["role", "add", "reader"]);
    ok(
        &c,
        &[
            "role",
            "grant-permission",
            "reader",
            "read",
            "key-",
            "--prefix",
        ],
    );
    ok(
        &c,
        &[
            "role",
            "grant-permission",
            "reader",
            "readwrite",
            "/t-auth/",
            "--prefix",
        ],
    );
    ok(&c, &["user", "add", "reader", "--no-password"]);
    ok(&c, &["user", "grant-role", "reader", "reader"]);
    ok(&c, &["auth", "enable"]);
    let reader = as_user(&pki, "reader");
    let ep = c.members[0].client_url();

    let status = report(
        doctor("cluster status --cluster -w json --endpoints")
            .arg(&ep)
            .args(&reader),
        0,
    );
    let rows = status["cluster"]["endpoints"].as_array().unwrap();
    assert_eq!(rows.len(), 3);
    assert!(rows.iter().all(|r| r["id"].is_string()), "{status:#}");
    assert!(findings(&status, "cluster.member-unreachable").is_empty());

    let health = report(
        doctor("cluster health --cluster -w json --endpoints")
            .arg(&ep)
            .args(&reader),
        0,
    );
    assert_eq!(health["verdict"], "pass", "{health:#}");

    // HashKV needs root: etcdctl exits 1, and so do we, naming the role.
    let theirs = c
        .client_command(&c.bins.etcdctl)
        .arg(format!("--endpoints={}", c.endpoints()))
        .args(&reader)
        .args(["endpoint", "hashkv"])
        .output()
        .unwrap();
    assert_eq!(theirs.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&theirs.stderr).contains("permission denied"));
    let out = exits(
        doctor("cluster consistency --interval 0 -w json --endpoints")
            .arg(c.endpoints())
            .args(&reader),
        1,
    );
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    let members = r["cluster"]["consistency"]["members"].as_array().unwrap();
    assert_eq!(members.len(), 3, "{r:#}");
    for m in members {
        let error = m["error"].as_str().unwrap_or_default();
        assert!(error.contains("lacks the root role"), "{m:#}");
        assert!(
            m["status"]["id"].is_string(),
            "Status still answered: {m:#}"
        );
    }
    assert!(
        findings(&r, "cluster.member-unreachable").is_empty(),
        "{r:#}"
    );
    assert!(
        findings(&r, "cluster.data-inconsistent").is_empty(),
        "{r:#}"
    );

    let started = std::time::Instant::now();
    snapshot_and_defrag_name_the_role(&c, &reader);
    eprintln!(
        "snapshot and defrag as reader took {:.1} s",
        started.elapsed().as_secs_f64()
    );

    // Root reads the hashes.
    report(
        doctor("cluster consistency --interval 0 -w json --endpoints")
            .arg(c.endpoints())
            .args(as_user(&pki, "root")),
        0,
    );
}

/// Snapshot and Defragment as `reader`: refused for the role, said so.
fn snapshot_and_defrag_name_the_role(c: &Cluster, reader: &[String]) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("s.db");
    let theirs = c
        .client_command(&c.bins.etcdctl)
        .arg(format!("--endpoints={}", c.members[0].client_url()))
        .args(reader)
        .args(["snapshot", "save"])
        .arg(dir.path().join("theirs.db"))
        .output()
        .unwrap();
    assert!(!theirs.status.success());
    assert!(String::from_utf8_lossy(&theirs.stderr).contains("permission denied"));
    let out = doctor("snapshot save --endpoints")
        .arg(c.members[0].client_url())
        .args(reader)
        .arg(&file)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    eprintln!(
        "snapshot save as reader: etcdctl exit {:?}, ours {:?}: {}",
        theirs.status.code(),
        out.status.code(),
        err.trim()
    );
    assert!(!out.status.success());
    assert!(err.contains("lacks the root role"), "{err}");
    assert!(!file.exists());
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "no partial file left"
    );

    let out = doctor("load --rate 30 --clients 2 --duration 2s --scrape-interval 1s --prefix /t-auth/ --defrag -w json --endpoints")
        .arg(c.endpoints())
        .args(reader)
        .output()
        .unwrap();
    let r = output::json(&out.stdout);
    assert_timing_findings_only(&r, out.status.code());
    let load = &r["load"];
    assert!(load["all"]["ok"].as_u64().unwrap() > 10, "{load:#}");
    assert_eq!(load["all"]["errors"], 0, "{load:#}");
    // Two clients over three members: the third is defragmented (here,
    // refused) over a connection of its own.
    let lines = load["defragmented"].as_array().unwrap();
    assert_eq!(lines.len(), 3, "{load:#}");
    for line in lines {
        assert!(
            line.as_str().unwrap().contains("lacks the root role"),
            "{line}"
        );
    }
    assert!(
        findings(&r, "cluster.member-unreachable").is_empty(),
        "{r:#}"
    );
}

/// What a short `load` as a reader may find besides nothing: on a machine
/// busy with the rest of the suite its latency, its own schedule and the
/// members' disk and peer histograms can pass their levels. The reader's
/// role is never one of them: the refusals are rows, not findings. Any
/// other warn or fail finding fails the test with the report, and so does
/// an exit that does not match the findings (1 with a fail finding, the
/// default `--fail-on fail`; 0 without).
fn assert_timing_findings_only(r: &Value, code: Option<i32>) {
    const TIMING: &[&str] = &[
        "load.latency-slow",
        "load.generator-behind",
        "load.check-perf-fail",
        "cluster.metrics-wal-fsync-slow",
        "cluster.metrics-backend-commit-slow",
        "cluster.metrics-peer-rtt-high",
    ];
    let with = |severity: &str| -> Vec<&str> {
        r["findings"]
            .as_array()
            .map(|f| {
                f.iter()
                    .filter(|f| f["severity"] == severity)
                    .filter_map(|f| f["id"].as_str())
                    .collect()
            })
            .unwrap_or_default()
    };
    let (warn, fail) = (with("warn"), with("fail"));
    eprintln!("load as reader: exit {code:?}, warn {warn:?}, fail {fail:?}");
    assert!(
        warn.iter().chain(&fail).all(|id| TIMING.contains(id)),
        "{r:#}"
    );
    match code {
        Some(0) => assert!(fail.is_empty(), "{r:#}"),
        Some(1) => assert!(!fail.is_empty(), "{r:#}"),
        other => panic!("load exited {other:?}: {r:#}"),
    }
}
