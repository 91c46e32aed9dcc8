//! A load run names the network when a link between members is slow.
//! Three etcd 3.5 members run on their own network-namespace hosts behind
//! a bridge, clients on a fourth. One follower's uplink is shaped with HTB
//! (5 Mbit/s, a 100-packet queue: about 240 ms of queueing when full) and
//! saturated by an iperf3 flow to the other follower, as a shared business
//! NIC is in the field guide: its raft acks, forwarded proposals and client
//! answers queue behind it (the leader's own link stays free, so no
//! election interferes). The run must fail and name the network from or
//! to that follower first.

mod support;

use std::process::Command;
use std::time::Duration;

use serde_json::Value;
use support::etcd::{Cluster, Placement, Version};
use support::leader::leader_and_ids;
use support::netns::{Daemon, Net, HOST_IFACE};

#[test]
fn a_saturated_follower_link_is_named() {
    if !support::privileged("a_saturated_follower_link_is_named") {
        return;
    }
    let net = Net::switched(4).expect("test net");
    let placements = (0..3).map(|i| Placement::on(net.host(i))).collect();
    let c = Cluster::start_on(Version::V35, placements, Some(net.host(3).netns.clone()));
    let (leader, ids) = leader_and_ids(&c);
    let (slow, other) = ((leader + 1) % 3, (leader + 2) % 3);

    net.shape(slow, 5).unwrap();
    support::run(Command::new("tc").args([
        "-n",
        &net.host(slow).netns,
        "qdisc",
        "add",
        "dev",
        HOST_IFACE,
        "parent",
        "1:10",
        "handle",
        "10:",
        "pfifo",
        "limit",
        "100",
    ]))
    .unwrap();
    let mut server = net.command(other, "iperf3");
    server.args(["-s", "-1"]);
    let _server = Daemon::start(&mut server).unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let mut client = net.command(slow, "iperf3");
    client.args(["-c", &net.host(other).ip.to_string(), "-t", "40", "-P", "4"]);
    let _flow = Daemon::start(&mut client).unwrap();
    std::thread::sleep(Duration::from_secs(2));

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
            "--duration",
            "12s",
            "--scrape-interval",
            "3s",
            "--prefix",
            "/t-net/",
            "-w",
            "json",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let r: Value = serde_json::from_slice(&out.stdout).unwrap();
    let load_fail = r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["severity"] == "fail" && f["id"].as_str().unwrap().starts_with("load."))
        .unwrap_or_else(|| panic!("no failing load finding: {r:#}"));
    let summary = load_fail["summary"].as_str().unwrap();
    let side = summary
        .split_once("the slow side: ")
        .map(|s| s.1)
        .unwrap_or_default();
    assert!(side.starts_with("the network from member"), "{summary}");
    let first = side.split(';').next().unwrap();
    assert!(
        first.contains(&ids[slow]),
        "member {} not in {first}",
        ids[slow]
    );
    assert_eq!(
        r["load"]["deleted_keys"], r["load"]["all"]["ok"],
        "prefix not deleted"
    );
}
