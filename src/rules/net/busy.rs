//! `net.nic-saturated` when the link was already busy before `net` began:
//! someone else's bulk flow (a backup, business traffic) fills the path.
//! Then every figure the loaded-RTT rule compares is taken on a busy link:
//! the "idle" RTT is already queued (inflation near 1), and a measured
//! ceiling is only our own transfer's share of the link, so the interface
//! counters show it carrying several times that "ceiling". A peak above
//! the ceiling is no share at all; it is the sign that other traffic uses
//! the link, and with heartbeats queueing behind it the link is the
//! finding.

use crate::probe::net::{CeilingSource, NetProbeKind, NetResult};
use crate::rules::finding::{Evidence, Finding, FindingId, Severity, Unit};

use super::{nic_commands, nic_fix, round2, NetThresholds};

/// Interface mean rate over a measured ceiling from which other traffic is
/// said to share the link. The ceiling is the fastest of our own transfers
/// (its mean rate), and the interface mean covers the whole probe, idle
/// phase included, so our own traffic alone stays near 1 at most
/// (measured 0.46 on an unshaped veth, where 250 ms peaks reached 1.94;
/// 1.01 on a shaped one, headers over goodput); 1.5 means at least a third
/// of what the link carried was not ours. A link already full
/// of another flow showed 2.2 to 9 (tests/net_busy_link.rs).
pub const OTHER_TRAFFIC_RATIO: f64 = 1.5;

/// Share of the heartbeat interval a heartbeat RTT p99 must reach for
/// other traffic to matter. 0.1: a LAN's own RTT is well under a
/// millisecond (same-zone cloud networks too), so a tenth of the default
/// 100 ms heartbeat is queueing behind the other flow, eating the
/// heartbeat's headroom (measured 37-216 ms behind a 20 Mbit/s iperf3 flow).
pub const BUSY_RTT_HEARTBEAT_SHARE: f64 = 0.1;

