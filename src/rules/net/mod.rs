//! Network rules: turn `net` results into findings with etcd's own numbers.
//!
//! - `net.peer-rtt-high`: a peer's idle RTT p99 against the heartbeat
//!   interval. etcd's tuning guide: the heartbeat interval should be around
//!   the maximum RTT between members, the election timeout at least ten
//!   times the RTT. The fix carries the computed flag values.
//! - `net.nic-saturated`: a bulk flow on the path inflates heartbeat RTT
//!   by a large factor while the local NIC runs near its ceiling: the field
//!   guide's shared business/etcd NIC. The fix is the guide's: a dedicated
//!   etcd NIC, bulk sync isolated at the access switch. Also when other
//!   traffic fills the link (`busy`): before our probe, or beside it,
//!   with the flows named.
//! - `net.errors`: drops, errors, TCP retransmits or retransmission
//!   timeouts while the probes ran.
//! - `net.lossy-link` ([`lossy`]): the rtt probe's own connection lost
//!   bytes one way or both while the link was not full. It explains the
//!   same interface's TCP retransmits (`net.errors`) and the same peer's
//!   high RTT (`net.peer-rtt-high`), which drop to info.
//!
//! Every rule is a pure function of the results and [`NetThresholds`].

use std::collections::BTreeMap;

use crate::findings::{Draft, Evidence, Finding, FindingId, Severity, Unit};
use crate::measure::round2;
use crate::probe::net::{NetProbeKind, NetResult};

mod busy;
mod etcd_peers;
mod lossy;
mod nic;
mod thresholds;
pub use etcd_peers::etcd_peer_loss;
use nic::{nic_commands, nic_fix};
use thresholds::pct;
pub use thresholds::{NetThresholds, MAX_ELECTION_TIMEOUT_MS};

// The kubeadm static pod manifest of etcd (the guide's deployment).
use crate::cluster::kubeadm::DEFAULT_MANIFEST as KUBEADM_MANIFEST;
use crate::findings::emit::Emit;
use crate::findings::registry::ids;
use crate::rules::by;

/// Builds the ids of this file's findings: all are `run::net`'s.
const EMIT: Emit<by::net> = Emit::new();

/// Every network finding for `results`, most severe first.
pub fn evaluate(results: &[NetResult], t: &NetThresholds) -> Vec<Finding> {
    let mut out: Vec<Finding> = peer_rtt_high(results, t).into_iter().collect();
    out.extend(
        results
            .iter()
            .filter_map(|r| busy::busy_path(r, t).or_else(|| nic_saturated(r, t))),
    );
    out.extend(net_errors(results, t));
    let (lossy_rows, lossy): (Vec<&NetResult>, Vec<Finding>) = results
        .iter()
        .filter_map(|r| Some((r, lossy::lossy_link(r, t)?)))
        .unzip();
    explain_by_loss(&mut out, &lossy_rows);
    out.extend(lossy);
    crate::findings::sort(&mut out);
    out
}

/// Findings a lossy path explains drop to info, marked explained: the
/// retransmits and timeouts of `net.errors` on the lossy path's
/// interface (not its drops or errors, which are the interface's own),
/// and `net.peer-rtt-high` when every peer it names is lossy.
fn explain_by_loss(out: &mut [Finding], lossy: &[&NetResult]) {
    let lossy_ifaces: Vec<&str> = lossy
        .iter()
        .filter_map(|r| r.nic.as_ref().map(|n| n.interface.as_str()))
        .collect();
    for f in out.iter_mut() {
        let explained = match f.id {
            FindingId::NetErrors => {
                f.severity == Severity::Warn
                    && lossy_ifaces
                        .iter()
                        .any(|i| f.summary.starts_with(&format!("{i} ")))
                    && f.evidence.iter().all(|e| e.metric.contains("TCP"))
            }
            FindingId::NetPeerRttHigh => {
                !lossy.is_empty()
                    && f.evidence.iter().all(|e| {
                        lossy
                            .iter()
                            .any(|r| e.metric.starts_with(&format!("RTT p99 to {} (", r.peer)))
                    })
            }
            _ => false,
        };
        if explained {
            f.mark_explained("the path loses packets (see net.lossy-link)");
        }
    }
}

