//! Snapshot tests of how a network report looks in the terminal table and
//! in Markdown: the network and interface sections and the findings the
//! rules draw from them, from a fixed report (the shaped-link case: a
//! 20 Mbit/s veth whose heartbeat RTT inflates under a bulk flow, and a
//! dead peer).

use etcd_doctor::facts::Report;
use etcd_doctor::host::HostFacts;
use etcd_doctor::measure::LatencySummary;
use etcd_doctor::probe::net::{CeilingSource, NetProbeKind, NetResult, NicUsage, Schedule};
use etcd_doctor::report::{render, Format};
use etcd_doctor::rules::Profile;

const PEER: &str = "10.231.1.2:7480";
const DEAD: &str = "10.231.1.3:7480";

fn latency(p50: f64, p99: f64) -> LatencySummary {
    LatencySummary {
        samples: 1000,
        mean: p50 * 1.1,
        min: p50 * 0.6,
        p50,
        p90: p99 * 0.7,
        p99,
        p999: p99 * 1.3,
        max: p99 * 1.6,
    }
}

fn nic(rx: f64, tx: f64, utilization: f64) -> NicUsage {
    NicUsage {
        interface: "veth0".into(),
        link_speed_mbit_s: Some(10_000),
        link_speed_nominal: true,
        tx_ceiling_mbit_s: Some(19.1),
        rx_ceiling_mbit_s: Some(24_536.3),
        ceiling_source: Some(CeilingSource::MeasuredThroughput),
        interval_s: 5.0,
        rx_mbit_s: rx,
        tx_mbit_s: tx,
        peak_rx_mbit_s: rx * 1.1,
        peak_tx_mbit_s: tx * 1.02,
        utilization_ratio: Some(utilization),
        ceiling_exceeded_ratio: None,
        before_probe: None,
        other_flows: Vec::new(),
        rx_packets: 5_000,
        tx_packets: 6_000,
        rx_dropped_packets: 0,
        tx_dropped_packets: 0,
        rx_error_packets: 0,
        tx_error_packets: 0,
        tcp_out_segments: 6_000,
        tcp_retransmitted_segments: 0,
        tcp_rto_timeouts: 0,
    }
}

fn results() -> Vec<NetResult> {
    let mut rtt = NetResult::new(NetProbeKind::Rtt, PEER, Schedule::Concurrent);
    rtt.duration_s = Some(5.0);
    rtt.message_size_bytes = Some(100);
    rtt.rate_hz = Some(200);
    rtt.latency_us = Some(latency(63.2, 236.5));
    rtt.nic = Some(nic(0.3, 0.3, 0.016));
    let mut dead = NetResult::new(NetProbeKind::Rtt, DEAD, Schedule::Concurrent);
    dead.error = Some("cannot connect: Connection refused (os error 111)".into());
    let mut thr = NetResult::new(NetProbeKind::Throughput, PEER, Schedule::Sequential);
    thr.duration_s = Some(5.0);
    thr.upload_mbit_s = Some(19.1);
    thr.download_mbit_s = Some(24_536.3);
    thr.throughput_mbit_s = Some(19.1);
    thr.nic = Some(nic(11_378.2, 18.1, 1.0));
    let mut loaded = NetResult::new(NetProbeKind::LoadedRtt, PEER, Schedule::Sequential);
    loaded.duration_s = Some(5.0);
    loaded.message_size_bytes = Some(100);
    loaded.rate_hz = Some(200);
    loaded.idle_latency_us = Some(latency(77.1, 123.3));
    loaded.latency_us = Some(latency(15_880.0, 27_750.0));
    loaded.inflation = Some(225.06);
    loaded.inflation_p50 = Some(205.97);
    loaded.upload_mbit_s = Some(19.0);
    loaded.throughput_mbit_s = Some(19.0);
    loaded.nic = Some(nic(0.4, 19.3, 1.022));
    let mut skipped = NetResult::new(NetProbeKind::Throughput, DEAD, Schedule::Sequential);
    skipped.error = Some("skipped: cannot connect: Connection refused (os error 111)".into());
    vec![rtt, dead, thr, skipped, loaded]
}

fn rendered(format: Format) -> String {
    let host = HostFacts {
        hostname: "cp-1".into(),
        kernel: "6.1.0".into(),
        cpus: 4,
        ..HostFacts::default()
    };
    let mut report = Report::new("net", host);
    report.tool_version = "0.0.0-test".into();
    report.net = results();
    report.judge(&Profile::default());
    let mut out = Vec::new();
    render(&report, format, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn net_report_as_table() {
    insta::assert_snapshot!(rendered(Format::Table));
}

#[test]
fn net_report_as_markdown() {
    insta::assert_snapshot!(rendered(Format::Markdown));
}
