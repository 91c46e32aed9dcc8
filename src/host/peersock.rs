//! etcd's own peer connections, from the kernel's account of each: a
//! netlink `sock_diag` dump of the established TCP sockets with
//! `INET_DIAG_INFO` (the `struct tcp_info` that `ss -ti` prints), read at
//! the start and the end of a run. The sockets an etcd process owns (its
//! `/proc/<pid>/fd` links `socket:[inode]`) that carry raft traffic (on a
//! `--listen-peer-urls` port, or dialled to another host's port) give,
//! per peer, the bytes etcd sent and the bytes the kernel had to send
//! again: the loss on that link in the direction this member sends,
//! measured on etcd's own heartbeats and appends rather than a probe's.
//!
//! Bounded: at most [`MAX_SOCKETS`] sockets and [`MAX_DUMP_BYTES`] bytes
//! per dump, [`MAX_PEER_SOCKETS`] kept per process, a receive timeout;
//! the parser takes any bytes and never panics (proptest below).

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use serde::{Deserialize, Serialize};

use crate::measure::round2;
use crate::units::Micros;

/// At most this many sockets are parsed from one dump.
pub const MAX_SOCKETS: usize = 65_536;
/// At most this many bytes are read from one dump.
pub const MAX_DUMP_BYTES: usize = 64 << 20;
/// At most this many peer sockets are kept per etcd process.
pub const MAX_PEER_SOCKETS: usize = 256;
/// etcd's peer port when `--listen-peer-urls` is not given.
pub const DEFAULT_PEER_PORT: u16 = 2380;

// linux/netlink.h, linux/sock_diag.h, linux/inet_diag.h
const NETLINK_SOCK_DIAG: libc::c_int = 4;
const SOCK_DIAG_BY_FAMILY: u16 = 20;
const NLM_F_REQUEST: u16 = 1;
const NLM_F_DUMP: u16 = 0x300;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLMSG_HDR: usize = 16;
/// struct inet_diag_msg.
const DIAG_MSG: usize = 72;
const INET_DIAG_INFO: u16 = 2;
const TCP_ESTABLISHED: u32 = 1;
const RECV_BUF: usize = 64 << 10;

// Offsets in struct tcp_info (linux/tcp.h).
const RTT_US: usize = 68;
const TOTAL_RETRANS: usize = 100;
const BYTES_SENT: usize = 200;
const BYTES_RETRANS: usize = 208;
const DSACK_DUPS: usize = 216;
const DATA_SEGS_IN: usize = 152;
const RCV_OOOPACK: usize = 224;

/// One TCP socket's cumulative sending account (kernel 4.19+).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct TcpAccount {
    /// Bytes sent, retransmissions included (`tcpi_bytes_sent`).
    pub bytes_sent: u64,
    /// Bytes sent again (`tcpi_bytes_retrans`).
    pub bytes_retrans: u64,
    /// Segments sent again (`tcpi_total_retrans`).
    pub retransmits: u32,
    /// Retransmissions the peer reported as duplicates (`tcpi_dsack_dups`,
    /// kernel 5.0+; 0 before).
    pub duplicates: u32,
    /// Segments with data received (`tcpi_data_segs_in`).
    pub data_segments_in: u32,
    /// Packets received out of order (`tcpi_rcv_ooopack`, kernel 5.4+; 0
    /// before): after a gap, the peer's segments before them lost.
    pub out_of_order_in: u32,
    /// Smoothed round trip, microseconds (`tcpi_rtt`).
    pub rtt_us: u32,
}

/// One established TCP socket of a dump.
#[derive(Debug, Clone, PartialEq)]
pub struct TcpSock {
    /// Its inode, as in `/proc/<pid>/fd` links.
    pub inode: u64,
    /// This end.
    pub local: SocketAddr,
    /// The other end.
    pub remote: SocketAddr,
    /// Its account, when the kernel gave one new enough.
    pub account: Option<TcpAccount>,
}

