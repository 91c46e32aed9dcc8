//! The finished result of one network probe against one peer (JSON contract,
//! schema 1). A failed peer is a result with `error` set, not a failed run.

use serde::{Deserialize, Serialize};

use crate::measure::{EncodedHistogram, LatencySummary};

/// Which network probe ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
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

/// Result of one network probe against one peer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NetResult {
    /// Which probe ran.
    pub probe: NetProbeKind,
    /// The peer agent, `ADDR:PORT`.
    pub peer: String,
    /// Ping-pong message size, bytes (rtt, loaded-rtt).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_size_bytes: Option<u64>,
    /// Round-trip latency, microseconds (rtt; loaded RTT for loaded-rtt).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_us: Option<LatencySummary>,
    /// Idle round-trip latency measured just before loading the path,
    /// microseconds (loaded-rtt).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_latency_us: Option<LatencySummary>,
    /// Loaded p99 RTT divided by idle p99 RTT (loaded-rtt).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inflation: Option<f64>,
    /// Bulk transfer rate, Mbit/s (throughput: the slower direction; loaded-rtt:
    /// the load flow's rate).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub throughput_mbit_s: Option<f64>,
    /// Full distribution of `latency_us` (HdrHistogram V2, base64, ns).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_histogram: Option<EncodedHistogram>,
    /// Why the probe failed against this peer, if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}
