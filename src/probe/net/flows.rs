//! Other traffic by socket: which TCP flows besides our own carried bytes
//! through an interface while its counters were sampled. The interface
//! counters say how busy a link is; only the sockets say whose traffic
//! fills it (the field guide's backup or business flow on etcd's NIC).
//!
//! Two snapshots of `ss -tinpH` (each established socket's addresses,
//! owning process and `tcp_info` byte counters) give each flow's rate over
//! the interval between them. Only this network namespace's sockets are
//! visible, and only TCP carries byte counters: a UDP flood or traffic
//! routed through the host is not named here (the interface counters still
//! see it). The parser is bounded ([`MAX_SS_BYTES`], [`MAX_SOCKETS`]) and
//! linear in its input.

use std::collections::HashMap;
use std::net::IpAddr;
use std::time::Duration;

use tokio::io::AsyncReadExt;
use tokio::time::Instant;

use super::result::FlowRate;
use crate::measure::round3;

/// Most bytes of `ss` output read; the rest of a larger listing is ignored.
pub const MAX_SS_BYTES: u64 = 16 << 20;
/// Most sockets parsed from one listing.
pub const MAX_SOCKETS: usize = 65_536;
/// Longest `ss` may take before the snapshot is given up.
const SS_TIMEOUT: Duration = Duration::from_secs(2);
/// Flows listed per interval: the heaviest ones.
pub const TOP_FLOWS: usize = 3;

/// One TCP socket as `ss -tinpH` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Socket {
    /// Local address, `IP:PORT` as `ss` prints it.
    pub local: String,
    /// Remote address, `IP:PORT`.
    pub peer: String,
    /// First owning process's name, when `ss` could see it.
    pub process: Option<String>,
    /// First owning process's id.
    pub pid: Option<u32>,
    /// Bytes the peer acknowledged (`bytes_acked`, counting the SYN).
    pub acked_bytes: u64,
    /// Bytes received (`bytes_received`).
    pub received_bytes: u64,
}

/// Parses `ss -tinpH` output: a line per socket (state, queues, local and
/// remote address, then `users:((...))`), each followed by an indented line
/// of `tcp_info` fields. Unparseable lines are skipped.
pub fn parse_ss(text: &str) -> Vec<Socket> {
    let mut out: Vec<Socket> = Vec::new();
    for line in text.lines() {
        if line.starts_with([' ', '\t']) {
            if let Some(last) = out.last_mut() {
                read_info(line, last);
            }
            continue;
        }
        if out.len() >= MAX_SOCKETS {
            break;
        }
        if let Some(s) = read_header(line) {
            out.push(s);
        }
    }
    out
}

fn read_header(line: &str) -> Option<Socket> {
    let mut words = line.split_whitespace();
    let (_state, _recv_q, _send_q) = (words.next()?, words.next()?, words.next()?);
    let (local, peer) = (words.next()?, words.next()?);
    let users = words.next().unwrap_or("");
    ip_of(local)?;
    ip_of(peer)?;
    let (process, pid) = owner(users);
    Some(Socket {
        local: local.to_string(),
        peer: peer.to_string(),
        process,
        pid,
        acked_bytes: 0,
        received_bytes: 0,
    })
}

/// The first process of `users:(("name",pid=N,fd=M),...)`.
fn owner(users: &str) -> (Option<String>, Option<u32>) {
    let Some(rest) = users.strip_prefix("users:((\"") else {
        return (None, None);
    };
    let Some((name, rest)) = rest.split_once('"') else {
        return (None, None);
    };
    let pid = rest
        .strip_prefix(",pid=")
        .and_then(|r| r.split([',', ')']).next())
        .and_then(|p| p.parse().ok());
    (Some(name.to_string()), pid)
}

fn read_info(line: &str, s: &mut Socket) {
    for word in line.split_whitespace() {
        let number = |key: &str| word.strip_prefix(key).and_then(|v| v.parse::<u64>().ok());
        if let Some(v) = number("bytes_acked:") {
            s.acked_bytes = v;
        } else if let Some(v) = number("bytes_received:") {
            s.received_bytes = v;
        }
    }
}

/// The IP address of an `ss` endpoint: `1.2.3.4:80`, `[::1]:80`,
/// `[fe80::1%eth0]:22`; IPv4-mapped IPv6 addresses as IPv4.
pub fn ip_of(endpoint: &str) -> Option<IpAddr> {
    let (host, _port) = endpoint.rsplit_once(':')?;
    let host = host.strip_prefix('[').unwrap_or(host);
    let host = host.strip_suffix(']').unwrap_or(host);
    let host = host.split('%').next()?;
    host.parse::<IpAddr>().ok().map(|ip| ip.to_canonical())
}

