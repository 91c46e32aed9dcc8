//! The rule options every judging command shares (`--profile`,
//! `--fail-on`, `--report`), converted at once into a [`JudgePlan`].

use std::path::PathBuf;

use clap::{Args, ValueEnum};

use crate::rules::{Profile, ProfileError, Severity};

/// `--fail-on` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailOnArg {
    /// Exit 1 on a WARN or FAIL finding.
    Warn,
    /// Exit 1 on a FAIL finding only.
    Fail,
}

/// Rule options shared by every command that judges findings.
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
