//! `net.lossy-link` from etcd's own peer sockets (issue 25): three etcd
//! members on three test hosts (network namespaces on a bridge),
//! `diagnose --no-disk` from m0's host under a put load, on etcd 3.5 and
//! then 3.6. Faults, iptables `statistic --mode random` drops of port-2380
//! packets (neither fills the link), injected two ways:
//! - out: 5 % and 15 % of m0's packets dropped where the peers receive
//!   them (hosts 1 and 2's INPUT, `-s` m0): m0's data is lost and m0's
//!   kernel sends it again; named as m0 -> m1 or m2, way=out.
//! - back: 5 % and 15 % of the peers' packets dropped where m0 receives
//!   them (host 0's INPUT): m0's data arrives but the peers' acks are
//!   lost, so m0's resends are duplicates the peers report (D-SACK); the
//!   peers' own resends of their lost data are on their hosts, which m0's
//!   sockets cannot see. Named as way=back (peer -> this member), never
//!   way=out, with the note that the peer's kernel counts its own loss.
//!
//! Twins: the same cluster idle and under the put load with no drops: no
//! lossy link, with the peer sockets read (bytes sent counted), so the
//! clean verdict is not for want of evidence.

mod support;

use std::process::Stdio;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::doctor::judged;
use support::etcd::{Cluster, Placement, Version};
use support::netns::Net;

const BIN: &str = env!("CARGO_BIN_EXE_etcd-doctor");

/// `diagnose` from host 0, judged.
fn diagnose(net: &Net, c: &Cluster) -> Value {
    judged(
        net.command(0, BIN)
            .args(["diagnose", "-w", "json", "--no-disk", "--no-logs"])
            .args(["--interval", "5s", "--endpoints", &c.endpoints()]),
    )
}

/// m0's peer sockets in `r`.
fn m0_sockets(r: &Value) -> Vec<Value> {
    let etcd = r["host"]["activity"]["etcd"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let m0 = etcd.iter().find(|p| p["member_name"] == "m0");
    m0.and_then(|p| p["peer_sockets"].as_array().cloned())
        .unwrap_or_default()
}

/// m0's peer sockets in `r`: (bytes sent, bytes sent again).
fn m0_sent(r: &Value) -> (u64, u64) {
    m0_sockets(r).iter().fold((0, 0), |(s, a), x| {
        (
            s + x["bytes_sent"].as_u64().unwrap(),
            a + x["bytes_retrans"].as_u64().unwrap(),
        )
    })
}

/// The warn/fail net.lossy-link findings of `r`.
fn lossy(r: &Value) -> Vec<&Value> {
    r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["id"] == "net.lossy-link" && f["severity"] != "info")
        .collect()
}

/// A put loop from the clients' namespace until `stop`.
fn put_load(c: &Cluster, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<()> {
    let mut cmds: Vec<_> = (0..2000)
        .map(|i| {
            let mut cmd = c.client_command(&c.bins.etcdctl);
            cmd.arg(format!("--endpoints={}", c.endpoints()))
                .args([
                    "--command-timeout=3s",
                    "put",
                    &format!("k{i}"),
                    &"v".repeat(20_000),
                ])
                .stdout(Stdio::null())
                .stderr(Stdio::null());
            cmd
        })
        .collect();
    std::thread::spawn(move || {
        for cmd in &mut cmds {
            if stop.load(Ordering::Relaxed) {
                return;
            }
            let _ = cmd.status();
        }
    })
}

/// Where a fault's drops sit.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Way {
    /// m0's packets, on the peers' INPUT.
    Out,
    /// The peers' packets, on m0's INPUT.
    Back,
}

/// The iptables rule dropping share `p` of the peer packets of `way`, and
/// the hosts it goes on.
fn drop_rule(net: &Net, way: Way, p: &str) -> (Vec<String>, Vec<usize>) {
    let m0 = net.host(0).ip.to_string();
    let mut rule = vec!["INPUT".to_string()];
    let hosts = match way {
        Way::Out => {
            rule.extend(["-s".to_string(), m0]);
            vec![1, 2]
        }
        Way::Back => vec![0],
    };
    rule.extend(
        [
            "-p",
            "tcp",
            "-m",
            "multiport",
            "--ports",
            "2380",
            "-m",
            "statistic",
            "--mode",
            "random",
            "--probability",
            p,
            "-j",
            "DROP",
        ]
        .map(String::from),
    );
    (rule, hosts)
}

/// `diagnose` with share `p` of the peer packets of `way` dropped.
fn diagnose_with_drops(net: &Net, c: &Cluster, way: Way, p: &str) -> Value {
    let (rule, hosts) = drop_rule(net, way, p);
    let rule: Vec<&str> = rule.iter().map(String::as_str).collect();
    for &h in &hosts {
        net.run(h, "iptables", &[&["-A"][..], &rule[..]].concat())
            .unwrap();
    }
    let r = diagnose(net, c);
    for &h in &hosts {
        net.run(h, "iptables", &[&["-D"][..], &rule[..]].concat())
            .unwrap();
    }
    r
}

