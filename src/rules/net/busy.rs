//! `net.nic-saturated` when someone else's traffic fills the link (the
//! field guide's backup or business flow on the NIC etcd shares). When it
//! was already running as `net` began, every figure the loaded-RTT rule
//! compares is taken on a busy link: the "idle" RTT is already queued and
//! a measured ceiling is only our own transfer's share. So the other
//! traffic is measured on its own: the interface's rates in the second
//! before our first probe (no traffic of ours), the TCP flows of other
//! processes while our probe ran (a flow that starts later), and what the
//! interface carried beyond our own transfer. Against the link's capacity
//! (the driver's speed when it has a real one, else at least what the link
//! carried in our measurements), a large share with queued heartbeats is
//! the finding; it names the flows, and compares the idle RTT with an
//! earlier quiet report when there is one (`--rtt-baseline`).

use crate::findings::{Draft, Evidence, Finding, Severity, Unit};
use crate::probe::net::{CeilingSource, FlowRate, NetProbeKind, NetResult, NicUsage};

use super::nic::{nic_commands, nic_fix};
use super::thresholds::NetThresholds;
use crate::findings::emit::Emit;
use crate::findings::registry::ids;
use crate::measure::round2;
use crate::rules::by;
use crate::units::Micros;

/// Builds the ids of this file's findings: all are `run::net`'s.
const EMIT: Emit<by::net> = Emit::new();

/// Share of the link's capacity, in either direction, that other traffic
/// must carry to be named. 0.25: a quarter of the link is no longer
/// etcd's to use; our own traffic is excluded from it, so a link with our
/// own load alone shows none, while a link already full of another flow
/// showed 0.99-1.00 (one iperf3 flow either way, three python flows) and
/// a UDP flood begun during our loaded phase 0.45 (tests/net_busy_*.rs).
pub const OTHER_TRAFFIC_SHARE: f64 = 0.25;

/// Least other traffic named, Mbit/s, whatever the share: below it, a
/// share is noise of a link whose capacity could not be measured (an etcd
/// peer link carries at least tens of Mbit/s).
pub const MIN_OTHER_MBIT_S: f64 = 1.0;

/// Interface bytes per byte of our own transfer's goodput (TCP/IP headers
/// and our pings): what the interface carries beyond our transfer times
/// this is someone else's. 1.05: measured 1.01 with our load alone on a
/// shaped veth (1500-byte MTU: 52 bytes of headers per 1448 of payload).
pub const OWN_WIRE_OVERHEAD: f64 = 1.05;

/// Share of the heartbeat interval a heartbeat RTT p99 must reach for
/// other traffic to matter. 0.1: a LAN's own RTT is well under a
/// millisecond (same-zone cloud networks too), so a tenth of the default
/// 100 ms heartbeat is queueing behind the other flow, eating the
/// heartbeat's headroom (measured 37-216 ms behind a 20 Mbit/s iperf3 flow).
pub const BUSY_RTT_HEARTBEAT_SHARE: f64 = 0.1;

/// Other traffic on one interface, Mbit/s each way.
#[derive(Debug, Clone, Copy, PartialEq)]
struct Rates {
    tx: f64,
    rx: f64,
}

/// What others sent and received: the larger of the window before our
/// probe and our loaded phase, with the flows seen when it was larger.
struct Other<'a> {
    rates: Rates,
    before: bool,
    flows: &'a [FlowRate],
}

fn other_traffic<'a>(r: &NetResult, nic: &'a NicUsage) -> Other<'a> {
    let sum =
        |flows: &[FlowRate], f: fn(&FlowRate) -> f64| flows.iter().map(f).fold(0.0, |a, b| a + b);
    let ours = r
        .upload_mbit_s
        .unwrap_or(0.0)
        .max(match nic.ceiling_source {
            Some(CeilingSource::MeasuredThroughput) => nic.tx_ceiling_mbit_s.unwrap_or(0.0),
            _ => 0.0,
        });
    let during = Rates {
        tx: sum(&nic.other_flows, |f| f.tx_mbit_s).max(nic.tx_mbit_s - ours * OWN_WIRE_OVERHEAD),
        rx: sum(&nic.other_flows, |f| f.rx_mbit_s),
    };
    let during = Other {
        rates: during,
        before: false,
        flows: &nic.other_flows,
    };
    let Some(b) = &nic.before_probe else {
        return during;
    };
    let before = Rates {
        tx: b.tx_mbit_s,
        rx: b.rx_mbit_s,
    };
    if before.tx.max(before.rx) < during.rates.tx.max(during.rates.rx) {
        return during;
    }
    Other {
        rates: before,
        before: true,
        flows: if b.other_flows.is_empty() {
            &nic.other_flows
        } else {
            &b.other_flows
        },
    }
}

