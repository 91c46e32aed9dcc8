//! The finished result of one network probe against one peer (JSON contract,
//! schema 1). A failed peer is a result with `error` set, not a failed run.

use serde::{Deserialize, Serialize};

use crate::measure::{EncodedHistogram, LatencySummary};
use crate::probe::timeline::TimelinePoint;

/// Which network probe ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum NetProbeKind {
    /// Paced ping-pong latency on an idle path.
    Rtt,
    /// Bulk transfer rate.
    Throughput,
    /// Ping-pong latency while a bulk flow saturates the same path.
    LoadedRtt,
}

impl NetProbeKind {
    /// Name as written in reports and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            NetProbeKind::Rtt => "rtt",
            NetProbeKind::Throughput => "throughput",
            NetProbeKind::LoadedRtt => "loaded-rtt",
        }
    }
}

/// Whether a probe had the path to itself.
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Schedule {
    /// Ran peer by peer: nothing else of ours was on the wire.
    #[default]
    Sequential,
    /// Ran at the same time as the same probe against the other peers
    /// (`rtt` with several peers: a few hundred bytes per ping cannot
    /// distort one another).
    Concurrent,
}

impl Schedule {
    /// Name as written in reports.
    pub fn as_str(self) -> &'static str {
        match self {
            Schedule::Sequential => "sequential",
            Schedule::Concurrent => "concurrent",
        }
    }
}

/// Result of one network probe against one peer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NetResult {
    /// Which probe ran.
    pub probe: NetProbeKind,
    /// The peer agent, `ADDR:PORT`.
    pub peer: String,
    /// Which of the report's repeated runs this is (`--repeat`), from 0;
    /// absent means 0 (schema 1 reports hold one run).
    #[serde(default, skip_serializing_if = "crate::measure::is_zero")]
    pub run: u32,
    /// Whether the probe ran alone or alongside the same probe to other peers.
    #[serde(default)]
    pub schedule: Schedule,
    /// Length of the measuring phase, seconds (for loaded-rtt, each of the
    /// idle and the loaded phase).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_s: Option<f64>,
    /// Ping-pong message size, bytes (rtt, loaded-rtt).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_size_bytes: Option<u64>,
    /// Pings sent per second (rtt, loaded-rtt). Pings go out on schedule
    /// whether or not earlier ones were answered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_hz: Option<u32>,
    /// Round-trip latency, microseconds (rtt; loaded RTT for loaded-rtt),
    /// each sample counted from the ping's scheduled send time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_us: Option<LatencySummary>,
    /// Idle round-trip latency measured just before loading the path,
    /// microseconds (loaded-rtt).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_latency_us: Option<LatencySummary>,
    /// Idle RTT p99 to the same peer in the report given to
    /// `--rtt-baseline`, microseconds (loaded-rtt): an unloaded yardstick
    /// for the idle phase, which other traffic may already have queued.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline_idle_p99_us: Option<f64>,
    /// Loaded p99 RTT divided by idle p99 RTT (loaded-rtt): how much longer
    /// the slowest heartbeats take when a bulk transfer shares the path.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inflation: Option<f64>,
    /// Loaded p50 RTT divided by idle p50 RTT (loaded-rtt): the typical
    /// heartbeat's slowdown.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inflation_p50: Option<f64>,
    /// Bulk transfer rate, Mbit/s (throughput: the slower direction;
    /// loaded-rtt: the load flow's rate, also in `upload_mbit_s`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub throughput_mbit_s: Option<f64>,
    /// Rate this host -> peer, Mbit/s, as the receiving agent counted it
    /// (throughput; loaded-rtt: the load flow).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload_mbit_s: Option<f64>,
    /// Rate peer -> this host, Mbit/s, as this host received it (throughput).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub download_mbit_s: Option<f64>,
    /// Full distribution of `latency_us` (HdrHistogram V2, base64, ns).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_histogram: Option<EncodedHistogram>,
    /// RTT per interval of the measuring phase (rtt; loaded RTT for
    /// loaded-rtt), counted as `latency_us` is. Absent in schema 1 reports.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub timeline: Vec<TimelinePoint>,
    /// Full distribution of `idle_latency_us` (loaded-rtt).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_latency_histogram: Option<EncodedHistogram>,
    /// The local interface's traffic and error counters while the probe
    /// measured (for loaded-rtt: the loaded phase). Absent when they could
    /// not be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nic: Option<NicUsage>,
    /// What the rtt probe's own connection lost, each way, from both
    /// ends' TCP_INFO (rtt). Absent in older reports and where the kernel
    /// gives no account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path_loss: Option<PathLoss>,
    /// Why the probe failed against this peer, if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The rtt probe's connection to one peer, each direction as its sending
