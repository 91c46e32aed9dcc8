//! A fleet path judged by its throughput: three test hosts (network
//! namespaces on one switch), an agent on each, `net --probe
//! rtt,throughput` from each to the two others (0.5 s per direction), and
//! `merge` of the three reports. One path capped two different ways, its
//! idle RTT left normal: HTB at 10 Mbit/s on host 0's egress to host 1,
//! and a TBF at 2 Mbit/s (under an unlimited HTB class, one destination
//! filtered to it) on host 2's egress to host 0. `fleet.path-outlier` names that link
//! by its throughput; the healthy twin (no cap) has no outlier. About 10 s
//! a case.

mod support;

use std::io::Write;
use std::process::{Command, Stdio};
use std::time::Duration;

use etcd_doctor::fleet::FleetReport;
use etcd_doctor::rules::FindingId;
use support::netns::{Daemon, Net, HOST_IFACE};

const BIN: &str = env!("CARGO_BIN_EXE_etcd-doctor");
const TOKEN: &str = "fleet-rate-token";
const PORT: u16 = 7480;
const HOSTS: usize = 3;

/// Throughput runs share two CPUs: one fleet at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// How one path is capped.
enum Cap {
    None,
    /// HTB on `from`'s egress to `to`, Mbit/s.
    Htb(usize, usize, u32),
    /// TBF under a prio band on `from`'s egress to `to`, Mbit/s.
    Tbf(usize, usize, u32),
}

fn tbf_path(net: &Net, from: usize, to: usize, mbit: u32) {
    let ns = net.host(from).netns.clone();
    let dst = net.host(to).ip;
    let tc = |args: String| {
        support::run(
            Command::new("tc")
                .args(["-n", &ns])
                .args(args.split_whitespace()),
        )
        .unwrap()
    };
    // This kernel has no prio qdisc: HTB classes at 100 Gbit/s only sort
    // the traffic, the TBF under the filtered one does the shaping.
    tc(format!(
        "qdisc add dev {HOST_IFACE} root handle 1: htb default 20"
    ));
    for class in ["1:10", "1:20"] {
        tc(format!(
            "class add dev {HOST_IFACE} parent 1: classid {class} htb rate 100000mbit"
        ));
    }
    tc(format!(
        "qdisc add dev {HOST_IFACE} parent 1:10 handle 30: tbf rate {mbit}mbit burst 16kb latency 200ms"
    ));
    tc(format!(
        "filter add dev {HOST_IFACE} parent 1: protocol ip prio 1 u32 match ip dst {dst}/32 flowid 1:10"
    ));
}

/// Runs the fleet with `cap` and returns the merged report and the host
/// names by index.
fn fleet(test: &str, cap: Cap) -> Option<(FleetReport, Vec<String>)> {
    if !support::privileged(test) {
        return None;
    }
    let _serial = SERIAL.lock().unwrap_or_else(|p| p.into_inner());
    let net = Net::switched(HOSTS).unwrap();
    let addr = |i: usize| format!("{}:{PORT}", net.host(i).ip);
    let mut agents = Vec::new();
    for i in 0..HOSTS {
        let mut cmd = net.command(i, BIN);
        cmd.args(["agent", "--listen", &addr(i), "--token", TOKEN]);
        let mut agent = Daemon::start(&mut cmd).unwrap();
        agent
            .wait_for("listening on", Duration::from_secs(10))
            .unwrap();
        agents.push(agent);
    }
    match cap {
        Cap::None => {}
        Cap::Htb(from, to, mbit) => {
            support::pathshape::shape_path(&net, from, net.host(to).ip, mbit).unwrap()
        }
        Cap::Tbf(from, to, mbit) => tbf_path(&net, from, to, mbit),
    }
    let mut stream = Vec::new();
    for i in 0..HOSTS {
        let peers: Vec<String> = (0..HOSTS).filter(|&p| p != i).map(addr).collect();
        let out = net
            .command(i, BIN)
            .args(["net", "--token", TOKEN, "-w", "json", "--duration", "0.5"])
            .args(["--probe", "rtt,throughput", "--peers", &peers.join(",")])
            .output()
            .unwrap();
        assert_ne!(
            out.status.code(),
            Some(2),
            "host {i}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        stream.extend(&out.stdout);
    }
    drop(agents);
    let mut child = Command::new(BIN)
        .args(["merge", "-", "-w", "json"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(&stream).unwrap();
    let out = child.wait_with_output().unwrap();
    let report: FleetReport = crate::support::output::parsed_from(&out);
    assert_eq!(report.hosts.len(), HOSTS, "{:?}", report.notes);
    let names = (0..HOSTS)
        .map(|i| {
            let ip = net.host(i).ip.to_string();
            report
                .hosts
                .iter()
                .find(|h| h.addresses.iter().any(|a| a.to_string() == ip))
                .unwrap()
                .name
                .clone()
        })
        .collect();
    for p in &report.paths {
        eprintln!(
            "{} -> {}: rtt p99 {:?} ms, up {:?} down {:?} Mbit/s",
            p.from, p.to, p.rtt_p99_ms, p.upload_mbit_s, p.download_mbit_s
        );
    }
    for f in &report.findings {
        eprintln!("{}: {}", f.id, f.summary);
    }
    Some((report, names))
}

/// Asserts that the one path outlier is the link between hosts `a` and
/// `b`, judged by throughput, its RTT not an outlier.
fn capped_link_is_the_outlier(test: &str, cap: Cap, a: usize, b: usize) {
    let Some((report, names)) = fleet(test, cap) else {
        return;
    };
    let outliers: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.id == FindingId::FleetPathOutlier)
        .collect();
    assert_eq!(outliers.len(), 1, "{:#?}", report.findings);
    let (x, y) = if names[a] <= names[b] {
        (&names[a], &names[b])
    } else {
        (&names[b], &names[a])
    };
    let s = &outliers[0].summary;
    assert!(
        s.starts_with(&format!("path {x} <-> {y}: throughput")),
        "{s}"
    );
    assert!(!s.contains("RTT p99"), "{s}");
}

#[test]
fn a_path_capped_by_htb_at_10_mbit_is_a_throughput_outlier() {
    capped_link_is_the_outlier("fleet_htb_10_mbit", Cap::Htb(0, 1, 10), 0, 1);
}

#[test]
fn a_path_capped_by_tbf_at_2_mbit_is_a_throughput_outlier() {
    capped_link_is_the_outlier("fleet_tbf_2_mbit", Cap::Tbf(2, 0, 2), 2, 0);
}

#[test]
fn equal_paths_have_no_outlier() {
    let Some((report, _)) = fleet("fleet_equal_paths", Cap::None) else {
        return;
    };
    assert_eq!(report.paths.len(), HOSTS * (HOSTS - 1));
    assert!(report
        .paths
        .iter()
        .all(|p| p.upload_mbit_s.is_some() && p.rtt_p99_ms.is_some()));
    assert!(
        report
            .findings
            .iter()
            .all(|f| f.id != FindingId::FleetPathOutlier),
        "{:#?}",
        report.findings
    );
}
