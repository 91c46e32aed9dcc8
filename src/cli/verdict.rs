//! `etcd-doctor qualify`, `diagnose` and `compare` arguments, converted at
//! once into their plans.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::Args;
use thiserror::Error;

use super::cluster::{
    checked_interval, reach, ConnArgs, DiscoveryArgs, IntervalTooLong, ReachError,
};
use super::disk::{DiskArgsError, DiskRunArgs};
use super::duration::parse_duration;
use super::judge::{JudgeArgs, JudgePlan};
use super::logs::{parse_time, LogsArgsError};
use super::net::PeerArgs;
use super::output::OutputArgs;
use crate::cluster::conn::ConnPlan;
use crate::cluster::InspectPlan;
use crate::compare::{ComparePlan, DEFAULT_MAX_REGRESSION_PCT};
use crate::discover::{DiscoverError, Discovery, LogPlace, Settings};
use crate::keyspace::live::LivePlan;
use crate::logs::scan::Window;
use crate::logs::source::default_threads;
use crate::logs::{LogSource, LogsPlan};
use crate::probe::disk::{DiskPlan, StallLevels, DIAGNOSE_MIN_SPAN, QUALIFY_MIN_SPAN};
use crate::probe::net::{NetPlan, NetPlanError};
use crate::report::OutputPlan;
use crate::rules::{Profile, ProfileError};
use crate::units::Millis;

/// What `qualify` and `diagnose` measure on this host and how they judge
/// and write it.
#[derive(Debug, Args)]
pub struct ProbeArgs {
    #[command(flatten)]
    pub disk: DiskRunArgs,
    #[command(flatten)]
    pub peers: PeerArgs,
    /// Run the disk and network probes N times, interleaved (a baseline set for `compare`).
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = super::disk::repeat_range())]
    pub repeat: u32,
    #[command(flatten)]
    pub judge: JudgeArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// The host measurements of a `qualify` or `diagnose` run.
#[derive(Debug)]
pub struct ProbePlan {
    /// The disk probes, when there is a directory to probe.
    pub disk: Option<DiskPlan>,
    /// The network probes, when peers were given.
    pub net: Option<NetPlan>,
    /// How many times the disk and network probes run (disk, net, disk, net...).
    pub repeat: u32,
    /// How findings are judged.
    pub judge: JudgePlan,
    /// Where the report goes.
    pub output: OutputPlan,
}

impl ProbeArgs {
    /// The plan, probing the disk of `dir` when there is one, observing it
    /// at etcd's pace for `min_span` unless `--min-span` says otherwise;
    /// stalls are counted against the profile's levels.
    pub fn into_plan(
        self,
        dir: Option<PathBuf>,
        min_span: Duration,
        settings: Option<&Settings>,
    ) -> Result<ProbePlan, VerdictArgsError> {
        let mut judge = self.judge.into_plan()?;
        // The running etcd's settings before --heartbeat-interval, which wins.
        if let Some(s) = settings {
            judge.profile.adopt(s);
        }
        let stall = stall_levels(&judge.profile);
        let disk_plan = |d| {
            let mut base = DiskPlan::observing(d, min_span);
            base.stall = stall;
            self.disk.into_plan(base)
        };
        Ok(ProbePlan {
            disk: dir.map(disk_plan).transpose()?,
            net: self.peers.into_plan(&mut judge)?,
            repeat: self.repeat,
            judge,
            output: self.output.into(),
        })
    }
}

/// `qualify` arguments.
#[derive(Debug, Args)]
pub struct QualifyArgs {
    /// Directory whose disk is qualified (the etcd data dir's filesystem, or where it will be; a fresh temporary directory is made inside it) [default: beside the discovered etcd's data dir].
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    #[command(flatten)]
    pub discovery: DiscoveryArgs,
    #[command(flatten)]
    pub probes: ProbeArgs,
}

/// Everything a `qualify` run needs.
#[derive(Debug)]
pub struct QualifyPlan {
    /// The host measurements.
    pub probes: ProbePlan,
    /// What discovery found, when it ran (no `--dir`, or `--discover`).
    pub discovery: Option<Discovery>,
}