/// Idle RTT p99 per peer: the worst of its rtt rows and its loaded-rtt
/// idle phase, in ms, with the ping size it was measured at.
fn idle_p99_ms(results: &[NetResult]) -> BTreeMap<&str, (f64, u64)> {
    let mut worst: BTreeMap<&str, (f64, u64)> = BTreeMap::new();
    for r in results {
        let idle = match r.probe {
            NetProbeKind::Rtt => r.latency_us.as_ref(),
            NetProbeKind::LoadedRtt => r.idle_latency_us.as_ref(),
            NetProbeKind::Throughput => None,
        };
        if let Some(l) = idle {
            let entry = (l.p99_ms(), r.message_size_bytes.unwrap_or(0));
            let slot = worst.entry(&r.peer).or_insert(entry);
            if entry.0 > slot.0 {
                *slot = entry;
            }
        }
    }
    worst
}

/// One finding for all peers whose RTT p99 is high, with the heartbeat and
/// election timeout that fit the slowest of them.
fn peer_rtt_high(results: &[NetResult], t: &NetThresholds) -> Option<Finding> {
    let warn_ms = t.heartbeat_interval_ms * t.rtt_warn_heartbeat_ratio;
    let high: Vec<(&str, (f64, u64))> = idle_p99_ms(results)
        .into_iter()
        .filter(|(_, (p99, _))| *p99 >= warn_ms)
        .collect();
    let worst_ms = high.iter().map(|(_, (p99, _))| *p99).fold(0.0, f64::max);
    if high.is_empty() {
        return None;
    }
    let severity = if worst_ms >= t.heartbeat_interval_ms {
        Severity::Fail
    } else {
        Severity::Warn
    };
    // The smallest heartbeat (in 10 ms steps) that puts the worst p99 back
    // under the warning ratio; never below the current one.
    let heartbeat =
        ((worst_ms / t.rtt_warn_heartbeat_ratio / 10.0).ceil() * 10.0).max(t.heartbeat_interval_ms);
    let election = heartbeat * 10.0;
    let evidence = high
        .iter()
        .map(|(peer, (p99, size))| Evidence {
            metric: format!("RTT p99 to {peer} ({size} B pings)"),
            observed: round2(*p99),
            threshold: round2(warn_ms),
            unit: Unit::Ms,
        })
        .collect();
    let tuning = if election > MAX_ELECTION_TIMEOUT_MS {
        format!(
            "No etcd setting absorbs this: the election timeout it needs ({election:.0} ms) \
             exceeds etcd's limit of {MAX_ELECTION_TIMEOUT_MS:.0} ms. Fix the network path first."
        )
    } else {
        format!(
            "Set --heartbeat-interval={heartbeat:.0} and --election-timeout={election:.0} on \
             every member (same values everywhere; etcd: heartbeat around the maximum RTT, \
             election timeout at least 10x it)."
        )
    };
    Some(EMIT.finding(
        ids::NetPeerRttHigh,
        Draft {
            severity,
            summary: format!(
            "RTT p99 to {} of {} peers is {:.2} ms at worst, against a {:.0} ms heartbeat interval",
            high.len(),
            idle_p99_ms(results).len(),
            worst_ms,
            t.heartbeat_interval_ms
        ),
            evidence,
            recommendation: format!(
            "{tuning} Slow heartbeats cause leader elections and request timeouts. Find why the \
             path is slow first: run loaded-rtt to see whether a bulk transfer shares it."
        ),
            commands: if election > MAX_ELECTION_TIMEOUT_MS {
                Vec::new()
            } else {
                tuning_commands(heartbeat, election)
            },
        },
    ))
}

fn tuning_commands(heartbeat: f64, election: f64) -> Vec<String> {
    vec![
        "# kubeadm: on every control-plane node (the kubelet restarts etcd)".into(),
        format!(
            "sed -i -e '/- --heartbeat-interval=/d' -e '/- --election-timeout=/d' \
             -e 's/^\\(\\s*\\)- --data-dir=.*$/&\\n\\1- --heartbeat-interval={heartbeat:.0}\\n\\1- \
             --election-timeout={election:.0}/' {KUBEADM_MANIFEST}"
        ),
        format!(
            "# other installs: etcd --heartbeat-interval={heartbeat:.0} --election-timeout={election:.0} \
             (or ETCD_HEARTBEAT_INTERVAL / ETCD_ELECTION_TIMEOUT)"
        ),
    ]
}