/// end counted it: unlike the namespace-wide TCP counters of [`NicUsage`],
/// only this path's segments.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PathLoss {
    /// This host -> peer: the pings, from this host's socket.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outbound: Option<SocketLoss>,
    /// Peer -> this host: the echoes, from the agent's socket (absent with
    /// an agent of an earlier build).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inbound: Option<SocketLoss>,
}

/// One socket's sending account (`getsockopt(TCP_INFO)`).
#[derive(
    Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub struct SocketLoss {
    /// Bytes the socket sent, retransmissions included (`tcpi_bytes_sent`).
    pub bytes_sent: u64,
    /// Bytes sent beyond what the program wrote: sent again after a loss
    /// (or a send a local filter refused).
    pub resent_bytes: u64,
    /// Retransmitted segments (`tcpi_total_retrans`).
    pub retransmits: u32,
    /// Retransmissions the other end reported as duplicates, so not lost
    /// (`tcpi_dsack_dups`).
    pub spurious_retransmits: u32,
}

impl SocketLoss {
    /// Bytes sent again per byte sent (0 when nothing was sent).
    pub fn resent_ratio(&self) -> f64 {
        ratio(self.resent_bytes, self.bytes_sent)
    }
}

impl NetResult {
    /// An empty result of `probe` against `peer`, to be filled in.
    pub fn new(probe: NetProbeKind, peer: &str, schedule: Schedule) -> NetResult {
        NetResult {
            probe,
            peer: peer.to_string(),
            run: 0,
            schedule,
            duration_s: None,
            message_size_bytes: None,
            rate_hz: None,
            latency_us: None,
            idle_latency_us: None,
            baseline_idle_p99_us: None,
            inflation: None,
            inflation_p50: None,
            throughput_mbit_s: None,
            upload_mbit_s: None,
            download_mbit_s: None,
            latency_histogram: None,
            timeline: Vec::new(),
            idle_latency_histogram: None,
            nic: None,
            path_loss: None,
            error: None,
        }
    }
}

/// What a NIC's rate is compared with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum CeilingSource {
    /// The link speed the driver reports (a physical NIC).
    LinkSpeed,
    /// The fastest transfer this run measured through the interface: used
    /// where the driver reports no speed (virtio) or only a nominal one
    /// (veth, bridge).
    MeasuredThroughput,
}

