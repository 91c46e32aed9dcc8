//! Someone else's traffic on the link, injected unlike tests/net_busy_link.rs
//! (one iperf3 TCP flow, HTB, running before `net`):
//! - three small TCP flows of a python bulk copy on a TBF-shaped link, with
//!   a quiet run's report as the unloaded RTT baseline (`--rtt-baseline`):
//!   the finding names python3 and compares the idle RTT with the baseline;
//! - a UDP flood (iperf3 -u, invisible to `ss -t`) that begins after the
//!   probe's quiet window and idle phase, on an HTB-shaped link: the
//!   interface carried far more than our own transfer did.
//!
//! Healthy baseline: an unshaped link with no traffic but ours gives no
//! warn or fail finding. Traffic stays between two namespace hosts, every
//! flow bounded in time (and the link's rate).

mod support;

use std::process::Command;
use std::time::Duration;

use etcd_doctor::facts::Report;
use etcd_doctor::rules::Severity;
use support::busylink::saturated_naming;
use support::netns::{Daemon, Net, HOST_IFACE};
use support::pyflows::python_flows;

const BIN: &str = env!("CARGO_BIN_EXE_etcd-doctor");
const TOKEN: &str = "busy-shapes-token";

fn daemon(net: &Net, i: usize, program: &str, args: &[&str]) -> Daemon {
    Daemon::start(net.command(i, program).args(args)).unwrap()
}

/// Two hosts; host 1 runs an agent. Host 0's egress is shaped by `shape`.
fn hosts(shape: impl FnOnce(&Net)) -> (Net, Daemon) {
    let net = Net::pair().unwrap();
    shape(&net);
    let listen = format!("{}:7480", net.host(1).ip);
    let mut agent = daemon(
        &net,
        1,
        BIN,
        &["agent", "--listen", &listen, "--token", TOKEN],
    );
    agent
        .wait_for("listening on", Duration::from_secs(10))
        .unwrap();
    (net, agent)
}

/// `net` from host 0 to host 1's agent with `args`.
fn net_cmd(net: &Net, args: &[&str]) -> Command {
    let mut cmd = net.command(0, BIN);
    cmd.args(["net", "--token", TOKEN, "-w", "json", "--peers"])
        .arg(format!("{}:7480", net.host(1).ip))
        .args(args);
    cmd
}

fn report(out: std::process::Output) -> Report {
    assert!(matches!(out.status.code(), Some(0 | 1)), "{out:?}");
    crate::support::output::parsed_from(&out)
}

#[test]
fn three_python_flows_on_a_tbf_link_are_named_against_a_quiet_baseline() {
    if !support::privileged("three_python_flows_on_a_tbf_link") {
        return;
    }
    let (net, _agent) = hosts(|net| {
        let ns = &net.host(0).netns;
        let tbf = [
            "-n", ns, "qdisc", "add", "dev", HOST_IFACE, "root", "tbf", "rate", "20mbit", "burst",
            "32kbit", "latency", "400ms",
        ];
        let ok = Command::new("tc").args(tbf).status().unwrap();
        assert!(ok.success(), "tc tbf");
    });
    let dir = tempfile::tempdir().unwrap();
    let quiet = dir.path().join("quiet.json");
    let out = net_cmd(&net, &["--probe=rtt", "--duration=2"])
        .output()
        .unwrap();
    std::fs::write(&quiet, &out.stdout).unwrap();
    assert!(report(out).findings.is_empty(), "a quiet link first");
    let _flows = python_flows(&net, 0, 1);
    std::thread::sleep(Duration::from_secs(3));
    let out = net_cmd(
        &net,
        &[
            "--probe=throughput,loaded-rtt",
            "--duration=3",
            "--rtt-baseline",
        ],
    )
    .arg(&quiet)
    .output()
    .unwrap();
    let r = report(out);
    let f = saturated_naming(
        &r,
        &[
            "other traffic fills the link",
            "in the second before our probe began",
            "top flows: python3 (pid",
            "x the",
            "of the baseline report",
        ],
    );
    assert!(
        !f.summary.contains("no unloaded RTT baseline"),
        "{}",
        f.summary
    );
    // A share of the link, never more than all of it.
    assert!(f.evidence[0].observed <= 1.0, "{:?}", f.evidence);
    for nic in r.net.iter().filter_map(|x| x.nic.as_ref()) {
        assert!(nic.utilization_ratio.is_none_or(|u| u <= 1.0), "{nic:?}");
    }
}

#[test]
fn a_udp_flood_starting_after_the_idle_phase_is_named_as_other_traffic() {
    if !support::privileged("a_udp_flood_starting_after_the_idle_phase") {
        return;
    }
    let (net, _agent) = hosts(|net| net.shape(0, 20).unwrap());
    let ip1 = net.host(1).ip.to_string();
    let _server = daemon(&net, 1, "iperf3", &["-s", "-B", &ip1, "-p", "5201"]);
    std::thread::sleep(Duration::from_millis(500));
    // loaded-rtt alone: 1 s quiet window, 3 s idle, 1 s warm-up, 3 s
    // loaded. The flood starts 4.5 s in, so only the loaded phase sees it.
    let probe = net_cmd(&net, &["--probe=loaded-rtt", "--duration=3"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(4500));
    let flood = [
        "-c", &ip1, "-p", "5201", "-u", "-b", "15M", "-t", "8", "-l", "1200",
    ];
    let _flood = daemon(&net, 0, "iperf3", &flood);
    let r = report(probe.wait_with_output().unwrap());
    saturated_naming(
        &r,
        &[
            "other traffic fills the link",
            "while our probe ran",
            "no unloaded RTT baseline",
        ],
    );
    let nic = r.net[0].nic.as_ref().unwrap();
    let before = nic.before_probe.as_ref().expect("a quiet window before");
    assert!(before.tx_mbit_s < 1.0, "{before:?}");
}

#[test]
fn an_unshaped_link_with_only_our_own_traffic_has_no_warning() {
    if !support::privileged("an_unshaped_link_with_only_our_own_traffic") {
        return;
    }
    let (net, _agent) = hosts(|_| {});
    let r = report(
        net_cmd(&net, &["--probe=throughput,loaded-rtt", "--duration=3"])
            .output()
            .unwrap(),
    );
    let loud: Vec<_> = r
        .findings
        .iter()
        .filter(|f| f.severity >= Severity::Warn)
        .collect();
    assert!(loud.is_empty(), "{loud:#?} {:#?}", r.net);
    let nic = r.net[1].nic.as_ref().unwrap();
    assert!(nic.other_flows.is_empty(), "{nic:?}");
    assert!(nic.utilization_ratio.is_none_or(|u| u <= 1.0), "{nic:?}");
}

#[test]
fn an_unreadable_rtt_baseline_is_refused_by_name_before_probing() {
    let dir = tempfile::tempdir().unwrap();
    let junk = dir.path().join("junk.json");
    std::fs::write(&junk, "not a report").unwrap();
    for path in [junk, dir.path().join("missing.json")] {
        let out = Command::new(BIN)
            .args(["net", "--token", TOKEN, "--peers", "127.0.0.1:9"])
            .arg("--rtt-baseline")
            .arg(&path)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains("--rtt-baseline"), "{err}");
        assert!(err.contains(&path.display().to_string()), "{err}");
    }
}
