//! Rules turn collected facts into findings. Every rule is a pure function
//! over facts and a profile's thresholds; no rule measures or prints.
//! [`evaluate`] runs every rule whose facts the report has and says which
//! ones it checked, so a CI report can list the rules that passed too.

pub mod bounds;
pub mod by;
pub mod cluster;
pub mod consistency;
pub mod context;
pub mod disk;
pub mod explain;
pub mod fleet;
pub mod host;
pub mod keyspace;
pub mod load;
pub mod logs;
pub mod net;
pub mod profile;
pub mod remote_disk;
pub mod requests;
pub mod run;
pub mod settings;
pub mod stall;
pub mod starved;
pub mod version_skew;

pub use crate::findings::registry::{self, ids, Fact, Rule, RULES};
pub use crate::findings::{Evidence, Finding, FindingId, Severity, Unit, Verdict};
pub use context::Context;
pub use profile::{Profile, ProfileError};

use crate::facts::Report;
use crate::fleet::FleetReport;
use crate::host::HostFacts;

impl Report {
    /// Runs the rules over this report's facts with `profile`: fills in the
    /// findings, the rules checked and the verdict.
    pub fn judge(&mut self, profile: &Profile) {
        let evaluation = evaluate(&Context::new(self, profile));
        self.profile = Some(profile.name.clone());
        self.verdict = Verdict::from_findings(&evaluation.findings);
        self.findings = evaluation.findings;
        self.rules_checked = evaluation.checked;
    }
}

impl FleetReport {
    /// Runs the fleet rules over this merged report with `profile`: its
    /// findings, and a verdict no better than its worst host's.
    pub fn judge(&mut self, profile: &Profile) {
        let empty = Report::new("merge", HostFacts::default());
        let evaluation = evaluate(&Context::fleet(self, &empty, profile));
        self.verdict = self
            .verdict
            .max(Verdict::from_findings(&evaluation.findings));
        self.findings = evaluation.findings;
    }
}

/// The outcome of running the rules over one report.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    /// Findings, most severe first.
    pub findings: Vec<Finding>,
    /// Every rule that had the facts it needs, whether it found something or not.
    pub checked: Vec<FindingId>,
}

/// A rule function: the findings it gives over one context.
pub type RuleFn = fn(&Context) -> Vec<Finding>;

/// One pair of a registry line: the id, a rule function that gives it and
/// the facts that function needs for it.
#[derive(Clone, Copy)]
pub struct Use {
    /// The finding id.
    pub id: FindingId,
    /// The rule function's name, as the registry writes it.
    pub name: &'static str,
    /// The rule function.
    pub rule: RuleFn,
    /// It runs when any of these facts was collected.
    pub needs: &'static [Fact],
}

/// Writes [`USES`] and the [`Gives`](crate::findings::emit::Gives) impls from the registry's lines.
macro_rules! uses {
    ($($variant:ident $id:literal [$($sev:ident),+] { $($by:ident [$($need:ident),+]),+ }
        $doc:literal;)+) => {
        /// Every (id, rule function) pair of the registry, in its order: an
        /// id's pairs are together, in the id's order.
        pub const USES: &[Use] = &[$($(
            Use {
                id: FindingId::$variant,
                name: stringify!($by),
                rule: run::$by,
                needs: &[$(Fact::$need),+],
            },
        )+)+];

        $($(impl crate::findings::emit::Gives<ids::$variant> for by::$by {})+)+
    };
}
registry::registry!(uses);

/// Runs every rule function whose facts `cx` holds, once, then the
/// explain passes ([`explain::PASSES`]), and sorts the findings: most
/// severe first, then in the registry's order of (id, rule function).
/// A rule function builds its findings through its [`Emit`](crate::findings::emit::Emit), so each
/// finding has its (id, function) pair in [`USES`].
pub fn evaluate(cx: &Context) -> Evaluation {
    let mut ran: Vec<&str> = Vec::new();
    let mut ranked: Vec<(usize, Finding)> = Vec::new();
    for u in USES.iter().filter(|u| cx.has_any(u.needs)) {
        if ran.contains(&u.name) {
            continue;
        }
        ran.push(u.name);
        for f in (u.rule)(cx) {
            let rank = USES.iter().position(|v| v.id == f.id && v.name == u.name);
            ranked.push((rank.unwrap_or(usize::MAX), f));
        }
    }
    let (ranks, mut findings): (Vec<usize>, Vec<Finding>) = ranked.into_iter().unzip();
    for pass in explain::PASSES {
        pass(cx, &mut findings);
    }
    let mut ranked: Vec<(usize, Finding)> = ranks.into_iter().zip(findings).collect();
    ranked.sort_by(|(ra, a), (rb, b)| b.severity.cmp(&a.severity).then(ra.cmp(rb)));
    Evaluation {
        findings: ranked.into_iter().map(|(_, f)| f).collect(),
        checked: registry::checked(&cx.have),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_without_facts_runs_and_checks_nothing() {
        let report = Report::new("disk", HostFacts::default());
        let profile = Profile::default();
        let e = evaluate(&Context::new(&report, &profile));
        assert!(e.findings.is_empty() && e.checked.is_empty(), "{e:?}");
    }

    #[test]
    fn a_fleet_runs_only_the_fleet_rules() {
        let empty = Report::new("merge", HostFacts::default());
        let fleet = FleetReport {
            schema_version: 1,
            tool_version: String::new(),
            command: "merge".into(),
            profile: "etcd-default".into(),
            hosts: vec![],
            disk: vec![],
            paths: vec![],
            findings: vec![],
            notes: vec![],
            verdict: Verdict::Pass,
        };
        let profile = Profile::default();
        let e = evaluate(&Context::fleet(&fleet, &empty, &profile));
        assert!(e.findings.is_empty());
        assert_eq!(
            e.checked,
            [FindingId::FleetDiskOutlier, FindingId::FleetPathOutlier]
        );
    }
}