/// The finding for result `r` when its interface carried well above the
/// ceiling our own transfers measured while its heartbeat RTT queued.
pub(super) fn busy_path(r: &NetResult, t: &NetThresholds) -> Option<Finding> {
    let nic = r.nic.as_ref()?;
    let tx = (nic.tx_mbit_s, nic.peak_tx_mbit_s, nic.tx_ceiling_mbit_s?);
    let rx = (nic.rx_mbit_s, nic.peak_rx_mbit_s, nic.rx_ceiling_mbit_s?);
    let over = |(mean, _, ceiling): (f64, f64, f64)| mean / ceiling.max(1e-3);
    let (mean, peak, ceiling) = if over(tx) >= over(rx) { tx } else { rx };
    if r.probe != NetProbeKind::LoadedRtt
        || nic.ceiling_source != Some(CeilingSource::MeasuredThroughput)
        || over((mean, peak, ceiling)) < OTHER_TRAFFIC_RATIO
    {
        return None;
    }
    let over = mean / ceiling.max(1e-3);
    let idle_ms = r.idle_latency_us.as_ref()?.p99 / 1000.0;
    let loaded_ms = r.latency_us.as_ref()?.p99 / 1000.0;
    let queued_ms = t.heartbeat_interval_ms * BUSY_RTT_HEARTBEAT_SHARE;
    let worst_ms = idle_ms.max(loaded_ms);
    if worst_ms < queued_ms {
        return None;
    }
    let severity = if worst_ms >= t.heartbeat_interval_ms {
        Severity::Fail
    } else {
        Severity::Warn
    };
    Some(Finding {
        id: FindingId::NetNicSaturated,
        severity,
        summary: format!(
            "other traffic fills the link on {}: it carried {mean:.1} Mbit/s on average (peaks of \
             {peak:.1}) while our own transfers reached {ceiling:.1} Mbit/s ({over:.1}x), and heartbeat RTT p99 to {} is {idle_ms:.2} ms \
             before our load and {loaded_ms:.2} ms with it; there is no unloaded RTT baseline (the \
             link was busy before the probe began), so the RTT inflation and the link's capacity \
             are unknown",
            nic.interface, r.peer
        ),
        evidence: vec![
            Evidence {
                metric: format!("{} mean rate / our own transfers' rate", nic.interface),
                observed: round2(over),
                threshold: OTHER_TRAFFIC_RATIO,
                unit: Unit::Times,
            },
            Evidence {
                metric: format!("heartbeat RTT p99 to {} (worst of idle and loaded)", r.peer),
                observed: round2(worst_ms),
                threshold: queued_ms,
                unit: Unit::Ms,
            },
        ],
        recommendation: format!(
            "Find the other flows on {0} (`ss -tin` lists each socket's peer, owning process and \
             bytes sent) and move them off etcd's path. {1}",
            nic.interface,
            nic_fix(&nic.interface)
        ),
        commands: std::iter::once(format!(
            "ss -tinp | grep -B1 -E 'bytes_(sent|acked)'  # flows on {}",
            nic.interface
        ))
        .chain(nic_commands(&nic.interface))
        .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::LatencyHistogram;
    use crate::probe::net::{NicUsage, Schedule};

    fn summary(ms: f64) -> crate::measure::LatencySummary {
        let mut h = LatencyHistogram::new();
        h.record(std::time::Duration::from_secs_f64(ms / 1000.0));
        h.summary()
    }

    /// A loaded-RTT row whose interface sent `mean_tx` Mbit/s on average
    /// (bursting to twice that) against our own 2.5 Mbit/s.
    fn busy(idle_ms: f64, loaded_ms: f64, mean_tx: f64, source: CeilingSource) -> NetResult {
        let mut r = NetResult::new(
            NetProbeKind::LoadedRtt,
            "10.0.0.2:7480",
            Schedule::Sequential,
        );
        r.idle_latency_us = Some(summary(idle_ms));
        r.latency_us = Some(summary(loaded_ms));
        r.nic = Some(NicUsage {
            interface: "eth0".into(),
            link_speed_mbit_s: None,
            link_speed_nominal: true,
            tx_ceiling_mbit_s: Some(2.5),
            rx_ceiling_mbit_s: Some(2.5),
            ceiling_source: Some(source),
            interval_s: 3.0,
            rx_mbit_s: 0.5,
            tx_mbit_s: mean_tx,
            peak_rx_mbit_s: 0.6,
            peak_tx_mbit_s: mean_tx * 2.0,
            utilization_ratio: Some(mean_tx * 2.0 / 2.5),
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
        let judge = |idle, loaded, peak, source| busy_path(&busy(idle, loaded, peak, source), &t);
        // The case: idle RTT already queued (90 ms), our own flow
        // 2.5 Mbit/s on a 20 Mbit/s link carrying 19 Mbit/s.
        let f = judge(90.0, 60.0, 19.0, measured).unwrap();
        assert_eq!(f.severity, Severity::Warn);
        for needle in [
            "other traffic fills the link on eth0",
            "no unloaded RTT baseline",
        ] {
            assert!(f.summary.contains(needle), "{needle}: {}", f.summary);
        }
        assert_eq!(
            (f.evidence[0].unit.as_str(), f.evidence[0].observed),
            ("x", 7.6)
        );
        assert!(f.commands[0].starts_with("ss -tinp"));
        assert_eq!(
            judge(150.0, 90.0, 19.0, measured).unwrap().severity,
            Severity::Fail
        );
        // 40 ms of queue on a 100 ms heartbeat already counts; 2 ms does not.
        assert!(judge(37.0, 45.0, 19.0, measured).is_some());
        assert_eq!(judge(1.0, 2.0, 19.0, measured), None);
        // Our own flow at the ceiling (bursting to twice it) is the
        // ordinary loaded-RTT case; a driver's link speed is a real ceiling.
        assert_eq!(judge(90.0, 90.0, 2.4, measured), None);
        assert_eq!(judge(90.0, 90.0, 19.0, CeilingSource::LinkSpeed), None);
    }
}
