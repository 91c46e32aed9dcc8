//! `etcd-doctor disk` arguments and their conversion into a
//! [`DiskPlan`](crate::probe::disk::DiskPlan).

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, ValueEnum};
use thiserror::Error;

use super::duration::parse_duration;
use super::output::OutputArgs;
use crate::probe::disk::paced::MAX_RATE_PER_S;
use crate::probe::disk::{DiskPlan, DiskProbeKind, EngineKind, StopRule, MAX_MIN_SPAN};
use crate::report::OutputPlan;

/// Most `--ops` accepted: a million fsyncs take 20 minutes to an hour.
pub const MAX_OPS: u64 = 1_000_000;
/// Longest `--duration` accepted, seconds.
pub const MAX_DURATION_SECS: f64 = 3600.0;

/// `--probe` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ProbeArg {
    /// fio's etcd test: 2300-byte writes, each followed by fdatasync.
    Fsync,
    /// etcd-WAL-like framed records, batched fdatasync, segment cuts.
    Wal,
    /// bbolt-commit-like random page writes, fdatasync, meta page, fdatasync.
    Backend,
    /// 2300-byte appends with fdatasync at etcd's pace (--rate), latency from the scheduled time.
    Paced,
}

/// `--engine` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum EngineArg {
    /// pwrite + fdatasync, as etcd issues them.
    Sync,
    /// io_uring with write and fdatasync linked.
    Uring,
}

/// `disk` arguments.
#[derive(Debug, Args)]
pub struct DiskArgs {
    /// Directory whose disk is probed (a fresh temporary directory is made inside it).
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,
    #[command(flatten)]
    pub run: DiskRunArgs,
    /// Run the probes N times, one after another (a baseline set for `compare`).
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = repeat_range())]
    pub repeat: u32,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// Most `--repeat` runs.
pub const MAX_REPEAT: u32 = 100;

/// `--repeat`: 1 to [`MAX_REPEAT`].
pub fn repeat_range() -> clap::builder::RangedI64ValueParser<u32> {
    clap::value_parser!(u32).range(1..=i64::from(MAX_REPEAT))
}