/// m0's peer sockets in `r`: (retransmissions, duplicates, segments
/// received, of them out of order).
fn m0_resends(r: &Value) -> (u64, u64, u64, u64) {
    let socks = m0_sockets(r);
    let field = |x: &Value, name: &str| x[name].as_u64().unwrap();
    socks.iter().fold((0, 0, 0, 0), |(n, d, i, o), x| {
        (
            n + field(x, "retransmits"),
            d + field(x, "duplicates"),
            i + field(x, "segments_received"),
            o + field(x, "out_of_order_received"),
        )
    })
}

#[test]
fn etcds_own_peer_sockets_name_a_lossy_link() {
    if !support::privileged("etcds_own_peer_sockets_name_a_lossy_link") {
        return;
    }
    if std::process::Command::new("iptables")
        .arg("--version")
        .output()
        .is_err()
    {
        println!("SKIP etcds_own_peer_sockets_name_a_lossy_link: no iptables (scripts/install-test-deps)");
        return;
    }
    lossy_links(Version::V35);
    if support::etcd::available(Version::V36, "etcd36_own_peer_sockets_name_a_lossy_link") {
        lossy_links(Version::V36);
    }
}

/// Both twins and both injections at both rates on a cluster of `version`.
fn lossy_links(version: Version) {
    let start = Instant::now();
    let v = version.minor();
    let net = Net::switched(3).unwrap();
    let placements = (0..3).map(|i| Placement::on(net.host(i))).collect();
    let c = Cluster::start_on(version, placements, Some(net.host(0).netns.clone()));

    let idle = diagnose(&net, &c);
    assert!(lossy(&idle).is_empty(), "{v} idle: {:#}", idle["findings"]);
    let (sent, _) = m0_sent(&idle);
    assert!(
        sent > 0,
        "{v} idle: m0's peer sockets not read: {:#}",
        idle["host"]["activity"]
    );

    let stop = Arc::new(AtomicBool::new(false));
    // Two writers of 20 kB values: enough segments in a 5 s window that a
    // 5 % loss shows above the 1 % threshold, not just by chance.
    let writers = [put_load(&c, stop.clone()), put_load(&c, stop.clone())];
    std::thread::sleep(Duration::from_secs(1));
    let busy = diagnose(&net, &c);
    let (busy_sent, busy_again) = m0_sent(&busy);
    let (_, _, busy_in, busy_ooo) = m0_resends(&busy);
    eprintln!(
        "{v} busy: m0 sent {busy_sent} B, {busy_again} B again; received {busy_in} segments, \
         {busy_ooo} out of order"
    );
    assert!(lossy(&busy).is_empty(), "{v} busy: {:#}", busy["findings"]);
    assert!(
        busy_sent > sent,
        "{v} busy: no more peer traffic than idle ({busy_sent} B)"
    );

    // Out: the drops sit on the peers' INPUT, for packets from m0: lost on
    // the wire from m0's side, so m0's kernel must send them again (a drop
    // in m0's own OUTPUT chain is an error to its TCP stack, not a loss,
    // and is retried without counting as a retransmission). Back: on m0's
    // INPUT, for the peers' packets.
    for way in [Way::Out, Way::Back] {
        for p in ["0.05", "0.15"] {
            let r = diagnose_with_drops(&net, &c, way, p);
            let (s, a) = m0_sent(&r);
            let (n, d, i, o) = m0_resends(&r);
            eprintln!(
                "{v} {way:?} {p}: m0 sent {s} B, {a} B again, {n} retransmissions, {d} \
                 duplicates; received {i} segments, {o} out of order"
            );
            let found = lossy(&r);
            assert!(
                !found.is_empty(),
                "{v} {way:?} {p}: not found: {:#}",
                r["findings"]
            );
            for f in &found {
                let summary = f["summary"].as_str().unwrap();
                eprintln!("{v} {way:?} {p}: {} {summary}", f["severity"]);
                assert!(summary.contains(" on 10."), "{summary}");
                match way {
                    Way::Out => {
                        assert!(summary.contains("the peer link from m0 ("), "{summary}");
                        assert!(summary.contains("way=out"), "{summary}");
                        assert!(
                            summary.contains("to m1 (") || summary.contains("to m2 ("),
                            "{summary}"
                        );
                    }
                    Way::Back => {
                        assert!(
                            summary.contains("the peer link from m1 (")
                                || summary.contains("the peer link from m2 ("),
                            "{summary}"
                        );
                        assert!(summary.contains("to m0 ("), "{summary}");
                        assert!(summary.contains("way=back"), "{summary}");
                        assert!(!summary.contains("way=out"), "{summary}");
                        assert!(summary.contains("only the kernel on 10."), "{summary}");
                    }
                }
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.join().unwrap();
    }
    eprintln!("{v} took {:.0} s", start.elapsed().as_secs_f64());
}