/// Share of the queueing threshold (a tenth of the heartbeat) the loaded
/// p90 must reach for the link's queue to be standing. 0.5: a link our
/// flow fills keeps every ping queued (HTB at 20 Mbit/s: 13 ms p99);
/// an unshaped veth stays near 0.1 ms at p90 even when CPU stalls lift
/// its p99 past 10 ms.
const STANDING_QUEUE_SHARE: f64 = 0.5;

/// The guide's NIC-sharing problem on one loaded-rtt result.
fn nic_saturated(r: &NetResult, t: &NetThresholds) -> Option<Finding> {
    let (inflation, nic) = (r.inflation?, r.nic.as_ref()?);
    let (idle, loaded) = (r.idle_latency_us?, r.latency_us?);
    let utilization = nic.utilization_ratio?;
    if r.probe != NetProbeKind::LoadedRtt
        || inflation < t.inflation_ratio
        || utilization < t.nic_saturated_ratio
    {
        return None;
    }
    let loaded_ms = loaded.p99_ms();
    // A queue that stays short of a tenth of the heartbeat is a saturated
    // link that heartbeats still cross in time (an unshaped veth under our
    // own bulk flow: 0.2 ms to 2 ms): context, not a warning.
    let queued_ms = t.heartbeat_interval_ms * busy::BUSY_RTT_HEARTBEAT_SHARE;
    // A full link keeps a queue standing: a tenth of the pings under load
    // (the p90) wait at least half of it. A p99 alone over it, the p90
    // not, is a few pings held by passing stalls (our own flow keeping
    // both cores of a small VM busy: 0.1 ms p90, 11 ms p99), not a queue.
    let standing = loaded.p90_ms() >= queued_ms * STANDING_QUEUE_SHARE;
    let (severity, fits) = if loaded_ms < queued_ms {
        let fits = format!(
            "; heartbeats still fit: {loaded_ms:.2} ms is under {queued_ms:.0} ms, a tenth of the \
             {:.0} ms heartbeat interval",
            t.heartbeat_interval_ms
        );
        (Severity::Info, fits)
    } else if !standing {
        let fits = format!(
            "; no standing queue: nine in ten heartbeats under load took at most {:.2} ms, so \
             the p99 is a few held by passing stalls, not a full link",
            loaded.p90_ms()
        );
        (Severity::Info, fits)
    } else if loaded_ms >= t.heartbeat_interval_ms {
        (Severity::Fail, String::new())
    } else {
        (Severity::Warn, String::new())
    };
    let evidence = vec![
        Evidence {
            metric: format!("heartbeat RTT p99 inflation under load to {}", r.peer),
            observed: inflation,
            threshold: t.inflation_ratio,
            unit: Unit::Times,
        },
        Evidence {
            metric: format!(
                "loaded RTT p99 to {} (idle {:.2} ms)",
                r.peer,
                idle.p99_ms()
            ),
            observed: round2(loaded_ms),
            threshold: t.heartbeat_interval_ms,
            unit: Unit::Ms,
        },
        Evidence {
            metric: format!("{} peak rate / ceiling", nic.interface),
            observed: utilization,
            threshold: t.nic_saturated_ratio,
            unit: Unit::Ratio,
        },
    ];
    // A share cannot pass 1: when the peak did, the ceiling was too low.
    let wrong_ceiling = nic.ceiling_exceeded_ratio.map_or(String::new(), |x| {
        format!(
            " (its peak rate was {x:.1}x that ceiling, so the ceiling is below the link's \
             capacity)"
        )
    });
    Some(EMIT.finding(ids::NetNicSaturated, Draft {
        severity,
        summary: format!(
            "A bulk transfer on {} raises heartbeat RTT p99 (to {}) from {:.2} ms to {:.2} ms ({:.1}x), with the NIC at {:.0}% of its ceiling{wrong_ceiling}{fits}",
            nic.interface,
            r.peer,
            idle.p99_ms(),
            loaded_ms,
            inflation,
            utilization * 100.0
        ),
        evidence,
        recommendation: nic_fix(&nic.interface),
        commands: nic_commands(&nic.interface),
    }))
}

/// Loss seen on one interface over all results through it.
#[derive(Debug, Default)]
struct Loss {
    drop_ratio: f64,
    error_packets: u64,
    retransmit_ratio: f64,
    rto_timeouts: u64,
}