impl QualifyArgs {
    /// The plan these arguments ask for: `--dir`, else a directory beside
    /// the discovered etcd's data dir (discovery is the default without
    /// `--dir`); the running etcd's heartbeat and election then set the
    /// stall levels.
    pub fn into_plan(self) -> Result<QualifyPlan, VerdictArgsError> {
        // The flags' own errors first: they do not depend on the host.
        self.probes.judge.clone().into_plan()?;
        let found = self
            .discovery
            .find(self.dir.is_none(), Vec::new())
            .map_err(qualify_discovery_error)?;
        let dir = match (self.dir, &found) {
            (Some(dir), _) => dir,
            (None, Some(d)) => match d.data_dir.as_deref() {
                Some(data) => probe_dir_beside(data).map_err(VerdictArgsError::NoDir)?,
                None => {
                    return Err(VerdictArgsError::NoDir(format!(
                        "the {} etcd found names no data dir",
                        d.source.name()
                    )))
                }
            },
            (None, None) => return Err(VerdictArgsError::NoDir("--no-discover".to_string())),
        };
        let settings = found.as_ref().map(|d| &d.settings);
        Ok(QualifyPlan {
            probes: self
                .probes
                .into_plan(Some(dir), QUALIFY_MIN_SPAN, settings)?,
            discovery: found,
        })
    }
}

/// Discovery's errors in `qualify`'s terms: it has no `--endpoints`, and
/// `--dir` is what it needs.
fn qualify_discovery_error(e: ReachError) -> VerdictArgsError {
    match e {
        ReachError::Discover(DiscoverError::NothingFound) => {
            VerdictArgsError::NoDir("no etcd process on this host and no known layout".to_string())
        }
        ReachError::Discover(DiscoverError::Ambiguous(found)) => VerdictArgsError::NoDir(format!(
            "{} etcd processes: {}; --discover-pid PID picks one",
            found.len(),
            found.join(", ")
        )),
        other => other.into(),
    }
}

/// The profile's stall levels as the disk probes count them.
pub(crate) fn stall_levels(profile: &Profile) -> StallLevels {
    let ms = |v: f64| Millis(v).as_duration();
    StallLevels {
        heartbeat: ms(profile.disk.stall_warn_ms),
        half_election: ms(profile.disk.stall_fail_ms),
    }
}

/// `diagnose` arguments.
#[derive(Debug, Args)]
pub struct DiagnoseArgs {
    #[command(flatten)]
    pub conn: ConnArgs,
    #[command(flatten)]
    pub discovery: DiscoveryArgs,
    /// Directory on the etcd data disk to probe [default: next to the discovered data dir, when it is on this host].
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Do not probe the disk.
    #[arg(long, conflicts_with = "dir")]
    pub no_disk: bool,
    /// Time between the two metrics scrapes whose difference shows what etcd does now.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_duration)]
    pub interval: Duration,
    /// Also count the live keys per Kubernetes resource and namespace, gently (as `cluster keyspace` with its defaults).
    #[arg(long)]
    pub keyspace: bool,
    #[command(flatten)]
    pub logs: DiagnoseLogArgs,
    /// Also write the raw inputs (metrics pages, status, members, alarms, log lines read, probe histograms, host facts) and the report into FILE.tar.gz; never keys, certificates or keyspace values.
    #[arg(long, value_name = "FILE")]
    pub bundle: Option<PathBuf>,
    /// Judge the window reports `watch --history DIR` kept over --since instead of a live cluster.
    #[arg(long, value_name = "DIR", requires = "since", conflicts_with_all = ["bundle", "from_bundle", "dir", "keyspace"])]
    pub history: Option<PathBuf>,
    /// How far back --history is read, e.g. 3h.
    #[arg(long, value_name = "DURATION", requires = "history", value_parser = parse_duration)]
    pub since: Option<Duration>,
    /// Judge a bundle written by --bundle offline instead of a live cluster.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["bundle", "dir", "keyspace"])]
    pub from_bundle: Option<PathBuf>,
    #[command(flatten)]
    pub probes: ProbeArgs,
}

/// Which etcd logs `diagnose` reads for the recent past.
#[derive(Debug, Args)]
pub struct DiagnoseLogArgs {
    /// etcd log files to read [default: the discovered etcd's logs: its log file, pod logs or journald unit].
    #[arg(long = "logs", value_name = "PATH", num_args = 1..)]
    pub paths: Vec<PathBuf>,
    /// Do not read etcd's logs.
    #[arg(long, conflicts_with = "paths")]
    pub no_logs: bool,
    /// How far back the logs are read: RFC 3339 or a duration before now.
    #[arg(long, value_name = "TIME", default_value = "24h")]
    pub logs_since: String,
}

