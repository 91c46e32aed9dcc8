//! A load run names the network when a link of one member is slow, the
//! fault injected two ways on one cluster. Three etcd 3.5 members run on
//! their own network-namespace hosts behind a bridge, clients on a fourth;
//! the slow member is always a follower (the leader's link stays free, so
//! no election interferes):
//! - out of the follower: its uplink shaped with HTB (5 Mbit/s, a
//!   100-packet queue, about 240 ms when full) and filled by four iperf3
//!   TCP flows to the other follower, as a shared business NIC is in the
//!   field guide: its raft acks, forwarded proposals and answers queue;
//! - into the follower: the bridge's port toward it shaped with TBF
//!   (4 Mbit/s, 400 ms of queue) and filled by three python TCP flows from
//!   the other follower: appends, requests and /metrics requests to it
//!   queue.
//!
//! Each run must fail and name the network of that follower first: etcd's
//! peer round trips when its prober saw the fault in the window, the TCP
//! handshakes of the client's /metrics requests in any case (etcd records
//! a round trip only every 5 to 30 s, so a short run may see none).

mod support;

use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use support::etcd::{Cluster, Placement, Version};
use support::leader::leader_and_ids;
use support::netns::{Daemon, Net, HOST_IFACE};
use support::pyflows::python_flows;

#[test]
fn a_saturated_follower_link_is_named_in_either_direction() {
    if !support::privileged("a_saturated_follower_link_is_named_in_either_direction") {
        return;
    }
    let net = Net::switched(4).expect("test net");
    let placements = (0..3).map(|i| Placement::on(net.host(i))).collect();
    let c = Cluster::start_on(Version::V35, placements, Some(net.host(3).netns.clone()));

    let (leader, ids) = leader_and_ids(&c);
    let (slow, other) = ((leader + 1) % 3, (leader + 2) % 3);
    {
        let _flow = egress_filled(&net, slow, other);
        slow_side_names(&net, &c, "/t-out/", &ids[slow], "out of the follower");
    }
    tc(&[
        "-n",
        &net.host(slow).netns,
        "qdisc",
        "del",
        "dev",
        HOST_IFACE,
        "root",
    ]);
    std::thread::sleep(Duration::from_secs(2));

    let (leader, ids) = leader_and_ids(&c);
    let (slow, other) = ((leader + 1) % 3, (leader + 2) % 3);
    let _flows = ingress_filled(&net, slow, other);
    slow_side_names(&net, &c, "/t-in/", &ids[slow], "into the follower");
}

fn tc(args: &[&str]) {
    support::run(Command::new("tc").args(args)).unwrap();
}

/// HTB at 5 Mbit/s with a 100-packet queue on `slow`'s uplink, filled by
/// four iperf3 TCP flows to `other`; the flows stop on drop.
fn egress_filled(net: &Net, slow: usize, other: usize) -> (Daemon, Daemon) {
    net.shape(slow, 5).unwrap();
    let ns = &net.host(slow).netns;
    tc(&[
        "-n", ns, "qdisc", "add", "dev", HOST_IFACE, "parent", "1:10", "handle", "10:", "pfifo",
        "limit", "100",
    ]);
    let server = Daemon::start(
        net.command(other, "iperf3")
            .args(["-s", "-1", "-p", "5201"]),
    );
    std::thread::sleep(Duration::from_millis(500));
    let to = net.host(other).ip.to_string();
    let flows = ["-c", &to, "-p", "5201", "-t", "40", "-P", "4"];
    let client = Daemon::start(net.command(slow, "iperf3").args(flows));
    std::thread::sleep(Duration::from_secs(2));
    (server.unwrap(), client.unwrap())
}

/// TBF at 4 Mbit/s with 400 ms of queue on the bridge's port toward
/// `slow`, filled by three python TCP flows from `other`; the flows stop
/// on drop.
fn ingress_filled(net: &Net, slow: usize, other: usize) -> (Daemon, Daemon) {
    let (switch, port) = net.switch_port(slow);
    tc(&[
        "-n", &switch, "qdisc", "add", "dev", &port, "root", "tbf", "rate", "4mbit", "burst",
        "32kbit", "latency", "400ms",
    ]);
    let flows = python_flows(net, other, slow);
    std::thread::sleep(Duration::from_secs(2));
    flows
}

/// A 12 s load run from host 3 fails and names the network of member
/// `slow_id` first; its keys under `prefix` are deleted.
fn slow_side_names(net: &Net, c: &Cluster, prefix: &str, slow_id: &str, fault: &str) {
    let out = net
        .command(3, assert_cmd::cargo::cargo_bin("etcd-doctor"))
        .args([
            "load",
            "--endpoints",
            &c.endpoints(),
            "--rate",
            "150",
            "--clients",
            "50",
        ])
        .args([
            "--duration",
            "12s",
            "--scrape-interval",
            "3s",
            "--prefix",
            prefix,
        ])
        // The slow member's SYN-ACK waits in (or falls out of) the full
        // queue, and TCP sends the SYN again after 1 s and 3 s: the 2 s
        // default (etcdctl's) lost the dial once in CI.
        .args(["--dial-timeout", "8s"])
        .args(["-w", "json"])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{fault}: {stderr}");
    let r: Value = crate::support::output::json(&out.stdout);
    let load_fail = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["severity"] == "fail" && f["id"].as_str().unwrap().starts_with("load."))
        .unwrap_or_else(|| panic!("{fault}: no failing load finding: {r:#}"));
    let summary = load_fail["summary"].as_str().unwrap();
    let handshakes: Vec<String> = r["load"]["server"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| format!("{} {}", m["member_id"], m["tcp_handshake_ms_median"]))
        .collect();
    eprintln!("{fault}: {summary}\nhandshakes from the client, ms: {handshakes:?}");
    let side = summary.split_once("the slow side: ").map_or("", |s| s.1);
    let first = side.split(';').next().unwrap();
    let server = &r["load"]["server"];
    assert!(
        first.starts_with("the network") && first.contains(slow_id),
        "{fault}: member {slow_id} not first in {summary}\nthe client's view: {server:#}\nthe run's window: {:#}",
        r["cluster"]["metrics"]
    );
    // Every acknowledged put's key is deleted; a put that timed out at the
    // client over the saturated link may still have been applied, and its
    // key deleted too.
    let all = &r["load"]["all"];
    let (ok, errors) = (all["ok"].as_u64().unwrap(), all["errors"].as_u64().unwrap());
    let deleted = r["load"]["deleted_keys"].as_u64().unwrap();
    assert!(
        (ok..=ok + errors).contains(&deleted),
        "{fault}: prefix not deleted: {deleted} keys deleted, {ok} puts acknowledged, {errors} failed"
    );
}
