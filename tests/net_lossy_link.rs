//! `net.lossy-link` against real loss: two test hosts (network namespaces
//! on a veth pair), an agent on host 1, `net --probe rtt` from host 0, and
//! iptables `statistic --mode random` drops in host 1's namespace, two
//! rates and two directions: its INPUT (the pings lost, this host -> peer)
//! and its OUTPUT (the echoes lost, peer -> this host). Twins: the same
//! pair with no drops (nothing found), and the pair busy but lossless
//! (HTB at 20 Mbit/s filled by iperf3: at most net.nic-saturated, never
//! lossy). Each run measures for 3 s.

mod support;

use std::process::Output;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use etcd_doctor::facts::Report;
use etcd_doctor::probe::net::NetProbeKind;
use etcd_doctor::rules::{FindingId, Severity};
use support::netns::{Daemon, Net};

const BIN: &str = env!("CARGO_BIN_EXE_etcd-doctor");
const TOKEN: &str = "lossy-token";
const PORT: u16 = 7480;

/// The runs measure timing on a 2-CPU machine: one at a time.
static SERIAL: Mutex<()> = Mutex::new(());

/// Two hosts with an agent on host 1; `None` (after a SKIP line) without
/// root or iptables.
fn pair(test: &str) -> Option<(MutexGuard<'static, ()>, Net, Daemon)> {
    if !support::privileged(test) {
        return None;
    }
    if std::process::Command::new("iptables")
        .arg("--version")
        .output()
        .is_err()
    {
        println!("SKIP {test}: iptables is not installed (scripts/install-test-deps)");
        return None;
    }
    let serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let net = Net::pair().unwrap();
    let listen = format!("{}:{PORT}", net.host(1).ip);
    let mut cmd = net.command(1, BIN);
    cmd.args(["agent", "--listen", &listen, "--token", TOKEN]);
    let mut agent = Daemon::start(&mut cmd).unwrap();
    agent
        .wait_for("listening on", Duration::from_secs(10))
        .unwrap();
    Some((serial, net, agent))
}

fn peer(net: &Net) -> String {
    format!("{}:{PORT}", net.host(1).ip)
}

/// Drops `probability` of host 1's TCP packets in `chain`.
fn drop_in_host1(net: &Net, chain: &str, probability: &str) {
    net.run(
        1,
        "iptables",
        &[
            "-A",
            chain,
            "-p",
            "tcp",
            "-m",
            "statistic",
            "--mode",
            "random",
            "--probability",
            probability,
            "-j",
            "DROP",
        ],
    )
    .unwrap();
}

fn probe(net: &Net, probes: &str) -> (Output, Report) {
    let out = net
        .command(0, BIN)
        .args(["net", "--token", TOKEN, "-w", "json", "--duration", "3"])
        .args(["--peers", &peer(net), "--probe", probes])
        .output()
        .unwrap();
    assert_ne!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Report = crate::support::output::parsed_from(&out);
    for f in &report.findings {
        eprintln!("{} {}: {}", f.id, f.severity, f.summary);
    }
    (out, report)
}

fn warn_or_fail(r: &Report) -> Vec<FindingId> {
    r.findings
        .iter()
        .filter(|f| f.severity > Severity::Info)
        .map(|f| f.id)
        .collect()
}

/// Runs `net --probe rtt` with `chain` of host 1 dropping `probability`,
/// and checks that the lossy link is the one warn/fail finding and names
/// the direction `way` (and not the other).
fn lossy_case(test: &str, chain: &str, probability: &str, way: &str, other_way: &str) {
    let Some((_serial, net, _agent)) = pair(test) else {
        return;
    };
    drop_in_host1(&net, chain, probability);
    let (_, r) = probe(&net, "rtt");
    let rtt = r.net.iter().find(|x| x.probe == NetProbeKind::Rtt).unwrap();
    assert_eq!(rtt.error, None);
    let loss = rtt.path_loss.expect("both ends' accounts");
    assert!(
        loss.outbound.is_some() && loss.inbound.is_some(),
        "{loss:?}"
    );
    assert_eq!(
        warn_or_fail(&r),
        [FindingId::NetLossyLink],
        "{:#?}",
        r.findings
    );
    let f = r
        .findings
        .iter()
        .find(|f| f.id == FindingId::NetLossyLink)
        .unwrap();
    let way = way.replace("PEER", &peer(&net));
    let other_way = other_way.replace("PEER", &peer(&net));
    assert!(f.summary.contains(&way), "{}", f.summary);
    assert!(!f.summary.contains(&other_way), "{}", f.summary);
}

#[test]
fn pings_lost_at_10_percent_name_the_way_out() {
    lossy_case(
        "pings_lost_at_10_percent",
        "INPUT",
        "0.10",
        "this host -> PEER",
        "PEER -> this host",
    );
}

#[test]
fn pings_lost_at_4_percent_name_the_way_out() {
    lossy_case(
        "pings_lost_at_4_percent",
        "INPUT",
        "0.04",
        "this host -> PEER",
        "PEER -> this host",
    );
}

#[test]
fn echoes_lost_at_4_percent_name_the_way_back() {
    lossy_case(
        "echoes_lost_at_4_percent",
        "OUTPUT",
        "0.04",
        "PEER -> this host",
        "this host -> PEER",
    );
}

#[test]
fn echoes_lost_at_10_percent_name_the_way_back() {
    lossy_case(
        "echoes_lost_at_10_percent",
        "OUTPUT",
        "0.10",
        "PEER -> this host",
        "this host -> PEER",
    );
}

#[test]
fn a_quiet_lossless_pair_is_clean() {
    let Some((_serial, net, _agent)) = pair("a_quiet_lossless_pair_is_clean") else {
        return;
    };
    let (out, r) = probe(&net, "rtt");
    assert_eq!(out.status.code(), Some(0));
    let rtt = r.net.iter().find(|x| x.probe == NetProbeKind::Rtt).unwrap();
    let loss = rtt.path_loss.unwrap();
    assert_eq!(loss.outbound.unwrap().resent_bytes, 0, "{loss:?}");
    assert!(warn_or_fail(&r).is_empty(), "{:#?}", r.findings);
}

#[test]
fn a_busy_lossless_link_is_at_most_saturated_never_lossy() {
    let Some((_serial, net, _agent)) = pair("a_busy_lossless_link") else {
        return;
    };
    net.shape(0, 20).unwrap();
    let mut server = net.command(1, "iperf3");
    server.args(["-s", "-p", "5301"]);
    let _server = Daemon::start(&mut server).unwrap();
    std::thread::sleep(Duration::from_millis(500));
    let mut load = net.command(0, "iperf3");
    load.args(["-c", &net.host(1).ip.to_string(), "-p", "5301", "-t", "60"]);
    let _load = Daemon::start(&mut load).unwrap();
    std::thread::sleep(Duration::from_secs(2));
    let (_, r) = probe(&net, "rtt,loaded-rtt");
    let ids: Vec<FindingId> = r.findings.iter().map(|f| f.id).collect();
    assert!(!ids.contains(&FindingId::NetLossyLink), "{:#?}", r.findings);
    assert!(
        warn_or_fail(&r)
            .iter()
            .all(|id| [FindingId::NetNicSaturated, FindingId::NetPeerRttHigh].contains(id)),
        "{:#?}",
        r.findings
    );
    // The link was full: the iperf3 flow was seen beside the pings.
    let rtt = r.net.iter().find(|x| x.probe == NetProbeKind::Rtt).unwrap();
    assert!(rtt.nic.as_ref().unwrap().tx_mbit_s > 10.0, "{rtt:#?}");
}
