//! NIC facts around a probe: which local interface carries the traffic to a
//! peer, what the driver says its link speed is, and what its counters did
//! while the probe ran (rates, drops, errors, TCP retransmits). They tell a
//! saturated local NIC (the guide's shared business/etcd NIC) apart from a
//! slow path elsewhere.
//!
//! Everything is read from the calling process's network namespace:
//! `/proc/net/dev` (interface counters, via `procfs`), `/proc/net/route`
//! (IPv4 routes, via `procfs`), `/proc/net/snmp` and `/proc/net/netstat`
//! (TCP counters), `/sys/class/net/IF` (speed, device kind) and the
//! interface address list (via `pnet`).

use std::io;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::path::Path;
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::flows::{self, FlowFilter, Snapshot};
use super::result::{BeforeProbe, CeilingSource, NetResult, NicUsage};
use crate::measure::round3;

/// Width of the windows the peak rates are taken over.
pub const SAMPLE_INTERVAL: Duration = Duration::from_millis(250);
/// Windows shorter than this (the last one of a run) are too noisy to
/// count towards the peak rate.
const MIN_PEAK_WINDOW: Duration = Duration::from_millis(100);

/// A network interface and what its driver says about its speed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    /// Interface name.
    pub name: String,
    /// Link speed the driver reports, Mbit/s; `None` when it reports none.
    pub speed_mbit_s: Option<u64>,
    /// The interface is a software device whose speed is nominal.
    pub nominal: bool,
}

/// Reads the link facts of interface `name` from sysfs; fails when there is
/// no such interface.
pub fn link(name: &str) -> io::Result<Link> {
    let dir = Path::new("/sys/class/net").join(name);
    if name.is_empty() || name.contains('/') || !dir.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("no network interface {name:?}"),
        ));
    }
    let speed = std::fs::read_to_string(dir.join("speed"))
        .ok()
        .and_then(|s| s.trim().parse::<i64>().ok())
        .and_then(|s| u64::try_from(s).ok())
        .filter(|&s| s > 0);
    let uevent = std::fs::read_to_string(dir.join("uevent")).unwrap_or_default();
    Ok(Link {
        name: name.to_string(),
        speed_mbit_s: speed,
        nominal: is_software(dir.join("device").exists(), &uevent),
    })
}

/// A device without a parent bus device is software (veth, bridge, tun,
/// dummy, loopback), unless it aggregates real links (bond, team, vlan),
/// whose reported speed is their members'.
fn is_software(has_device: bool, uevent: &str) -> bool {
    let devtype = uevent
        .lines()
        .find_map(|l| l.strip_prefix("DEVTYPE="))
        .unwrap_or("");
    !has_device && !matches!(devtype, "bond" | "team" | "vlan")
}

/// The interface the kernel sends traffic for `peer` through: loopback for
/// this host's own addresses; for IPv4 the longest-prefix match of
/// `/proc/net/route` (the main table); otherwise the interface holding the
/// source address the kernel picks for a socket connected to `peer`.
pub fn route_interface(peer: IpAddr) -> io::Result<String> {
    let unspecified: IpAddr = match peer {
        IpAddr::V4(_) => Ipv4Addr::UNSPECIFIED.into(),
        IpAddr::V6(_) => std::net::Ipv6Addr::UNSPECIFIED.into(),
    };
    let socket = UdpSocket::bind(SocketAddr::new(unspecified, 0))?;
    socket.connect(SocketAddr::new(peer, 9))?;
    let local = socket.local_addr()?.ip();
    let interfaces = pnet::datalink::interfaces();
    let holder = |ip: IpAddr| {
        interfaces
            .iter()
            .find(|i| i.ips.iter().any(|n| n.ip() == ip))
            .map(|i| i.name.clone())
    };
    if local == peer || peer.is_loopback() {
        return Ok(interfaces
            .iter()
            .find(|i| i.is_loopback())
            .map_or_else(|| "lo".to_string(), |i| i.name.clone()));
    }
    if let IpAddr::V4(v4) = peer {
        let routes = procfs::net::route().map_err(io::Error::other)?;
        let table: Vec<Route> = routes
            .iter()
            .map(|r| Route {
                destination: r.destination,
                mask: r.mask,
                metric: r.metrics,
                iface: &r.iface,
            })
            .collect();
        if let Some(iface) = best_route(&table, v4) {
            return Ok(iface.to_string());
        }
    }
    holder(local).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::NotFound,
            format!("no interface holds the local address {local} used to reach {peer}"),
        )
    })
}

