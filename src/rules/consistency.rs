//! Rules on whether the members agree: the same data (HashKV at one
//! revision), the same release, learners that catch up, and a proposal
//! queue that drains. Each is a pure function of a [`ClusterReport`] and
//! [`ConsistencyThresholds`]; fixes carry etcdctl commands aimed at the
//! members that still agree.

use serde::{Deserialize, Serialize};

use super::bounds::{levels, positive, BadKey};
use super::cluster::{answering, etcdctl, evidence};
use crate::cluster::consistency::{Consistency, MemberHash};
use crate::cluster::model::ClusterReport;
use crate::findings::emit::Emit;
use crate::findings::registry::ids;
use crate::findings::{Draft, Finding, Severity, Unit};
use crate::rules::by;

/// Builds the ids of this file's findings: all are `run::consistency`'s.
const EMIT: Emit<by::consistency> = Emit::new();

/// Thresholds of the consistency rules; each field names its source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ConsistencyThresholds {
    /// Learner applied index / leader applied index below which a learner
    /// that is not closing the gap counts as stuck: etcd's own readiness
    /// bar for promoting a learner (`readyPercentThreshold` = 0.9 in
    /// server/etcdserver/server.go, isLearnerReady).
    pub learner_ready_ratio: f64,
    /// etcd_server_proposals_pending that warns. etcd-doctor's choice: a
    /// healthy member commits a proposal within one WAL fdatasync and one
    /// peer round trip, so a standing queue of 100 means writes arrive
    /// faster than the disk and network commit them.
    pub proposals_pending_warn: f64,
    /// etcd_server_proposals_pending that fails: etcd refuses requests
    /// ("etcdserver: too many requests") once its apply trails its commit
    /// by 5000 entries (maxGapBetweenApplyAndCommitIndex).
    pub proposals_pending_fail: f64,
}

impl Default for ConsistencyThresholds {
    fn default() -> Self {
        ConsistencyThresholds {
            learner_ready_ratio: 0.9,
            proposals_pending_warn: 100.0,
            proposals_pending_fail: 5000.0,
        }
    }
}

impl ConsistencyThresholds {
    /// Checks the values of a profile's `[consistency]` section.
    pub fn validate(&self) -> Result<(), BadKey> {
        positive(
            "consistency",
            "learner_ready_ratio",
            self.learner_ready_ratio,
        )?;
        if self.learner_ready_ratio > 1.0 {
            return Err(BadKey::new(
                "consistency",
                "learner_ready_ratio",
                format!("must be at most 1, got {}", self.learner_ready_ratio),
            ));
        }
        levels(
            "consistency",
            ("proposals_pending_warn", self.proposals_pending_warn),
            ("proposals_pending_fail", self.proposals_pending_fail),
        )
    }
}

/// Every consistency rule over `report`.
pub fn evaluate(report: &ClusterReport, t: &ConsistencyThresholds) -> Vec<Finding> {
    let mut out = super::version_skew::version_skew(report);
    if let Some(c) = &report.consistency {
        out.extend(data_inconsistent(report, c));
        out.extend(learner_stuck(report, c, t));
    }
    out.extend(proposals_pending(report, t));
    out
}

/// `etcdctl` against the members whose hash agrees (all answering ones
/// when none is known to be good).
fn etcdctl_good(report: &ClusterReport, c: &Consistency, args: &str) -> String {
    let bad: Vec<&str> = c
        .members
        .iter()
        .filter(|m| c.differing.iter().any(|d| d == m.who()))
        .map(|m| m.status.endpoint.as_str())
        .collect();
    let good: Vec<String> = answering(report)
        .into_iter()
        .filter(|e| !bad.contains(&e.as_str()))
        .collect();
    if good.is_empty() {
        return etcdctl(report, args);
    }
    let flags = report.connection.etcdctl_flags(&good);
    format!("etcdctl {flags} {args}")
}

fn hex(h: Option<u32>) -> String {
    h.map_or_else(|| "-".into(), |h| format!("{h:x}"))
}

/// Remove, re-add and rejoin commands for the outlier `m`.
fn rejoin_commands(report: &ClusterReport, c: &Consistency, m: &MemberHash) -> Vec<String> {
    let rev = c.revision.unwrap_or_default();
    let mut commands = vec![etcdctl(
        report,
        &format!("endpoint hashkv --cluster --rev={rev} -w table"),
    )];
    let Some(id) = &m.status.id else {
        return commands;
    };
    commands.push(etcdctl_good(report, c, &format!("member remove {id}")));
    let listed = report.members.iter().find(|l| &l.id == id);
    if let Some(peer) = listed.and_then(|l| l.peer_urls.first()) {
        let name = if m.name.is_empty() {
            id.as_str()
        } else {
            &m.name
        };
        commands.push(etcdctl_good(
            report,
            c,
            &format!("member add {name} --peer-urls={peer}"),
        ));
    }
    if !m.name.is_empty() {
        let flags = report.connection.etcdctl_flags(&answering(report));
        commands.push(format!(
            "etcd-doctor snapshot rejoin-plan --member {} {flags}",
            m.name
        ));
    }
    commands
}