impl DiagnoseLogArgs {
    /// The logs to read: `--logs`, else where the discovered etcd
    /// (`found`) logs; the reason when there are none.
    fn into_plan(
        self,
        found: Option<&Discovery>,
    ) -> Result<(Option<LogsPlan>, Option<String>), LogsArgsError> {
        let since = parse_time(
            "--logs-since",
            &self.logs_since,
            crate::logs::time::now_ms(),
        )?;
        let window = Window {
            since_ms: Some(since),
            until_ms: None,
        };
        let sources = match (self.no_logs, self.paths.is_empty(), found) {
            (true, _, _) => return Ok((None, Some("--no-logs".to_string()))),
            (false, false, _) => self.paths.into_iter().map(LogSource::File).collect(),
            (false, true, Some(d)) if !d.logs.is_empty() => d
                .logs
                .iter()
                .map(|l| match l {
                    LogPlace::File(p) => LogSource::File(p.clone()),
                    LogPlace::Journal(unit) => LogSource::Journal(unit.clone()),
                })
                .collect(),
            (false, true, Some(d)) => {
                let why = match d.notes.iter().find(|n| n.contains("log")) {
                    Some(note) => format!("discovery found no etcd logs: {note}"),
                    None => "discovery found no etcd logs".to_string(),
                };
                return Ok((None, Some(why)));
            }
            (false, true, None) => {
                return Ok((None, Some("no --logs and no discovery".to_string())))
            }
        };
        Ok((
            Some(LogsPlan {
                sources,
                window,
                threads: default_threads(),
            }),
            None,
        ))
    }
}

