//! Cluster rules: what a live cluster's facts mean and what to type next.
//! Each rule is a pure function of a [`ClusterReport`] (its facts, alarms
//! and metrics) and [`ClusterThresholds`]; the fixes carry concrete etcdctl
//! commands with the connection flags the report was read with, aimed at
//! members that answered.

use crate::cluster::model::{Alarm, ClusterReport, HistogramPercentiles, MemberMetrics, Span};
use crate::findings::{Draft, Finding, Severity, Unit};
use crate::member::AlarmKind;

mod commands;
mod db;
mod stale;
mod thresholds;
pub(super) use commands::{answering, etcdctl, evidence};
use commands::{compact_and_defrag, rejoin_plan};
use db::{db_fragmented, db_near_quota};
pub use stale::from_logs as stale_from_logs;
pub use thresholds::ClusterThresholds;

use crate::findings::emit::{Checked, Emit};
use crate::findings::registry::ids;
use crate::logs::StaleMemberLog;
use crate::rules::by;

/// Builds the ids of this file's findings: all are `run::cluster`'s.
const EMIT: Emit<by::cluster> = Emit::new();

/// Every cluster rule over `report`, most severe first.
pub fn evaluate(report: &ClusterReport, t: &ClusterThresholds) -> Vec<Finding> {
    evaluate_with_logs(report, t, &[])
}

/// Every cluster rule over `report`, most severe first. `stale_logs` are
/// the members whose own logs prove their data gone: those of them that
/// do not answer are stale members, not merely unreachable ones.
pub fn evaluate_with_logs(
    report: &ClusterReport,
    t: &ClusterThresholds,
    stale_logs: &[StaleMemberLog],
) -> Vec<Finding> {
    let mut findings: Vec<Finding> = [
        none_answered(report),
        member_unreachable(report, stale_logs),
        stale_member(report),
        stale::proven_stale(report, stale_logs),
        raft_lag(report, t),
        leader_churn(report, t),
        db_fragmented(report, t),
        db_near_quota(report, t),
        alarm_active(report),
        metrics_slow(report, t),
    ]
    .into_iter()
    .flatten()
    .collect();
    crate::findings::sort(&mut findings);
    findings
}

/// No endpoint asked answered anything: the member list is unknown, so
/// each endpoint is the member it stands for. `diagnose` still judges the
/// host and the logs then, which is where a hung or starved etcd shows.
fn none_answered(report: &ClusterReport) -> Vec<Finding> {
    if report.answered {
        return Vec::new();
    }
    let mut errors = report.all_errors();
    let mut seen = std::collections::HashSet::new();
    errors.retain(|e| seen.insert(e.clone()));
    let asked = report.connection.endpoints.len().max(1);
    let why = if errors.is_empty() {
        "no answer".to_string()
    } else {
        errors.join("; ")
    };
    vec![EMIT.finding(
        ids::ClusterMemberUnreachable,
        Draft {
            severity: Severity::Fail,
            summary: format!("no member answered: {why}"),
            evidence: vec![evidence(
                "endpoints asked that answered nothing",
                asked as f64,
                0.0,
                Unit::Members,
            )],
            recommendation: "No endpoint asked answered status, health or metrics, so the member \
                         list and etcd's own metrics are unknown. If etcd is running, it is too \
                         starved or stuck to answer: the host findings (CPU, memory, disk) and \
                         etcd's log around now say why. If it is not, start it and read its log; \
                         check the endpoints are the client URLs etcd listens on."
                .into(),
            commands: Vec::new(),
        },
    )]
}