/// One IPv4 route, as `/proc/net/route` lists it.
#[derive(Debug, Clone, Copy)]
struct Route<'a> {
    destination: Ipv4Addr,
    mask: Ipv4Addr,
    metric: u32,
    iface: &'a str,
}

/// The interface of the most specific route to `ip` (longest mask, then
/// lowest metric), as the kernel's main table would choose.
fn best_route<'a>(routes: &[Route<'a>], ip: Ipv4Addr) -> Option<&'a str> {
    let ip = u32::from(ip);
    routes
        .iter()
        .filter(|r| ip & u32::from(r.mask) == u32::from(r.destination) & u32::from(r.mask))
        .min_by_key(|r| (std::cmp::Reverse(u32::from(r.mask).count_ones()), r.metric))
        .map(|r| r.iface)
}

/// Cumulative counters of one interface and of TCP, at one instant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Counters {
    rx_bytes: u64,
    tx_bytes: u64,
    rx_packets: u64,
    tx_packets: u64,
    rx_dropped: u64,
    tx_dropped: u64,
    rx_errors: u64,
    tx_errors: u64,
    tcp_out_segs: u64,
    tcp_retrans_segs: u64,
    tcp_timeouts: u64,
}

fn read_counters(iface: &str) -> io::Result<Counters> {
    let dev = procfs::net::dev_status().map_err(io::Error::other)?;
    let d = dev.get(iface).ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::NotFound,
            format!("{iface} is not in /proc/net/dev"),
        )
    })?;
    let snmp = std::fs::read_to_string("/proc/net/snmp")?;
    let netstat = std::fs::read_to_string("/proc/net/netstat")?;
    let field = |text: &str, group: &str, name: &str| {
        proc_net_field(text, group, name).ok_or_else(|| {
            io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{group} {name} missing from /proc/net"),
            )
        })
    };
    Ok(Counters {
        rx_bytes: d.recv_bytes,
        tx_bytes: d.sent_bytes,
        rx_packets: d.recv_packets,
        tx_packets: d.sent_packets,
        rx_dropped: d.recv_drop,
        tx_dropped: d.sent_drop,
        rx_errors: d.recv_errs,
        tx_errors: d.sent_errs,
        tcp_out_segs: field(&snmp, "Tcp", "OutSegs")?,
        tcp_retrans_segs: field(&snmp, "Tcp", "RetransSegs")?,
        // Kernels without the TcpExt field still give the rest.
        tcp_timeouts: proc_net_field(&netstat, "TcpExt", "TCPTimeouts").unwrap_or(0),
    })
}

/// A value from `/proc/net/snmp` or `/proc/net/netstat`: both list each
/// group as a line of names followed by a line of values, both prefixed
/// with `Group:`.
fn proc_net_field(text: &str, group: &str, name: &str) -> Option<u64> {
    let prefix = format!("{group}:");
    let mut lines = text.lines().filter(|l| l.starts_with(&prefix));
    while let (Some(names), Some(values)) = (lines.next(), lines.next()) {
        let names = names[prefix.len()..].split_whitespace();
        let mut values = values[prefix.len()..].split_whitespace();
        for n in names {
            let v = values.next()?;
            if n == name {
                return v.parse().ok();
            }
        }
    }
    None
}

/// Samples an interface's counters every [`SAMPLE_INTERVAL`] until
/// [`Sampler::finish`], in a background task.
#[derive(Debug)]
pub struct Sampler {
    link: Link,
    stop: oneshot::Sender<()>,
    task: JoinHandle<Sampled>,
}