/// `qualify` or `diagnose` arguments that cannot make a plan; each names
/// its flag or file.
#[derive(Debug, Error)]
pub enum VerdictArgsError {
    /// The kubeadm manifest, connection flags or TLS files.
    #[error(transparent)]
    Reach(#[from] ReachError),
    /// Disk probe flags.
    #[error(transparent)]
    Disk(#[from] DiskArgsError),
    /// Network probe flags.
    #[error(transparent)]
    Net(#[from] NetPlanError),
    /// `--profile`.
    #[error(transparent)]
    Profile(#[from] ProfileError),
    /// `--interval` out of range.
    #[error(transparent)]
    Interval(#[from] IntervalTooLong),
    /// `--logs-since`.
    #[error(transparent)]
    Logs(#[from] LogsArgsError),
    /// `qualify` without `--dir` and no data dir found to probe beside.
    #[error("qualify: no --dir given and none found ({0}); pass --dir DIR on the etcd data disk (or where it will be)")]
    NoDir(String),
}

/// Everything a `diagnose` run needs.
#[derive(Debug)]
pub struct DiagnosePlan {
    /// Where and how to reach the cluster.
    pub conn: ConnPlan,
    /// What to read from it.
    pub views: InspectPlan,
    /// The host measurements: the disk next to the data dir, when there
    /// is a local one, and the peers.
    pub probes: ProbePlan,
    /// Why there is no disk probe, when there is none.
    pub no_disk_reason: Option<String>,
    /// The live keyspace count (`--keyspace`).
    pub keyspace: Option<LivePlan>,
    /// etcd's logs to read, when there are some.
    pub logs: Option<LogsPlan>,
    /// Why no logs are read, when none are.
    pub no_logs_reason: Option<String>,
    /// What discovery found, when it ran.
    pub discovery: Option<Discovery>,
    /// Where to write the bundle of raw inputs (`--bundle`).
    pub bundle: Option<PathBuf>,
    /// The bundle to judge offline (`--from-bundle`).
    pub from_bundle: Option<PathBuf>,
    /// `watch`'s history and how far back to judge it (`--history`, `--since`).
    pub history: Option<(PathBuf, Duration)>,
}

impl DiagnoseArgs {
    /// The plan: the cluster to read, and which local directory to probe
    /// (`--dir`, else the discovered data dir when it exists here).
    pub fn into_plan(self) -> Result<DiagnosePlan, VerdictArgsError> {
        let interval = checked_interval(self.interval)?;
        // The flags' own errors before discovery's: a bad --profile or
        // --logs-since is named even where no etcd can be found.
        self.probes.judge.clone().into_plan()?;
        parse_time("--logs-since", &self.logs.logs_since, 0)?;
        // A bundle or watch's history is judged offline: nothing on this
        // host is looked for (it may run other etcds, or none).
        let offline = self.from_bundle.is_some() || self.history.is_some();
        let discovery = if offline {
            DiscoveryArgs {
                no_discover: true,
                discover: false,
                discover_pid: None,
                kubeadm: false,
                manifest: None,
            }
        } else {
            self.discovery
        };
        let (conn, found) = reach(self.conn, &discovery)?;
        let data_dir = found.as_ref().and_then(|k| k.data_dir.clone());
        let (dir, no_disk_reason) = match (self.no_disk, self.dir, data_dir) {
            (true, _, _) => (None, Some("--no-disk".to_string())),
            (false, Some(dir), _) => (Some(dir), None),
            (false, None, Some(data)) => match probe_dir_beside(&data) {
                Ok(dir) => (Some(dir), None),
                Err(why) => (None, Some(why)),
            },
            (false, None, None) => (
                None,
                Some("no --dir and no discovered data dir".to_string()),
            ),
        };
        let (logs, no_logs_reason) = self.logs.into_plan(found.as_ref())?;
        Ok(DiagnosePlan {
            keyspace: self.keyspace.then(LivePlan::default),
            conn,
            views: InspectPlan::everything(interval),
            probes: self.probes.into_plan(
                dir,
                DIAGNOSE_MIN_SPAN,
                found.as_ref().map(|d| &d.settings),
            )?,
            no_disk_reason,
            logs,
            no_logs_reason,
            discovery: found,
            bundle: self.bundle,
            from_bundle: self.from_bundle,
            history: self.history.zip(self.since),
        })
    }
}

/// Where to probe the disk of a data dir: its parent, when that is on the
/// data dir's filesystem (the disk probe makes a fresh temporary directory
/// there, so nothing is ever written into etcd's own directory). A data
/// dir that is the root of its filesystem (a mount point: its parent is
/// on another device) has no place on its disk outside etcd's directory:
/// the reason says so, and `--dir` probes inside it when the operator
/// asks.
pub(crate) fn probe_dir_beside(data_dir: &Path) -> Result<PathBuf, String> {
    let dev = |p: &Path| {
        std::fs::metadata(p)
            .ok()
            .filter(|m| m.is_dir())
            .map(|m| m.dev())
    };
    let Some(data_dev) = dev(data_dir) else {
        return Err(format!(
            "the data dir {} is not on this host",
            data_dir.display()
        ));
    };
    match data_dir.parent() {
        Some(parent) if dev(parent) == Some(data_dev) => Ok(parent.to_path_buf()),
        _ => Err(format!(
            "the data dir {} is the root of its filesystem: the only place on its disk is inside etcd's own directory, which is not written without --dir {0}",
            data_dir.display()
        )),
    }
}

/// Largest `--max-regression`: a tenfold worsening; beyond it nothing
/// would ever regress.
pub const MAX_REGRESSION_PCT: f64 = 1000.0;

/// `compare` arguments.
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// Baseline JSON reports (`-w json` or report.json of `--report`), or
    /// directories of them; without `--current`, exactly BASELINE CURRENT.
    #[arg(value_name = "REPORT", required = true)]
    pub reports: Vec<PathBuf>,
    /// Current JSON report (repeatable); every positional report is then a baseline.
    #[arg(long, value_name = "FILE")]
    pub current: Vec<PathBuf>,
    /// Largest tolerated worsening of a percentile or rate, percent.
    #[arg(long, value_name = "PCT", default_value_t = DEFAULT_MAX_REGRESSION_PCT)]
    pub max_regression: f64,
    /// Exit 1 also when a worsening could not be judged for lack of
    /// baseline runs, blocks or samples ("not enough evidence").
    #[arg(long)]
    pub strict: bool,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// `compare` arguments that cannot make a plan.
#[derive(Debug, Error, PartialEq)]
pub enum CompareArgsError {
    /// `--max-regression` negative, not a number, or past [`MAX_REGRESSION_PCT`].
    #[error("--max-regression must be a percentage from 0 to {MAX_REGRESSION_PCT}, got {0}")]
    MaxRegression(f64),
    /// Neither `--current` nor exactly two positional reports.
    #[error("compare takes BASELINE CURRENT, or BASELINE... --current CURRENT; got {0} report(s) and no --current")]
    Reports(usize),
}

/// What `compare` reads and how it judges.
#[derive(Debug, Clone, PartialEq)]
pub struct CompareRequest {
    /// Baseline report files and directories.
    pub baseline: Vec<PathBuf>,
    /// Current report files.
    pub current: Vec<PathBuf>,
    /// The judging plan.
    pub plan: ComparePlan,
}

impl CompareArgs {
    /// The request and output plan these arguments ask for.
    pub fn into_plans(self) -> Result<(CompareRequest, OutputPlan), CompareArgsError> {
        if !(0.0..=MAX_REGRESSION_PCT).contains(&self.max_regression) {
            return Err(CompareArgsError::MaxRegression(self.max_regression));
        }
        let (baseline, current) = match (self.reports, self.current) {
            (mut two, none) if none.is_empty() && two.len() == 2 => {
                let current = two.pop().into_iter().collect();
                (two, current)
            }
            (reports, none) if none.is_empty() => {
                return Err(CompareArgsError::Reports(reports.len()))
            }
            (reports, current) => (reports, current),
        };
        let request = CompareRequest {
            baseline,
            current,
            plan: ComparePlan {
                max_regression_pct: self.max_regression,
                strict: self.strict,
            },
        };
        Ok((request, self.output.into()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::disk::DiskProbeKind;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Wrap {
        #[command(flatten)]
        args: QualifyArgs,
    }

    fn disk_plan(args: &[&str]) -> DiskPlan {
        let mut argv = vec!["qualify", "--dir", "/d"];
        argv.extend_from_slice(args);
        let plan = Wrap::try_parse_from(argv).unwrap().args.into_plan();
        plan.unwrap().probes.disk.unwrap()
    }

    #[test]
    fn qualify_observes_the_disk_at_etcds_pace_for_its_minimum_span() {
        let d = disk_plan(&[]);
        assert_eq!(d.probes.len(), 4);
        assert_eq!(d.probes.last(), Some(&DiskProbeKind::Paced));
        assert_eq!(d.min_span, Some(QUALIFY_MIN_SPAN));
        assert_eq!(d.stall, StallLevels::default());
        let d = disk_plan(&["--probe", "fsync", "--min-span", "5"]);
        assert_eq!(d.probes, vec![DiskProbeKind::Fsync]);
        assert_eq!(d.min_span, Some(Duration::from_secs(5)));
    }

    #[test]
    fn the_probe_goes_beside_the_data_dir_never_into_it() {
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path().join("etcd");
        std::fs::create_dir(&data).unwrap();
        assert_eq!(probe_dir_beside(&data), Ok(tmp.path().to_path_buf()));
        let gone = probe_dir_beside(&tmp.path().join("missing")).unwrap_err();
        assert!(gone.contains("not on this host"), "{gone}");
        // /proc is a mount point: its parent is on another filesystem.
        let root = probe_dir_beside(Path::new("/proc")).unwrap_err();
        assert!(
            root.contains("root of its filesystem") && root.contains("--dir /proc"),
            "{root}"
        );
        let file = tmp.path().join("f");
        std::fs::write(&file, "x").unwrap();
        assert!(probe_dir_beside(&file).is_err());
    }

    #[test]
    fn qualify_says_what_discovery_found_in_its_own_terms() {
        let e = qualify_discovery_error(DiscoverError::NothingFound.into()).to_string();
        assert!(
            e.contains("no etcd process") && e.contains("pass --dir"),
            "{e}"
        );
        assert!(!e.contains("--endpoints"), "{e}");
        let two = DiscoverError::Ambiguous(vec!["pid 1 (etcd)".into(), "pid 2 (etcd)".into()]);
        let e = qualify_discovery_error(two.into()).to_string();
        assert!(
            e.contains("2 etcd processes") && e.contains("--discover-pid"),
            "{e}"
        );
        assert!(!e.contains("--endpoints"), "{e}");
    }

    #[test]
    fn qualify_without_dir_or_discovery_names_the_flag() {
        let e = Wrap::try_parse_from(["qualify", "--no-discover"])
            .unwrap()
            .args
            .into_plan()
            .unwrap_err()
            .to_string();
        assert!(e.contains("no --dir") && e.contains("--no-discover"), "{e}");
        // A bad flag is named before anything on the host is looked for.
        let e = Wrap::try_parse_from(["qualify", "--profile", "/nonexistent.toml"])
            .unwrap()
            .args
            .into_plan()
            .unwrap_err()
            .to_string();
        assert!(e.contains("/nonexistent.toml"), "{e}");
    }

    #[test]
    fn the_profile_sets_the_stall_levels() {
        let dir = tempfile::tempdir().unwrap();
        let profile = dir.path().join("p.toml");
        std::fs::write(
            &profile,
            "[disk]\nstall_warn_ms = 50.0\nstall_fail_ms = 300.0\n",
        )
        .unwrap();
        let d = disk_plan(&["--profile", profile.to_str().unwrap()]);
        assert_eq!(d.stall.heartbeat, Duration::from_millis(50));
        assert_eq!(d.stall.half_election, Duration::from_millis(300));
    }
}
