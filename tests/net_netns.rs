//! `etcd-doctor net` against real agents on real TCP stacks: hosts are
//! network namespaces joined by veth pairs (or a bridge), the bottleneck an
//! HTB rate limit. Covers RTT and throughput, the saturated shared link
//! (the field guide's NIC-sharing problem) against an unshaped one, and
//! peers that fail in every way while the others are still measured.

mod support;

use std::process::{Child, Output, Stdio};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use etcd_doctor::facts::Report;
use etcd_doctor::probe::net::{CeilingSource, NetProbeKind, NetResult, Schedule};
use etcd_doctor::rules::{FindingId, Severity};
use nix::sys::signal::Signal;
use support::netns::{Daemon, Net, HOST_IFACE};

const BIN: &str = env!("CARGO_BIN_EXE_etcd-doctor");

/// Tests measure timing on a 2-CPU machine: one at a time, or they would
/// measure each other.
static SERIAL: Mutex<()> = Mutex::new(());

fn serial() -> MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
const TOKEN: &str = "netns-test-token";
const PORT: u16 = 7480;

/// Starts an agent on host `i` and waits until it listens.
fn agent(net: &Net, i: usize) -> Daemon {
    let listen = format!("{}:{PORT}", net.host(i).ip);
    let mut cmd = net.command(i, BIN);
    cmd.args(["agent", "--listen", &listen, "--token", TOKEN]);
    let mut d = Daemon::start(&mut cmd).unwrap();
    d.wait_for("listening on", Duration::from_secs(10)).unwrap();
    d
}

fn peer(net: &Net, i: usize) -> String {
    format!("{}:{PORT}", net.host(i).ip)
}

/// Starts `net` on host 0 with `args` (plus the token and `-w json`).
fn spawn_net(net: &Net, args: &[&str]) -> Child {
    net.command(0, BIN)
        .args(["net", "--token", TOKEN, "-w", "json"])
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

/// Runs `net` on host 0 with `args` (plus the token and `-w json`).
fn run_net(net: &Net, args: &[&str]) -> Output {
    spawn_net(net, args).wait_with_output().unwrap()
}

/// Runs `net` like [`run_net`], calling `meanwhile` one second in; returns
/// its output and how long it ran.
fn run_net_disturbed(net: &Net, args: &[&str], meanwhile: impl FnOnce()) -> (Output, Duration) {
    let started = Instant::now();
    let child = spawn_net(net, args);
    std::thread::sleep(Duration::from_secs(1));
    meanwhile();
    let out = child.wait_with_output().unwrap();
    (out, started.elapsed())
}

/// Asserts the exit code and parses the JSON report (written whatever
/// the exit code).
fn report(out: &Output, code: i32) -> Report {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "stderr: {stderr}");
    crate::support::output::parsed_from(out)
}

fn row<'r>(r: &'r Report, probe: NetProbeKind, peer: &str) -> &'r NetResult {
    r.net
        .iter()
        .find(|x| x.probe == probe && x.peer == peer)
        .unwrap_or_else(|| panic!("no {probe:?} row for {peer}: {:#?}", r.net))
}

/// Two hosts with an agent on host 1, measured alone; `None` when `test`
/// is skipped for want of root.
fn two_hosts(test: &str) -> Option<(MutexGuard<'static, ()>, Net, Daemon)> {
    if !support::privileged(test) {
        return None;
    }
    let serial = serial();
    let net = Net::pair().unwrap();
    let agent = agent(&net, 1);
    Some((serial, net, agent))
}

#[test]
fn rtt_and_throughput_between_two_hosts() {
    let Some((_serial, net, _agent)) = two_hosts("rtt_and_throughput_between_two_hosts") else {
        return;
    };
    let out = run_net(
        &net,
        &[
            "--peers",
            &peer(&net, 1),
            "--probe",
            "rtt,throughput",
            "--duration",
            "2",
            "--message-size",
            "100,16384",
        ],
    );
    let r = report(&out, 0);
    let rtts: Vec<&NetResult> = r
        .net
        .iter()
        .filter(|x| x.probe == NetProbeKind::Rtt)
        .collect();
    assert_eq!(rtts.len(), 2);
    for (rtt, size) in rtts.iter().zip([100, 16384]) {
        assert_eq!(rtt.error, None);
        assert_eq!(rtt.message_size_bytes, Some(size));
        assert_eq!(rtt.schedule, Schedule::Sequential);
        let l = rtt.latency_us.unwrap();
        // 2 s at 200 pings per second, every one answered.
        assert_eq!(l.samples, 400);
        assert!(l.p50 > 1.0 && l.p50 < 5_000.0, "veth RTT p50 {} us", l.p50);
        assert!(
            rtt.latency_histogram
                .as_ref()
                .unwrap()
                .decode()
                .unwrap()
                .len()
                == 400
        );
        let nic = rtt.nic.as_ref().unwrap();
        assert_eq!(nic.interface, HOST_IFACE);
        assert!(nic.link_speed_nominal, "a veth's speed is nominal");
        assert!(nic.tx_packets >= 400, "{nic:?}");
    }
    let thr = row(&r, NetProbeKind::Throughput, &peer(&net, 1));
    let (up, down) = (thr.upload_mbit_s.unwrap(), thr.download_mbit_s.unwrap());
    assert!(up > 200.0 && down > 200.0, "up {up} down {down} Mbit/s");
    assert_eq!(thr.throughput_mbit_s, Some(up.min(down)));
    // The rtt rows' NIC is compared with the fastest transfer measured.
    let nic = rtts[0].nic.as_ref().unwrap();
    assert_eq!(nic.ceiling_source, Some(CeilingSource::MeasuredThroughput));
    assert_eq!(nic.tx_ceiling_mbit_s, Some(up));
    assert_eq!(nic.rx_ceiling_mbit_s, Some(down));
    assert!(r.findings.is_empty(), "{:#?}", r.findings);
}

