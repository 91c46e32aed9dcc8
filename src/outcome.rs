//! How a command ended, and its exit code: one mapping for every
//! command (0 healthy, 1 findings at `--fail-on`, 2 could not run).

use std::process::ExitCode;

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
    /// [`crate::findings::Verdict::fails_at`]; a regression; an unhealthy
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
