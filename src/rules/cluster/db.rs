//! The database rules: free pages a defrag would return, and the room
//! left before the backend quota.

use crate::cluster::facts::{DbUsage, QuotaSource};
use crate::cluster::model::ClusterReport;
use crate::findings::{Draft, Finding, Severity, Unit};

use super::commands::{compact_and_defrag, etcdctl_at, evidence};
use super::thresholds::ClusterThresholds;
use crate::findings::emit::Emit;
use crate::findings::registry::ids;
use crate::measure::MIB;
use crate::rules::by;

/// Builds the ids of this file's findings: all are `run::cluster`'s.
const EMIT: Emit<by::cluster> = Emit::new();

/// Bytes a defrag of `d` would return: file size minus in use.
fn reclaimable(d: &DbUsage) -> u64 {
    d.db_size_bytes.saturating_sub(d.db_size_in_use_bytes)
}

/// Fragmented: mostly free pages with much in use (the etcd-mixin alert),
/// mostly free pages that add up to the reclaimable floor (a big file with
/// little in use), or free pages that take a large share of the quota.
fn is_fragmented(d: &DbUsage, t: &ClusterThresholds) -> bool {
    let sparse = d.in_use_ratio < t.db_in_use_warn_ratio;
    let free = reclaimable(d);
    let big_enough = d.db_size_in_use_bytes > t.db_fragmented_min_in_use_bytes
        || free >= t.db_reclaimable_min_bytes;
    (sparse && big_enough)
        || (d.quota_bytes > 0
            && free as f64 >= d.quota_bytes as f64 * t.db_reclaimable_quota_warn_ratio)
}

/// Defragments `members` (member id, endpoint) one at a time, the leader
/// last, each followed by a health check that must pass before the next:
/// a member does not serve while it defragments, and defragmenting the
/// leader first would cost an election on a busy cluster.
fn defrag_in_order(report: &ClusterReport, members: &[(&str, &str)]) -> Vec<String> {
    let leader = report.facts.leader_id.as_deref();
    let mut ordered = members.to_vec();
    ordered.sort_by_key(|(id, _)| Some(*id) == leader);
    ordered
        .iter()
        .flat_map(|(_, endpoint)| {
            [
                etcdctl_at(report, endpoint, "defrag"),
                etcdctl_at(report, endpoint, "endpoint health"),
            ]
        })
        .collect()
}

pub(super) fn db_fragmented(report: &ClusterReport, t: &ClusterThresholds) -> Vec<Finding> {
    let fragmented: Vec<&DbUsage> = report
        .facts
        .db
        .iter()
        .filter(|d| is_fragmented(d, t))
        .collect();
    let members: Vec<(&str, &str)> = fragmented
        .iter()
        .map(|d| (d.member_id.as_str(), d.endpoint.as_str()))
        .collect();
    let commands = defrag_in_order(report, &members);
    fragmented
        .into_iter()
        .map(|d| {
            let free = reclaimable(d);
            EMIT.finding(ids::ClusterDbFragmented, Draft {
                severity: Severity::Warn,
                summary: format!(
                    "member {} at {}: a defrag would return {} MiB; only {:.0} % of its {} MiB \
                     database is in use ({} % of the quota is free pages)",
                    report.member_label(Some(&d.member_id), ""),
                    d.endpoint,
                    free / MIB,
                    d.in_use_ratio * 100.0,
                    d.db_size_bytes / MIB,
                    (free as f64 * 100.0 / d.quota_bytes.max(1) as f64).round()
                ),
                evidence: vec![
                    evidence("reclaimable (size minus in use)", (free / MIB) as f64, (t.db_reclaimable_min_bytes / MIB) as f64, Unit::Mib),
                    evidence("reclaimable / quota", free as f64 * 100.0 / d.quota_bytes.max(1) as f64, t.db_reclaimable_quota_warn_ratio * 100.0, Unit::Percent),
                    evidence("database in use", d.in_use_ratio * 100.0, t.db_in_use_warn_ratio * 100.0, Unit::Percent),
                ],
                recommendation: "Free pages left by compaction count against the quota and slow \
                                 snapshots until a defrag returns them. Defragment one member at a time, \
                                 the leader last, and run the next only once the health check passes: a \
                                 member does not serve while it defragments (the commands are in that order)."
                    .to_string(),
                commands: commands.clone(),
            })
        })
        .collect()
}

pub(super) fn db_near_quota(report: &ClusterReport, t: &ClusterThresholds) -> Vec<Finding> {
    report
        .facts
        .db
        .iter()
        .filter_map(|d| {
            let severity = if d.quota_used_ratio >= t.db_quota_used_fail_ratio {
                Severity::Fail
            } else if d.quota_used_ratio >= t.db_quota_used_warn_ratio {
                Severity::Warn
            } else {
                return None;
            };
            let assumed = match d.quota_from {
                QuotaSource::Metrics | QuotaSource::Status => "",
                QuotaSource::EtcdDefault => " (quota not read: etcd's default 2 GiB assumed)",
                QuotaSource::Discovered => " (quota from the local etcd's --quota-backend-bytes)",
            };
            Some(EMIT.finding(ids::ClusterDbNearQuota, Draft {
                severity,
                summary: format!(
                    "member {} at {}: database at {:.0} % of its {} MiB quota{assumed}",
                    report.member_label(Some(&d.member_id), ""),
                    d.endpoint,
                    d.quota_used_ratio * 100.0,
                    d.quota_bytes / MIB
                ),
                evidence: vec![evidence("database size / quota", d.quota_used_ratio * 100.0, t.db_quota_used_warn_ratio * 100.0, Unit::Percent)],
                recommendation: "At the quota etcd raises NOSPACE and accepts only reads and deletes. \
                                 Compact old revisions and defragment to return free pages; if the data \
                                 itself is that large, raise --quota-backend-bytes (8 GiB is the \
                                 suggested maximum)."
                    .to_string(),
                commands: compact_and_defrag(report),
            }))
        })
        .collect()
}