/// Runs throughput and loaded-rtt from host 0 to host 1's agent, with
/// host 0's egress shaped to `shape_mbit` when given; `None` when `test` is
/// skipped.
fn loaded_run(test: &str, shape_mbit: Option<u32>) -> Option<(Report, String)> {
    let (_serial, net, _agent) = two_hosts(test)?;
    if let Some(mbit) = shape_mbit {
        net.shape(0, mbit).unwrap();
    }
    let p = peer(&net, 1);
    let args = [
        "--peers",
        &p,
        "--probe=throughput,loaded-rtt",
        "--duration=3",
    ];
    // RTT inflation is judged against the idle RTT: a run while the
    // hypervisor steals the CPU measures the steal, so measure again.
    let out = support::measured_without_steal(test, 3, || run_net(&net, &args))?;
    let code = out.status.code().unwrap_or(-1);
    assert!(matches!(code, 0 | 1), "{out:?}");
    Some((report(&out, code), p))
}

#[test]
fn a_saturated_link_inflates_heartbeat_rtt_and_is_flagged() {
    let test = "a_saturated_link_inflates_heartbeat_rtt_and_is_flagged";
    let Some((r, p)) = loaded_run(test, Some(20)) else {
        return;
    };
    let loaded = row(&r, NetProbeKind::LoadedRtt, &p);
    assert_eq!(loaded.error, None);
    let inflation = loaded.inflation.unwrap();
    assert!(inflation >= 10.0, "inflation {inflation}: {loaded:#?}");
    let flow = loaded.throughput_mbit_s.unwrap();
    assert!(
        (15.0..=21.0).contains(&flow),
        "load flow {flow} Mbit/s on a 20 Mbit link"
    );
    let nic = loaded.nic.as_ref().unwrap();
    assert!(
        (16.0..=22.0).contains(&nic.peak_tx_mbit_s),
        "NIC tx {} Mbit/s at the 20 Mbit ceiling",
        nic.peak_tx_mbit_s
    );
    assert!(nic.utilization_ratio.unwrap() >= 0.8, "{nic:?}");
    // A queue that stands: at warn at least, not the info of a few stalls.
    let l = loaded.latency_us.unwrap();
    eprintln!(
        "loaded RTT on HTB 20 Mbit/s, ms: p50 {:.2} p90 {:.2} p99 {:.2}",
        l.p50_ms(),
        l.p90_ms(),
        l.p99_ms()
    );
    assert!(
        r.findings
            .iter()
            .any(|f| f.id == FindingId::NetNicSaturated && f.severity >= Severity::Warn),
        "{:#?}",
        r.findings
    );
}

#[test]
fn an_unshaped_link_is_not_flagged() {
    let Some((r, p)) = loaded_run("an_unshaped_link_is_not_flagged", None) else {
        return;
    };
    let loaded = row(&r, NetProbeKind::LoadedRtt, &p);
    assert_eq!(loaded.error, None);
    // Our own flow may inflate the veth's RTT several times (CPU-bound),
    // and a stall of the machine may hold a few pings past 10 ms, but no
    // queue stands: nine in ten pings stay under half of a tenth of the
    // 100 ms interval, and no warning.
    assert!(loaded.latency_us.unwrap().p90 < 5_000.0, "{loaded:#?}");
    assert!(
        !r.findings
            .iter()
            .any(|f| f.id == FindingId::NetNicSaturated && f.severity >= Severity::Warn),
        "{:#?}",
        r.findings
    );
}