/// The sockets at one instant.
#[derive(Debug, Clone)]
pub struct Snapshot {
    at: Instant,
    sockets: Vec<Socket>,
}

/// Lists this namespace's TCP sockets with `ss`; `None` when `ss` is
/// missing, fails or takes longer than [`SS_TIMEOUT`].
pub async fn snapshot() -> Option<Snapshot> {
    let mut child = tokio::process::Command::new("ss")
        .arg("-tinpH")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .ok()?;
    let mut stdout = child.stdout.take()?.take(MAX_SS_BYTES);
    let mut text = Vec::new();
    let read = stdout.read_to_end(&mut text);
    tokio::time::timeout(SS_TIMEOUT, read).await.ok()?.ok()?;
    let at = Instant::now();
    let _ = child.start_kill();
    let _ = tokio::time::timeout(SS_TIMEOUT, child.wait()).await;
    Some(Snapshot {
        at,
        sockets: parse_ss(&String::from_utf8_lossy(&text)),
    })
}

/// Whose sockets count as ours, and which addresses are the interface's.
#[derive(Debug, Clone, Default)]
pub struct FlowFilter {
    /// Our own process id: its sockets, and their mirror images (the
    /// other end, when a peer runs on this host), are not other traffic.
    pub own_pid: u32,
    /// The interface's addresses; a socket counts when its local address
    /// is one of them. Empty: every socket counts.
    pub local_ips: Vec<IpAddr>,
}

/// The heaviest other flows between two snapshots, by bytes acknowledged
/// plus received, at most [`TOP_FLOWS`]. A socket opened between the
/// snapshots counts all its bytes.
pub fn other_flows(first: &Snapshot, last: &Snapshot, filter: &FlowFilter) -> Vec<FlowRate> {
    let secs = (last.at - first.at).as_secs_f64();
    if secs <= 0.0 {
        return Vec::new();
    }
    let key = |s: &Socket| (s.local.clone(), s.peer.clone());
    let before: HashMap<(String, String), &Socket> =
        first.sockets.iter().map(|s| (key(s), s)).collect();
    let ours: Vec<(&str, &str)> = last
        .sockets
        .iter()
        .filter(|s| s.pid == Some(filter.own_pid))
        .map(|s| (s.local.as_str(), s.peer.as_str()))
        .collect();
    let on_interface = |s: &Socket| {
        filter.local_ips.is_empty()
            || ip_of(&s.local).is_some_and(|ip| filter.local_ips.contains(&ip))
    };
    let mut flows: Vec<(u64, FlowRate)> = last
        .sockets
        .iter()
        .filter(|s| s.pid != Some(filter.own_pid) && on_interface(s))
        .filter(|s| !ours.contains(&(s.peer.as_str(), s.local.as_str())))
        .filter_map(|s| {
            let (acked0, received0) = before
                .get(&key(s))
                .map_or((0, 0), |b| (b.acked_bytes, b.received_bytes));
            let sent = s.acked_bytes.saturating_sub(acked0);
            let received = s.received_bytes.saturating_sub(received0);
            let mbit = |bytes: u64| round3(bytes as f64 * 8.0 / 1e6 / secs);
            (sent + received > 0).then(|| {
                (
                    sent + received,
                    FlowRate {
                        process: s.process.clone(),
                        pid: s.pid,
                        local: s.local.clone(),
                        peer: s.peer.clone(),
                        tx_mbit_s: mbit(sent),
                        rx_mbit_s: mbit(received),
                    },
                )
            })
        })
        .collect();
    flows.sort_by_key(|f| std::cmp::Reverse(f.0));
    flows.into_iter().take(TOP_FLOWS).map(|(_, f)| f).collect()
}