fn member_unreachable(report: &ClusterReport, stale_logs: &[StaleMemberLog]) -> Vec<Finding> {
    let listed = report.members.len().max(report.facts.unreachable.len());
    report
        .facts
        .unreachable
        .iter()
        .filter(|m| stale::proof(m, stale_logs).is_none())
        .map(|m| {
            let mut commands = vec![etcdctl(report, &format!("member remove {}", m.member_id))];
            if !m.name.is_empty() {
                commands.push(rejoin_plan(report, &m.name));
            }
            EMIT.finding(ids::ClusterMemberUnreachable, Draft {
                severity: Severity::Fail,
                summary: format!(
                    "member {} at {} does not answer: {}",
                    report.member_label(Some(&m.member_id), ""),
                    m.client_urls.join(","),
                    m.error
                ),
                evidence: vec![evidence(
                    "listed members not answering",
                    report.facts.unreachable.len() as f64,
                    0.0,
                    Unit::Members,
                )],
                recommendation: format!(
                    "A listed member that does not answer still counts toward quorum ({} of {} listed). \
                     If its host is up, start etcd there and read its log. If the node was reset or its \
                     data dir wiped, its entry is stale (the field guide's failed rejoin: kubeadm join \
                     stops at check-etcd): remove it from a member that answers, then rejoin it with an \
                     empty data dir; `etcd-doctor snapshot rejoin-plan --member NAME` prints the runbook.",
                    listed / 2 + 1,
                    listed
                ),
                commands,
            })
        })
        .collect()
}

fn stale_member(report: &ClusterReport) -> Vec<Finding> {
    let unstarted = report.facts.unstarted.iter().map(|m| EMIT.finding(ids::ClusterStaleMember, Draft {
        severity: Severity::Fail,
        summary: format!(
            "member {} ({}) is listed but never started",
            report.member_label(Some(&m.member_id), ""),
            m.peer_urls.join(",")
        ),
        evidence: vec![evidence(
            "listed members never started",
            report.facts.unstarted.len() as f64,
            0.0,
            Unit::Members,
        )],
        recommendation: "An added member that never started counts toward quorum while adding \
                         nothing: one more failure can stop the cluster. If a node is joining at \
                         that peer URL, start etcd on it with --initial-cluster-state existing and an \
                         empty data dir; otherwise remove the entry."
            .to_string(),
        commands: vec![etcdctl(report, &format!("member remove {}", m.member_id))],
    }));
    let mismatched = report.facts.id_mismatches.iter().map(|m| {
        EMIT.finding(
            ids::ClusterStaleMember,
            Draft {
                severity: Severity::Fail,
                summary: format!(
                    "{} is listed for member {} but answers as {}",
                    m.endpoint,
                    report.member_label(Some(&m.listed_id), ""),
                    m.reported_id
                ),
                evidence: vec![evidence(
                    "client URLs answered by another member id",
                    report.facts.id_mismatches.len() as f64,
                    0.0,
                    Unit::Endpoints,
                )],
                recommendation: format!(
            "The node at {} runs an etcd that is not the listed member (its data dir was rebuilt \
             or it joined another cluster): the listed entry is stale. Remove it, then rejoin the \
             node cleanly; `etcd-doctor snapshot rejoin-plan --member {}` prints the runbook.",
            m.endpoint, m.listed_name
        ),
                commands: vec![
                    etcdctl(report, &format!("member remove {}", m.listed_id)),
                    rejoin_plan(report, &m.listed_name),
                ],
            },
        )
    });
    unstarted.chain(mismatched).collect()
}

fn raft_lag(report: &ClusterReport, t: &ClusterThresholds) -> Vec<Finding> {
    report
        .facts
        .raft_lag
        .iter()
        .filter_map(|l| {
            let worst = l.lag_entries.max(l.apply_gap_entries);
            let severity = if worst >= t.raft_lag_fail_entries {
                Severity::Fail
            } else if worst >= t.raft_lag_warn_entries {
                Severity::Warn
            } else {
                return None;
            };
            Some(EMIT.finding(ids::ClusterRaftLag, Draft {
                severity,
                summary: format!(
                    "member {} at {} trails the leader by {} raft entries and has {} committed entries unapplied",
                    report.member_label(Some(&l.member_id), ""), l.endpoint, l.lag_entries, l.apply_gap_entries
                ),
                evidence: vec![
                    evidence("raft index behind the leader", l.lag_entries as f64, t.raft_lag_warn_entries as f64, Unit::Entries),
                    evidence("committed but not applied", l.apply_gap_entries as f64, t.raft_lag_warn_entries as f64, Unit::Entries),
                ],
                recommendation: "A member that cannot keep up is usually starved of disk (slow WAL \
                                 fdatasync, see the metrics findings and `etcd-doctor disk`), of CPU, \
                                 or of network to the leader. Fix the cause; a member far enough \
                                 behind is sent a whole snapshot."
                    .to_string(),
                commands: vec![etcdctl(report, "endpoint status --cluster -w table")],
            }))
        })
        .collect()
}

