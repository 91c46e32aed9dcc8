//! `watch` arguments, converted at once into a [`WatchPlan`].

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use thiserror::Error;

use super::cluster::{reach, ConnArgs, DiscoveryArgs, ReachError};
use super::duration::parse_duration;
use super::net::{rtt_plan, AgentPeers};
use super::verdict::stall_levels;
use crate::discover::{Discovery, LogPlace};
use crate::probe::disk::paced::MAX_RATE_PER_S;
use crate::probe::net::NetPlanError;
use crate::rules::{Profile, ProfileError};
use crate::watch::journal::JournalSource;
use crate::watch::plan::{
    HistoryPlan, LogSource, WatchPlan, DEFAULT_CANARY_RATE, DEFAULT_HISTORY_BYTES, DEFAULT_WINDOWS,
    MAX_INTERVAL, MAX_TICKS, MIN_INTERVAL,
};

/// Most rolling windows.
const MAX_WINDOWS: usize = 6;

/// `watch` arguments.
#[derive(Debug, Clone, Args)]
pub struct WatchArgs {
    /// Directory on the etcd data disk the canary writes next to (in a fresh scratch directory it removes).
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,
    #[command(flatten)]
    pub conn: ConnArgs,
    #[command(flatten)]
    pub discovery: DiscoveryArgs,
    /// Watch this host's disk only: read no cluster.
    #[arg(long, conflicts_with_all = ["endpoints", "kubeadm"])]
    pub no_cluster: bool,
    /// etcd log files to follow: plain, zap JSON or CRI pod logs (rotation and truncation are followed). Without --logs or --journal-*, the logs discovery found.
    #[arg(long = "logs", value_name = "PATH", num_args = 1..)]
    pub logs: Vec<PathBuf>,
    /// journald units to follow (`journalctl --follow -u UNIT`).
    #[arg(long = "journal-unit", value_name = "UNIT", num_args = 1..)]
    pub journal_units: Vec<String>,
    /// A journal file to follow instead of the system journal (`journalctl --file`).
    #[arg(long = "journal-file", value_name = "PATH")]
    pub journal_file: Option<PathBuf>,
    /// Agent peers (`etcd-doctor agent` on the other members' hosts): their RTT is measured each tick.
    #[command(flatten)]
    pub agents: AgentPeers,
    /// Address of the HTTP endpoint (/metrics, /healthz, /report); port 0 picks one.
    #[arg(long, value_name = "ADDR:PORT")]
    pub listen: SocketAddr,
    /// Keep a ring of 10-minute window reports in DIR (readable by `compare`).
    #[arg(long, value_name = "DIR")]
    pub history: Option<PathBuf>,
    /// How long the history keeps a window report.
    #[arg(long, value_name = "DURATION", default_value = "24h", value_parser = parse_duration)]
    pub history_keep: Duration,
    /// Most MiB the history's files may take (the oldest go first).
    #[arg(long, value_name = "MIB", default_value_t = DEFAULT_HISTORY_BYTES >> 20)]
    pub history_max_mib: u64,
    /// Time between ticks: one metrics scrape, one log read, one canary segment.
    #[arg(long, value_name = "DURATION", default_value = "15s", value_parser = parse_duration)]
    pub interval: Duration,
    /// Canary writes per second (2300 B each, fdatasync after each).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_CANARY_RATE)]
    pub rate: u32,
    /// The rolling windows, comma-separated (tests shorten them).
    #[arg(long, value_name = "DURATIONS", value_delimiter = ',', value_parser = parse_duration, hide = true)]
    pub windows: Vec<Duration>,
    /// Threshold profile: etcd-default, kubernetes-large, cloud-essd, or a TOML file.
    #[arg(long, value_name = "NAME|FILE", default_value = "etcd-default")]
    pub profile: String,
}

