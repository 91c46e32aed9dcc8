//! `etcd-doctor qualify`, `diagnose` and `compare` arguments, and the rule
//! options they share, converted at once into a [`JudgePlan`].

use std::path::PathBuf;

use clap::{Args, ValueEnum};
use thiserror::Error;

use super::cluster::ConnArgs;
use super::disk::DiskRunArgs;
use super::output::OutputArgs;
use crate::compare::{ComparePlan, DEFAULT_MAX_REGRESSION_PCT};
use crate::report::OutputPlan;
use crate::rules::{Profile, ProfileError, Severity};

/// `--fail-on` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailOnArg {
    /// Exit 1 on a WARN or FAIL finding.
    Warn,
    /// Exit 1 on a FAIL finding only.
    Fail,
}

/// Rule options shared by `qualify` and `diagnose`.
#[derive(Debug, Clone, Args)]
pub struct JudgeArgs {
    /// Threshold profile: etcd-default, kubernetes-large, cloud-essd, or a TOML file.
    #[arg(long, value_name = "NAME|FILE", default_value = "etcd-default")]
    pub profile: String,
    /// Lowest finding severity that makes the exit code 1.
    #[arg(long, value_enum, default_value = "fail")]
    pub fail_on: FailOnArg,
    /// Also write report.json, report.md, report.html, report.prom and junit.xml into DIR.
    #[arg(long, value_name = "DIR")]
    pub report: Option<PathBuf>,
}

/// How findings are judged and where the report bundle goes.
#[derive(Debug, Clone, PartialEq)]
pub struct JudgePlan {
    /// Thresholds.
    pub profile: Profile,
    /// Lowest severity that fails the command (exit 1).
    pub fail_on: Severity,
    /// Directory for the report bundle.
    pub report_dir: Option<PathBuf>,
}

impl JudgeArgs {
    /// Loads the profile; an unknown or malformed one names the key.
    pub fn into_plan(self) -> Result<JudgePlan, ProfileError> {
        Ok(JudgePlan {
            profile: Profile::load(&self.profile)?,
            fail_on: match self.fail_on {
                FailOnArg::Warn => Severity::Warn,
                FailOnArg::Fail => Severity::Fail,
            },
            report_dir: self.report,
        })
    }
}

/// `qualify` arguments.
#[derive(Debug, Args)]
pub struct QualifyArgs {
    /// Directory whose disk is qualified (the etcd data dir, or where it will be).
    #[arg(long, value_name = "DIR")]
    pub dir: PathBuf,
    #[command(flatten)]
    pub disk: DiskRunArgs,
    #[command(flatten)]
    pub judge: JudgeArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// `diagnose` arguments.
#[derive(Debug, Args)]
pub struct DiagnoseArgs {
    #[command(flatten)]
    pub conn: ConnArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// `compare` arguments.
#[derive(Debug, Args)]
pub struct CompareArgs {
    /// Baseline JSON report (`-w json` or report.json of `--report`).
    pub baseline: PathBuf,
    /// Current JSON report.
    pub current: PathBuf,
    /// Largest tolerated worsening of a percentile or rate, percent.
    #[arg(long, value_name = "PCT", default_value_t = DEFAULT_MAX_REGRESSION_PCT)]
    pub max_regression: f64,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// `compare` arguments that cannot make a plan.
#[derive(Debug, Error, PartialEq)]
pub enum CompareArgsError {
    /// `--max-regression` negative or not a number.
    #[error("--max-regression must be a percentage of 0 or more, got {0}")]
    MaxRegression(f64),
}

/// What `compare` reads and how it judges.
#[derive(Debug, Clone, PartialEq)]
pub struct CompareRequest {
    /// Baseline report file.
    pub baseline: PathBuf,
    /// Current report file.
    pub current: PathBuf,
    /// The judging plan.
    pub plan: ComparePlan,
}

impl CompareArgs {
    /// The request and output plan these arguments ask for.
    pub fn into_plans(self) -> Result<(CompareRequest, OutputPlan), CompareArgsError> {
        if !(self.max_regression >= 0.0 && self.max_regression.is_finite()) {
            return Err(CompareArgsError::MaxRegression(self.max_regression));
        }
        let request = CompareRequest {
            baseline: self.baseline,
            current: self.current,
            plan: ComparePlan {
                max_regression_pct: self.max_regression,
            },
        };
        Ok((request, self.output.into()))
    }
}