/// Leader changes per 15 minutes since the member started (the first
/// election does not count; members younger than 15 minutes count as 15).
fn changes_per_15m(m: &MemberMetrics) -> Option<f64> {
    let changes = (m.leader_changes_total? - 1.0).max(0.0);
    Some(changes / m.uptime_s?.max(900.0) * 900.0)
}

fn leader_churn(report: &ClusterReport, t: &ClusterThresholds) -> Vec<Finding> {
    let worst = report
        .metrics
        .iter()
        .filter_map(|m| Some((m, changes_per_15m(m)?)))
        .max_by(|a, b| a.1.total_cmp(&b.1));
    let in_window = report
        .metrics
        .iter()
        .filter_map(|m| m.leader_changes_in_window)
        .fold(0.0, f64::max);
    let Some((m, rate)) = worst else {
        return Vec::new();
    };
    if rate < t.leader_changes_warn_per_15m && in_window < 1.0 {
        return Vec::new();
    }
    let mut ev = vec![
        evidence(
            "leader changes per 15 min since start",
            rate,
            t.leader_changes_warn_per_15m,
            Unit::Changes,
        ),
        evidence(
            "leader changes during the scrape window",
            in_window,
            1.0,
            Unit::Changes,
        ),
    ];
    if let Some(failed) = m.proposals_failed_total {
        ev.push(evidence(
            "failed proposals since start",
            failed,
            0.0,
            Unit::Proposals,
        ));
    }
    vec![EMIT.finding(ids::ClusterLeaderChurn, Draft {
        severity: Severity::Warn,
        summary: format!("leader elections are frequent: {rate:.1} per 15 minutes seen by {}", m.url),
        evidence: ev,
        recommendation: "Each election stalls writes. Elections follow missed heartbeats: slow WAL \
                         fdatasync (disk contention), CPU starvation, or peer latency near the \
                         heartbeat interval (a shared or saturated NIC). Check the metrics findings and \
                         `etcd-doctor disk`/`net`; where peer RTT is inherently high, raise \
                         --heartbeat-interval to about the RTT and --election-timeout to 10 times it."
            .to_string(),
        commands: vec![etcdctl(report, "endpoint status --cluster -w table")],
    })]
}

/// The alarm list, plus alarms only a member's etcd_debugging_server_alarms
/// shows (3.6 on; the list was not read, or not from every member).
fn active_alarms(report: &ClusterReport) -> Vec<&Alarm> {
    let mut all: Vec<&Alarm> = report.alarms.iter().collect();
    for a in report.metrics.iter().flat_map(|m| &m.alarms) {
        if !all.contains(&a) {
            all.push(a);
        }
    }
    all
}

fn alarm_active(report: &ClusterReport) -> Vec<Finding> {
    let alarms = active_alarms(report);
    alarms
        .iter()
        .map(|a| {
            let (recommendation, commands) = if a.alarm == AlarmKind::Corrupt {
                (
                    "A member's data diverged from the others. Do not disarm: find the member whose \
                     hash differs, remove it and rejoin it with an empty data dir (it catches up \
                     from the leader); `etcd-doctor snapshot rejoin-plan --member NAME` prints the \
                     runbook."
                        .to_string(),
                    vec![etcdctl(report, "endpoint hashkv --cluster -w table")],
                )
            } else {
                let mut commands = compact_and_defrag(report);
                commands.push(etcdctl(report, "alarm disarm"));
                (
                    "The database reached its quota: the cluster accepts only reads and deletes. \
                     Compact, defragment every member, then disarm the alarm; raise \
                     --quota-backend-bytes if the live data needs the room."
                        .to_string(),
                    commands,
                )
            };
            EMIT.finding(ids::ClusterAlarmActive, Draft {
                severity: Severity::Fail,
                summary: format!(
                    "alarm {} is active on member {}",
                    a.alarm,
                    report.member_label(Some(&a.member_id), "")
                ),
                evidence: vec![evidence("active alarms", alarms.len() as f64, 0.0, Unit::Alarms)],
                recommendation,
                commands,
            })
        })
        .collect()
}

