//! etcd-doctor: qualifies hosts for etcd, diagnoses live etcd clusters and
//! catches performance regressions in CI.
//!
//! Data flows one way: command-line arguments become typed plans
//! ([`cli`]), plans drive probes and collectors ([`probe`], [`host`],
//! [`cluster`]), which produce serde facts gathered in a [`facts::Report`];
//! rules ([`rules`]) turn facts into findings ([`findings`]); renderers ([`report`]) write
//! finished reports to any `io::Write`. Probes never print; renderers never
//! measure.

pub mod app;
pub mod archive;
pub mod cli;
pub mod cluster;
pub mod compare;
pub mod contract;
pub mod discover;
pub mod facts;
pub mod files;
pub mod findings;
pub mod fleet;
pub mod fuzzing;
pub mod host;
pub mod interrupt;
pub mod keyspace;
pub mod load;
pub mod logs;
pub mod measure;
pub mod probe;
pub mod progress;
pub mod report;
pub mod rules;
pub mod snapshot;
pub mod text;
pub mod watch;

use std::process::ExitCode;

pub use app::run;

/// How a command ended, mapped to the process exit code CI scripts rely on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Healthy / pass: exit 0.
    Healthy,
    /// Findings at or above the failing severity: exit 1.
    Findings,
    /// The tool itself could not run (bad input, unreachable, permission): exit 2.
    CouldNotRun,
}

impl Outcome {
    /// The outcome of a command that ran: [`Outcome::Findings`] when its
    /// judgement failed (findings at `--fail-on`, see
    /// [`findings::Verdict::fails_at`]; a regression; an unhealthy
    /// endpoint), else [`Outcome::Healthy`]. Every command maps its result
    /// to an exit code through this one function.
    pub fn judged(failing: bool) -> Outcome {
        if failing {
            Outcome::Findings
        } else {
            Outcome::Healthy
        }
    }

    /// The process exit code for this outcome.
    pub fn exit_code(self) -> ExitCode {
        ExitCode::from(match self {
            Outcome::Healthy => 0,
            Outcome::Findings => 1,
            Outcome::CouldNotRun => 2,
        })
    }
}