/// What a [`Sampler`] collected: counter samples, and the socket listings
/// at its start and end.
type Sampled = (Vec<(Instant, Counters)>, Option<(Snapshot, Snapshot)>);

impl Sampler {
    /// Takes the first sample now and starts sampling `link` (and
    /// listing its sockets, at the start and at the end).
    pub fn start(link: Link) -> io::Result<Sampler> {
        let first = (Instant::now(), read_counters(&link.name)?);
        let (stop, mut stopped) = oneshot::channel();
        let name = link.name.clone();
        let task = tokio::spawn(async move {
            let first_sockets = flows::snapshot().await;
            let mut samples = vec![first];
            let mut tick = tokio::time::interval_at(first.0 + SAMPLE_INTERVAL, SAMPLE_INTERVAL);
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = &mut stopped => break,
                    _ = tick.tick() => {}
                }
                if let Ok(c) = read_counters(&name) {
                    samples.push((Instant::now(), c));
                }
            }
            if let Ok(c) = read_counters(&name) {
                samples.push((Instant::now(), c));
            }
            let sockets = match first_sockets {
                Some(first) => flows::snapshot().await.map(|last| (first, last)),
                None => None,
            };
            (samples, sockets)
        });
        Ok(Sampler { link, stop, task })
    }

    /// Stops sampling and summarizes what the counters did. `None` when the
    /// task failed or no second sample could be read.
    pub async fn finish(self) -> Option<NicUsage> {
        let _ = self.stop.send(());
        let (samples, sockets) = self.task.await.ok()?;
        let mut u = usage(&self.link, &samples)?;
        if let Some((first, last)) = sockets {
            let filter = FlowFilter {
                own_pid: std::process::id(),
                local_ips: flows::interface_ips(&self.link.name),
            };
            u.other_flows = flows::other_flows(&first, &last, &filter);
        }
        Some(u)
    }
}

/// The interface over `window` before any traffic of ours: the other
/// traffic's rates and flows. `None` when its counters cannot be read.
pub async fn before_probe(link: Link, window: Duration) -> Option<BeforeProbe> {
    let sampler = Sampler::start(link).ok()?;
    tokio::time::sleep(window).await;
    let u = sampler.finish().await?;
    Some(BeforeProbe {
        interval_s: u.interval_s,
        rx_mbit_s: u.rx_mbit_s,
        tx_mbit_s: u.tx_mbit_s,
        other_flows: u.other_flows,
    })
}

fn usage(link: &Link, samples: &[(Instant, Counters)]) -> Option<NicUsage> {
    let (&(t0, first), &(t1, last)) = (samples.first()?, samples.last()?);
    let secs = (t1 - t0).as_secs_f64();
    if secs <= 0.0 {
        return None;
    }
    let d = |f: fn(&Counters) -> u64| f(&last).saturating_sub(f(&first));
    let rx = mbit_s(d(|c| c.rx_bytes), secs);
    let tx = mbit_s(d(|c| c.tx_bytes), secs);
    let (mut peak_rx, mut peak_tx) = (0.0f64, 0.0f64);
    for w in samples.windows(2) {
        let (a, b) = (&w[0], &w[1]);
        let span = b.0 - a.0;
        if span >= MIN_PEAK_WINDOW {
            let s = span.as_secs_f64();
            peak_rx = peak_rx.max(mbit_s(b.1.rx_bytes.saturating_sub(a.1.rx_bytes), s));
            peak_tx = peak_tx.max(mbit_s(b.1.tx_bytes.saturating_sub(a.1.tx_bytes), s));
        }
    }
    let speed = link
        .speed_mbit_s
        .filter(|_| !link.nominal)
        .map(|s| s as f64);
    let mut u = NicUsage {
        interface: link.name.clone(),
        link_speed_mbit_s: link.speed_mbit_s,
        link_speed_nominal: link.nominal,
        tx_ceiling_mbit_s: None,
        rx_ceiling_mbit_s: None,
        ceiling_source: None,
        interval_s: round3(secs),
        rx_mbit_s: round3(rx),
        tx_mbit_s: round3(tx),
        peak_rx_mbit_s: round3(peak_rx.max(rx)),
        peak_tx_mbit_s: round3(peak_tx.max(tx)),
        utilization_ratio: None,
        ceiling_exceeded_ratio: None,
        before_probe: None,
        other_flows: Vec::new(),
        rx_packets: d(|c| c.rx_packets),
        tx_packets: d(|c| c.tx_packets),
        rx_dropped_packets: d(|c| c.rx_dropped),
        tx_dropped_packets: d(|c| c.tx_dropped),
        rx_error_packets: d(|c| c.rx_errors),
        tx_error_packets: d(|c| c.tx_errors),
        tcp_out_segments: d(|c| c.tcp_out_segs),
        tcp_retransmitted_segments: d(|c| c.tcp_retrans_segs),
        tcp_rto_timeouts: d(|c| c.tcp_timeouts),
    };
    set_ceilings(&mut u, speed, speed, CeilingSource::LinkSpeed);
    Some(u)
}