/// The local interface towards a peer while a probe ran: its rates against
/// its ceiling, and the drops, errors and TCP retransmits that happened.
/// Interface counters cover all traffic on the interface, not only ours;
/// TCP counters cover the whole network namespace.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct NicUsage {
    /// The interface: the one the kernel routes the peer through, or `--iface`.
    pub interface: String,
    /// Link speed the driver reports, Mbit/s (sysfs `speed`); absent when
    /// the driver reports none (-1, or the read fails).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub link_speed_mbit_s: Option<u64>,
    /// True when the interface is a software device (veth, bridge, tun,
    /// loopback) whose reported speed is a constant, not a line rate.
    pub link_speed_nominal: bool,
    /// The most the interface can send, Mbit/s: the link speed, or the
    /// fastest upload (or load flow) this run measured through it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tx_ceiling_mbit_s: Option<f64>,
    /// The most the interface can receive, Mbit/s: the link speed, or the
    /// fastest download this run measured through it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rx_ceiling_mbit_s: Option<f64>,
    /// Where the ceilings come from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ceiling_source: Option<CeilingSource>,
    /// Seconds the counters were sampled over.
    pub interval_s: f64,
    /// Mean receive rate over the interval, Mbit/s.
    pub rx_mbit_s: f64,
    /// Mean transmit rate over the interval, Mbit/s.
    pub tx_mbit_s: f64,
    /// Highest receive rate over any 250 ms window, Mbit/s.
    pub peak_rx_mbit_s: f64,
    /// Highest transmit rate over any 250 ms window, Mbit/s.
    pub peak_tx_mbit_s: f64,
    /// Highest 250 ms rate over that direction's ceiling, the larger of
    /// the two directions (1.0 = at the ceiling), at most 1: a share of a
    /// link cannot exceed it; absent without a ceiling.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub utilization_ratio: Option<f64>,
    /// The uncapped peak-rate-over-ceiling ratio, present only when it
    /// exceeds 1: the ceiling is then not the link's capacity (a measured
    /// ceiling is only our own transfer's mean rate, which other traffic
    /// or our own bursts can exceed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ceiling_exceeded_ratio: Option<f64>,
    /// The interface in the second before the run's first probe, with no
    /// traffic of ours on it: what others send and receive through it.
    /// Absent in older reports and when it could not be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before_probe: Option<BeforeProbe>,
    /// The heaviest TCP flows on the interface that were not ours while
    /// the counters were sampled (at most 3; `ss -tinp`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub other_flows: Vec<FlowRate>,
    /// Packets received.
    pub rx_packets: u64,
    /// Packets sent.
    pub tx_packets: u64,
    /// Received packets the interface dropped.
    pub rx_dropped_packets: u64,
    /// Packets the interface dropped on transmit.
    pub tx_dropped_packets: u64,
    /// Receive errors (CRC, frame, FIFO overruns).
    pub rx_error_packets: u64,
    /// Transmit errors (carrier, FIFO, collisions).
    pub tx_error_packets: u64,
    /// TCP segments sent (`/proc/net/snmp` Tcp OutSegs).
    pub tcp_out_segments: u64,
    /// TCP segments retransmitted (`/proc/net/snmp` Tcp RetransSegs).
    pub tcp_retransmitted_segments: u64,
    /// TCP retransmission timeouts: each one a stall of at least 200 ms
    /// (`/proc/net/netstat` TcpExt TCPTimeouts).
    pub tcp_rto_timeouts: u64,
}

/// An interface before any traffic of ours: the other traffic alone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct BeforeProbe {
    /// Seconds the counters were sampled over.
    pub interval_s: f64,
    /// Mean receive rate, Mbit/s.
    pub rx_mbit_s: f64,
    /// Mean transmit rate, Mbit/s.
    pub tx_mbit_s: f64,
    /// The heaviest TCP flows over the same second (at most 3).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub other_flows: Vec<FlowRate>,
}

/// One TCP flow that was not ours, rated between two socket listings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct FlowRate {
    /// Owning process's name, when visible.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub process: Option<String>,
    /// Owning process's id, when visible.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    /// Local address, `IP:PORT`.
    pub local: String,
    /// Remote address, `IP:PORT`.
    pub peer: String,
    /// Bytes the remote end acknowledged, as Mbit/s.
    pub tx_mbit_s: f64,
    /// Bytes received, as Mbit/s.
    pub rx_mbit_s: f64,
}

impl FlowRate {
    /// `iperf3 (pid 12) 10.0.0.1:4000 -> 10.0.0.2:5201, 18.1 Mbit/s out, 0.0 in`.
    pub fn describe(&self) -> String {
        let who = match (&self.process, self.pid) {
            (Some(p), Some(pid)) => format!("{p} (pid {pid}) "),
            (Some(p), None) => format!("{p} "),
            _ => String::new(),
        };
        format!(
            "{who}{} -> {}, {:.1} Mbit/s out, {:.1} in",
            self.local, self.peer, self.tx_mbit_s, self.rx_mbit_s
        )
    }
}

impl NicUsage {
    /// Retransmitted segments per segment sent (0 when none were sent).
    pub fn retransmit_ratio(&self) -> f64 {
        ratio(self.tcp_retransmitted_segments, self.tcp_out_segments)
    }

    /// Dropped packets per packet received or sent.
    pub fn drop_ratio(&self) -> f64 {
        ratio(
            self.rx_dropped_packets + self.tx_dropped_packets,
            self.rx_packets + self.tx_packets,
        )
    }

    /// Receive and transmit errors.
    pub fn error_packets(&self) -> u64 {
        self.rx_error_packets + self.tx_error_packets
    }
}

fn ratio(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}
