//! The finished result of one disk probe run (JSON contract, schema 1).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::stall::StallSummary;
use crate::measure::{EncodedHistogram, LatencySummary};
pub use crate::probe::timeline::TimelinePoint;

/// Which disk probe ran.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum DiskProbeKind {
    /// fio's etcd test: 2300-byte sequential writes, each followed by fdatasync.
    Fsync,
    /// etcd-WAL-like: framed records in a preallocated segment, batched fdatasync.
    Wal,
    /// bbolt-commit-like: random 4 KiB page writes, fdatasync, meta page, fdatasync.
    Backend,
    /// etcd-paced: 2300-byte appends, each followed by fdatasync, on a
    /// fixed schedule; latency counted from each write's scheduled time.
    Paced,
}

impl DiskProbeKind {
    /// Name as written in reports and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            DiskProbeKind::Fsync => "fsync",
            DiskProbeKind::Wal => "wal",
            DiskProbeKind::Backend => "backend",
            DiskProbeKind::Paced => "paced",
        }
    }
}

impl std::fmt::Display for DiskProbeKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How the probe issued its IO.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum EngineKind {
    /// Plain pwrite + fdatasync syscalls, as etcd's Go runtime issues them.
    Sync,
    /// io_uring: write and fdatasync linked in the ring.
    Uring,
}

impl EngineKind {
    /// Name as written in reports and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            EngineKind::Sync => "sync",
            EngineKind::Uring => "uring",
        }
    }
}

/// Why a run stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum StopReason {
    /// The requested number of operations (`--ops`) was done.
    Ops,
    /// The requested duration (`--duration`) elapsed.
    Duration,
    /// Adaptive mode: the p99 estimate became stable.
    Stable,
    /// Adaptive mode: the time cap was reached before p99 was stable.
    TimeCap,
}

impl StopReason {
    /// How the run ended, in words for the table.
    pub fn describe(self) -> &'static str {
        match self {
            StopReason::Ops => "op count",
            StopReason::Duration => "duration",
            StopReason::Stable => "p99 stable",
            StopReason::TimeCap => "time cap",
        }
    }
}

/// Result of one disk probe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DiskResult {
    /// Which probe ran.
    pub probe: DiskProbeKind,
    /// Which of the report's repeated runs this is (`--repeat`), from 0;
    /// absent means 0 (schema 1 reports hold one run).
    #[serde(default, skip_serializing_if = "crate::measure::is_zero")]
    pub run: u32,
    /// Which IO engine issued the writes.
    pub engine: EngineKind,
    /// The directory under test (the probe wrote only in a fresh temporary
    /// directory beneath it).
    pub dir: PathBuf,
    /// Bytes per write (fsync), per record (wal) or per page (backend).
    pub block_size_bytes: u64,
    /// Operations measured: fdatasyncs (fsync, wal) or commits (backend).
    pub ops: u64,
    /// Wall-clock length of the measured run: how long the probe observed
    /// the disk, seconds.
    pub duration_s: f64,
    /// Operations per second.
    pub iops: f64,
    /// Bytes written per second, MiB/s.
    pub throughput_mib_s: f64,
    /// The latency etcd waits on: the fdatasync (fsync, wal), the whole
    /// commit (backend), or write and fdatasync counted from the write's
    /// scheduled time (paced), microseconds.
    pub latency_us: LatencySummary,
    /// Latency of the write call alone (fsync probe), microseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write_latency_us: Option<LatencySummary>,
    /// Why the run stopped.
    pub stop_reason: StopReason,
    /// Latency per interval of the run.
    #[serde(default)]
    pub timeline: Vec<TimelinePoint>,
    /// Full distribution of `latency_us` (HdrHistogram V2, base64, ns).
    pub latency_histogram: EncodedHistogram,
    /// Operations slower than the heartbeat interval and half the election
    /// timeout: counts, the longest, when they happened, their period.
    #[serde(default)]
    pub stalls: StallSummary,
}
