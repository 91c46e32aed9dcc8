//! `cluster.version-skew`: members on different etcd releases, read as
//! the state of a rolling upgrade (or downgrade) and its next step. etcd
//! keeps the cluster version at the lowest member's minor until every
//! member runs the new one; then each member moves its storage version
//! (Status' storageVersion, 3.6 on) to it (server/etcdserver/version/
//! monitor.go at v3.6.0). Mixed minors are a warning (an upgrade left
//! half-way), mixed patches and a storage version behind the servers are
//! information. Upgrading from 3.5 to 3.6 needs 3.5.26 or later first
//! (etcd.io/blog/2025/zombie_members_upgrade: older 3.5 members can bring
//! back removed members, or turn voters into learners before 3.5.20).

use std::collections::BTreeSet;

use super::cluster::{etcdctl, evidence};
use crate::cluster::model::{ClusterReport, EndpointStatus};
use crate::findings::emit::Emit;
use crate::findings::registry::ids;
use crate::findings::{Draft, Finding, Severity, Unit};
use crate::rules::by;

/// Builds the ids of this file's findings: all are `run::consistency`'s.
const EMIT: Emit<by::consistency> = Emit::new();

/// The first 3.5 patch release etcd asks for before an upgrade to 3.6.
const SAFE_3_5_PATCH: u32 = 26;

/// `(major, minor, patch)` of a version string; None when it is not one.
fn release(version: &str) -> Option<(u32, u32, u32)> {
    let mut parts = version.trim_start_matches('v').splitn(3, '.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    let patch = parts.next()?;
    let digits = patch
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(patch.len());
    Some((major, minor, patch[..digits].parse().ok()?))
}

/// `major.minor` of a version string.
fn minor(version: &str) -> String {
    match release(version) {
        Some((major, minor, _)) => format!("{major}.{minor}"),
        None => version.to_string(),
    }
}

/// Members by distinct value of `field`: `3.5.1 (a, b); 3.4.30 (c)`.
fn by_value(
    report: &ClusterReport,
    field: fn(&EndpointStatus) -> Option<&String>,
) -> Vec<(String, Vec<String>)> {
    let mut groups: Vec<(String, Vec<String>)> = Vec::new();
    for s in &report.endpoints {
        let (Some(v), Some(id)) = (field(s), &s.id) else {
            continue;
        };
        let id = report.member_label(Some(id), id);
        match groups.iter_mut().find(|(g, _)| g == v) {
            Some((_, ids)) => ids.push(id),
            None => groups.push((v.clone(), vec![id])),
        }
    }
    groups
}

fn shown(groups: &[(String, Vec<String>)]) -> String {
    groups
        .iter()
        .map(|(v, ids)| format!("{v} ({})", ids.join(", ")))
        .collect::<Vec<_>>()
        .join("; ")
}

/// The findings: one for the servers' releases, else one for storage.
pub fn version_skew(report: &ClusterReport) -> Vec<Finding> {
    let server = by_value(report, |s| s.version.as_ref());
    if server.len() > 1 {
        return vec![server_skew(report, &server)];
    }
    let storage = by_value(report, |s| s.storage_version.as_ref());
    let server_minor = server.first().map(|(v, _)| minor(v));
    let behind = storage.iter().any(|(v, _)| Some(minor(v)) != server_minor);
    if storage.len() > 1 || (behind && server_minor.is_some()) {
        return vec![storage_skew(
            report,
            &storage,
            server_minor.unwrap_or_default(),
        )];
    }
    Vec::new()
}

fn finding(
    report: &ClusterReport,
    severity: Severity,
    summary: String,
    what: &str,
    n: usize,
    recommendation: String,
) -> Finding {
    EMIT.finding(
        ids::ClusterVersionSkew,
        Draft {
            severity,
            summary,
            evidence: vec![evidence(
                format!("distinct {what}s"),
                n as f64,
                1.0,
                Unit::Versions,
            )],
            recommendation,
            commands: vec![etcdctl(report, "endpoint status --cluster -w table")],
        },
    )
}

/// Members on different server releases: an upgrade (or downgrade) in
/// progress when the minors differ, and which members are next.
fn server_skew(report: &ClusterReport, groups: &[(String, Vec<String>)]) -> Finding {
    let minors: BTreeSet<String> = groups.iter().map(|(v, _)| minor(v)).collect();
    if minors.len() == 1 {
        return finding(
            report,
            Severity::Info,
            format!("members run different etcd versions: {}", shown(groups)),
            "etcd version",
            groups.len(),
            "Patch releases of one minor mix safely; bring the older members to the newest \
             patch one at a time, checking health in between."
                .to_string(),
        );
    }
    let newest = groups
        .iter()
        .max_by_key(|(v, _)| release(v))
        .map(|(v, _)| v.clone())
        .unwrap_or_default();
    let behind: Vec<&str> = groups
        .iter()
        .filter(|(v, _)| minor(v) != minor(&newest))
        .flat_map(|(_, ids)| ids.iter().map(String::as_str))
        .collect();
    let lowest = minors.iter().next().cloned().unwrap_or_default();
    let unsafe_3_5: Vec<&str> = groups
        .iter()
        .filter(|(v, _)| matches!(release(v), Some((3, 5, p)) if p < SAFE_3_5_PATCH))
        .map(|(v, _)| v.as_str())
        .collect();
    let mut recommendation = format!(
        "A rolling upgrade to {newest} is half-way: the cluster keeps the {lowest} cluster \
         version and its features until every member runs {}. Next: upgrade {} one at a time \
         (stop, replace the binary, start with the same data dir and flags), the leader last, \
         checking `endpoint health` after each; once the last one runs it, the storage \
         version moves to {}.0 by itself.",
        minor(&newest),
        behind.join(", "),
        minor(&newest),
    );
    if !unsafe_3_5.is_empty() && minors.contains("3.6") {
        recommendation.push_str(&format!(
            " etcd asks for 3.5.{SAFE_3_5_PATCH} or later on every member before 3.6 (this \
             cluster runs {}): an older 3.5 can bring back removed members or turn voters into \
             learners on the way; where members are still on it, check the member list after \
             each step.",
            unsafe_3_5.join(", ")
        ));
    }
    finding(
        report,
        Severity::Warn,
        format!(
            "rolling upgrade in progress: members run different etcd versions: {} ({} of {} members still on {lowest})",
            shown(groups),
            behind.len(),
            groups.iter().map(|(_, ids)| ids.len()).sum::<usize>()
        ),
        "etcd version",
        groups.len(),
        recommendation,
    )
}

/// Every server on one minor, the storage versions not (yet) on it.
fn storage_skew(
    report: &ClusterReport,
    groups: &[(String, Vec<String>)],
    server_minor: String,
) -> Finding {
    finding(
        report,
        Severity::Info,
        format!(
            "members run etcd {server_minor} but report storage versions {}",
            shown(groups)
        ),
        "storage version",
        groups.len(),
        format!(
            "Every member runs {server_minor}; etcd moves each member's storage version to the \
             cluster version within seconds of the last member's upgrade. If it stays behind, \
             the cluster version has not moved: check every member's version with `endpoint \
             status` and for a downgrade in progress (`etcdctl downgrade cancel` ends one)."
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn releases_and_minors() {
        assert_eq!(release("3.6.17"), Some((3, 6, 17)));
        assert_eq!(release("3.7.0-rc.0"), Some((3, 7, 0)));
        assert_eq!(release("3.6"), None);
        assert_eq!(minor("3.5.1"), "3.5");
        assert_eq!(minor("garbage"), "garbage");
    }
}
