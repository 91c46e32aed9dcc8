//! Typed findings: what a rule concluded, how sure (severity), the evidence
//! (observed vs threshold) and the fix, with commands where there are some.
//! Ids and severities come from the rule registry. Rules write findings,
//! reports carry them and renderers print them; this module depends on
//! none of those.

pub mod emit;
pub mod registry;

use serde::{Deserialize, Serialize};

pub use registry::{Fact, FindingId, Rule, Severity, RULES};

/// One measured fact behind a finding: what was observed against which threshold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Evidence {
    /// What was measured, e.g. `fsync p99 (fio etcd test)`.
    pub metric: String,
    /// The observed value, in `unit`.
    pub observed: f64,
    /// The threshold it was compared with, in `unit`.
    pub threshold: f64,
    /// Unit of `observed` and `threshold`, e.g. `ms`, `%`, `entries`.
    pub unit: Unit,
}

/// The unit of an evidence's numbers, written in JSON as its symbol
/// (`"ms"`, `"%"`, ...; no unit is `""`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
pub enum Unit {
    /// Milliseconds.
    #[serde(rename = "ms")]
    Ms,
    /// Mebibytes.
    #[serde(rename = "MiB")]
    Mib,
    /// Percent.
    #[serde(rename = "%")]
    Percent,
    /// A multiple of the threshold's quantity (`x`).
    #[serde(rename = "x")]
    Times,
    /// A plain ratio.
    #[serde(rename = "ratio")]
    Ratio,
    /// Raft log entries.
    #[serde(rename = "entries")]
    Entries,
    /// Cluster members.
    #[serde(rename = "members")]
    Members,
    /// Revisions of a key.
    #[serde(rename = "revisions")]
    Revisions,
    /// Leader elections.
    #[serde(rename = "elections")]
    Elections,
    /// Client requests.
    #[serde(rename = "requests")]
    Requests,
    /// Log lines.
    #[serde(rename = "lines")]
    Lines,
    /// Cluster endpoints.
    #[serde(rename = "endpoints")]
    Endpoints,
    /// Leader changes.
    #[serde(rename = "changes")]
    Changes,
    /// Raft proposals.
    #[serde(rename = "proposals")]
    Proposals,
    /// Active alarms.
    #[serde(rename = "alarms")]
    Alarms,
    /// Distinct versions.
    #[serde(rename = "versions")]
    Versions,
    /// Mebibytes per second.
    #[serde(rename = "MiB/s")]
    MibPerSec,
    /// System calls per second.
    #[serde(rename = "calls/s")]
    CallsPerSec,
    /// Device writes per second.
    #[serde(rename = "writes/s")]
    WritesPerSec,
    /// Network packets.
    #[serde(rename = "packets")]
    Packets,
    /// A count of events.
    #[serde(rename = "count")]
    Count,
    /// Megabits per second.
    #[serde(rename = "Mbit/s")]
    MbitPerSec,
    /// A count or flag without a unit.
    #[serde(rename = "")]
    None,
}

impl Unit {
    /// The symbol written after a number (empty for [`Unit::None`]).
    pub fn as_str(self) -> &'static str {
        match self {
            Unit::Ms => "ms",
            Unit::Mib => "MiB",
            Unit::Percent => "%",
            Unit::Times => "x",
            Unit::Ratio => "ratio",
            Unit::Entries => "entries",
            Unit::Members => "members",
            Unit::Revisions => "revisions",
            Unit::Elections => "elections",
            Unit::Requests => "requests",
            Unit::Lines => "lines",
            Unit::Endpoints => "endpoints",
            Unit::Changes => "changes",
            Unit::Proposals => "proposals",
            Unit::Alarms => "alarms",
            Unit::Versions => "versions",
            Unit::MibPerSec => "MiB/s",
            Unit::CallsPerSec => "calls/s",
            Unit::WritesPerSec => "writes/s",
            Unit::Packets => "packets",
            Unit::Count => "count",
            Unit::MbitPerSec => "Mbit/s",
            Unit::None => "",
        }
    }
}

impl std::fmt::Display for Unit {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Evidence {
    /// `metric` observed at `observed` against `threshold`, both in `unit`.
    pub fn new(metric: impl Into<String>, observed: f64, threshold: f64, unit: Unit) -> Evidence {
        Evidence {
            metric: metric.into(),
            observed,
            threshold,
            unit,
        }
    }
}

/// A rule's conclusion, carrying the fix.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
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
    /// Keeps struct literals out: code builds a finding through
    /// [`emit::Emit`], which checks its id against the registry.
    #[serde(skip)]
    #[schemars(skip)]
    sealed: Sealed,
}

