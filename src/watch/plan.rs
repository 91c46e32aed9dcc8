//! What a `watch` run does, as typed values: the canary's directory and
//! pace, the cluster to read, the logs to follow, the rolling windows, the
//! HTTP listener and the on-disk history. The CLI builds it
//! ([`crate::cli::watch`]); nothing here sees a clap type.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use super::journal::JournalSource;
use crate::cluster::conn::ConnPlan;
use crate::probe::disk::StallLevels;
use crate::probe::net::NetPlan;
use crate::rules::Profile;

/// Default canary writes per second: a tenth of the paced probe's default,
/// one write per heartbeat interval (low duty, still one sample per
/// heartbeat a stall could delay).
pub const DEFAULT_CANARY_RATE: u32 = 10;
/// Default time between two ticks (one metrics scrape, one log read, one
/// canary segment).
pub const DEFAULT_INTERVAL: Duration = Duration::from_secs(15);
/// Shortest `--interval`.
pub const MIN_INTERVAL: Duration = Duration::from_secs(1);
/// Longest `--interval`.
pub const MAX_INTERVAL: Duration = Duration::from_secs(600);
/// The rolling windows judged: 1 min, 10 min, 1 h.
pub const DEFAULT_WINDOWS: [Duration; 3] = [
    Duration::from_secs(60),
    Duration::from_secs(600),
    Duration::from_secs(3600),
];
/// Most ticks the longest window may hold (memory is bounded by counts).
pub const MAX_TICKS: usize = 3600;
/// History kept by default: a day.
pub const DEFAULT_HISTORY_KEEP: Duration = Duration::from_secs(24 * 3600);
/// Default size cap of the history directory's files of ours.
pub const DEFAULT_HISTORY_BYTES: u64 = 256 << 20;

/// The on-disk history: a ring of window summaries.
#[derive(Debug, Clone, PartialEq)]
pub struct HistoryPlan {
    /// Directory the summaries go into (created when missing).
    pub dir: PathBuf,
    /// Summaries older than this are removed.
    pub keep: Duration,
    /// The oldest summaries are removed while ours take more than this.
    pub max_bytes: u64,
}

/// One log source `watch` follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogSource {
    /// A file followed by name (plain, zap JSON or CRI lines).
    File(PathBuf),
    /// A journald unit or journal file, through `journalctl --follow`.
    Journal(JournalSource),
}

/// Everything a `watch` run needs.
#[derive(Debug, Clone)]
pub struct WatchPlan {
    /// Directory the canary writes its scratch directory into.
    pub dir: PathBuf,
    /// Canary writes per second.
    pub rate_per_s: u32,
    /// The cluster to read each tick; `None` with `--no-cluster`.
    pub conn: Option<ConnPlan>,
    /// RTT to the agent peers each tick, when `--peers` were given.
    pub peers: Option<NetPlan>,
    /// etcd's logs followed: files (plain or CRI) and journald units.
    pub logs: Vec<LogSource>,
    /// Address the HTTP endpoint listens on.
    pub listen: SocketAddr,
    /// The on-disk history, when asked for.
    pub history: Option<HistoryPlan>,
    /// Time between ticks.
    pub interval: Duration,
    /// The rolling windows, shortest first (each at least one tick).
    pub windows: Vec<Duration>,
    /// Thresholds the rules judge with.
    pub profile: Profile,
    /// The canary's stall levels (from the profile).
    pub stall: StallLevels,
}

impl WatchPlan {
    /// Ticks in `window` (at least one).
    pub fn ticks_in(&self, window: Duration) -> usize {
        let n = window.as_nanos() / self.interval.as_nanos().max(1);
        usize::try_from(n).unwrap_or(MAX_TICKS).clamp(1, MAX_TICKS)
    }

    /// Ticks the ring keeps: those of the longest window.
    pub fn ring_len(&self) -> usize {
        self.windows
            .iter()
            .map(|w| self.ticks_in(*w))
            .max()
            .unwrap_or(1)
    }
}

/// A window's name as shown in labels and file names: `1m`, `10m`, `1h`, `5s`.
pub fn window_name(window: Duration) -> String {
    let s = window.as_secs();
    match s {
        0 => format!("{}ms", window.as_millis()),
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_names_read_as_written() {
        assert_eq!(window_name(Duration::from_secs(60)), "1m");
        assert_eq!(window_name(Duration::from_secs(600)), "10m");
        assert_eq!(window_name(Duration::from_secs(3600)), "1h");
        assert_eq!(window_name(Duration::from_secs(5)), "5s");
        assert_eq!(window_name(Duration::from_millis(500)), "500ms");
    }
}
