//! Which member to rebuild from. The field guide leaves it to the operator;
//! the right answer is the member whose data is the most recent and still
//! agrees with the others: the highest applied index (then revision) among
//! the members that answer, leaving out any member whose HashKV differs
//! from the majority's or that has an active CORRUPT alarm. `--from NAME`
//! overrides. When no member answers, the runbook reads each stopped
//! member's db file instead (`etcd-doctor snapshot inspect-db`), so the
//! operator compares consistent indexes before anything is forced.

use crate::cluster::model::ClusterReport;
use crate::member::AlarmKind;

use super::model::{position_of, PlanMember, Runbook, UnknownMember};
use super::steps::{step, var};

/// What the live cluster says about one member.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Candidate {
    /// Member name.
    pub name: String,
    /// Raft applied index, when it answered.
    pub applied_index: Option<u64>,
    /// Key-value revision, when it answered.
    pub revision: Option<u64>,
    /// Why it may not be the source (hash differs, CORRUPT alarm), if so.
    pub excluded: Option<String>,
    /// Why it did not answer, if it did not.
    pub error: Option<String>,
}

/// How the source member was chosen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceChoice {
    /// From live facts: the member and the reasoning, with the numbers.
    Live {
        /// The chosen member's name.
        name: String,
        /// One sentence: why it, with every member's numbers.
        why: String,
    },
    /// `--from NAME`.
    Given(String),
    /// Nothing answered (or no member qualifies): read the db files.
    Offline {
        /// Why no member could be chosen live.
        why: String,
    },
}

/// Every listed member of `report` as a candidate: its raft position from
/// the consistency check (matched by id, else by client URL), excluded when
/// its hash differs or a CORRUPT alarm names it.
pub fn candidates(report: &ClusterReport) -> Vec<Candidate> {
    let rows = report.consistency.as_ref().map_or(&[][..], |c| &c.members);
    report
        .members
        .iter()
        .map(|m| {
            let row = rows.iter().find(|r| {
                r.status.id.as_ref() == Some(&m.id) || m.client_urls.contains(&r.status.endpoint)
            });
            let answered = row.filter(|r| r.status.id.as_ref() == Some(&m.id));
            let differs = report
                .consistency
                .as_ref()
                .is_some_and(|c| c.differing.iter().any(|d| m.id == d.as_str()));
            let corrupt = report
                .alarms
                .iter()
                .any(|a| a.member_id == m.id && a.alarm == AlarmKind::Corrupt);
            let excluded = if differs {
                Some("its HashKV differs from the majority's".to_string())
            } else if corrupt {
                Some("a CORRUPT alarm is active on it".to_string())
            } else {
                None
            };
            Candidate {
                name: m.name.clone(),
                applied_index: answered.and_then(|r| r.status.raft_applied_index),
                revision: answered.and_then(|r| r.status.revision),
                excluded,
                error: match answered {
                    Some(_) => None,
                    None => Some(
                        row.and_then(|r| r.error.clone())
                            .unwrap_or_else(|| "not asked".into()),
                    ),
                },
            }
        })
        .collect()
}

fn numbers(c: &Candidate) -> String {
    match (&c.error, c.applied_index) {
        (_, Some(applied)) => format!(
            "{} applied index {applied}, revision {}",
            c.name,
            c.revision.map_or_else(|| "?".into(), |r| r.to_string())
        ),
        (Some(e), None) => format!("{} did not answer ({e})", c.name),
        (None, None) => format!("{} did not answer", c.name),
    }
}

/// Picks the source from `candidates`, or takes `from`.
pub fn choose(candidates: &[Candidate], from: Option<&str>) -> SourceChoice {
    if let Some(name) = from {
        return SourceChoice::Given(name.to_string());
    }
    let best = candidates
        .iter()
        .filter(|c| c.excluded.is_none() && c.applied_index.is_some())
        .max_by(|a, b| {
            (a.applied_index, a.revision)
                .cmp(&(b.applied_index, b.revision))
                // Ties: the first name wins, as members are numbered.
                .then_with(|| b.name.cmp(&a.name))
        });
    let others: Vec<String> = candidates
        .iter()
        .filter(|c| Some(&c.name) != best.map(|b| &b.name))
        .map(|c| match &c.excluded {
            Some(why) => format!("{} excluded: {why}", numbers(c)),
            None => numbers(c),
        })
        .collect();
    match best {
        Some(b) => SourceChoice::Live {
            name: b.name.clone(),
            why: format!(
                "{} has the most recent data of the members that answered and agree: {}; {}.",
                b.name,
                numbers(b),
                if others.is_empty() {
                    "no other member".to_string()
                } else {
                    others.join("; ")
                }
            ),
        },
        None => SourceChoice::Offline {
            why: if others.is_empty() {
                "no member answered".into()
            } else {
                format!("no member qualifies: {}", others.join("; "))
            },
        },
    }
}

/// `members` with `name` first (the member force-new-cluster keeps).
pub fn source_first(
    mut members: Vec<PlanMember>,
    name: &str,
) -> Result<Vec<PlanMember>, UnknownMember> {
    let i = position_of(&members, "--from", name)?;
    let chosen = members.remove(i);
    members.insert(0, chosen);
    Ok(members)
}