/// The addresses of interface `name` (empty when it has none or is gone).
pub fn interface_ips(name: &str) -> Vec<IpAddr> {
    pnet::datalink::interfaces()
        .into_iter()
        .filter(|i| i.name == name)
        .flat_map(|i| i.ips.into_iter().map(|n| n.ip().to_canonical()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const SS: &str = "\
ESTAB 0      0      10.0.0.1:45678 10.0.0.2:5201 users:((\"iperf3\",pid=1234,fd=5))
\t cubic wscale:7,7 rto:204 bytes_sent:2500001 bytes_acked:2500001 bytes_received:10 segs_out:5
ESTAB 0      0          [::ffff:10.0.0.1]:7480     [::ffff:10.0.0.2]:39000 users:((\"etcd-doctor\",pid=77,fd=9),(\"x\",pid=78,fd=1))
\t cubic bytes_acked:1 bytes_received:125000001
ESTAB 0      0      127.0.0.1:2379 127.0.0.1:40000
\t cubic bytes_acked:50
";

    #[test]
    fn ss_sockets_parse_with_owner_and_byte_counters() {
        let s = parse_ss(SS);
        assert_eq!(s.len(), 3);
        assert_eq!(s[0].process.as_deref(), Some("iperf3"));
        assert_eq!(s[0].pid, Some(1234));
        assert_eq!((s[0].acked_bytes, s[0].received_bytes), (2_500_001, 10));
        assert_eq!(s[1].pid, Some(77));
        assert_eq!(s[1].received_bytes, 125_000_001);
        assert_eq!((s[2].process.clone(), s[2].pid), (None, None));
        assert_eq!(ip_of(&s[1].local), Some("10.0.0.1".parse().unwrap()));
        assert_eq!(ip_of("[fe80::1%eth0]:22"), Some("fe80::1".parse().unwrap()));
        assert_eq!(ip_of("*:*"), None);
    }

    fn snap(at: Instant, text: &str) -> Snapshot {
        Snapshot {
            at,
            sockets: parse_ss(text),
        }
    }

    #[test]
    fn other_flows_are_rated_between_snapshots_without_ours() {
        let t0 = Instant::now();
        let quiet = SS.replace("2500001", "1").replace("125000001", "1");
        let first = snap(t0, &quiet);
        let last = snap(t0 + Duration::from_secs(1), SS);
        let mut filter = FlowFilter {
            own_pid: 77,
            local_ips: vec!["10.0.0.1".parse().unwrap()],
        };
        let flows = other_flows(&first, &last, &filter);
        assert_eq!(flows.len(), 1, "{flows:?}");
        assert_eq!(flows[0].process.as_deref(), Some("iperf3"));
        assert_eq!((flows[0].tx_mbit_s, flows[0].rx_mbit_s), (20.0, 0.0));
        // Not us: the 1000 Mbit/s socket leads; the loopback one is on
        // another interface until every interface counts.
        filter.own_pid = 1;
        assert_eq!(other_flows(&first, &last, &filter)[0].rx_mbit_s, 1000.0);
        filter.local_ips.clear();
        // The loopback socket moved no bytes; new in the second snapshot,
        // it counts all of them.
        assert_eq!(other_flows(&first, &last, &filter).len(), 2);
        let head: String = quiet.lines().take(4).map(|l| format!("{l}\n")).collect();
        let all = other_flows(&snap(t0, &head), &last, &filter);
        assert_eq!(all.len(), 3);
        assert_eq!(all[2].local, "127.0.0.1:2379");
    }

    #[test]
    fn the_mirror_of_our_own_socket_is_ours() {
        let t0 = Instant::now();
        let text = "\
ESTAB 0 0 127.0.0.1:1 127.0.0.1:2 users:((\"etcd-doctor\",pid=5,fd=3))
\t bytes_acked:9000
ESTAB 0 0 127.0.0.1:2 127.0.0.1:1 users:((\"agent\",pid=6,fd=3))
\t bytes_received:9000
";
        let filter = FlowFilter {
            own_pid: 5,
            local_ips: Vec::new(),
        };
        let flows = other_flows(
            &snap(t0, ""),
            &snap(t0 + Duration::from_secs(1), text),
            &filter,
        );
        assert_eq!(flows, []);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        #[test]
        fn any_text_parses_without_panicking(text in "\\PC{0,400}") {
            let sockets = parse_ss(&text);
            prop_assert!(sockets.len() <= text.lines().count());
        }

        #[test]
        fn ss_like_lines_keep_their_counters(
            acked in any::<u64>(),
            received in any::<u64>(),
            pid in any::<u32>(),
            name in "[a-z0-9._-]{1,15}",
            junk in "[ -~]{0,40}",
        ) {
            let text = format!(
                "ESTAB 0 0 10.1.2.3:4 [::1]:5 users:((\"{name}\",pid={pid},fd=1))\n\t {junk} bytes_acked:{acked} bytes_received:{received}\n{junk}\n"
            );
            let s = &parse_ss(&text)[0];
            prop_assert_eq!(s.pid, Some(pid));
            prop_assert_eq!(s.process.as_deref(), Some(name.as_str()));
            prop_assert_eq!((s.acked_bytes, s.received_bytes), (acked, received));
        }
    }
}