fn set_ceilings(u: &mut NicUsage, tx: Option<f64>, rx: Option<f64>, source: CeilingSource) {
    u.tx_ceiling_mbit_s = tx.map(round3);
    u.rx_ceiling_mbit_s = rx.map(round3);
    u.ceiling_source = (tx.is_some() || rx.is_some()).then_some(source);
    let ratio = |peak: f64, ceiling: Option<f64>| ceiling.filter(|&c| c > 0.0).map(|c| peak / c);
    let peak = [ratio(u.peak_tx_mbit_s, tx), ratio(u.peak_rx_mbit_s, rx)]
        .into_iter()
        .flatten()
        .reduce(f64::max)
        .map(round3);
    u.utilization_ratio = peak.map(|p| p.min(1.0));
    u.ceiling_exceeded_ratio = peak.filter(|&p| p > 1.0);
}

/// Gives every result whose interface has no trustworthy link speed the
/// fastest transfers this run measured through that interface as its
/// ceilings: uploads (and load flows) for transmit, downloads for receive.
pub fn assign_measured_ceilings(results: &mut [NetResult]) {
    let fastest = |iface: &str, rate: fn(&NetResult) -> Option<f64>| {
        results
            .iter()
            .filter(|r| r.nic.as_ref().is_some_and(|n| n.interface == iface))
            .filter_map(rate)
            .reduce(f64::max)
    };
    let ceilings: Vec<Option<(Option<f64>, Option<f64>)>> = results
        .iter()
        .map(|r| {
            let nic = r.nic.as_ref()?;
            (nic.ceiling_source != Some(CeilingSource::LinkSpeed)).then(|| {
                (
                    fastest(&nic.interface, |r| r.upload_mbit_s),
                    fastest(&nic.interface, |r| r.download_mbit_s),
                )
            })
        })
        .collect();
    for (r, c) in results.iter_mut().zip(ceilings) {
        if let (Some(nic), Some((tx, rx))) = (r.nic.as_mut(), c) {
            set_ceilings(nic, tx, rx, CeilingSource::MeasuredThroughput);
        }
    }
}

