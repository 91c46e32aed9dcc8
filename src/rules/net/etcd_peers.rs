//! `net.lossy-link` from etcd's own peer sockets: the bytes an etcd
//! process on this host sent to each peer over the run, and the bytes the
//! kernel had to send again ([`crate::host::peersock`], `ss -ti`'s
//! `bytes_retrans`). A retransmission is a segment the peer did not
//! acknowledge in time: lost on the way out of this member (or its ack
//! lost on the way back). Each costs etcd's raft stream a retransmission
//! timeout, 200 ms or more, two default heartbeat intervals.
//!
//! Judged per peer (all its connections together, dialled and accepted),
//! named by member name, id and host, with this member's sending
//! direction. A handful of retransmissions on a quiet link is noise, so a
//! peer is judged only from [`MIN_BYTES`] sent and [`MIN_RETRANSMITS`]
//! segments sent again. Loss to a peer the rtt probe also measured is told
//! by both findings, each with its own evidence.

use std::net::IpAddr;

use crate::cluster::model::{url_host, url_port, ClusterReport, Member};
use crate::findings::{Evidence, Finding, FindingId, Severity, Unit};
use crate::host::etcd::EtcdProcess;
use crate::host::peersock::PeerSocket;

use super::lossy::{commands, recommendation};
use super::thresholds::{pct, NetThresholds};

/// Fewest bytes sent to a peer over the run for its loss to be judged.
pub const MIN_BYTES: u64 = 20_000;
/// Fewest segments sent again to a peer for its loss to be judged.
pub const MIN_RETRANSMITS: u32 = 3;

/// What one etcd process sent one peer over the run.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
struct Sent {
    bytes: u64,
    again: u64,
    retransmits: u32,
    sockets: usize,
    rtt_ms: f64,
}

/// `net.lossy-link` for each peer of each of this cluster's etcd
/// processes (`etcd`: already those of `cluster`) that lost packets.
pub fn etcd_peer_loss(
    etcd: &[EtcdProcess],
    cluster: &ClusterReport,
    t: &NetThresholds,
) -> Vec<Finding> {
    etcd.iter()
        .flat_map(|p| {
            let me = p
                .member_name
                .as_deref()
                .and_then(|n| cluster.members.iter().find(|m| m.name == n));
            cluster
                .members
                .iter()
                .filter(move |m| me.is_none_or(|me| me.id != m.id))
                .filter_map(move |peer| {
                    let sent = sent_to(&p.peer_sockets, peer, &cluster.members);
                    judge(p, me, peer, sent, cluster, t)
                })
        })
        .collect()
}

/// The peer URLs of `m` as (address, port).
fn peer_addrs(m: &Member) -> Vec<(IpAddr, u16)> {
    m.peer_urls
        .iter()
        .filter_map(|u| {
            let ip: IpAddr = url_host(u).parse().ok()?;
            Some((ip, url_port(u)?))
        })
        .collect()
}

/// The sockets to `peer` summed: those dialled to its peer URL, and those
/// it dialled in from its address when no other member shares it.
fn sent_to(sockets: &[PeerSocket], peer: &Member, members: &[Member]) -> Sent {
    let addrs = peer_addrs(peer);
    let alone = |ip: IpAddr| {
        members
            .iter()
            .filter(|m| peer_addrs(m).iter().any(|(a, _)| *a == ip))
            .count()
            == 1
    };
    sockets
        .iter()
        .filter(|s| {
            let ip = s.remote.ip();
            addrs.iter().any(|(a, port)| {
                *a == ip
                    && (if s.accepted {
                        alone(ip)
                    } else {
                        s.remote.port() == *port
                    })
            })
        })
        .fold(Sent::default(), |acc, s| Sent {
            bytes: acc.bytes + s.bytes_sent,
            again: acc.again + s.bytes_retrans,
            retransmits: acc.retransmits.saturating_add(s.retransmits),
            sockets: acc.sockets + 1,
            rtt_ms: acc.rtt_ms.max(s.rtt_ms),
        })
}

