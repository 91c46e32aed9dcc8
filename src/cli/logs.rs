//! `etcd-doctor logs` arguments, and the log flags `diagnose` shares,
//! converted at once into a [`LogsPlan`]: which sources to read (files,
//! `-`, `--journal UNIT`, `--kubeadm` pod logs) and the `--since`/`--until`
//! window (RFC 3339 or a duration before now, like `2h`).

use std::path::PathBuf;

use clap::Args;
use thiserror::Error;

use super::duration::parse_lookback;
use super::judge::JudgeArgs;
use super::output::OutputArgs;
use crate::cluster::kubeadm;
use crate::logs::scan::Window;
use crate::logs::source::{default_threads, kubeadm_pod_logs, DiscoveryError, DEFAULT_POD_LOGS};
use crate::logs::time::{now_ms, parse_timestamp, UnixMs};
use crate::logs::{LogSource, LogsPlan};
use crate::rules::ProfileError;

/// Where the logs are and which part of them to read.
#[derive(Debug, Clone, Args)]
pub struct LogSelectArgs {
    /// Read the etcd static pod's logs under --pod-logs (rotated .gz files included), found through kubeadm's manifest.
    #[arg(long)]
    pub kubeadm: bool,
    #[arg(long, value_name = "FILE", help = super::cluster::manifest_help())]
    pub manifest: Option<PathBuf>,
    /// Where kubelet writes pod logs.
    #[arg(long, value_name = "DIR", default_value = DEFAULT_POD_LOGS)]
    pub pod_logs: PathBuf,
    /// Also read `journalctl -u UNIT -o json`.
    #[arg(long, value_name = "UNIT")]
    pub journal: Option<String>,
    /// Keep events from this time on: RFC 3339 (2024-03-01T12:00:00Z) or a duration before now (2h, 30m, 7200 seconds).
    #[arg(long, value_name = "TIME")]
    pub since: Option<String>,
    /// Keep events up to this time: RFC 3339 or a duration before now.
    #[arg(long, value_name = "TIME")]
    pub until: Option<String>,
    /// Threads reading each log (1-64; default: the cores this process may use).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u8).range(1..=64))]
    pub threads: Option<u8>,
}

/// `logs` arguments.
#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Log files (plain or .gz; zap JSON, capnslog, CRI, docker json-file, journald JSON); `-` reads standard input.
    #[arg(value_name = "FILE")]
    pub files: Vec<PathBuf>,
    #[command(flatten)]
    pub select: LogSelectArgs,
    #[command(flatten)]
    pub judge: JudgeArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// Log flags that cannot make a plan; each names its flag.
#[derive(Debug, Error)]
pub enum LogsArgsError {
    /// `--since` or `--until` unreadable.
    #[error("{flag} {value:?}: not an RFC 3339 time (2024-03-01T12:00:00Z) nor a duration before now (2h): {why}")]
    Time {
        /// The flag.
        flag: &'static str,
        /// What was given.
        value: String,
        /// Why it failed.
        why: String,
    },
    /// `--since` after `--until`.
    #[error("--since is after --until")]
    EmptyWindow,
    /// Nothing to read.
    #[error("logs: nothing to read: name FILE..., `-`, --journal UNIT or --kubeadm")]
    NoSource,
    /// `--kubeadm` found nothing.
    #[error(transparent)]
    Discovery(#[from] DiscoveryError),
    /// `--profile`.
    #[error(transparent)]
    Profile(#[from] ProfileError),
}

/// Parses `--since`/`--until`: RFC 3339 (the whole value), else a
/// duration before `now_ms`. Linear in the input.
pub fn parse_time(
    flag: &'static str,
    value: &str,
    now_ms: UnixMs,
) -> Result<UnixMs, LogsArgsError> {
    let bad = |why: String| LogsArgsError::Time {
        flag,
        value: value.to_string(),
        why,
    };
    if value.len() > 64 {
        return Err(bad("too long".to_string()));
    }
    match parse_timestamp(value) {
        Some((ms, len)) if len == value.len() => return Ok(ms),
        Some(_) => return Err(bad("trailing characters after the time".to_string())),
        None => {}
    }
    let back = parse_lookback(value).map_err(|e| bad(e.to_string()))?;
    let back_ms = i64::try_from(back.as_millis()).expect("a look-back is at most a year");
    Ok(now_ms.saturating_sub(back_ms))
}

impl LogSelectArgs {
    /// The window `--since`/`--until` ask for.
    pub fn window(&self) -> Result<Window, LogsArgsError> {
        let now = now_ms();
        let since_ms = self
            .since
            .as_deref()
            .map(|v| parse_time("--since", v, now))
            .transpose()?;
        let until_ms = self
            .until
            .as_deref()
            .map(|v| parse_time("--until", v, now))
            .transpose()?;
        if let (Some(s), Some(u)) = (since_ms, until_ms) {
            if s > u {
                return Err(LogsArgsError::EmptyWindow);
            }
        }
        Ok(Window { since_ms, until_ms })
    }

    /// `--threads`, or the cores this process may use.
    pub fn threads(&self) -> usize {
        self.threads.map_or_else(default_threads, usize::from)
    }

    /// The sources these flags add to `files`: the journal, then the pod logs.
    pub fn sources(&self, files: Vec<PathBuf>) -> Result<Vec<LogSource>, LogsArgsError> {
        let mut sources: Vec<LogSource> = files
            .into_iter()
            .map(|f| {
                if f.as_os_str() == "-" {
                    LogSource::Stdin
                } else {
                    LogSource::File(f)
                }
            })
            .collect();
        sources.extend(self.journal.clone().map(LogSource::Journal));
        if self.kubeadm || self.manifest.is_some() {
            let manifest = self
                .manifest
                .clone()
                .unwrap_or_else(|| PathBuf::from(kubeadm::DEFAULT_MANIFEST));
            sources.extend(
                kubeadm_pod_logs(&manifest, &self.pod_logs)?
                    .into_iter()
                    .map(LogSource::File),
            );
        }
        Ok(sources)
    }
}

impl LogsArgs {
    /// The plan; no source at all is an error.
    pub fn into_plan(self) -> Result<LogsPlan, LogsArgsError> {
        let window = self.select.window()?;
        let sources = self.select.sources(self.files)?;
        if sources.is_empty() {
            return Err(LogsArgsError::NoSource);
        }
        Ok(LogsPlan {
            sources,
            window,
            threads: self.select.threads(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn absolute_and_relative_times() {
        let now = 1_709_294_400_000;
        assert_eq!(
            parse_time("--since", "2024-03-01T12:00:00Z", 0).unwrap(),
            now
        );
        assert_eq!(parse_time("--since", "2h", now).unwrap(), now - 7_200_000);
        assert_eq!(
            parse_time("--since", "1h30m", now).unwrap(),
            now - 5_400_000
        );
        let e = parse_time("--until", "yesterday", now)
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("--until \"yesterday\""), "{e}");
        assert!(parse_time("--since", "2024-03-01T12:00:00Zjunk", now).is_err());
        assert_eq!(parse_time("--since", "7200", now).unwrap(), now - 7_200_000);
        assert_eq!(
            parse_time("--since", "48h", now).unwrap(),
            now - 172_800_000
        );
        let far = parse_time("--since", "9000h", now).unwrap_err().to_string();
        assert!(far.contains("8784h"), "{far}");
    }

    proptest! {
        #[test]
        fn time_parser_never_panics(s in "\\PC{0,80}", now in any::<i64>()) {
            let _ = parse_time("--since", &s, now);
        }
    }
}