/// One peer connection of an etcd process over a window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PeerSocket {
    /// This end (`ip:port`).
    pub local: SocketAddr,
    /// The peer's end.
    pub remote: SocketAddr,
    /// True when the peer dialled in (accepted on a peer port).
    pub accepted: bool,
    /// Bytes etcd sent on it over the window, retransmissions included.
    pub bytes_sent: u64,
    /// Bytes the kernel sent again over the window (loss on the way out).
    pub bytes_retrans: u64,
    /// Segments sent again over the window.
    pub retransmits: u32,
    /// Of those, the ones the peer reported it already had (D-SACK,
    /// `tcpi_dsack_dups`): the data had arrived, its acknowledgement was
    /// lost on the way back (or the timer fired early).
    #[serde(default)]
    pub duplicates: u32,
    /// Segments with data the peer sent on it over the window.
    #[serde(default)]
    pub segments_received: u32,
    /// Of those, the ones that arrived out of order (`tcpi_rcv_ooopack`):
    /// after a gap, the peer's segments before them lost on the way here
    /// (or reordered). The peer's resends are counted on its host.
    #[serde(default)]
    pub out_of_order_received: u32,
    /// Smoothed round trip at the end of the window, ms.
    pub rtt_ms: f64,
}

/// Why a dump failed.
#[derive(Debug, thiserror::Error)]
pub enum DumpError {
    /// The netlink socket could not be opened, sent to or read.
    #[error("sock_diag netlink: {0}")]
    Io(#[from] std::io::Error),
    /// The kernel answered with an error.
    #[error("sock_diag netlink: the kernel answered errno {0}")]
    Kernel(i32),
    /// A message ran past its buffer.
    #[error("sock_diag netlink: a malformed message")]
    Malformed,
}

/// Every established TCP socket of this network namespace, IPv4 and IPv6.
pub fn dump() -> Result<Vec<TcpSock>, DumpError> {
    let mut out = Vec::new();
    for family in [libc::AF_INET, libc::AF_INET6] {
        dump_family(family as u8, &mut out)?;
    }
    Ok(out)
}

fn dump_family(family: u8, out: &mut Vec<TcpSock>) -> Result<(), DumpError> {
    // SAFETY: plain socket(2); the fd is owned at once.
    let raw = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            NETLINK_SOCK_DIAG,
        )
    };
    if raw < 0 {
        return Err(std::io::Error::last_os_error().into());
    }
    // SAFETY: `raw` is a fresh fd nobody else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    let timeout = libc::timeval {
        tv_sec: 2,
        tv_usec: 0,
    };
    // SAFETY: `timeout` is a valid timeval for the call's duration.
    unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_RCVTIMEO,
            (&raw const timeout).cast(),
            std::mem::size_of::<libc::timeval>() as libc::socklen_t,
        );
    }
    let req = request(family);
    // SAFETY: `req` is readable for its length; a zeroed sockaddr_nl with
    // the family set addresses the kernel.
    let sent = unsafe {
        let mut addr: libc::sockaddr_nl = std::mem::zeroed();
        addr.nl_family = libc::AF_NETLINK as libc::sa_family_t;
        libc::sendto(
            fd.as_raw_fd(),
            req.as_ptr().cast(),
            req.len(),
            0,
            (&raw const addr).cast(),
            std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
        )
    };
    if sent < 0 {
        return Err(std::io::Error::last_os_error().into());
    }
    let mut buf = vec![0u8; RECV_BUF];
    let mut read = 0usize;
    while read < MAX_DUMP_BYTES && out.len() < MAX_SOCKETS {
        // SAFETY: `buf` is writable for its length.
        let n = unsafe { libc::recv(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
        if n < 0 {
            return Err(std::io::Error::last_os_error().into());
        }
        if n == 0 {
            break;
        }
        read += n as usize;
        if parse_batch(&buf[..n as usize], out)? == Batch::Done {
            break;
        }
    }
    Ok(())
}

/// A dump request for the established TCP sockets of `family`, with
/// their `tcp_info`.
fn request(family: u8) -> Vec<u8> {
    let len = NLMSG_HDR + 56;
    let mut r = Vec::with_capacity(len);
    r.extend_from_slice(&(len as u32).to_ne_bytes());
    r.extend_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    r.extend_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
    r.extend_from_slice(&1u32.to_ne_bytes()); // seq
    r.extend_from_slice(&0u32.to_ne_bytes()); // pid
                                              // struct inet_diag_req_v2
    r.extend_from_slice(&[
        family,
        libc::IPPROTO_TCP as u8,
        1 << (INET_DIAG_INFO - 1),
        0,
    ]);
    r.extend_from_slice(&(1u32 << TCP_ESTABLISHED).to_ne_bytes());
    r.resize(len, 0); // inet_diag_sockid: any
    r
}

/// Whether a dump has more to come.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Batch {
    More,
    Done,
}

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(
        b.get(at..at.checked_add(2)?)?.try_into().ok()?,
    ))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(
        b.get(at..at.checked_add(4)?)?.try_into().ok()?,
    ))
}

fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_ne_bytes(
        b.get(at..at.checked_add(8)?)?.try_into().ok()?,
    ))
}

fn align4(n: usize) -> usize {
    n.saturating_add(3) & !3
}

/// The sockets of one received buffer of netlink messages.
fn parse_batch(buf: &[u8], out: &mut Vec<TcpSock>) -> Result<Batch, DumpError> {
    let mut at = 0usize;
    while let (Some(len), Some(kind)) = (u32_at(buf, at), u16_at(buf, at + 4)) {
        let len = len as usize;
        let end = at.checked_add(len).ok_or(DumpError::Malformed)?;
        if len < NLMSG_HDR || end > buf.len() {
            return Err(DumpError::Malformed);
        }
        let body = &buf[at + NLMSG_HDR..end];
        match kind {
            NLMSG_DONE => return Ok(Batch::Done),
            NLMSG_ERROR => {
                let errno = u32_at(body, 0).map_or(0, |e| e as i32);
                return Err(DumpError::Kernel(-errno));
            }
            SOCK_DIAG_BY_FAMILY if out.len() < MAX_SOCKETS => out.extend(parse_sock(body)),
            _ => {}
        }
        at = align4(end);
    }
    Ok(Batch::More)
}

/// One `inet_diag_msg` and its attributes.
fn parse_sock(m: &[u8]) -> Option<TcpSock> {
    let head = m.get(..DIAG_MSG)?;
    let port = |at: usize| u16::from_be_bytes([head[at], head[at + 1]]);
    let addr = |at: usize| -> Option<IpAddr> {
        match i32::from(head[0]) {
            libc::AF_INET => Some(IpAddr::V4(Ipv4Addr::new(
                head[at],
                head[at + 1],
                head[at + 2],
                head[at + 3],
            ))),
            libc::AF_INET6 => {
                let b: [u8; 16] = head[at..at + 16].try_into().ok()?;
                Some(Ipv6Addr::from(b).to_canonical())
            }
            _ => None,
        }
    };
    let local = SocketAddr::new(addr(8)?, port(4));
    let remote = SocketAddr::new(addr(24)?, port(6));
    let inode = u64::from(u32_at(head, 68)?);
    let mut account = None;
    let mut at = DIAG_MSG;
    while let (Some(len), Some(kind)) = (u16_at(m, at), u16_at(m, at + 2)) {
        let len = usize::from(len);
        let Some(attr) = m.get(at + 4..at + len.max(4)).filter(|_| len >= 4) else {
            break;
        };
        if kind & 0x3fff == INET_DIAG_INFO {
            account = tcp_account(attr);
        }
        at = align4(at + len);
    }
    Some(TcpSock {
        inode,
        local,
        remote,
        account,
    })
}