fn data_inconsistent(report: &ClusterReport, c: &Consistency) -> Vec<Finding> {
    let rev = c.revision.unwrap_or_default();
    let differing = c.differing.len() as f64;
    c.members
        .iter()
        .filter(|m| c.differing.iter().any(|d| d == m.who()))
        .map(|m| {
            let against = match c.reference_hash {
                Some(r) => format!("the majority's {r:x}"),
                None => "the others' (no hash has a majority)".to_string(),
            };
            EMIT.finding(ids::ClusterDataInconsistent, Draft {
                severity: Severity::Fail,
                summary: format!(
                    "member {} at {}: HashKV at revision {rev} is {}, not {against}",
                    report.member_label(m.status.id.as_deref(), m.who()),
                    m.status.endpoint,
                    hex(m.hash)
                ),
                evidence: vec![evidence("members whose HashKV differs", differing, 0.0, Unit::Members)],
                recommendation: "This member's copy of the keyspace differs from the others' at the \
                    same revision: it serves reads that disagree with the rest, and etcd raises a \
                    CORRUPT alarm only when its corruption checks are on. Do not copy its data \
                    anywhere. Stop it, move its data dir aside (keep it for analysis), remove it \
                    from a member that agrees, add it back and start it with an empty data dir and \
                    --initial-cluster-state existing: it receives a snapshot from the leader, a good \
                    member. `etcd-doctor snapshot rejoin-plan --member NAME` prints the runbook."
                    .to_string(),
                commands: rejoin_commands(report, c, m),
            })
        })
        .collect()
}

fn learner_stuck(
    report: &ClusterReport,
    c: &Consistency,
    t: &ConsistencyThresholds,
) -> Vec<Finding> {
    c.learners
        .iter()
        .filter(|l| {
            let behind = (l.applied_index as f64) < t.learner_ready_ratio * l.leader_applied_index as f64;
            behind && l.second_gap_entries > 0 && l.second_gap_entries >= l.first_gap_entries
        })
        .map(|l| {
            let ratio = l.applied_index as f64 / l.leader_applied_index.max(1) as f64;
            EMIT.finding(ids::ClusterLearnerStuck, Draft {
                severity: Severity::Warn,
                summary: format!(
                    "learner {} at {} is not catching up: {} entries behind the leader's applied index, {} before",
                    report.member_label(Some(&l.member_id), ""), l.endpoint, l.second_gap_entries, l.first_gap_entries
                ),
                evidence: vec![
                    evidence("learner applied / leader applied", ratio * 100.0, t.learner_ready_ratio * 100.0, Unit::Percent),
                    evidence("gap at the second read", l.second_gap_entries as f64, l.first_gap_entries as f64, Unit::Entries),
                ],
                recommendation: "A learner is promoted only once its log is within 90 % of the \
                    leader's; one that does not close the gap never becomes a voter. It catches up \
                    from a snapshot the leader sends: check its log for snapshot send or receive \
                    errors, its disk (`etcd-doctor disk`) and its link to the leader. If it stays \
                    behind, remove it and add it again with an empty data dir."
                    .to_string(),
                commands: vec![
                    etcdctl(report, "endpoint status --cluster -w table"),
                    etcdctl(report, &format!("member remove {}", l.member_id)),
                ],
            })
        })
        .collect()
}

fn proposals_pending(report: &ClusterReport, t: &ConsistencyThresholds) -> Vec<Finding> {
    report
        .metrics
        .iter()
        .filter_map(|m| {
            let pending = m.proposals_pending?;
            let severity = if pending >= t.proposals_pending_fail {
                Severity::Fail
            } else if pending >= t.proposals_pending_warn {
                Severity::Warn
            } else {
                return None;
            };
            let who = report.member_label(m.member_id.as_deref(), &m.url);
            Some(
                EMIT.finding(
                    ids::ClusterProposalsPending,
                    Draft {
                        severity,
                        summary: format!(
                            "member {who}: {pending:.0} proposals waiting to be committed"
                        ),
                        evidence: vec![evidence(
                            "etcd_server_proposals_pending",
                            pending,
                            t.proposals_pending_warn,
                            Unit::Proposals,
                        )],
                        recommendation:
                            "Writes arrive faster than this member commits and applies them: \
                    a slow WAL fdatasync or backend commit (see the metrics findings and \
                    `etcd-doctor disk`), a slow link to the leader, or a client flood. At 5000 \
                    etcd answers \"too many requests\". Fix the bottleneck or throttle the writers."
                                .to_string(),
                        commands: vec![etcdctl(report, "endpoint status --cluster -w table")],
                    },
                ),
            )
        })
        .collect()
}
