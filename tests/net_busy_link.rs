//! A link already filled by someone else's traffic when `net` starts (the
//! field guide's backup or business flow on the NIC etcd shares). Two
//! namespace hosts on a veth pair, the bottleneck an HTB rate limit; an
//! iperf3 flow runs for the whole test before `net` begins, so the "idle"
//! RTT is already queued and our own transfers only get a share of the
//! link. `net` must still report net.nic-saturated, saying that other
//! traffic fills the link (seen in the second before our probe), naming
//! iperf3 among the top flows, and that there is no unloaded baseline. Two
//! shapes: the flow leaving host 0 on a 20 Mbit/s link, and a flow
//! arriving at host 0 (iperf3 -R) on a 10 Mbit/s link shaped both ways.
//! Baseline: the 20 Mbit/s link loaded only by our own probe names no
//! other traffic.

mod support;

use std::time::Duration;

use etcd_doctor::facts::Report;
use support::netns::{Daemon, Net};

const BIN: &str = env!("CARGO_BIN_EXE_etcd-doctor");
const TOKEN: &str = "busy-link-token";

/// Starts `program args` on host `i` as a daemon.
fn daemon(net: &Net, i: usize, program: &str, args: &[&str]) -> Daemon {
    Daemon::start(net.command(i, program).args(args)).unwrap()
}

/// Host 1 runs an agent and an iperf3 server; host 0 an iperf3 client for
/// at most 40 s when `flow` is given (`Some(true)`: reversed, host 1
/// sends); then `net` runs from host 0 and its report is returned.
fn busy_run(test: &str, mbit: u32, shape_both: bool, flow: Option<bool>) -> Option<Report> {
    if !support::privileged(test) {
        return None;
    }
    let net = Net::pair().unwrap();
    net.shape(0, mbit).unwrap();
    if shape_both {
        net.shape(1, mbit).unwrap();
    }
    let ip1 = net.host(1).ip.to_string();
    let mut agent = daemon(
        &net,
        1,
        BIN,
        &[
            "agent",
            "--listen",
            &format!("{ip1}:7480"),
            "--token",
            TOKEN,
        ],
    );
    agent
        .wait_for("listening on", Duration::from_secs(10))
        .unwrap();
    let _server = daemon(&net, 1, "iperf3", &["-s", "-B", &ip1, "-p", "5201"]);
    std::thread::sleep(Duration::from_millis(500));
    let mut client_args = vec!["-c", ip1.as_str(), "-p", "5201", "-t", "40"];
    if flow == Some(true) {
        client_args.push("-R");
    }
    let _flow = flow.map(|_| daemon(&net, 0, "iperf3", &client_args));
    // The flow fills the link and its queue before `net` starts.
    std::thread::sleep(Duration::from_secs(3));
    let out = net
        .command(0, BIN)
        .args(["net", "--token", TOKEN, "-w", "json", "--peers"])
        .arg(format!("{ip1}:7480"))
        .args(["--probe=throughput,loaded-rtt", "--duration=3"])
        .output()
        .unwrap();
    assert!(matches!(out.status.code(), Some(0 | 1)), "{out:?}");
    Some(crate::support::output::parsed_from(&out))
}

fn assert_busy_link_named(r: &Report) {
    support::busylink::saturated_naming(
        r,
        &[
            "other traffic fills the link",
            "in the second before our probe began",
            "top flows: iperf3 (pid",
            "no unloaded RTT baseline",
        ],
    );
}

#[test]
fn a_flow_already_leaving_the_host_is_named_as_other_traffic() {
    if let Some(r) = busy_run("a_flow_already_leaving_the_host", 20, false, Some(false)) {
        assert_busy_link_named(&r);
    }
}

#[test]
fn a_flow_already_arriving_at_the_host_is_named_as_other_traffic() {
    if let Some(r) = busy_run("a_flow_already_arriving_at_the_host", 10, true, Some(true)) {
        assert_busy_link_named(&r);
    }
}

#[test]
fn a_link_loaded_only_by_our_own_probe_names_no_other_traffic() {
    if let Some(r) = busy_run("a_link_loaded_only_by_our_own_probe", 20, false, None) {
        assert!(
            !r.findings
                .iter()
                .any(|f| f.summary.contains("other traffic")),
            "{:#?}",
            r.findings
        );
        // Our own traffic's mean stays near our own ceiling at most (the
        // interface counts headers, the ceiling is goodput), both ways.
        for nic in r.net.iter().filter_map(|x| x.nic.as_ref()) {
            assert!(
                nic.tx_mbit_s <= nic.tx_ceiling_mbit_s.unwrap() * 1.1,
                "{nic:?}"
            );
            assert!(
                nic.rx_mbit_s <= nic.rx_ceiling_mbit_s.unwrap() * 1.1,
                "{nic:?}"
            );
        }
    }
}