/// The link's capacity each way, and whether the driver knows it; a
/// measured one is at least what the link carried in any of our windows.
fn capacity(nic: &NicUsage, other: Rates) -> (Rates, bool) {
    if nic.ceiling_source == Some(CeilingSource::LinkSpeed) {
        if let (Some(tx), Some(rx)) = (nic.tx_ceiling_mbit_s, nic.rx_ceiling_mbit_s) {
            return (Rates { tx, rx }, true);
        }
    }
    let most =
        |ceiling: Option<f64>, mean: f64, other: f64| ceiling.unwrap_or(0.0).max(mean).max(other);
    let rates = Rates {
        tx: most(nic.tx_ceiling_mbit_s, nic.tx_mbit_s, other.tx),
        rx: most(nic.rx_ceiling_mbit_s, nic.rx_mbit_s, other.rx),
    };
    (rates, false)
}

/// The finding for loaded-rtt result `r` when other traffic carries a
/// large share of its interface's capacity while its heartbeat RTT queues.
pub(super) fn busy_path(r: &NetResult, t: &NetThresholds) -> Option<Finding> {
    let nic = r.nic.as_ref()?;
    let (idle, loaded) = (r.idle_latency_us.as_ref()?, r.latency_us.as_ref()?);
    if r.probe != NetProbeKind::LoadedRtt {
        return None;
    }
    let other = other_traffic(r, nic);
    let (cap, known) = capacity(nic, other.rates);
    let share_of = |o: f64, c: f64| {
        if o < MIN_OTHER_MBIT_S {
            0.0
        } else {
            o / c.max(o)
        }
    };
    let share = share_of(other.rates.tx, cap.tx).max(share_of(other.rates.rx, cap.rx));
    let (idle_ms, loaded_ms) = (idle.p99_ms(), loaded.p99_ms());
    let queued_ms = t.heartbeat_interval_ms * BUSY_RTT_HEARTBEAT_SHARE;
    let worst_ms = idle_ms.max(loaded_ms);
    if share < OTHER_TRAFFIC_SHARE || worst_ms < queued_ms {
        return None;
    }
    let severity = if worst_ms >= t.heartbeat_interval_ms {
        Severity::Fail
    } else {
        Severity::Warn
    };
    let mut evidence = vec![
        Evidence {
            metric: format!("{} other traffic / link capacity", nic.interface),
            observed: round2(share),
            threshold: OTHER_TRAFFIC_SHARE,
            unit: Unit::Ratio,
        },
        Evidence {
            metric: format!("heartbeat RTT p99 to {} (worst of idle and loaded)", r.peer),
            observed: round2(worst_ms),
            threshold: queued_ms,
            unit: Unit::Ms,
        },
    ];
    evidence.extend(r.baseline_idle_p99_us.map(|base| Evidence {
        metric: format!("idle RTT p99 to {} / the baseline report's", r.peer),
        observed: round2(idle.p99 / base),
        threshold: t.inflation_ratio,
        unit: Unit::Times,
    }));
    Some(
        EMIT.finding(
            ids::NetNicSaturated,
            Draft {
                severity,
                summary: summary(r, nic, &other, (cap, known), share, (idle_ms, loaded_ms)),
                evidence,
                recommendation: format!(
            "Move the other flows off etcd's path (`ss -tinp` lists each socket's peer, owning \
             process and bytes sent on {0}). {1}",
            nic.interface,
            nic_fix(&nic.interface)
        ),
                commands: std::iter::once(format!(
                    "ss -tinp | grep -B1 -E 'bytes_(sent|acked)'  # flows on {}",
                    nic.interface
                ))
                .chain(nic_commands(&nic.interface))
                .collect(),
            },
        ),
    )
}

