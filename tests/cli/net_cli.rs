//! `etcd-doctor net` and `etcd-doctor agent` from the outside, on loopback:
//! bad flags give one line naming the flag and exit 2; a dead peer is a row
//! while the others are measured; no live peer at all is exit 2 with the
//! report still written; the agent binds only where told and stops cleanly
//! on SIGTERM.

use std::process::{Command, Output};
use std::time::Duration;

use crate::support::fails_with;
use crate::support::netns::Daemon;
use assert_cmd::prelude::*;
use etcd_doctor::facts::Report;
use etcd_doctor::probe::net::NetProbeKind;
use etcd_doctor::rules::{FindingId, Severity, Verdict};
use nix::sys::signal::Signal;

const TOKEN: &str = "cli-test-token";
/// A loopback port nothing listens on (tcpmux, never bound in CI).
const DEAD: &str = "127.0.0.1:1";

fn bin() -> Command {
    Command::cargo_bin("etcd-doctor").unwrap()
}

/// An agent on a free loopback port, and its address.
fn agent() -> (Daemon, String) {
    let mut cmd = bin();
    cmd.args(["agent", "--listen", "127.0.0.1:0", "--token", TOKEN]);
    let mut d = Daemon::start(&mut cmd).unwrap();
    let line = d.wait_for("listening on", Duration::from_secs(10)).unwrap();
    let addr = line
        .split_whitespace()
        .nth(4)
        .expect("etcd-doctor agent: listening on ADDR ...")
        .to_string();
    (d, addr)
}

/// `net` with the token and `args`.
fn net_with(args: &[&str]) -> Output {
    bin()
        .args(["net", "--token", TOKEN])
        .args(args)
        .output()
        .unwrap()
}

/// `net` with short phases and timeouts.
fn net(args: &[&str]) -> Output {
    let mut all = vec!["--duration", "0.5", "--timeout", "2"];
    all.extend_from_slice(args);
    net_with(&all)
}

#[test]
fn malformed_flags_name_the_flag() {
    for peers in [
        "10.0.0.1",
        "10.0.0.1:",
        "10.0.0.1:70000",
        "a b:1",
        ":7480",
        "::1:7480",
    ] {
        fails_with(&net_with(&["--peers", peers]), &["--peers", peers]);
    }
    let p = "--peers=127.0.0.1:7480";
    fails_with(
        &net_with(&[p, "--peers=127.0.0.1:7480"]),
        &["--peers", "more than once"],
    );
    fails_with(&net_with(&[p, "--rate=0"]), &["--rate"]);
    fails_with(&net_with(&[p, "--message-size=4"]), &["--message-size"]);
    fails_with(&net_with(&[p, "--duration=-1"]), &["--duration"]);
    fails_with(
        &net_with(&[p, "--iface=no-such-if0"]),
        &["--iface no-such-if0"],
    );
    let out = bin()
        .args(["net", "--peers", "127.0.0.1:7480", "--token", ""])
        .output()
        .unwrap();
    fails_with(&out, &["--token"]);
    for listen in ["localhost:7480", "7480", "10.0.0.1", "0.0.0.0:99999"] {
        let out = bin()
            .args(["agent", "--listen", listen, "--token", TOKEN])
            .output()
            .unwrap();
        fails_with(&out, &["--listen", listen]);
    }
    let out = bin()
        .args([
            "agent",
            "--listen",
            "127.0.0.1:0",
            "--token",
            TOKEN,
            "--max-clients=0",
        ])
        .output()
        .unwrap();
    fails_with(&out, &["--max-clients"]);
}

