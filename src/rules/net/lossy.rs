//! `net.lossy-link`: a peer path that loses packets without being full.
//!
//! The evidence is the rtt probe's own connection, counted by both of its
//! ends (TCP_INFO: bytes the kernel sent beyond what the program wrote):
//! this host's socket for the pings (this host -> peer), the agent's for
//! the echoes (peer -> this host). A few hundred bytes of pings cannot
//! fill a link, so on a quiet link every byte sent again was lost on the
//! way: a bad cable or optic, a duplex mismatch, a policer dropping, a
//! faulty switch port or a lossy overlay. Each loss costs etcd at least
//! one retransmission timeout (200 ms on Linux) on a peer stream: two
//! default heartbeat intervals.
//!
//! A full link drops too (its queue overflows), but that is saturation,
//! judged by `net.nic-saturated`: when other traffic crossed the
//! interface while the pings ran AND the median ping queued behind it,
//! the loss is the queue's and this rule says nothing.

use crate::findings::{Draft, Evidence, Finding, Severity, Unit};
use crate::probe::net::{NetProbeKind, NetResult, NicUsage, SocketLoss};

use super::busy::{BUSY_RTT_HEARTBEAT_SHARE, MIN_OTHER_MBIT_S, OWN_WIRE_OVERHEAD};
use super::thresholds::{pct, NetThresholds};
use crate::findings::emit::Emit;
use crate::findings::registry::ids;
use crate::measure::round2;
use crate::rules::by;

/// Builds the ids of this file's findings: all are `run::net`'s.
const EMIT: Emit<by::net> = Emit::new();

/// The share of one direction's bytes that was lost: sent again, less
/// the part of the retransmissions the other end reported as duplicates.
fn lost_ratio(s: &SocketLoss) -> f64 {
    let spurious = if s.retransmits > 0 {
        f64::from(s.spurious_retransmits.min(s.retransmits)) / f64::from(s.retransmits)
    } else {
        0.0
    };
    s.resent_ratio() * (1.0 - spurious)
}

/// True when other traffic crossed the interface while the pings ran
/// and the median ping queued behind it: a full queue, not a lossy link.
fn queued_behind_traffic(r: &NetResult, nic: &NicUsage, t: &NetThresholds) -> bool {
    let pings_mbit_s =
        r.message_size_bytes.unwrap_or(0) as f64 * f64::from(r.rate_hz.unwrap_or(0)) * 8.0 / 1e6
            * OWN_WIRE_OVERHEAD;
    let other = (nic.tx_mbit_s.max(nic.rx_mbit_s) - pings_mbit_s).max(0.0);
    let p50_ms = r.latency_us.map_or(0.0, |l| l.p50_ms());
    other >= MIN_OTHER_MBIT_S && p50_ms >= t.heartbeat_interval_ms * BUSY_RTT_HEARTBEAT_SHARE
}