fn summary(
    r: &NetResult,
    nic: &NicUsage,
    other: &Other,
    (cap, known): (Rates, bool),
    share: f64,
    (idle_ms, loaded_ms): (f64, f64),
) -> String {
    let when = if other.before {
        "in the second before our probe began"
    } else {
        "while our probe ran"
    };
    let capacity = if known {
        format!(
            "{:.0} Mbit/s out and {:.0} in (the driver's link speed)",
            cap.tx, cap.rx
        )
    } else {
        format!(
            "at least {:.1} Mbit/s out and {:.1} in, measured (the most it carried in our \
             windows; our own transfers alone reached {:.1} out and {:.1} in)",
            cap.tx,
            cap.rx,
            nic.tx_ceiling_mbit_s.unwrap_or(0.0),
            nic.rx_ceiling_mbit_s.unwrap_or(0.0)
        )
    };
    let flows = if other.flows.is_empty() {
        "no TCP socket of this network namespace carried it (UDP, a container's or routed \
         traffic: the interface counters see it, `ss` does not)"
            .to_string()
    } else {
        let top: Vec<String> = other.flows.iter().map(FlowRate::describe).collect();
        format!("top flows: {}", top.join("; "))
    };
    let rtt = format!(
        "heartbeat RTT p99 to {} is {idle_ms:.2} ms before our load and {loaded_ms:.2} ms with it",
        r.peer
    );
    let baseline = match r.baseline_idle_p99_us {
        Some(base) => {
            let base_ms = Micros(base).as_ms();
            format!(
                "the idle RTT p99 is {:.1}x the {base_ms:.2} ms of the baseline report",
                idle_ms / base_ms
            )
        }
        None => "there is no unloaded RTT baseline (pass --rtt-baseline with a report taken at a \
                 quiet time), so what the other traffic adds to heartbeat RTT is unknown"
            .to_string(),
    };
    format!(
        "other traffic fills the link on {}: others sent {:.1} Mbit/s and received {:.1} Mbit/s \
         {when}, {:.0} % of its capacity, {capacity}; {flows}; {rtt}; {baseline}",
        nic.interface,
        other.rates.tx,
        other.rates.rx,
        share * 100.0
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::LatencyHistogram;
    use crate::probe::net::{BeforeProbe, Schedule};

    fn summary(ms: f64) -> crate::measure::LatencySummary {
        let mut h = LatencyHistogram::new();
        h.record(crate::units::Millis(ms).as_duration());
        h.summary()
    }

    fn flow(tx: f64, rx: f64) -> FlowRate {
        FlowRate {
            process: Some("iperf3".into()),
            pid: Some(42),
            local: "10.0.0.1:40000".into(),
            peer: "10.0.0.2:5201".into(),
            tx_mbit_s: tx,
            rx_mbit_s: rx,
        }
    }

    /// A loaded-rtt row on eth0 whose own transfers reached 2.5 Mbit/s
    /// while the interface sent `mean_tx` Mbit/s.
    fn busy(idle_ms: f64, loaded_ms: f64, mean_tx: f64, source: CeilingSource) -> NetResult {
        let mut r = NetResult::new(
            NetProbeKind::LoadedRtt,
            "10.0.0.2:7480",
            Schedule::Sequential,
        );
        r.idle_latency_us = Some(summary(idle_ms));
        r.latency_us = Some(summary(loaded_ms));
        r.upload_mbit_s = Some(2.5);
        let ceiling = match source {
            CeilingSource::LinkSpeed => 1000.0,
            CeilingSource::MeasuredThroughput => 2.5,
        };
        r.nic = Some(NicUsage {
            interface: "eth0".into(),
            link_speed_mbit_s: None,
            link_speed_nominal: true,
            tx_ceiling_mbit_s: Some(ceiling),
            rx_ceiling_mbit_s: Some(ceiling),
            ceiling_source: Some(source),
            interval_s: 3.0,
            rx_mbit_s: 0.5,
            tx_mbit_s: mean_tx,
            peak_rx_mbit_s: 0.6,
            peak_tx_mbit_s: mean_tx * 2.0,
            utilization_ratio: Some(1.0),
            ceiling_exceeded_ratio: Some(mean_tx * 2.0 / ceiling).filter(|&x| x > 1.0),
            before_probe: None,
            other_flows: Vec::new(),
            rx_packets: 1,
            tx_packets: 1,
            rx_dropped_packets: 0,
            tx_dropped_packets: 0,
            rx_error_packets: 0,
            tx_error_packets: 0,
            tcp_out_segments: 0,
            tcp_retransmitted_segments: 0,
            tcp_rto_timeouts: 0,
        });
        r
    }

    #[test]
    fn a_link_busy_before_the_probe_is_named_without_an_impossible_share() {
        let t = NetThresholds::default();
        let measured = CeilingSource::MeasuredThroughput;
        let judge = |idle, loaded, mean, source| busy_path(&busy(idle, loaded, mean, source), &t);
        // The case: idle RTT already queued (90 ms), our own flow
        // 2.5 Mbit/s on a 20 Mbit/s link carrying 19 Mbit/s.
        let f = judge(90.0, 60.0, 19.0, measured).unwrap();
        assert_eq!(f.severity, Severity::Warn);
        for needle in [
            "other traffic fills the link on eth0",
            "at least 19.0 Mbit/s out",
            "measured",
            "no unloaded RTT baseline",
            "no TCP socket",
        ] {
            assert!(f.summary.contains(needle), "{needle}: {}", f.summary);
        }
        // 16.4 of at least 19 Mbit/s: a share, never above 1.
        assert_eq!(
            (f.evidence[0].unit.as_str(), f.evidence[0].observed),
            ("ratio", 0.86)
        );
        assert!(f.commands[0].starts_with("ss -tinp"));
        assert_eq!(
            judge(150.0, 90.0, 19.0, measured).unwrap().severity,
            Severity::Fail
        );
        // 40 ms of queue on a 100 ms heartbeat already counts; 2 ms does not.
        assert!(judge(37.0, 45.0, 19.0, measured).is_some());
        assert_eq!(judge(1.0, 2.0, 19.0, measured), None);
        // Our own flow at the ceiling is the ordinary loaded-RTT case; on
        // a 1000 Mbit/s NIC, 19 Mbit/s of others is no share worth naming.
        assert_eq!(judge(90.0, 90.0, 2.6, measured), None);
        assert_eq!(judge(90.0, 90.0, 19.0, CeilingSource::LinkSpeed), None);
    }

    #[test]
    fn the_window_before_the_probe_and_the_flows_name_the_other_traffic() {
        let t = NetThresholds::default();
        // Known capacity: 600 of 1000 Mbit/s arriving before the probe,
        // from two named flows; a quiet-time baseline of 0.4 ms.
        let mut r = busy(30.0, 40.0, 2.6, CeilingSource::LinkSpeed);
        r.baseline_idle_p99_us = Some(400.0);
        let nic = r.nic.as_mut().unwrap();
        nic.before_probe = Some(BeforeProbe {
            interval_s: 1.0,
            rx_mbit_s: 600.0,
            tx_mbit_s: 3.0,
            other_flows: vec![flow(0.1, 500.0), flow(0.0, 90.0)],
        });
        let f = busy_path(&r, &t).unwrap();
        for needle in [
            "received 600.0 Mbit/s in the second before our probe began, 60 % of its capacity",
            "1000 Mbit/s out and 1000 in (the driver's link speed)",
            "top flows: iperf3 (pid 42) 10.0.0.1:40000 -> 10.0.0.2:5201, 0.1 Mbit/s out, 500.0 in;",
            "the idle RTT p99 is 75.0x the 0.40 ms of the baseline report",
        ] {
            assert!(f.summary.contains(needle), "{needle}: {}", f.summary);
        }
        assert!(
            (f.evidence[2].observed - 75.0).abs() < 0.1,
            "{:?}",
            f.evidence
        );
        // A flow that began after the idle phase: quiet before, a named
        // flow beside our load on a link whose ceiling we measured clean.
        let mut late = busy(1.0, 45.0, 20.0, CeilingSource::MeasuredThroughput);
        let nic = late.nic.as_mut().unwrap();
        nic.tx_ceiling_mbit_s = Some(20.0);
        nic.before_probe = Some(BeforeProbe {
            interval_s: 1.0,
            rx_mbit_s: 0.01,
            tx_mbit_s: 0.01,
            other_flows: Vec::new(),
        });
        nic.other_flows = vec![flow(9.0, 0.1)];
        let f = busy_path(&late, &t).unwrap();
        assert!(
            f.summary
                .contains("sent 9.0 Mbit/s and received 0.1 Mbit/s while our probe ran"),
            "{}",
            f.summary
        );
        // The same link with no other flow: only our own load.
        late.nic.as_mut().unwrap().other_flows.clear();
        assert_eq!(busy_path(&late, &t), None);
    }
}
