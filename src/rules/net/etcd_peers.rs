//! `net.lossy-link` from etcd's own peer sockets: the bytes an etcd
//! process on this host sent to each peer over the run, and the bytes the
//! kernel had to send again ([`crate::host::peersock`], `ss -ti`'s
//! `bytes_retrans`). A retransmission is a segment the peer did not
//! acknowledge in time: lost on the way out of this member (or its ack
//! lost on the way back). Each costs etcd's raft stream a retransmission
//! timeout, 200 ms or more, two default heartbeat intervals.
//!
//! Judged per peer (all its connections together, dialled and accepted),
//! named by member name, id and host, with the direction. A
//! retransmission the peer reports it already had (D-SACK,
//! `tcpi_dsack_dups`) was no loss of this member's data: its
//! acknowledgement was lost on the way back. When those carry the loss,
//! the finding names the way back (peer -> this member) and says that the
//! peer's own data lost on that way is counted by the peer's kernel, not
//! here: this member's sockets see only its own resends. A handful of retransmissions on a quiet link is noise, so a
//! peer is judged only from [`MIN_BYTES`] sent and [`MIN_RETRANSMITS`]
//! segments sent again. Loss to a peer the rtt probe also measured is told
//! by both findings, each with its own evidence.

use std::net::IpAddr;

use crate::cluster::model::{url_host, url_port, ClusterReport, Member};
use crate::findings::{Draft, Evidence, Finding, Severity, Unit};
use crate::host::etcd::EtcdProcess;
use crate::host::peersock::PeerSocket;

use super::lossy::{commands, recommendation};
use super::thresholds::{pct, NetThresholds};
use crate::findings::emit::Emit;
use crate::findings::registry::ids;
use crate::rules::by;

/// Builds the ids of this file's findings: all are `run::etcd_peer_loss`'s.
const EMIT: Emit<by::etcd_peer_loss> = Emit::new();

/// Fewest bytes sent to a peer over the run for its loss to be judged.
pub const MIN_BYTES: u64 = 20_000;
/// Fewest segments sent again to a peer for its loss to be judged.
pub const MIN_RETRANSMITS: u32 = 3;
/// Fewest segments received from a peer for their order to be judged.
pub const MIN_SEGMENTS_IN: u32 = 100;

/// What one etcd process sent one peer over the run.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
struct Sent {
    bytes: u64,
    again: u64,
    retransmits: u32,
    duplicates: u32,
    segments_in: u32,
    out_of_order_in: u32,
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
                    judge(&labels(p, me, peer, cluster), sent, t)
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
            duplicates: acc.duplicates.saturating_add(s.duplicates),
            segments_in: acc.segments_in.saturating_add(s.segments_received),
            out_of_order_in: acc.out_of_order_in.saturating_add(s.out_of_order_received),
            sockets: acc.sockets + 1,
            rtt_ms: acc.rtt_ms.max(s.rtt_ms),
        })
}

/// The lossy way of one peer link, if any: the share of this member's
/// bytes sent again against the share of the peer's segments that arrived
/// out of order. Acknowledgements lost on the way back make this member
/// resend too, so when more of the peer's segments arrived late than this
/// member resent, the way back is the one named.
fn judge(link: &Labels, sent: Sent, t: &NetThresholds) -> Option<Finding> {
    let resent = (sent.bytes >= MIN_BYTES && sent.retransmits >= MIN_RETRANSMITS)
        .then(|| sent.again as f64 / sent.bytes as f64)
        .filter(|lost| *lost >= t.lossy_resent_ratio);
    match (resent, out_of_order_share(sent, t)) {
        (None, None) => None,
        (Some(lost), Some(late)) if late > lost => {
            Some(arrivals_out_of_order(link, sent, late, Some(lost), t))
        }
        (None, Some(late)) => Some(arrivals_out_of_order(link, sent, late, None, t)),
        (Some(lost), _) => Some(resends(link, sent, lost, t)),
    }
}

/// The share of the peer's segments that arrived out of order, when
/// enough arrived and enough of them late to judge.
fn out_of_order_share(sent: Sent, t: &NetThresholds) -> Option<f64> {
    (sent.segments_in >= MIN_SEGMENTS_IN && sent.out_of_order_in >= MIN_RETRANSMITS)
        .then(|| f64::from(sent.out_of_order_in) / f64::from(sent.segments_in))
        .filter(|share| *share >= t.lossy_resent_ratio)
}

