//! Typed findings: what a rule concluded, how sure (severity), the evidence
//! (observed vs threshold) and the fix, with commands where there are some.
//! Ids and severities come from the rule registry.

use serde::{Deserialize, Serialize};

pub use super::registry::{FindingId, Severity};

/// One measured fact behind a finding: what was observed against which threshold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// What was measured, e.g. `fsync p99 (fio etcd test)`.
    pub metric: String,
    /// The observed value, in `unit`.
    pub observed: f64,
    /// The threshold it was compared with, in `unit`.
    pub threshold: f64,
    /// Unit of `observed` and `threshold`, e.g. `ms`, `%`, `bytes`.
    pub unit: String,
}

impl Evidence {
    /// `metric` observed at `observed` against `threshold`, both in `unit`.
    pub fn new(metric: impl Into<String>, observed: f64, threshold: f64, unit: &str) -> Evidence {
        Evidence {
            metric: metric.into(),
            observed,
            threshold,
            unit: unit.to_string(),
        }
    }
}

/// A rule's conclusion, carrying the fix.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// Stable id, e.g. `disk.fsync-slow`.
    pub id: FindingId,
    /// How serious it is.
    pub severity: Severity,
    /// One sentence: what is wrong, with the key number.
    pub summary: String,
    /// The measurements behind it.
    pub evidence: Vec<Evidence>,
    /// What to change, in the operator's terms.
    pub recommendation: String,
    /// Concrete commands to run, where there are some.
    #[serde(default)]
    pub commands: Vec<String>,
}

/// The overall verdict of a report: the most severe finding decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Pass,
    Warn,
    Fail,
}

impl Verdict {
    /// The verdict implied by a set of findings (info findings do not count).
    pub fn from_findings(findings: &[Finding]) -> Verdict {
        match findings.iter().map(|f| f.severity).max() {
            Some(Severity::Fail) => Verdict::Fail,
            Some(Severity::Warn) => Verdict::Warn,
            Some(Severity::Info) | None => Verdict::Pass,
        }
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Verdict::Pass => "PASS",
            Verdict::Warn => "WARN",
            Verdict::Fail => "FAIL",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(severity: Severity) -> Finding {
        Finding {
            id: FindingId::DiskFsyncSlow,
            severity,
            summary: String::new(),
            evidence: vec![],
            recommendation: String::new(),
            commands: vec![],
        }
    }

    #[test]
    fn verdict_follows_most_severe_finding() {
        assert_eq!(Verdict::from_findings(&[]), Verdict::Pass);
        assert_eq!(
            Verdict::from_findings(&[finding(Severity::Info)]),
            Verdict::Pass
        );
        assert_eq!(
            Verdict::from_findings(&[finding(Severity::Info), finding(Severity::Warn)]),
            Verdict::Warn
        );
        assert_eq!(
            Verdict::from_findings(&[finding(Severity::Fail), finding(Severity::Warn)]),
            Verdict::Fail
        );
    }
}