/// `watch` arguments that cannot make a plan; each names its flag.
#[derive(Debug, Error)]
pub enum WatchArgsError {
    /// The kubeadm manifest, connection flags or TLS files.
    #[error(transparent)]
    Reach(#[from] ReachError),
    /// `--profile`.
    #[error(transparent)]
    Profile(#[from] ProfileError),
    /// `--peers` or `--token`.
    #[error(transparent)]
    Peers(#[from] NetPlanError),
    /// `--interval` out of range.
    #[error("--interval must be from 1s to 10m, got {0:?}")]
    Interval(Duration),
    /// `--rate` out of range.
    #[error("--rate must be from 1 to {MAX_RATE_PER_S}, got {0}")]
    Rate(u32),
    /// `--windows` out of range.
    #[error("--windows: give 1 to {MAX_WINDOWS} windows, each at least --interval and at most {MAX_TICKS} intervals")]
    Windows,
    /// `--history-keep` or `--history-max-mib` zero or too large.
    #[error("--history-keep must be from 1s to 366d and --history-max-mib from 1 to 1048576")]
    History,
}

impl WatchArgs {
    /// The plan.
    pub fn into_plan(self) -> Result<WatchPlan, WatchArgsError> {
        if !(MIN_INTERVAL..=MAX_INTERVAL).contains(&self.interval) {
            return Err(WatchArgsError::Interval(self.interval));
        }
        if !(1..=MAX_RATE_PER_S).contains(&self.rate) {
            return Err(WatchArgsError::Rate(self.rate));
        }
        let mut windows = if self.windows.is_empty() {
            DEFAULT_WINDOWS.to_vec()
        } else {
            self.windows
        };
        windows.sort();
        windows.dedup();
        let fits = |w: &Duration| {
            *w >= self.interval && w.as_secs_f64() / self.interval.as_secs_f64() <= MAX_TICKS as f64
        };
        if windows.len() > MAX_WINDOWS || !windows.iter().all(fits) {
            return Err(WatchArgsError::Windows);
        }
        let keep_ok = (Duration::from_secs(1)..=Duration::from_secs(366 * 86_400))
            .contains(&self.history_keep);
        if !keep_ok || !(1..=1 << 20).contains(&self.history_max_mib) {
            return Err(WatchArgsError::History);
        }
        let (conn, found) = if self.no_cluster {
            (None, None)
        } else {
            let (conn, found) = reach(self.conn, &self.discovery)?;
            (Some(conn), found)
        };
        let logs = log_sources(
            self.logs,
            self.journal_units,
            self.journal_file,
            found.as_ref(),
        );
        let mut profile = Profile::load(&self.profile)?;
        // The canary's stall levels: the running etcd's heartbeat and
        // election, as diagnose counts them.
        if let Some(d) = &found {
            profile.adopt(&d.settings);
        }
        // A third of each tick, at most 5 s: a steady pace, never a flood.
        let rtt_secs = (self.interval.as_secs_f64() / 3.0).min(5.0);
        let peers = match self.agents.given() {
            Some((peers, token)) => Some(rtt_plan(&peers, token, rtt_secs)?),
            None => None,
        };
        Ok(WatchPlan {
            dir: self.dir,
            rate_per_s: self.rate,
            conn,
            peers,
            logs,
            listen: self.listen,
            history: self.history.map(|dir| HistoryPlan {
                dir,
                keep: self.history_keep,
                max_bytes: self.history_max_mib << 20,
            }),
            interval: self.interval,
            windows,
            stall: stall_levels(&profile),
            profile,
        })
    }
}

/// The logs to follow: the flags', else those discovery found (live files
/// only: a pod's rotated `0.log.<time>[.gz]` is history, not followed).
fn log_sources(
    files: Vec<PathBuf>,
    units: Vec<String>,
    journal_file: Option<PathBuf>,
    found: Option<&Discovery>,
) -> Vec<LogSource> {
    let journal = |unit| {
        LogSource::Journal(JournalSource {
            unit,
            file: journal_file.clone(),
        })
    };
    let mut logs: Vec<LogSource> = files.into_iter().map(LogSource::File).collect();
    let units_empty = units.is_empty();
    logs.extend(units.into_iter().map(|u| journal(Some(u))));
    if units_empty && journal_file.is_some() {
        logs.push(journal(None));
    }
    if !logs.is_empty() {
        return logs;
    }
    found
        .map(|d| d.logs.as_slice())
        .unwrap_or_default()
        .iter()
        .filter_map(|place| match place {
            LogPlace::File(p) if p.extension().is_some_and(|e| e == "log") => {
                Some(LogSource::File(p.clone()))
            }
            LogPlace::File(_) => None,
            LogPlace::Journal(unit) => Some(journal(Some(unit.clone()))),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discover::Source;

    #[test]
    fn flags_win_and_discovery_gives_live_files_and_units() {
        let mut d = Discovery::empty(Source::Process);
        d.logs = vec![
            LogPlace::File("/var/log/pods/p/etcd/0.log.20240301-120000.gz".into()),
            LogPlace::File("/var/log/pods/p/etcd/0.log".into()),
            LogPlace::Journal("etcd.service".into()),
        ];
        let unit = |u: &str| {
            LogSource::Journal(JournalSource {
                unit: Some(u.into()),
                file: None,
            })
        };
        assert_eq!(
            log_sources(vec![], vec![], None, Some(&d)),
            [
                LogSource::File("/var/log/pods/p/etcd/0.log".into()),
                unit("etcd.service")
            ]
        );
        let given = log_sources(vec!["/x.log".into()], vec!["k3s".into()], None, Some(&d));
        assert_eq!(given, [LogSource::File("/x.log".into()), unit("k3s")]);
        let file = log_sources(vec![], vec![], Some("/j.journal".into()), Some(&d));
        assert_eq!(
            file,
            [LogSource::Journal(JournalSource {
                unit: None,
                file: Some("/j.journal".into())
            })]
        );
        assert!(log_sources(vec![], vec![], None, None).is_empty());
    }
}