/// `net.lossy-link` from this member's resends: `lost` of its bytes sent
/// again to the peer.
fn resends(link: &Labels, sent: Sent, lost: f64, t: &NetThresholds) -> Finding {
    let severity = if lost >= t.lossy_fail_resent_ratio {
        Severity::Fail
    } else {
        Severity::Warn
    };
    let Labels { from, to, host } = link;
    let dups = sent.duplicates.min(sent.retransmits);
    let (summary, way) = describe(sent, lost, link, t);
    EMIT.finding(
        ids::NetLossyLink,
        Draft {
            severity,
            summary,
            evidence: vec![
                Evidence {
                    metric: format!(
                    "etcd's peer sockets {from} -> {to} (way={way}): {} of {} B sent again, {} \
                     retransmissions, {dups} duplicates",
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
            commands: commands("<the peer interface>", host),
        },
    )
}

/// A peer link as operators know it.
struct Labels {
    /// This member (name, id, host).
    from: String,
    /// The peer.
    to: String,
    /// The peer's host.
    host: String,
}

/// The labels of the link from `p` (member `me`) to `peer`.
fn labels(p: &EtcdProcess, me: Option<&Member>, peer: &Member, cluster: &ClusterReport) -> Labels {
    let fallback = format!("etcd pid {}", p.pid);
    Labels {
        from: me.map_or(fallback, |m| cluster.member_label(Some(&m.id), &m.name)),
        to: cluster.member_label(Some(&peer.id), &peer.name),
        host: url_host(peer.peer_urls.first().map_or("", String::as_str)).to_string(),
    }
}

/// `net.lossy-link` on the way back: `late` of the peer's segments
/// arrived out of order, each after a gap its lost segments left, and
/// this member resent less than that (`resent`, if enough to judge):
/// resends the peer's acknowledgements lost on the same way explain. The
/// size of that loss is the peer's resends, which only its host's kernel
/// counts, so this warns and never fails.
fn arrivals_out_of_order(
    link: &Labels,
    sent: Sent,
    late: f64,
    resent: Option<f64>,
    t: &NetThresholds,
) -> Finding {
    let Labels { from, to, host } = link;
    let own = match resent {
        None => "while this member's own sending lost nothing".to_string(),
        Some(lost) => format!(
            "while this member resent only {:.1}% of its bytes ({} retransmissions), fewer \
             than that: {to}'s acknowledgements lost on the same way make such resends",
            pct(lost),
            sent.retransmits
        ),
    };
    let mut evidence = vec![Evidence {
        metric: format!(
            "etcd's peer sockets {to} -> {from} (way=back): {} of {} segments received out of \
             order",
            sent.out_of_order_in, sent.segments_in
        ),
        observed: pct(late),
        threshold: pct(t.lossy_resent_ratio),
        unit: Unit::Percent,
    }];
    if let Some(lost) = resent {
        evidence.push(Evidence {
            metric: format!(
                "etcd's peer sockets {from} -> {to}: {} of {} B sent again (below the share \
                 that arrived out of order)",
                sent.again, sent.bytes
            ),
            observed: pct(lost),
            threshold: pct(late),
            unit: Unit::Percent,
        });
    }
    EMIT.finding(
        ids::NetLossyLink,
        Draft {
            severity: Severity::Warn,
            summary: format!(
                "the peer link from {to} to {from} loses packets (way=back: {to} -> this member): \
                 {:.1}% of the segments {to} sent arrived out of order, after a gap its lost \
                 segments left, {own}; how much is lost on that way only the kernel on {host} \
                 counts (run `etcd-doctor diagnose` there), seen on etcd's own peer sockets",
                pct(late)
            ),
            evidence,
            recommendation: recommendation(&format!("{from} and {to}")),
            commands: commands("<the peer interface>", host),
        },
    )
}

/// The summary and the way (`out`, `back`) of a lossy peer link: resends
/// of this member's data lost on the way out, or, when most were
/// duplicates the peer already had, acknowledgements lost on the way back.
fn describe(sent: Sent, lost: f64, link: &Labels, t: &NetThresholds) -> (String, &'static str) {
    let Labels { from, to, host } = link;
    let dups = sent.duplicates.min(sent.retransmits);
    // The share of the bytes that was this member's data lost on the way
    // out: the resent share less the duplicates the peer reported. Most
    // resends duplicates: the way back loses (acks), whatever else.
    let out_lost = lost * (1.0 - f64::from(dups) / f64::from(sent.retransmits));
    if dups * 2 < sent.retransmits {
        let back = if dups >= MIN_RETRANSMITS {
            format!(
                "; {dups} of them were duplicates {to} already had: its acknowledgements are \
                 lost on the way back too"
            )
        } else {
            String::new()
        };
        (
            format!(
                "the peer link from {from} to {to} loses packets: {:.1}% of the bytes etcd sent \
                 on it went again ({} retransmissions on {} connection(s), way=out: this \
                 member's sending direction{back}), seen on etcd's own peer sockets",
                pct(lost),
                sent.retransmits,
                sent.sockets,
            ),
            "out",
        )
    } else {
        let out_too = if out_lost >= t.lossy_resent_ratio {
            format!(
                "; the other {} resent {:.1}% of the bytes: this member's data is lost on the \
                 way out too (way=out)",
                sent.retransmits - dups,
                pct(out_lost)
            )
        } else {
            String::new()
        };
        (
            format!(
                "the peer link from {to} to {from} loses packets (way=back: {to} -> this \
                 member): {:.1}% of the bytes etcd sent to {to} went again, but {dups} of the \
                 {} retransmissions were duplicates {to} already had (D-SACK), so this \
                 member's data arrived and {to}'s acknowledgements were lost on the way back; \
                 how much of its own data is lost on that way only the kernel on {host} \
                 counts (run `etcd-doctor diagnose` there){out_too}, seen on etcd's own peer \
                 sockets",
                pct(lost),
                sent.retransmits,
            ),
            "back",
        )
    }
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
        dup_sock(remote, accepted, sent, again, re, 0)
    }

    fn dup_sock(
        remote: &str,
        accepted: bool,
        sent: u64,
        again: u64,
        re: u32,
        duplicates: u32,
    ) -> PeerSocket {
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
            duplicates,
            segments_received: 0,
            out_of_order_received: 0,
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

    /// The peer's packets dropped where this member receives them: this
    /// member's resends were mostly duplicates (its data had arrived, the
    /// acks were lost), so the way back is named, never the way out, and
    /// the finding says the peer's own loss is counted on its host.
    #[test]
    fn duplicates_the_peer_reported_name_the_way_back() {
        let t = NetThresholds::default();
        let p = process(vec![dup_sock(
            "10.0.0.2:2380",
            false,
            100_000,
            3_000,
            20,
            17,
        )]);
        let f = etcd_peer_loss(&[p], &cluster(), &t);
        assert_eq!(f.len(), 1, "{f:?}");
        let s = &f[0].summary;
        assert!(
            s.contains("way=back: m2 (00000000000000a2) on 10.0.0.2 -> this member"),
            "{s}"
        );
        assert!(!s.contains("way=out"), "{s}");
        assert!(
            s.contains("17 of the 20 retransmissions were duplicates"),
            "{s}"
        );
        assert!(s.contains("only the kernel on 10.0.0.2 counts"), "{s}");
        assert!(
            f[0].evidence[0].metric.contains("(way=back)"),
            "{:?}",
            f[0].evidence
        );
        // Real loss out with some duplicates: way=out, the way back noted.
        let p = process(vec![dup_sock(
            "10.0.0.2:2380",
            false,
            100_000,
            6_000,
            40,
            5,
        )]);
        let f = etcd_peer_loss(&[p], &cluster(), &t);
        let s = &f[0].summary;
        assert!(
            s.contains("way=out") && s.contains("5 of them were duplicates"),
            "{s}"
        );
    }

    /// The peer's packets lost on their way here, this member's sending
    /// clean: its segments arrived out of order. The way back is named,
    /// at warn (the size of the loss is counted on the peer's host), and
    /// a healthy link's few reorderings are not.
    #[test]
    fn out_of_order_arrivals_name_the_way_back_at_warn() {
        let t = NetThresholds::default();
        let with_order = |ooo: u32, segs: u32| {
            let mut s = sock("10.0.0.2:2380", false, 900_000, 2, 1);
            s.segments_received = segs;
            s.out_of_order_received = ooo;
            process(vec![s])
        };
        let f = etcd_peer_loss(&[with_order(60, 1_000)], &cluster(), &t);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].severity, Severity::Warn);
        let s = &f[0].summary;
        assert!(
            s.contains("way=back: m2 (00000000000000a2) on 10.0.0.2 -> this member"),
            "{s}"
        );
        assert!(s.contains("6.0% of the segments"), "{s}");
        assert!(s.contains("only the kernel on 10.0.0.2 counts"), "{s}");
        assert!(!s.contains("way=out"), "{s}");
        // A few reorderings, or too few segments: nothing.
        assert!(etcd_peer_loss(&[with_order(5, 1_000)], &cluster(), &t).is_empty());
        assert!(etcd_peer_loss(&[with_order(50, 90)], &cluster(), &t).is_empty());
    }

    /// The way back dropping 5% (CI, etcd 3.6): the peer's segments
    /// arrived out of order (5.2%) and this member resent 1.4%, its acks
    /// lost on the same way. The larger share names the way: back, not
    /// out. With the shares the other way round, the way out is named.
    #[test]
    fn the_larger_share_names_the_way_when_both_show() {
        let t = NetThresholds::default();
        let both = |again: u64, re: u32, ooo: u32| {
            let mut s = dup_sock("10.0.0.2:2380", false, 2_403_035, again, re, 1);
            s.segments_received = 5_862;
            s.out_of_order_received = ooo;
            process(vec![s])
        };
        let f = etcd_peer_loss(&[both(33_416, 25, 305)], &cluster(), &t);
        assert_eq!(f.len(), 1, "{f:?}");
        assert_eq!(f[0].severity, Severity::Warn);
        let s = &f[0].summary;
        assert!(s.contains("way=back") && !s.contains("way=out"), "{s}");
        assert!(s.contains("5.2% of the segments"), "{s}");
        assert!(s.contains("resent only 1.4% of its bytes"), "{s}");
        assert_eq!(f[0].evidence.len(), 2, "{:?}", f[0].evidence);
        let f = etcd_peer_loss(&[both(160_000, 120, 70)], &cluster(), &t);
        let s = &f[0].summary;
        assert!(
            s.contains("way=out") && s.contains("6.7% of the bytes"),
            "{s}"
        );
        assert_eq!(f[0].severity, Severity::Fail);
    }
}