#[test]
fn failed_peers_are_rows_and_the_others_are_measured() {
    if !support::privileged("failed_peers_are_rows_and_the_others_are_measured") {
        return;
    }
    let _serial = serial();
    let net = Net::switched(4).unwrap();
    let _a1 = agent(&net, 1);
    let mut a2 = agent(&net, 2);
    let (p1, p2, p3) = (peer(&net, 1), peer(&net, 2), peer(&net, 3));
    let dead = net.host(3).ip.to_string() + ":7999";
    // Host 3 runs an agent with another token.
    let mut cmd = net.command(3, BIN);
    cmd.args(["agent", "--listen", &p3, "--token", "other"]);
    let mut a3 = Daemon::start(&mut cmd).unwrap();
    a3.wait_for("listening on", Duration::from_secs(10))
        .unwrap();
    let peers = format!("--peers={p1},{p2},{p3},{dead}");
    // Peer 2 dies a second into the rtt probe.
    let args = [
        "--probe=rtt,throughput",
        "--duration=3",
        "--timeout=2",
        &peers,
    ];
    let (out, elapsed) = run_net_disturbed(&net, &args, || a2.signal(Signal::SIGKILL));
    let r = report(&out, 0);
    assert_eq!(row(&r, NetProbeKind::Rtt, &p1).error, None);
    assert_eq!(
        row(&r, NetProbeKind::Rtt, &p1).schedule,
        Schedule::Concurrent
    );
    assert_eq!(row(&r, NetProbeKind::Throughput, &p1).error, None);
    let err = |probe, p: &str| row(&r, probe, p).error.clone().unwrap_or_default();
    assert!(
        err(NetProbeKind::Rtt, &p2).contains("connection lost"),
        "{}",
        err(NetProbeKind::Rtt, &p2)
    );
    assert!(err(NetProbeKind::Throughput, &p2).contains("cannot connect"));
    assert!(err(NetProbeKind::Rtt, &p3).contains("wrong token"));
    assert!(err(NetProbeKind::Throughput, &p3).starts_with("skipped: agent refused: wrong token"));
    assert!(err(NetProbeKind::Rtt, &dead).contains("cannot connect"));
    assert!(err(NetProbeKind::Throughput, &dead).starts_with("skipped:"));
    // rtt 3 s concurrently, then two 3 s transfers to peer 1 only.
    assert!(elapsed < Duration::from_secs(20), "took {elapsed:?}");
    assert!(!a2.is_running());
}

#[test]
fn a_peer_that_stalls_mid_test_fails_within_the_timeout() {
    let Some((_serial, net, agent)) =
        two_hosts("a_peer_that_stalls_mid_test_fails_within_the_timeout")
    else {
        return;
    };
    let peers = format!("--peers={}", peer(&net, 1));
    let args = [
        "--probe=rtt,throughput",
        "--duration=3",
        "--timeout=1",
        &peers,
    ];
    let (out, elapsed) = run_net_disturbed(&net, &args, || agent.signal(Signal::SIGSTOP));
    agent.signal(Signal::SIGCONT);
    // The only peer failed: exit 2, one line, and the report still written.
    let r = report(&out, 2);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.trim_end().lines().count(), 1, "{stderr}");
    assert!(stderr.contains("every peer failed"), "{stderr}");
    let err = |probe| {
        row(&r, probe, &peer(&net, 1))
            .error
            .clone()
            .unwrap_or_default()
    };
    assert!(
        err(NetProbeKind::Rtt).contains("peer stalled"),
        "{}",
        err(NetProbeKind::Rtt)
    );
    // A stopped process's kernel still accepts connections; the request
    // then goes unanswered.
    assert!(err(NetProbeKind::Throughput).contains("no answer within 1s"));
    // 1 s of pings, 1 s until the stall is declared, 1 s for throughput's
    // unanswered request.
    assert!(elapsed < Duration::from_secs(6), "took {elapsed:?}");
}

#[test]
fn test_hosts_have_no_way_out_and_vanish_even_after_a_panic() {
    if !support::privileged("test_hosts_have_no_way_out_and_vanish_even_after_a_panic") {
        return;
    }
    let net = Net::switched(3).unwrap();
    let routes = net.run(0, "ip", &["route"]).unwrap();
    assert!(!routes.contains("default"), "{routes}");
    assert!(net.run(0, "ping", &["-c1", "-W1", "1.1.1.1"]).is_err());
    let other = net.host(2).ip.to_string();
    net.run(0, "ping", &["-c1", "-W2", &other]).unwrap();
    let mine = format!("etcd-doctor-{}-", std::process::id());
    assert!(net.host(0).netns.starts_with(&mine));
    let names: Vec<String> = (0..3).map(|i| net.host(i).netns.clone()).collect();
    let mut sleeper = net.command(1, "sleep").arg("600").spawn().unwrap();
    // The test body panics with the net and a process in it alive.
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
        let _net = net;
        panic!("test failure");
    }));
    assert!(panicked.is_err());
    let list = support::run(std::process::Command::new("ip").args(["netns", "list"])).unwrap();
    for name in names {
        assert!(!list.contains(&name), "{name} left behind: {list}");
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    let status = loop {
        if let Some(status) = sleeper.try_wait().unwrap() {
            break status;
        }
        assert!(
            Instant::now() < deadline,
            "a process in a deleted namespace still runs"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert_eq!(
        std::os::unix::process::ExitStatusExt::signal(&status),
        Some(9)
    );
}