#[test]
fn the_agent_requires_an_address_and_cannot_take_a_used_one() {
    let out = bin().args(["agent", "--token", TOKEN]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--listen"));
    let (_agent, addr) = agent();
    let out = bin()
        .args(["agent", "--listen", &addr, "--token", TOKEN])
        .output()
        .unwrap();
    fails_with(&out, &["--listen", &addr, "cannot bind"]);
}

#[test]
fn a_dead_peer_is_a_row_and_the_live_one_is_measured() {
    let (mut agent, addr) = agent();
    let peers = format!("{addr},{DEAD}");
    let out = net(&["--peers", &peers, "-w", "json", "--probe", "rtt,throughput"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: Report = crate::support::output::parsed(&out.stdout);
    assert_eq!(r.command, "net");
    assert_eq!(r.net.len(), 4);
    let live: Vec<_> = r.net.iter().filter(|x| x.peer == addr).collect();
    assert!(live.iter().all(|x| x.error.is_none()), "{live:#?}");
    assert_eq!(live[0].probe, NetProbeKind::Rtt);
    assert_eq!(live[0].latency_us.unwrap().samples, 100);
    assert_eq!(live[0].nic.as_ref().unwrap().interface, "lo");
    assert!(live[1].upload_mbit_s.unwrap() > 0.0);
    let dead: Vec<_> = r.net.iter().filter(|x| x.peer == DEAD).collect();
    assert!(dead[0]
        .error
        .as_deref()
        .unwrap()
        .starts_with("cannot connect"));
    assert!(dead[1]
        .error
        .as_deref()
        .unwrap()
        .starts_with("skipped: cannot connect"));
    // The agent logs one line per test, as each connection closes.
    let logged = |a: &mut Daemon, needle| a.wait_for(needle, Duration::from_secs(5)).unwrap();
    assert!(logged(&mut agent, "echo+loss test: ").contains("10000 bytes"));
    logged(&mut agent, "sink test: ");
    logged(&mut agent, "source test: ");
}

#[test]
fn markdown_and_out_file_carry_the_network_sections() {
    let (_agent, addr) = agent();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("net.md");
    let out = net(&[
        "--peers",
        &addr,
        "--probe=rtt",
        "-w",
        "markdown",
        "--out",
        file.to_str().unwrap(),
    ]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.is_empty());
    let md = std::fs::read_to_string(&file).unwrap();
    assert!(md.starts_with("# etcd-doctor net: PASS"), "{md}");
    assert!(md.contains("## Network (RTT counted"), "{md}");
    assert!(md.contains("## Network interfaces"), "{md}");
    assert!(
        md.contains(&format!("| rtt | {addr} | sequential | 100 B |")),
        "{md}"
    );
}

#[test]
fn no_live_peer_is_exit_2_with_the_report_written() {
    let out = net(&["--peers", DEAD, "-w", "json"]);
    fails_with(&out, &["every peer failed", DEAD, "cannot connect"]);
    let r: Report = crate::support::output::parsed(&out.stdout);
    assert_eq!(r.net.len(), 3);
    assert!(r.net.iter().all(|x| x.error.is_some()));
    // A wrong token is just as fatal when it is the only peer.
    let (mut agent, addr) = agent();
    let out = bin()
        .args(["net", "--token", "wrong", "--peers", &addr, "--probe=rtt"])
        .output()
        .unwrap();
    fails_with(&out, &["every peer failed", "wrong token"]);
    agent
        .wait_for("refused: wrong token", Duration::from_secs(5))
        .unwrap();
}

#[test]
fn the_agent_stops_cleanly_on_sigterm() {
    let (mut agent, _) = agent();
    agent.signal(Signal::SIGTERM);
    agent.wait_for("stopped", Duration::from_secs(5)).unwrap();
    assert_eq!(agent.wait_exit(Duration::from_secs(5)), Some(0));
}

#[test]
fn findings_at_fail_severity_exit_1() {
    let (_agent, addr) = agent();
    // A 10 µs heartbeat interval: loopback's RTT is far above it.
    let out = net(&[
        "--peers",
        &addr,
        "--probe=rtt",
        "--heartbeat-interval=0.01",
        "-w",
        "json",
    ]);
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let r: Report = crate::support::output::parsed(&out.stdout);
    assert_eq!(r.verdict, Verdict::Fail);
    let f = &r.findings[0];
    assert_eq!(
        (f.id, f.severity),
        (FindingId::NetPeerRttHigh, Severity::Fail)
    );
    assert!(
        f.recommendation.contains("--heartbeat-interval=10 "),
        "{}",
        f.recommendation
    );
}