fn judge(
    p: &EtcdProcess,
    me: Option<&Member>,
    peer: &Member,
    sent: Sent,
    cluster: &ClusterReport,
    t: &NetThresholds,
) -> Option<Finding> {
    if sent.bytes < MIN_BYTES || sent.retransmits < MIN_RETRANSMITS {
        return None;
    }
    let lost = sent.again as f64 / sent.bytes as f64;
    if lost < t.lossy_resent_ratio {
        return None;
    }
    let severity = if lost >= t.lossy_fail_resent_ratio {
        Severity::Fail
    } else {
        Severity::Warn
    };
    let fallback = format!("etcd pid {}", p.pid);
    let from = me.map_or(fallback, |m| cluster.member_label(Some(&m.id), &m.name));
    let to = cluster.member_label(Some(&peer.id), &peer.name);
    let host = url_host(peer.peer_urls.first().map_or("", String::as_str)).to_string();
    Some(Finding {
        id: FindingId::NetLossyLink,
        severity,
        summary: format!(
            "the peer link from {from} to {to} loses packets: {:.1}% of the bytes etcd sent on it \
             went again ({} retransmissions on {} connection(s), way=out: this member's sending \
             direction), seen on etcd's own peer sockets",
            pct(lost),
            sent.retransmits,
            sent.sockets,
        ),
        evidence: vec![
            Evidence {
                metric: format!(
                    "etcd's peer sockets {from} -> {to} (out): {} of {} B sent again, {} \
                     retransmissions",
                    sent.again, sent.bytes, sent.retransmits
                ),
                observed: pct(lost),
                threshold: pct(t.lossy_resent_ratio),
                unit: Unit::Percent,
            },
            Evidence {
                metric: format!("TCP smoothed RTT to {to} (kernel, at the end)"),
                observed: sent.rtt_ms,
                threshold: t.heartbeat_interval_ms,
                unit: Unit::Ms,
            },
        ],
        recommendation: recommendation(&format!("{from} and {to}")),
        commands: commands("<the peer interface>", &host),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(name: &str, id: &str, ip: &str) -> Member {
        Member {
            id: id.into(),
            name: name.into(),
            peer_urls: vec![format!("http://{ip}:2380")],
            client_urls: vec![format!("http://{ip}:2379")],
            ..Member::default()
        }
    }

    fn sock(remote: &str, accepted: bool, sent: u64, again: u64, re: u32) -> PeerSocket {
        PeerSocket {
            local: if accepted {
                "10.0.0.1:2380"
            } else {
                "10.0.0.1:40000"
            }
            .parse()
            .unwrap(),
            remote: remote.parse().unwrap(),
            accepted,
            bytes_sent: sent,
            bytes_retrans: again,
            retransmits: re,
            rtt_ms: 0.4,
        }
    }

    fn process(sockets: Vec<PeerSocket>) -> EtcdProcess {
        let mut p: EtcdProcess = serde_json::from_value(serde_json::json!({
            "pid": 9, "cpu_cores": 0.1, "run_delay_ms_per_s": 0.0, "major_faults_per_s": 0.0,
            "swap_mib": 0.0, "rss_mib": 50.0, "member_name": "m1", "listen_ports": [2379, 2380]
        }))
        .unwrap();
        p.peer_sockets = sockets;
        p
    }

    fn cluster() -> ClusterReport {
        ClusterReport {
            members: vec![
                member("m1", "00000000000000a1", "10.0.0.1"),
                member("m2", "00000000000000a2", "10.0.0.2"),
                member("m3", "00000000000000a3", "10.0.0.3"),
            ],
            ..ClusterReport::default()
        }
    }

    #[test]
    fn the_lossy_peer_is_named_with_its_direction_and_the_healthy_one_is_not() {
        let t = NetThresholds::default();
        let p = process(vec![
            sock("10.0.0.2:2380", false, 60_000, 3_000, 20),
            sock("10.0.0.2:51000", true, 40_000, 1_000, 8),
            sock("10.0.0.3:2380", false, 200_000, 0, 0),
        ]);
        let f = etcd_peer_loss(&[p], &cluster(), &t);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].severity, Severity::Warn);
        let s = &f[0].summary;
        assert!(
            s.contains(
                "from m1 (00000000000000a1) on 10.0.0.1 to m2 (00000000000000a2) on 10.0.0.2"
            ),
            "{s}"
        );
        assert!(
            s.contains("4.0% of the bytes") && s.contains("way=out"),
            "{s}"
        );
        assert!(
            f[0].evidence[0].metric.contains("4000 of 100000 B"),
            "{:?}",
            f[0].evidence
        );
    }

    #[test]
    fn a_few_retransmissions_or_little_traffic_are_not_judged() {
        let t = NetThresholds::default();
        let few = process(vec![sock("10.0.0.2:2380", false, 60_000, 3_000, 2)]);
        assert!(etcd_peer_loss(&[few], &cluster(), &t).is_empty());
        let quiet = process(vec![sock("10.0.0.2:2380", false, 10_000, 5_000, 9)]);
        assert!(etcd_peer_loss(&[quiet], &cluster(), &t).is_empty());
        let heavy = process(vec![sock("10.0.0.3:2380", false, 100_000, 9_000, 60)]);
        let f = etcd_peer_loss(&[heavy], &cluster(), &t);
        assert_eq!(f[0].severity, Severity::Fail);
        assert!(
            f[0].summary.contains("to m3 (00000000000000a3)"),
            "{}",
            f[0].summary
        );
    }

    #[test]
    fn accepted_sockets_from_a_shared_address_are_not_guessed() {
        // Every member on 127.0.0.1: only dialled sockets say which peer.
        let mut c = cluster();
        for (m, port) in c.members.iter_mut().zip([2380, 2480, 2580]) {
            m.peer_urls = vec![format!("http://127.0.0.1:{port}")];
        }
        let p = process(vec![
            sock("127.0.0.1:51000", true, 90_000, 9_000, 40),
            sock("127.0.0.1:2580", false, 50_000, 2_500, 12),
        ]);
        let f = etcd_peer_loss(&[p], &c, &NetThresholds::default());
        assert_eq!(f.len(), 1, "{f:?}");
        assert!(f[0].summary.contains("to m3"), "{}", f[0].summary);
        assert!(f[0].summary.contains("5.0%"), "{}", f[0].summary);
    }
}