/// How the disk probes run; shared by `disk`, `qualify` and `diagnose`.
#[derive(Debug, Clone, Args)]
pub struct DiskRunArgs {
    /// Disk probes to run, comma-separated [default: fsync,wal,backend; qualify and diagnose add paced].
    #[arg(long, value_enum, value_delimiter = ',')]
    pub probe: Option<Vec<ProbeArg>>,
    /// IO engine.
    #[arg(long, value_enum, default_value = "sync")]
    pub engine: EngineArg,
    /// Stop each probe after N operations (default: stop once p99 is stable).
    #[arg(long, value_name = "N", conflicts_with = "duration")]
    pub ops: Option<u64>,
    /// Run each probe for DURATION (Go duration or seconds: 10s, 1m, 10) (default: stop once p99 is stable).
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Writes per second of the paced probe [default: 100, a busy cluster's WAL sync rate].
    #[arg(long, value_name = "N")]
    pub rate: Option<u32>,
    /// Least time the disk is observed: the paced probe's length, Go duration or seconds [default: qualify 30s, diagnose 3s, disk 10s].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub min_span: Option<Duration>,
}

/// `disk` arguments that cannot make a plan; each names its flag.
#[derive(Debug, Error, PartialEq)]
pub enum DiskArgsError {
    /// `--ops` not in 1..=[`MAX_OPS`].
    #[error("--ops must be 1 to {MAX_OPS}, got {0}")]
    Ops(u64),
    /// `--duration` not in (0, 3600].
    #[error("--duration must be more than 0 and at most {MAX_DURATION_SECS} seconds, got {0}")]
    Duration(f64),
    /// `--probe fsync,fsync`.
    #[error("--probe lists {0} more than once")]
    DuplicateProbe(&'static str),
    /// `--rate` not in 1..=10000.
    #[error("--rate must be 1 to {MAX_RATE_PER_S} writes per second, got {0}")]
    Rate(u32),
    /// `--min-span` not in (0, 3600].
    #[error("--min-span must be more than 0 and at most {max} seconds, got {0}", max = MAX_MIN_SPAN.as_secs())]
    MinSpan(f64),
}

impl DiskArgs {
    /// The run plan, the number of runs and the output plan these
    /// arguments ask for.
    pub fn into_plans(self) -> Result<(DiskPlan, u32, OutputPlan), DiskArgsError> {
        Ok((
            self.run.into_plan(DiskPlan::quick(self.dir))?,
            self.repeat,
            self.output.into(),
        ))
    }
}

impl DiskRunArgs {
    /// `base` (the command's default plan) changed by these flags.
    pub fn into_plan(self, base: DiskPlan) -> Result<DiskPlan, DiskArgsError> {
        let mut plan = base;
        if let Some(probes) = self.probe {
            plan.probes = Vec::with_capacity(probes.len());
            for p in probes {
                let kind = match p {
                    ProbeArg::Fsync => DiskProbeKind::Fsync,
                    ProbeArg::Wal => DiskProbeKind::Wal,
                    ProbeArg::Backend => DiskProbeKind::Backend,
                    ProbeArg::Paced => DiskProbeKind::Paced,
                };
                if plan.probes.contains(&kind) {
                    return Err(DiskArgsError::DuplicateProbe(kind.as_str()));
                }
                plan.probes.push(kind);
            }
        }
        plan.engine = match self.engine {
            EngineArg::Sync => EngineKind::Sync,
            EngineArg::Uring => EngineKind::Uring,
        };
        if let Some(n) = self.ops {
            if !(1..=MAX_OPS).contains(&n) {
                return Err(DiskArgsError::Ops(n));
            }
            plan.stop = StopRule::Ops(n);
        }
        if let Some(d) = self.duration {
            if d.is_zero() || d.as_secs_f64() > MAX_DURATION_SECS {
                return Err(DiskArgsError::Duration(d.as_secs_f64()));
            }
            plan.stop = StopRule::Duration(d);
        }
        if let Some(rate) = self.rate {
            if !(1..=MAX_RATE_PER_S).contains(&rate) {
                return Err(DiskArgsError::Rate(rate));
            }
            plan.rate_per_s = rate;
        }
        if let Some(d) = self.min_span {
            if d.is_zero() || d > MAX_MIN_SPAN {
                return Err(DiskArgsError::MinSpan(d.as_secs_f64()));
            }
            plan.min_span = Some(d);
        }
        Ok(plan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Wrap {
        #[command(flatten)]
        args: DiskArgs,
    }

    /// The plans of `disk --dir /d ARGS`, or the error (clap's or ours).
    fn parse(args: &[&str]) -> Result<(DiskPlan, u32, OutputPlan), String> {
        let mut argv = vec!["disk", "--dir", "/d"];
        argv.extend_from_slice(args);
        let wrap = Wrap::try_parse_from(argv).map_err(|e| e.to_string())?;
        wrap.args.into_plans().map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_are_the_quick_plan() {
        let (plan, _, _) = parse(&[]).unwrap();
        assert_eq!(plan, DiskPlan::quick(PathBuf::from("/d")));
    }

    #[test]
    fn flags_shape_the_plan() {
        let (plan, _, _) =
            parse(&["--probe", "wal,fsync", "--engine", "uring", "--ops", "7"]).unwrap();
        assert_eq!(plan.probes, vec![DiskProbeKind::Wal, DiskProbeKind::Fsync]);
        assert_eq!(plan.engine, EngineKind::Uring);
        assert_eq!(plan.stop, StopRule::Ops(7));
        let (plan, _, _) = parse(&["--duration", "1.5"]).unwrap();
        assert_eq!(plan.stop, StopRule::Duration(Duration::from_millis(1500)));
        let (plan, _, _) = parse(&["--duration", "1m30s"]).unwrap();
        assert_eq!(plan.stop, StopRule::Duration(Duration::from_secs(90)));
        let (plan, _, _) = parse(&["--min-span", "1.5m"]).unwrap();
        assert_eq!(plan.min_span, Some(Duration::from_secs(90)));
        let (plan, _, _) =
            parse(&["--probe", "paced", "--rate", "250", "--min-span", "4"]).unwrap();
        assert_eq!(plan.probes, vec![DiskProbeKind::Paced]);
        assert_eq!(plan.rate_per_s, 250);
        assert_eq!(plan.min_span, Some(Duration::from_secs(4)));
    }

    #[test]
    fn bad_values_name_the_flag() {
        let msg = |a: &[&str]| parse(a).unwrap_err();
        assert!(msg(&["--ops", "0"]).starts_with("--ops "));
        assert!(msg(&["--ops", "18446744073709551615"]).starts_with("--ops "));
        assert!(msg(&["--duration", "0"]).starts_with("--duration "));
        assert!(msg(&["--duration=-3"]).contains("'--duration <DURATION>'"));
        assert!(msg(&["--duration", "NaN"]).contains("'--duration <DURATION>'"));
        assert!(msg(&["--duration", "2h"]).starts_with("--duration "));
        assert!(msg(&["--duration", "7200"]).starts_with("--duration "));
        assert!(msg(&["--probe", "fsync,wal,fsync"]).starts_with("--probe "));
        assert!(msg(&["--rate", "0"]).starts_with("--rate "));
        assert!(msg(&["--rate", "20000"]).starts_with("--rate "));
        assert!(msg(&["--min-span", "0"]).starts_with("--min-span "));
        assert!(msg(&["--min-span", "NaN"]).contains("'--min-span <DURATION>'"));
        assert!(msg(&["--min-span", "4000"]).starts_with("--min-span "));
    }

    #[test]
    fn repeat_is_bounded() {
        assert_eq!(parse(&["--repeat", "5"]).unwrap().1, 5);
        assert_eq!(parse(&[]).unwrap().1, 1);
        for bad in ["0", "101", "-1", "x"] {
            let err = Wrap::try_parse_from(["disk", "--dir", "/d", &format!("--repeat={bad}")])
                .unwrap_err()
                .to_string();
            assert!(err.contains("--repeat"), "{err}");
        }
    }

    #[test]
    fn ops_and_duration_conflict() {
        let err = Wrap::try_parse_from(["disk", "--dir", "/d", "--ops", "5", "--duration", "1"])
            .unwrap_err()
            .to_string();
        assert!(err.contains("--ops") && err.contains("--duration"), "{err}");
    }
}