/// `net.lossy-link` for one rtt result, with the peers whose loss it names.
pub(super) fn lossy_link(r: &NetResult, t: &NetThresholds) -> Option<Finding> {
    if r.probe != NetProbeKind::Rtt || r.error.is_some() {
        return None;
    }
    let loss = r.path_loss?;
    if r.nic
        .as_ref()
        .is_some_and(|n| queued_behind_traffic(r, n, t))
    {
        return None;
    }
    let peer = &r.peer;
    let ways = [
        ("this host -> {peer} (pings)", loss.outbound),
        ("{peer} -> this host (echoes)", loss.inbound),
    ];
    let lossy: Vec<(String, SocketLoss, f64)> = ways
        .into_iter()
        .filter_map(|(way, s)| {
            let s = s?;
            let lost = lost_ratio(&s);
            (lost >= t.lossy_resent_ratio).then(|| (way.replace("{peer}", peer), s, lost))
        })
        .collect();
    if lossy.is_empty() {
        return None;
    }
    let worst = lossy.iter().map(|(_, _, l)| *l).fold(0.0, f64::max);
    let severity = if worst >= t.lossy_fail_resent_ratio {
        Severity::Fail
    } else {
        Severity::Warn
    };
    let mut evidence: Vec<Evidence> = lossy
        .iter()
        .map(|(way, s, lost)| Evidence {
            metric: format!(
                "bytes sent again, {way}: {} of {} B, {} retransmissions",
                s.resent_bytes, s.bytes_sent, s.retransmits
            ),
            observed: pct(*lost),
            threshold: pct(t.lossy_resent_ratio),
            unit: Unit::Percent,
        })
        .collect();
    if let Some(l) = r.latency_us {
        evidence.push(Evidence {
            metric: format!("RTT p99 to {peer} (p50 {:.2} ms)", l.p50_ms()),
            observed: round2(l.p99_ms()),
            threshold: t.heartbeat_interval_ms,
            unit: Unit::Ms,
        });
    }
    let directions: Vec<&str> = lossy.iter().map(|(w, _, _)| w.as_str()).collect();
    let iface = r
        .nic
        .as_ref()
        .map_or("the peer interface", |n| &n.interface);
    let quiet = r.nic.as_ref().map_or(String::new(), |n| {
        format!(
            ", on a link that was not full ({:.1} Mbit/s out, {:.1} in)",
            n.tx_mbit_s, n.rx_mbit_s
        )
    });
    Some(EMIT.finding(
        ids::NetLossyLink,
        Draft {
            severity,
            summary: format!(
            "the path to {peer} loses packets: {:.1}% of the probe's bytes sent again on {}{quiet}",
            pct(worst),
            directions.join(" and "),
        ),
            evidence,
            recommendation: recommendation(&format!("this host and {peer}")),
            commands: commands(iface, peer_host(peer)),
        },
    ))
}

/// The fix for a lossy path between `between` (two hosts).
pub(super) fn recommendation(between: &str) -> String {
    format!(
        "Packets are lost between {between} while the link is not busy, so this \
         is a fault on the path, not load: every lost heartbeat or append waits for a TCP \
         retransmission timeout (200 ms or more), enough for leader elections at etcd's \
         default 100 ms heartbeat. Raising etcd's timeouts only hides it. Find the lossy \
         hop: the NIC and switch-port error counters on both hosts (CRC, frame, drops), \
         cabling and optics, a duplex or MTU mismatch, a policer or firewall rate limit, \
         an overlay (VXLAN/IPsec) dropping fragments; `mtr` shows where loss starts. Move \
         etcd's peer traffic off the lossy path until it is fixed."
    )
}

/// Commands that find the lossy hop towards `host` over `iface`.
pub(super) fn commands(iface: &str, host: &str) -> Vec<String> {
    vec![
        format!("ip -s -s link show dev {iface}"),
        format!("ethtool -S {iface} | grep -iE 'err|drop|crc|miss'"),
        format!("ethtool {iface} | grep -iE 'speed|duplex'"),
        format!("mtr -rwc 200 {host}"),
        format!("ss -ti dst {host}  # etcd's peer sockets: retrans:"),
    ]
}

/// The host part of `ADDR:PORT`.
fn peer_host(peer: &str) -> &str {
    let host = peer.rsplit_once(':').map_or(peer, |(h, _)| h);
    host.trim_start_matches('[').trim_end_matches(']')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loss(sent: u64, resent: u64, retrans: u32, spurious: u32) -> SocketLoss {
        SocketLoss {
            bytes_sent: sent,
            resent_bytes: resent,
            retransmits: retrans,
            spurious_retransmits: spurious,
        }
    }

    #[test]
    fn duplicates_the_other_end_reported_are_not_loss() {
        assert_eq!(lost_ratio(&loss(100_000, 0, 0, 0)), 0.0);
        assert!((lost_ratio(&loss(100_000, 2_000, 20, 0)) - 0.02).abs() < 1e-9);
        assert!((lost_ratio(&loss(100_000, 2_000, 20, 10)) - 0.01).abs() < 1e-9);
        // A local filter's refusals: sent again, never retransmissions.
        assert!((lost_ratio(&loss(100_000, 8_600, 0, 0)) - 0.086).abs() < 1e-9);
        assert_eq!(lost_ratio(&loss(0, 0, 0, 0)), 0.0);
        assert_eq!(lost_ratio(&loss(100, 100, 1, 5)), 0.0);
        assert_eq!(peer_host("[::1]:7480"), "::1");
        assert_eq!(peer_host("10.0.0.2:7480"), "10.0.0.2");
    }
}