fn mbit_s(bytes: u64, secs: f64) -> f64 {
    bytes as f64 * 8.0 / 1e6 / secs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::net::result::{NetProbeKind, Schedule};

    const SNMP: &str = "\
Ip: Forwarding DefaultTTL InReceives
Ip: 1 64 12345
Icmp: InMsgs InErrors
Icmp: 3 0
Tcp: RtoAlgorithm RtoMin RtoMax MaxConn ActiveOpens PassiveOpens AttemptFails EstabResets CurrEstab InSegs OutSegs RetransSegs InErrs OutRsts InCsumErrors
Tcp: 1 200 120000 -1 10 20 0 1 3 5000 7000 42 0 2 0
Udp: InDatagrams NoPorts
Udp: 9 1
";

    const NETSTAT: &str = "\
TcpExt: SyncookiesSent SyncookiesRecv TCPTimeouts TCPLossProbes
TcpExt: 0 0 7 3
IpExt: InNoRoutes InTruncatedPkts
IpExt: 0 0
";

    #[test]
    fn snmp_and_netstat_fields_are_found_by_name() {
        assert_eq!(proc_net_field(SNMP, "Tcp", "RetransSegs"), Some(42));
        assert_eq!(proc_net_field(SNMP, "Tcp", "OutSegs"), Some(7000));
        assert_eq!(proc_net_field(SNMP, "Ip", "InReceives"), Some(12345));
        assert_eq!(proc_net_field(NETSTAT, "TcpExt", "TCPTimeouts"), Some(7));
        // Negative, missing field, missing group.
        assert_eq!(proc_net_field(SNMP, "Tcp", "MaxConn"), None);
        assert_eq!(proc_net_field(SNMP, "Tcp", "Nope"), None);
        assert_eq!(proc_net_field(SNMP, "Sctp", "OutSegs"), None);
        // A value line cut short.
        assert_eq!(
            proc_net_field("Tcp: A B\nTcp: 1\n", "Tcp", "B"),
            None,
            "short value line"
        );
    }

    #[test]
    fn this_hosts_counters_parse() {
        let c = read_counters("lo").unwrap();
        assert!(c.tcp_out_segs >= c.tcp_retrans_segs);
    }

    #[test]
    fn longest_prefix_then_lowest_metric_wins() {
        let r = |d: [u8; 4], m: [u8; 4], metric, iface| Route {
            destination: Ipv4Addr::from(d),
            mask: Ipv4Addr::from(m),
            metric,
            iface,
        };
        let table = [
            r([0, 0, 0, 0], [0, 0, 0, 0], 100, "eth0"),
            r([10, 1, 0, 0], [255, 255, 0, 0], 0, "eth1"),
            r([10, 1, 2, 0], [255, 255, 255, 0], 50, "etcd0"),
            r([10, 1, 2, 0], [255, 255, 255, 0], 10, "etcd1"),
        ];
        assert_eq!(
            best_route(&table, Ipv4Addr::new(10, 1, 2, 9)),
            Some("etcd1")
        );
        assert_eq!(best_route(&table, Ipv4Addr::new(10, 1, 3, 9)), Some("eth1"));
        assert_eq!(best_route(&table, Ipv4Addr::new(8, 8, 8, 8)), Some("eth0"));
        assert_eq!(best_route(&table[1..], Ipv4Addr::new(8, 8, 8, 8)), None);
    }

    #[test]
    fn software_devices_are_recognised() {
        assert!(is_software(false, "INTERFACE=veth0\nIFINDEX=5\n"));
        assert!(is_software(false, "DEVTYPE=bridge\nINTERFACE=br0\n"));
        assert!(!is_software(false, "DEVTYPE=bond\nINTERFACE=bond0\n"));
        assert!(!is_software(true, "INTERFACE=eth0\n"));
    }

    #[test]
    fn loopback_routes_to_loopback_and_has_no_speed() {
        assert_eq!(route_interface("127.0.0.1".parse().unwrap()).unwrap(), "lo");
        let lo = link("lo").unwrap();
        assert_eq!(lo.speed_mbit_s, None);
        assert!(lo.nominal);
        assert!(link("no-such-if0").is_err());
        assert!(link("../lo").is_err());
    }

    fn counters(rx_bytes: u64, tx_bytes: u64, retrans: u64) -> Counters {
        Counters {
            rx_bytes,
            tx_bytes,
            rx_packets: rx_bytes / 1000,
            tx_packets: tx_bytes / 1000,
            tcp_out_segs: tx_bytes / 1000,
            tcp_retrans_segs: retrans,
            ..Counters::default()
        }
    }

    #[test]
    fn usage_gives_mean_and_peak_rates_and_deltas() {
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        // 1 s: 250 ms at 80 Mbit/s tx, then 750 ms idle, then a 50 ms
        // tail window that is too short to count towards the peak.
        let samples = [
            (ms(0), counters(0, 0, 5)),
            (ms(250), counters(0, 2_500_000, 6)),
            (ms(1000), counters(1_000, 2_500_000, 6)),
            (ms(1050), counters(1_000, 3_000_000, 9)),
        ];
        let phys = Link {
            name: "eth0".into(),
            speed_mbit_s: Some(100),
            nominal: false,
        };
        let u = usage(&phys, &samples).unwrap();
        assert_eq!(u.interval_s, 1.05);
        assert!((u.tx_mbit_s - 22.857).abs() < 0.01, "{}", u.tx_mbit_s);
        assert_eq!(u.peak_tx_mbit_s, 80.0);
        assert_eq!(u.tx_ceiling_mbit_s, Some(100.0));
        assert_eq!(u.rx_ceiling_mbit_s, Some(100.0));
        assert_eq!(u.ceiling_source, Some(CeilingSource::LinkSpeed));
        assert_eq!(u.utilization_ratio, Some(0.8));
        assert_eq!(u.tcp_retransmitted_segments, 4);
        assert_eq!(u.tx_packets, 3000);
        // A veth's nominal 10000 Mbit/s is not a ceiling.
        let veth = Link {
            name: "veth0".into(),
            speed_mbit_s: Some(10_000),
            nominal: true,
        };
        let u = usage(&veth, &samples).unwrap();
        assert_eq!((u.tx_ceiling_mbit_s, u.rx_ceiling_mbit_s), (None, None));
        assert_eq!((u.ceiling_source, u.utilization_ratio), (None, None));
        assert!(usage(&veth, &samples[..1]).is_none());
    }

    #[test]
    fn virtual_interfaces_get_the_fastest_measured_transfers_as_ceilings() {
        let veth = Link {
            name: "veth0".into(),
            speed_mbit_s: Some(10_000),
            nominal: true,
        };
        let t0 = Instant::now();
        // 19 Mbit/s out, 1 Mbit/s in.
        let samples = [
            (t0, counters(0, 0, 0)),
            (t0 + Duration::from_secs(1), counters(125_000, 2_375_000, 0)),
        ];
        let nic = usage(&veth, &samples).unwrap();
        // A link shaped one way: uploads at 20, downloads at 9000.
        let mut thr = NetResult::new(NetProbeKind::Throughput, "p:1", Schedule::Sequential);
        thr.upload_mbit_s = Some(20.0);
        thr.download_mbit_s = Some(9000.0);
        thr.nic = Some(nic.clone());
        let mut loaded = NetResult::new(NetProbeKind::LoadedRtt, "p:1", Schedule::Sequential);
        loaded.upload_mbit_s = Some(18.0);
        loaded.nic = Some(nic.clone());
        let mut other = loaded.clone();
        other.nic.as_mut().unwrap().interface = "eth9".into();
        let mut results = vec![thr, loaded, other];
        assign_measured_ceilings(&mut results);
        let n = results[1].nic.as_ref().unwrap();
        assert_eq!(n.tx_ceiling_mbit_s, Some(20.0));
        assert_eq!(n.rx_ceiling_mbit_s, Some(9000.0));
        assert_eq!(n.ceiling_source, Some(CeilingSource::MeasuredThroughput));
        // Transmit at 19 of 20 decides, not receive at 1 of 9000.
        assert_eq!(n.utilization_ratio, Some(0.95));
        // Only transfers through the same interface count: 19 Mbit/s
        // against 18 is no share above 1; the ceiling was too low.
        let n = results[2].nic.as_ref().unwrap();
        assert_eq!(
            (n.tx_ceiling_mbit_s, n.rx_ceiling_mbit_s),
            (Some(18.0), None)
        );
        assert_eq!(n.utilization_ratio, Some(1.0));
        assert_eq!(n.ceiling_exceeded_ratio, Some(1.056));
        assert_eq!(
            results[1].nic.as_ref().unwrap().ceiling_exceeded_ratio,
            None
        );
    }
}