/// The account in a `struct tcp_info` as the kernel filled it.
fn tcp_account(info: &[u8]) -> Option<TcpAccount> {
    Some(TcpAccount {
        bytes_sent: u64_at(info, BYTES_SENT)?,
        bytes_retrans: u64_at(info, BYTES_RETRANS)?,
        retransmits: u32_at(info, TOTAL_RETRANS)?,
        duplicates: u32_at(info, DSACK_DUPS).unwrap_or(0),
        data_segments_in: u32_at(info, DATA_SEGS_IN)?,
        out_of_order_in: u32_at(info, RCV_OOOPACK).unwrap_or(0),
        rtt_us: u32_at(info, RTT_US)?,
    })
}

/// Where an etcd process's peer traffic goes: the ports it listens on and
/// those of them that are peer ports.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PeerPorts {
    /// Every port it listens on (client, peer, metrics).
    pub listening: Vec<u16>,
    /// Its `--listen-peer-urls` ports (2380 when not given).
    pub peer: Vec<u16>,
}

impl PeerPorts {
    /// True when `s` is a raft connection: accepted on a peer port, or
    /// dialled from a port it does not listen on to one it does not
    /// listen on either (its own gRPC gateway dials its client port).
    fn carries_raft(&self, s: &TcpSock) -> bool {
        let dialled_out = !self.listening.contains(&s.local.port());
        let to_itself = s.remote.ip() == s.local.ip() && self.listening.contains(&s.remote.port());
        self.peer.contains(&s.local.port()) || (dialled_out && !to_itself)
    }
}

/// The peer connections among `after` (sockets owned by the process:
/// `inodes`) with what they sent since `before` (a socket not there at
/// the start began within the window), most bytes sent again first.
pub fn peer_sockets(
    before: &HashMap<u64, TcpAccount>,
    after: &[TcpSock],
    inodes: &HashSet<u64>,
    ports: &PeerPorts,
) -> Vec<PeerSocket> {
    let mut rows: Vec<PeerSocket> = after
        .iter()
        .filter(|s| inodes.contains(&s.inode) && ports.carries_raft(s))
        .filter_map(|s| {
            let b = s.account?;
            let a = before.get(&s.inode).copied().unwrap_or_default();
            Some(PeerSocket {
                local: s.local,
                remote: s.remote,
                accepted: ports.peer.contains(&s.local.port()),
                bytes_sent: b.bytes_sent.saturating_sub(a.bytes_sent),
                bytes_retrans: b.bytes_retrans.saturating_sub(a.bytes_retrans),
                retransmits: b.retransmits.saturating_sub(a.retransmits),
                duplicates: b.duplicates.saturating_sub(a.duplicates),
                segments_received: b.data_segments_in.saturating_sub(a.data_segments_in),
                out_of_order_received: b.out_of_order_in.saturating_sub(a.out_of_order_in),
                rtt_ms: round2(Micros(f64::from(b.rtt_us)).as_ms()),
            })
        })
        .collect();
    rows.sort_by(|a, b| {
        b.bytes_retrans
            .cmp(&a.bytes_retrans)
            .then(b.bytes_sent.cmp(&a.bytes_sent))
    });
    rows.truncate(MAX_PEER_SOCKETS);
    rows
}

/// The accounts of the sockets among `dump` owned by the process
/// (`inodes`), by inode.
pub fn accounts(dump: &[TcpSock], inodes: &HashSet<u64>) -> HashMap<u64, TcpAccount> {
    dump.iter()
        .filter(|s| inodes.contains(&s.inode))
        .filter_map(|s| Some((s.inode, s.account?)))
        .collect()
}