/// The type of [`Finding`]'s private field: nameable only here.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
struct Sealed;

/// A finding without its id: what a rule says, handed to
/// [`emit::Emit::finding`] with the id's token.
#[derive(Debug, Clone, PartialEq)]
pub struct Draft {
    /// How serious it is.
    pub severity: Severity,
    /// One sentence: what is wrong, with the key number.
    pub summary: String,
    /// The measurements behind it.
    pub evidence: Vec<Evidence>,
    /// What to change, in the operator's terms.
    pub recommendation: String,
    /// Concrete commands to run, where there are some.
    pub commands: Vec<String>,
}

impl Default for Draft {
    /// An empty info finding, to fill in.
    fn default() -> Draft {
        Draft {
            severity: Severity::Info,
            summary: String::new(),
            evidence: Vec::new(),
            recommendation: String::new(),
            commands: Vec::new(),
        }
    }
}

/// `wanted` when `list` holds it, else the most severe listed below it,
/// else the least severe listed (a registry line lists at least one).
fn listed(list: &[Severity], wanted: Severity) -> Severity {
    let below = list.iter().copied().filter(|&s| s <= wanted).max();
    below
        .or_else(|| list.iter().copied().min())
        .unwrap_or(wanted)
}

impl Finding {
    /// `draft` with `id`; only [`emit`] calls it, with a checked id. Its
    /// severity is one the id's registry line lists ([`listed`]): what a
    /// rule gives can never disagree with docs/findings.md.
    fn with_id(id: FindingId, draft: Draft) -> Finding {
        let Draft {
            severity,
            summary,
            evidence,
            recommendation,
            commands,
        } = draft;
        Finding {
            id,
            severity: listed(id.rule().severities, severity),
            summary,
            evidence,
            recommendation,
            commands,
            sealed: Sealed,
        }
    }

    /// `draft` with any `id`, unchecked: for tests that need a finding of
    /// an id no rule function of theirs gives.
    #[cfg(test)]
    pub(crate) fn unchecked(id: FindingId, draft: Draft) -> Finding {
        Finding::with_id(id, draft)
    }

    /// Drops the finding to info, its summary saying which cause explains
    /// it (one cause, one finding).
    pub fn mark_explained(&mut self, by: &str) {
        self.severity = Severity::Info;
        self.summary = format!("{}; explained: {by}", self.summary);
    }
}

/// True when `findings` hold `id` at warn or fail: a cause other rules
/// weigh (and may explain their own findings by) only when it was found.
pub fn warns(findings: &[Finding], id: FindingId) -> bool {
    findings
        .iter()
        .any(|f| f.id == id && f.severity >= Severity::Warn)
}

/// Most severe first; ties in id order (the registry's), so output is
/// stable. The rules' own lists and a report's findings are sorted so.
pub fn sort(findings: &mut [Finding]) {
    findings.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.id.cmp(&b.id)));
}

/// The overall verdict of a report: the most severe finding decides.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
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

    /// Whether this verdict fails a command run with `--fail-on fail_on`
    /// (`warn` or `fail`): the one rule from findings to exit 1, for host
    /// reports and fleet reports alike.
    pub fn fails_at(self, fail_on: Severity) -> bool {
        match self {
            Verdict::Fail => true,
            Verdict::Warn => fail_on <= Severity::Warn,
            Verdict::Pass => false,
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
            sealed: Sealed,
        }
    }

    #[test]
    fn a_rule_gives_only_severities_its_line_lists() {
        use Severity::*;
        assert_eq!(listed(&[Info, Warn, Fail], Warn), Warn);
        assert_eq!(listed(&[Warn, Fail], Info), Warn);
        assert_eq!(listed(&[Info, Warn], Fail), Warn);
        assert_eq!(listed(&[Info, Fail], Warn), Info);
        for u in crate::rules::USES {
            for s in [Info, Warn, Fail] {
                assert!(u
                    .id
                    .rule()
                    .severities
                    .contains(&listed(u.id.rule().severities, s)));
            }
        }
    }

    #[test]
    fn units_are_written_as_their_symbols() {
        for u in [
            Unit::Ms,
            Unit::Percent,
            Unit::MibPerSec,
            Unit::Requests,
            Unit::Count,
            Unit::None,
        ] {
            let json = serde_json::to_string(&u).unwrap();
            assert_eq!(json, format!("\"{}\"", u.as_str()));
            assert_eq!(serde_json::from_str::<Unit>(&json).unwrap(), u);
        }
        assert!(serde_json::from_str::<Unit>("\"furlongs\"").is_err());
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