/// One finding per interface that dropped, erred or made TCP retransmit.
/// Retransmits and timeouts count only while the rtt probe ran: a bulk flow
/// finds the link's capacity by losing packets, which is not a fault.
fn net_errors(results: &[NetResult], t: &NetThresholds) -> Vec<Finding> {
    let mut per_iface: BTreeMap<&str, Loss> = BTreeMap::new();
    for r in results {
        let Some(n) = &r.nic else { continue };
        let l = per_iface.entry(&n.interface).or_default();
        l.drop_ratio = l.drop_ratio.max(n.drop_ratio());
        l.error_packets = l.error_packets.max(n.error_packets());
        if r.probe == NetProbeKind::Rtt {
            l.retransmit_ratio = l.retransmit_ratio.max(n.retransmit_ratio());
            l.rto_timeouts = l.rto_timeouts.max(n.tcp_rto_timeouts);
        }
    }
    per_iface
        .into_iter()
        .filter_map(|(iface, l)| loss_finding(iface, &l, t))
        .collect()
}

fn loss_finding(iface: &str, l: &Loss, t: &NetThresholds) -> Option<Finding> {
    let mut evidence = Vec::new();
    let mut check = |bad: bool, metric: &str, observed: f64, threshold: f64, unit: Unit| {
        if bad {
            evidence.push(Evidence {
                metric: format!("{iface} {metric}"),
                observed,
                threshold,
                unit,
            });
        }
    };
    check(
        l.error_packets > 0,
        "receive/transmit errors",
        l.error_packets as f64,
        0.0,
        Unit::Packets,
    );
    check(
        l.drop_ratio > t.drop_ratio,
        "dropped packets",
        pct(l.drop_ratio),
        pct(t.drop_ratio),
        Unit::Percent,
    );
    check(
        l.retransmit_ratio > t.retransmit_ratio,
        "TCP retransmitted segments during rtt",
        pct(l.retransmit_ratio),
        pct(t.retransmit_ratio),
        Unit::Percent,
    );
    check(
        l.rto_timeouts > t.rto_timeouts_count,
        "TCP retransmission timeouts during rtt",
        l.rto_timeouts as f64,
        t.rto_timeouts_count as f64,
        Unit::Count,
    );
    if evidence.is_empty() {
        return None;
    }
    Some(EMIT.finding(
        ids::NetErrors,
        Draft {
            // Interface errors are a hardware or cabling fault; the rest can be
            // congestion.
            severity: if l.error_packets > 0 {
                Severity::Fail
            } else {
                Severity::Warn
            },
            summary: format!("{iface} lost packets while the probes ran"),
            evidence,
            recommendation: format!(
                "Lost packets cost etcd a retransmission each, and a timeout stalls a peer stream \
             for 200 ms or more. Check {iface}'s driver counters, the switch port's error \
             counters, cabling and MTU on both ends; raise the receive ring if the NIC drops \
             under bursts."
            ),
            commands: vec![
                format!("ip -s -s link show dev {iface}"),
                format!("ethtool -S {iface} | grep -iE 'err|drop|miss|crc'"),
                "nstat -az TcpRetransSegs TcpExtTCPTimeouts TcpExtTCPLostRetransmit".into(),
                format!("ethtool -g {iface}"),
            ],
        },
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::LatencySummary;
    use crate::probe::net::{CeilingSource, NicUsage, Schedule};

    fn latency(p50_us: f64, p99_us: f64) -> LatencySummary {
        LatencySummary {
            samples: 1000,
            mean: p50_us,
            min: p50_us / 2.0,
            p50: p50_us,
            p90: p99_us * 0.8,
            p99: p99_us,
            p999: p99_us * 1.2,
            max: p99_us * 1.5,
        }
    }

    fn nic(iface: &str, utilization: f64) -> NicUsage {
        NicUsage {
            interface: iface.into(),
            link_speed_mbit_s: Some(10_000),
            link_speed_nominal: true,
            tx_ceiling_mbit_s: Some(20.0),
            rx_ceiling_mbit_s: Some(9_000.0),
            ceiling_source: Some(CeilingSource::MeasuredThroughput),
            interval_s: 5.0,
            rx_mbit_s: 1.0,
            tx_mbit_s: 19.0,
            peak_rx_mbit_s: 1.0,
            peak_tx_mbit_s: 20.0 * utilization,
            utilization_ratio: Some(utilization),
            ceiling_exceeded_ratio: None,
            before_probe: None,
            other_flows: Vec::new(),
            rx_packets: 10_000,
            tx_packets: 10_000,
            rx_dropped_packets: 0,
            tx_dropped_packets: 0,
            rx_error_packets: 0,
            tx_error_packets: 0,
            tcp_out_segments: 1_000,
            tcp_retransmitted_segments: 0,
            tcp_rto_timeouts: 0,
        }
    }

    fn rtt(peer: &str, p99_us: f64) -> NetResult {
        let mut r = NetResult::new(NetProbeKind::Rtt, peer, Schedule::Concurrent);
        r.message_size_bytes = Some(100);
        r.latency_us = Some(latency(p99_us / 2.0, p99_us));
        r.nic = Some(nic("eth1", 0.01));
        r
    }

    fn loaded(idle_p99_us: f64, loaded_p99_us: f64, utilization: f64) -> NetResult {
        let mut r = NetResult::new(
            NetProbeKind::LoadedRtt,
            "10.0.0.2:7480",
            Schedule::Sequential,
        );
        r.message_size_bytes = Some(100);
        r.idle_latency_us = Some(latency(idle_p99_us / 2.0, idle_p99_us));
        r.latency_us = Some(latency(loaded_p99_us / 2.0, loaded_p99_us));
        r.inflation = Some(round2(loaded_p99_us / idle_p99_us));
        r.nic = Some(nic("eth1", utilization));
        r
    }

    fn ids(findings: &[Finding]) -> Vec<(FindingId, Severity)> {
        findings.iter().map(|f| (f.id, f.severity)).collect()
    }

    #[test]
    fn a_fast_quiet_path_has_no_findings() {
        let results = [
            rtt("a:1", 150.0),
            rtt("b:1", 300.0),
            loaded(150.0, 600.0, 0.95),
        ];
        assert!(evaluate(&results, &NetThresholds::default()).is_empty());
    }

    #[test]
    fn rtt_past_half_the_heartbeat_warns_past_all_of_it_fails_with_computed_flags() {
        let t = NetThresholds::default();
        let f = evaluate(&[rtt("a:1", 60_000.0), rtt("b:1", 200.0)], &t);
        assert_eq!(ids(&f), [(FindingId::NetPeerRttHigh, Severity::Warn)]);
        assert_eq!(f[0].evidence.len(), 1);
        assert_eq!(f[0].evidence[0].observed, 60.0);
        assert_eq!(f[0].evidence[0].threshold, 50.0);
        // 60 ms p99 under a 0.5 ratio: a 120 ms heartbeat, 1200 ms election.
        assert!(f[0].recommendation.contains("--heartbeat-interval=120"));
        assert!(f[0].recommendation.contains("--election-timeout=1200"));
        assert!(f[0].commands[1].contains("--heartbeat-interval=120"));

        let f = evaluate(&[rtt("a:1", 60_000.0), rtt("b:1", 143_000.0)], &t);
        assert_eq!(ids(&f), [(FindingId::NetPeerRttHigh, Severity::Fail)]);
        assert_eq!(f[0].evidence.len(), 2);
        assert!(f[0].recommendation.contains("--heartbeat-interval=290"));
        assert!(f[0].recommendation.contains("--election-timeout=2900"));
    }

    #[test]
    fn a_custom_heartbeat_moves_the_threshold() {
        let t = NetThresholds {
            heartbeat_interval_ms: 500.0,
            ..NetThresholds::default()
        };
        assert!(evaluate(&[rtt("a:1", 143_000.0)], &t).is_empty());
    }

    #[test]
    fn an_unusable_path_gets_no_tuning_commands() {
        let f = evaluate(&[rtt("a:1", 3_000_000.0)], &NetThresholds::default());
        assert!(f[0].recommendation.contains("exceeds etcd's limit"));
        assert!(f[0].commands.is_empty());
    }

    #[test]
    fn the_kubeadm_command_edits_a_manifest_as_intended() {
        let dir = tempfile::tempdir().unwrap();
        let manifest = dir.path().join("etcd.yaml");
        std::fs::write(
            &manifest,
            "    - etcd\n    - --data-dir=/var/lib/etcd\n    - --heartbeat-interval=100\n    - --name=cp1\n",
        )
        .unwrap();
        let cmd =
            tuning_commands(250.0, 2500.0)[1].replace(KUBEADM_MANIFEST, manifest.to_str().unwrap());
        let ok = std::process::Command::new("sh")
            .arg("-c")
            .arg(&cmd)
            .status()
            .unwrap();
        assert!(ok.success(), "{cmd}");
        assert_eq!(
            std::fs::read_to_string(&manifest).unwrap(),
            "    - etcd\n    - --data-dir=/var/lib/etcd\n    - --heartbeat-interval=250\n    - --election-timeout=2500\n    - --name=cp1\n"
        );
    }

    #[test]
    fn saturation_needs_both_inflation_and_a_busy_nic() {
        let t = NetThresholds::default();
        // The shaped 20 Mbit link: 0.1 ms idle, 13 ms loaded, NIC at 97 %.
        let f = evaluate(&[loaded(100.0, 13_000.0, 0.97)], &t);
        assert_eq!(ids(&f), [(FindingId::NetNicSaturated, Severity::Warn)]);
        assert!(f[0].summary.contains("eth1"), "{}", f[0].summary);
        assert!(f[0].commands.iter().any(|c| c.contains("member update")));
        assert!(f[0]
            .commands
            .iter()
            .any(|c| c.contains("tc qdisc add dev eth1")));
        // Saturated and inflated 11x, but 2 ms is nothing to a 100 ms
        // heartbeat (an unshaped veth under our own flow): info.
        let f = evaluate(&[loaded(170.0, 1_970.0, 0.93)], &t);
        assert_eq!(ids(&f), [(FindingId::NetNicSaturated, Severity::Info)]);
        assert!(
            f[0].summary.contains("heartbeats still fit"),
            "{}",
            f[0].summary
        );
        // Inflated but the NIC is idle: the queue is elsewhere.
        assert!(evaluate(&[loaded(100.0, 13_000.0, 0.3)], &t).is_empty());
        // NIC busy but latency barely moves: a well-behaved queue.
        assert!(evaluate(&[loaded(100.0, 500.0, 0.97)], &t).is_empty());
        // Heartbeats later than the heartbeat interval under load: fail.
        let f = evaluate(&[loaded(100.0, 150_000.0, 0.97)], &t);
        assert_eq!(f[0].severity, Severity::Fail);
        // An unshaped veth under our own flow on a busy 2-core VM: a few
        // pings held 11 ms by CPU stalls, nine in ten at 0.1 ms: no queue.
        let mut stalls = loaded(128.0, 11_000.0, 1.0);
        stalls.latency_us.as_mut().unwrap().p90 = 101.0;
        let f = evaluate(&[stalls], &t);
        assert_eq!(ids(&f), [(FindingId::NetNicSaturated, Severity::Info)]);
        assert!(
            f[0].summary.contains("no standing queue"),
            "{}",
            f[0].summary
        );
    }

    #[test]
    fn errors_fail_drops_and_retransmits_warn_bulk_retransmits_do_not_count() {
        let t = NetThresholds::default();
        let mut r = rtt("a:1", 200.0);
        r.nic.as_mut().unwrap().tcp_retransmitted_segments = 50;
        let f = evaluate(std::slice::from_ref(&r), &t);
        assert_eq!(ids(&f), [(FindingId::NetErrors, Severity::Warn)]);
        assert_eq!(f[0].evidence[0].observed, 5.0);
        assert_eq!(f[0].evidence[0].unit, Unit::Percent);

        let mut bulk = loaded(100.0, 200.0, 0.9);
        bulk.nic.as_mut().unwrap().tcp_retransmitted_segments = 500;
        bulk.nic.as_mut().unwrap().tcp_rto_timeouts = 2;
        assert!(evaluate(&[bulk.clone()], &t).is_empty());

        bulk.nic.as_mut().unwrap().rx_error_packets = 3;
        bulk.nic.as_mut().unwrap().rx_dropped_packets = 100;
        let f = evaluate(&[bulk], &t);
        assert_eq!(ids(&f), [(FindingId::NetErrors, Severity::Fail)]);
        assert_eq!(f[0].evidence.len(), 2);
    }

    fn lossy(peer: &str, p99_us: f64, out_resent: u64, back_resent: u64) -> NetResult {
        use crate::probe::net::{PathLoss, SocketLoss};
        let mut r = rtt(peer, p99_us);
        let quiet = r.nic.as_mut().unwrap();
        (quiet.tx_mbit_s, quiet.rx_mbit_s) = (0.2, 0.2);
        let way = |resent| SocketLoss {
            bytes_sent: 100_000 + resent,
            resent_bytes: resent,
            retransmits: (resent / 100) as u32,
            spurious_retransmits: 0,
        };
        r.path_loss = Some(PathLoss {
            outbound: Some(way(out_resent)),
            inbound: Some(way(back_resent)),
        });
        r
    }

    #[test]
    fn a_lossy_quiet_path_is_named_with_its_direction_and_explains_the_rest() {
        let t = NetThresholds::default();
        assert!(evaluate(&[lossy("a:1", 200.0, 0, 50)], &t).is_empty());
        // 2 % of the echoes lost: warn, the way back named.
        let f = evaluate(&[lossy("a:1", 20_000.0, 0, 2_000)], &t);
        assert_eq!(ids(&f), [(FindingId::NetLossyLink, Severity::Warn)]);
        assert!(
            f[0].summary.contains("a:1 -> this host"),
            "{}",
            f[0].summary
        );
        assert!(
            !f[0].summary.contains("this host -> a:1"),
            "{}",
            f[0].summary
        );
        // 10 % of the pings lost, the namespace counters retransmitting
        // and RTT p99 past the heartbeat: one cause, one finding.
        let mut r = lossy("a:1", 700_000.0, 11_000, 0);
        r.nic.as_mut().unwrap().tcp_retransmitted_segments = 70;
        let f = evaluate(&[r, rtt("b:1", 200.0)], &t);
        assert_eq!(
            ids(&f),
            [
                (FindingId::NetLossyLink, Severity::Fail),
                (FindingId::NetPeerRttHigh, Severity::Info),
                (FindingId::NetErrors, Severity::Info),
            ]
        );
        assert!(
            f[0].summary.contains("this host -> a:1"),
            "{}",
            f[0].summary
        );
        assert!(f[1].summary.contains("explained"), "{}", f[1].summary);
        // A slow peer that is not lossy stays a warning of its own.
        let f = evaluate(
            &[lossy("a:1", 700_000.0, 11_000, 0), rtt("b:1", 60_000.0)],
            &t,
        );
        assert!(f
            .iter()
            .any(|x| x.id == FindingId::NetPeerRttHigh && x.severity == Severity::Fail));
    }

    #[test]
    fn loss_in_a_queue_full_of_other_traffic_is_not_a_lossy_link() {
        let t = NetThresholds::default();
        // Pings queued 40 ms behind 19 Mbit/s of someone else's flow.
        let mut r = lossy("a:1", 80_000.0, 3_000, 0);
        r.nic.as_mut().unwrap().tx_mbit_s = 19.0;
        r.latency_us = Some(latency(40_000.0, 80_000.0));
        r.rate_hz = Some(200);
        let f = evaluate(std::slice::from_ref(&r), &t);
        assert!(f.iter().all(|x| x.id != FindingId::NetLossyLink), "{f:?}");
        // The same loss with the median ping not queued is the path's.
        r.latency_us = Some(latency(100.0, 80_000.0));
        let f = evaluate(&[r], &t);
        assert!(f.iter().any(|x| x.id == FindingId::NetLossyLink), "{f:?}");
    }

    #[test]
    fn thresholds_deserialize_partially_and_refuse_unknown_fields() {
        let t: NetThresholds = toml::from_str("heartbeat_interval_ms = 250.0").unwrap();
        assert_eq!(t.heartbeat_interval_ms, 250.0);
        assert_eq!(t.inflation_ratio, 10.0);
        assert!(toml::from_str::<NetThresholds>("heartbeat_ms = 1").is_err());
    }

    #[test]
    fn findings_come_most_severe_first() {
        let mut r = rtt("a:1", 143_000.0);
        r.nic.as_mut().unwrap().tcp_rto_timeouts = 1;
        let f = evaluate(&[r], &NetThresholds::default());
        assert_eq!(
            ids(&f),
            [
                (FindingId::NetPeerRttHigh, Severity::Fail),
                (FindingId::NetErrors, Severity::Warn)
            ]
        );
    }
}