/// The ports of `--listen-peer-urls` in a value (`http://a:2380,https://b:2381`).
pub fn url_ports(urls: &str) -> Vec<u16> {
    urls.split(',')
        .filter_map(|u| crate::cluster::model::url_port(u.trim()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sock_msg(local: [u8; 4], lport: u16, remote: [u8; 4], rport: u16, inode: u32) -> Vec<u8> {
        let mut info = vec![0u8; 232];
        info[RTT_US..RTT_US + 4].copy_from_slice(&1500u32.to_ne_bytes());
        info[TOTAL_RETRANS..TOTAL_RETRANS + 4].copy_from_slice(&7u32.to_ne_bytes());
        info[BYTES_SENT..BYTES_SENT + 8].copy_from_slice(&90_000u64.to_ne_bytes());
        info[BYTES_RETRANS..BYTES_RETRANS + 8].copy_from_slice(&4_000u64.to_ne_bytes());
        info[DSACK_DUPS..DSACK_DUPS + 4].copy_from_slice(&2u32.to_ne_bytes());
        info[DATA_SEGS_IN..DATA_SEGS_IN + 4].copy_from_slice(&400u32.to_ne_bytes());
        info[RCV_OOOPACK..RCV_OOOPACK + 4].copy_from_slice(&9u32.to_ne_bytes());
        let mut body = vec![0u8; DIAG_MSG];
        body[0] = libc::AF_INET as u8;
        body[1] = 1;
        body[4..6].copy_from_slice(&lport.to_be_bytes());
        body[6..8].copy_from_slice(&rport.to_be_bytes());
        body[8..12].copy_from_slice(&local);
        body[24..28].copy_from_slice(&remote);
        body[68..72].copy_from_slice(&inode.to_ne_bytes());
        // An attribute we do not read, then INET_DIAG_INFO.
        body.extend_from_slice(&5u16.to_ne_bytes());
        body.extend_from_slice(&1u16.to_ne_bytes());
        body.extend_from_slice(&[9, 0, 0, 0]);
        body.extend_from_slice(&((4 + info.len()) as u16).to_ne_bytes());
        body.extend_from_slice(&INET_DIAG_INFO.to_ne_bytes());
        body.extend_from_slice(&info);
        message(SOCK_DIAG_BY_FAMILY, &body)
    }

    fn message(kind: u16, body: &[u8]) -> Vec<u8> {
        let mut m = Vec::new();
        m.extend_from_slice(&((NLMSG_HDR + body.len()) as u32).to_ne_bytes());
        m.extend_from_slice(&kind.to_ne_bytes());
        m.extend_from_slice(&[0; 10]);
        m.extend_from_slice(body);
        m.resize(align4(m.len()), 0);
        m
    }

    #[test]
    fn a_dump_batch_gives_sockets_and_their_accounts() {
        let mut buf = sock_msg([10, 0, 0, 1], 2380, [10, 0, 0, 2], 40_000, 77);
        buf.extend(sock_msg([10, 0, 0, 1], 51_000, [10, 0, 0, 3], 2380, 78));
        let mut out = Vec::new();
        assert_eq!(parse_batch(&buf, &mut out).unwrap(), Batch::More);
        assert_eq!(out.len(), 2);
        assert_eq!(out[0].local, "10.0.0.1:2380".parse().unwrap());
        assert_eq!(out[0].remote, "10.0.0.2:40000".parse().unwrap());
        assert_eq!(out[0].inode, 77);
        let a = out[0].account.unwrap();
        assert_eq!(
            (
                a.bytes_sent,
                a.bytes_retrans,
                a.retransmits,
                a.duplicates,
                a.rtt_us
            ),
            (90_000, 4_000, 7, 2, 1500)
        );
        // A kernel before 5.0 fills no dsack_dups: none counted.
        let old = tcp_account(&[0u8; 232][..DSACK_DUPS]).unwrap();
        assert_eq!(old.duplicates, 0);
        buf = message(NLMSG_DONE, &[0; 4]);
        assert_eq!(parse_batch(&buf, &mut out).unwrap(), Batch::Done);
        buf = message(NLMSG_ERROR, &(-13i32).to_ne_bytes());
        assert!(matches!(
            parse_batch(&buf, &mut out),
            Err(DumpError::Kernel(13))
        ));
        // Cut short: malformed, never a panic.
        let cut = sock_msg([10, 0, 0, 1], 2380, [10, 0, 0, 2], 1, 1);
        assert!(matches!(
            parse_batch(&cut[..40], &mut out),
            Err(DumpError::Malformed)
        ));
    }

    #[test]
    fn raft_sockets_are_told_from_client_ones_and_counted_over_the_window() {
        let s = |l: &str, r: &str, inode: u64, sent: u64, re: u64| TcpSock {
            inode,
            local: l.parse().unwrap(),
            remote: r.parse().unwrap(),
            account: Some(TcpAccount {
                bytes_sent: sent,
                bytes_retrans: re,
                retransmits: (re / 100) as u32,
                duplicates: (re / 1000) as u32,
                data_segments_in: (sent / 100) as u32,
                out_of_order_in: (re / 500) as u32,
                rtt_us: 250,
            }),
        };
        let after = vec![
            s("10.0.0.1:2380", "10.0.0.2:41000", 1, 50_000, 1_000), // accepted from m2
            s("10.0.0.1:42000", "10.0.0.3:2380", 2, 80_000, 3_000), // dialled to m3
            s("10.0.0.1:2379", "10.0.0.9:50000", 3, 90_000, 0),     // a client
            s("127.0.0.1:43000", "127.0.0.1:2379", 4, 10, 0),       // its gRPC gateway
            s("10.0.0.1:42001", "10.0.0.3:2380", 5, 10_000, 500),   // not etcd's
        ];
        let before = HashMap::from([(
            2,
            TcpAccount {
                bytes_sent: 30_000,
                bytes_retrans: 1_000,
                retransmits: 10,
                duplicates: 1,
                data_segments_in: 300,
                out_of_order_in: 0,
                rtt_us: 0,
            },
        )]);
        let ports = PeerPorts {
            listening: vec![2379, 2380],
            peer: vec![2380],
        };
        let rows = peer_sockets(&before, &after, &HashSet::from([1, 2, 3, 4]), &ports);
        assert_eq!(rows.len(), 2, "{rows:?}");
        assert_eq!(rows[0].remote, "10.0.0.3:2380".parse().unwrap());
        assert_eq!((rows[0].bytes_sent, rows[0].bytes_retrans), (50_000, 2_000));
        assert_eq!((rows[0].retransmits, rows[0].duplicates), (20, 2));
        assert_eq!(
            (rows[0].segments_received, rows[0].out_of_order_received),
            (500, 6)
        );
        assert!(!rows[0].accepted && rows[1].accepted);
        assert_eq!(rows[1].bytes_sent, 50_000);
        assert_eq!(
            url_ports("http://10.0.0.1:2380, https://[::1]:2381/"),
            [2380, 2381]
        );
        assert!(url_ports("unix:///x").is_empty());
    }

    #[test]
    fn this_hosts_loopback_connection_is_in_the_dump() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = std::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (_server, _) = listener.accept().unwrap();
        let Ok(all) = dump() else {
            eprintln!("SKIP: sock_diag netlink not available here");
            return;
        };
        let local = client.local_addr().unwrap();
        let mine = all.iter().find(|s| s.local == local).expect("our socket");
        assert_eq!(mine.remote, listener.local_addr().unwrap());
        assert!(mine.inode > 0);
    }

    proptest! {
        #[test]
        fn any_bytes_parse_without_panic(buf in proptest::collection::vec(any::<u8>(), 0..2048)) {
            let mut out = Vec::new();
            let _ = parse_batch(&buf, &mut out);
            prop_assert!(out.len() <= buf.len() / (NLMSG_HDR + DIAG_MSG) + 1);
        }

        #[test]
        fn a_valid_message_with_any_tail_parses(tail in proptest::collection::vec(any::<u8>(), 0..600)) {
            let mut body = sock_msg([1, 2, 3, 4], 2380, [5, 6, 7, 8], 9, 3);
            body.truncate(NLMSG_HDR + DIAG_MSG);
            body.extend_from_slice(&tail);
            let len = body.len() as u32;
            body[..4].copy_from_slice(&len.to_ne_bytes());
            let mut out = Vec::new();
            prop_assert!(parse_batch(&body, &mut out).is_ok());
            prop_assert_eq!(out.len(), 1);
        }
    }
}