/// One histogram rule: its id, what it measures and its thresholds.
struct HistogramRule {
    id: Checked<by::cluster>,
    metric: &'static str,
    warn_ms: f64,
    fail_ms: f64,
    recommendation: &'static str,
}

/// A histogram's p99 against the rule: warn or fail when it covers the
/// scrape window (what etcd does now). A since-start histogram mixes in
/// every past burst (a bulk load last week), so it is reported as context
/// only, at info.
fn judge(
    rule: &HistogramRule,
    who: &str,
    h: &HistogramPercentiles,
    min_count: u64,
) -> Option<Finding> {
    if h.count < min_count {
        return None;
    }
    // A tail one slow observation alone makes is an event, not a p99.
    let p99 = h.judged_p99_ms();
    let capped = h.second_slowest_over_ms.filter(|_| p99 < h.p99_ms);
    let severity = if p99 >= rule.fail_ms {
        Severity::Fail
    } else if p99 > rule.warn_ms {
        Severity::Warn
    } else {
        return None;
    };
    let (severity, context) = match h.span {
        Span::Window => (severity, ""),
        Span::SinceStart => (
            Severity::Info,
            ": context only, not what etcd does now; scrape a window with traffic \
             (--interval) to judge it",
        ),
    };
    Some(rule.id.finding(Draft {
        severity,
        summary: format!(
            "{who}: {} p99 {:.1} ms over {} observations ({}){}{context}",
            rule.metric,
            h.p99_ms,
            h.count,
            h.span.as_str(),
            capped.map_or(String::new(), |over| format!(
                "; the second slowest took over {over:.1} ms"
            ))
        ),
        evidence: vec![evidence(
            format!(
                "{} p99 ({}{})",
                rule.metric,
                h.span.as_str(),
                if capped.is_some() {
                    ", as far as two observations reach"
                } else {
                    ""
                }
            ),
            p99,
            rule.warn_ms,
            Unit::Ms,
        )],
        recommendation: rule.recommendation.to_string(),
        commands: Vec::new(),
    }))
}

const DISK_FIX: &str = "etcd waits on this disk for every write. Give etcd a dedicated \
    high-performance disk (NVMe, cloud ESSD), keep IO-heavy services off the host, and measure \
    the disk itself with `etcd-doctor disk --dir <data dir>`.";

fn metrics_slow(report: &ClusterReport, t: &ClusterThresholds) -> Vec<Finding> {
    let wal = HistogramRule {
        id: EMIT.id(ids::ClusterMetricsWalFsyncSlow),
        metric: "WAL fdatasync",
        warn_ms: t.wal_fsync_p99_warn_ms,
        fail_ms: t.wal_fsync_p99_fail_ms,
        recommendation: DISK_FIX,
    };
    let commit = HistogramRule {
        id: EMIT.id(ids::ClusterMetricsBackendCommitSlow),
        metric: "backend commit",
        warn_ms: t.backend_commit_p99_warn_ms,
        fail_ms: t.backend_commit_p99_fail_ms,
        recommendation: DISK_FIX,
    };
    let rtt = HistogramRule {
        id: EMIT.id(ids::ClusterMetricsPeerRttHigh),
        metric: "peer round trip",
        warn_ms: t.peer_rtt_p99_warn_ms,
        fail_ms: t.peer_rtt_p99_fail_ms,
        recommendation:
            "Raft heartbeats and appends wait on this link. Put etcd's peer traffic on its \
            own NIC, away from business traffic, isolate bulk transfers at the access switch, and \
            spread members' VMs over hosts; where the RTT is inherent, set --heartbeat-interval to \
            about the RTT and --election-timeout to 10 times it.",
    };
    let mut out = Vec::new();
    for m in &report.metrics {
        let who = &report.member_label(m.member_id.as_deref(), &m.url);
        out.extend(
            m.wal_fsync
                .and_then(|h| judge(&wal, who, &h, t.min_histogram_count)),
        );
        out.extend(
            m.backend_commit
                .and_then(|h| judge(&commit, who, &h, t.min_histogram_count)),
        );
        out.extend(m.peer_rtt_by_peer.iter().filter_map(|p| {
            judge(
                &rtt,
                &format!("{who} to {}", report.member_label(Some(&p.peer_id), "")),
                &p.rtt,
                t.min_histogram_count,
            )
        }));
    }
    out
}