/// Where a snapshot saved from the source member goes when none is given.
pub const SAVED_SNAPSHOT: &str = "/var/tmp/etcd-doctor-source.db";

/// Adds the choice to `runbook` (built with the source first): a step
/// that says why, and when `save_from` is given (a restore without a
/// snapshot), one that saves the snapshot from it; offline, a step that
/// reads every member's db file once etcd is stopped.
pub fn explain(runbook: &mut Runbook, choice: &SourceChoice, save_from: Option<&PlanMember>) {
    let (title, note) = match choice {
        SourceChoice::Live { name, why } => (
            format!("Source member: {name} (chosen from live facts)"),
            why.clone(),
        ),
        SourceChoice::Given(name) => (
            format!("Source member: {name} (given with --from)"),
            format!("{name} was named with --from; nothing was checked against the other members."),
        ),
        SourceChoice::Offline { why } => {
            offline_step(runbook, why);
            return;
        }
    };
    runbook.summary = format!("{} {note}", runbook.summary);
    let mut steps = vec![step(title, Some(&note), Vec::new())];
    if let Some(source) = save_from {
        steps.push(step(
            format!("Save a snapshot from {}", source.name),
            Some("No --snapshot was given: the runbook restores from a snapshot of the source member, saved and verified now."),
            vec![format!(
                "run $ETCD_DOCTOR snapshot save $ETCDCTL_TLS --endpoints={} \"$SNAPSHOT\"",
                source.client_url
            )],
        ));
    }
    runbook.steps.splice(0..0, steps);
}

/// Offline: after etcd stops everywhere, read each member's db file.
fn offline_step(runbook: &mut Runbook, why: &str) {
    if !runbook.variables.iter().any(|v| v.name == "ETCD_DOCTOR") {
        runbook.variables.insert(
            0,
            var(
                "ETCD_DOCTOR",
                "etcd-doctor",
                "etcd-doctor binary on the members' hosts",
            ),
        );
    }
    let members = runbook
        .variables
        .iter()
        .filter(|v| v.name.starts_with("DATA_DIR_"))
        .count();
    let commands = (1..=members)
        .map(|n| {
            format!("run $ON_{n} \"$ETCD_DOCTOR snapshot inspect-db $DATA_DIR_{n}/member/snap/db\"")
        })
        .collect();
    let note = format!(
        "The source member could not be chosen live ({why}). With etcd stopped, each member's db file says how far it got: the member with the highest CONSISTENT INDEX (then REVISION) holds the most recent data. If that is not member 1, stop here and print the runbook again with --from NAME."
    );
    let at = runbook
        .steps
        .iter()
        .position(|s| s.title.starts_with("Stop etcd on every member"))
        .map_or(0, |i| i + 1);
    runbook.steps.insert(
        at,
        step(
            "Find the member with the most recent data",
            Some(&note),
            commands,
        ),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(name: &str, applied: Option<u64>, excluded: Option<&str>) -> Candidate {
        Candidate {
            name: name.into(),
            applied_index: applied,
            revision: applied.map(|a| a / 2),
            excluded: excluded.map(str::to_string),
            error: applied.is_none().then(|| "connection refused".into()),
        }
    }

    #[test]
    fn the_most_advanced_agreeing_member_is_chosen_with_the_numbers() {
        let all = [
            c("m0", Some(100), None),
            c("m1", Some(300), Some("its HashKV differs")),
            c("m2", Some(200), None),
            c("m3", None, None),
        ];
        let SourceChoice::Live { name, why } = choose(&all, None) else {
            panic!("not live");
        };
        assert_eq!(name, "m2");
        assert!(why.contains("m2 applied index 200, revision 100"), "{why}");
        assert!(
            why.contains("m1 applied index 300, revision 150 excluded: its HashKV differs"),
            "{why}"
        );
        assert!(
            why.contains("m3 did not answer (connection refused)"),
            "{why}"
        );
        assert_eq!(choose(&all, Some("m0")), SourceChoice::Given("m0".into()));
    }

    #[test]
    fn ties_go_to_the_first_name_and_nothing_answering_is_offline() {
        let tie = [c("m1", Some(5), None), c("m0", Some(5), None)];
        assert!(matches!(choose(&tie, None), SourceChoice::Live { name, .. } if name == "m0"));
        let none = [c("m0", None, None)];
        assert!(matches!(choose(&none, None), SourceChoice::Offline { .. }));
        assert!(
            matches!(choose(&[], None), SourceChoice::Offline { why } if why == "no member answered")
        );
    }

    #[test]
    fn source_first_moves_the_member_and_names_the_flag() {
        let m = |name: &str| PlanMember {
            name: name.into(),
            peer_url: format!("http://{name}:2380"),
            client_url: format!("http://{name}:2379"),
            id: None,
        };
        let ordered = source_first(vec![m("a"), m("b"), m("c")], "c").unwrap();
        assert_eq!(
            ordered.iter().map(|m| m.name.as_str()).collect::<String>(),
            "cab"
        );
        let e = source_first(vec![m("a")], "z").unwrap_err();
        assert_eq!(e.to_string(), "--from: no member named \"z\" (members: a)");
    }
}
