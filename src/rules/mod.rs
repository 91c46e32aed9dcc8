//! Rules turn collected facts into findings. Every rule is a pure function
//! over facts and a profile's thresholds; no rule measures or prints.
//! [`evaluate`] runs every rule whose facts the report has and says which
//! ones it checked, so a CI report can list the rules that passed too.

pub mod cluster;
pub mod consistency;
pub mod disk;
pub mod finding;
pub mod fleet;
pub mod host;
pub mod keyspace;
pub mod load;
pub mod logs;
pub mod net;
pub mod profile;
pub mod stall;

pub use finding::{Evidence, Finding, FindingId, Severity, Verdict};
pub use profile::{Profile, ProfileError};

use crate::cluster::model::Span;
use crate::cluster::ClusterReport;
use crate::probe::disk::DiskProbeKind;
use crate::report::Report;

/// The outcome of running the rules over one report.
#[derive(Debug, Clone, PartialEq)]
pub struct Evaluation {
    /// Findings, most severe first.
    pub findings: Vec<Finding>,
    /// Every rule that had the facts it needs, whether it found something or not.
    pub checked: Vec<FindingId>,
}

/// Runs every applicable rule over `report` with `profile`'s thresholds.
pub fn evaluate(report: &Report, profile: &Profile) -> Evaluation {
    let mut checked = Vec::new();
    let mut findings = Vec::new();
    let mut check = |id: FindingId, applicable: bool, finding: &dyn Fn() -> Option<Finding>| {
        if applicable {
            checked.push(id);
            findings.extend(finding());
        }
    };
    let device = report.host.device.as_ref();
    let activity = report.host.activity.as_ref();
    let others = activity.and_then(|a| host::other_writes(a, probe_syncs(report), &profile.host));
    let contended = activity.map(|a| {
        !host::contenders(a, others, &profile.host).is_empty()
            || host::device_shared(others, &profile.host)
    });
    check(FindingId::DiskFsyncSlow, !report.disk.is_empty(), &|| {
        disk::fsync_slow(&report.disk, device, contended, &profile.disk)
    });
    check(FindingId::DiskFsyncStall, !report.disk.is_empty(), &|| {
        stall::fsync_stall(&report.disk, &profile.disk)
    });
    check(FindingId::DiskRotational, device.is_some(), &|| {
        disk::rotational(device, &report.disk, &profile.disk)
    });
    let views = fsync_views(report, profile);
    check(
        FindingId::DiskIoContention,
        activity.is_some() || views.etcd_p99_ms.is_some(),
        &|| host::io_contention(activity, others, views, &profile.host),
    );
    check(
        FindingId::HostCpuSteal,
        activity.is_some_and(|a| a.cpu.is_some()),
        &|| host::cpu_steal(activity, &report.host.virtualization, &profile.host),
    );
    if !report.net.is_empty() {
        checked.extend([
            FindingId::NetPeerRttHigh,
            FindingId::NetNicSaturated,
            FindingId::NetErrors,
        ]);
        findings.extend(net::evaluate(&report.net, &profile.net));
    }
    let stale_logs = report
        .logs
        .as_ref()
        .map_or(&[][..], |l| &l.stale_members[..]);
    if let Some(c) = &report.cluster {
        checked.extend(cluster_rules_checked(c));
        findings.extend(cluster::evaluate_with_logs(c, &profile.cluster, stale_logs));
        checked.extend(consistency::checked(c));
        findings.extend(consistency::evaluate(c, &profile.consistency));
    }
    if let Some(k) = &report.keyspace {
        checked.extend(keyspace::checked(k));
        findings.extend(keyspace::evaluate(k, &profile.keyspace));
    }
    if let Some(l) = &report.logs {
        let new: Vec<FindingId> = logs::CHECKED
            .into_iter()
            .filter(|id| !checked.contains(id))
            .collect();
        checked.extend(new);
        findings.extend(logs::evaluate(l, &profile.logs));
        if let Some(c) = &report.cluster {
            let down: Vec<&str> = c
                .facts
                .unreachable
                .iter()
                .map(|m| m.member_id.as_str())
                .collect();
            logs::explain_down_peers(&mut findings, l, &down);
        }
        if report.cluster.is_none() {
            // Without the member list, the logs alone name stale members.
            checked.push(FindingId::ClusterStaleMember);
            findings.extend(cluster::stale_from_logs(&l.stale_members));
        }
    }
    if let Some(l) = &report.load {
        checked.extend(load::IDS);
        findings.extend(load::evaluate(l, report.cluster.as_ref(), profile));
    }
    sort(&mut findings);
    Evaluation { findings, checked }
}

/// The cluster rules whose facts `c` holds: the status and member rules
/// always, the metrics rules when metrics were scraped.
fn cluster_rules_checked(c: &ClusterReport) -> Vec<FindingId> {
    let mut ids = vec![
        FindingId::ClusterMemberUnreachable,
        FindingId::ClusterStaleMember,
        FindingId::ClusterRaftLag,
        FindingId::ClusterDbFragmented,
        FindingId::ClusterDbNearQuota,
        FindingId::ClusterAlarmActive,
    ];
    if !c.metrics.is_empty() {
        ids.extend([
            FindingId::ClusterLeaderChurn,
            FindingId::ClusterMetricsWalFsyncSlow,
            FindingId::ClusterMetricsBackendCommitSlow,
            FindingId::ClusterMetricsPeerRttHigh,
        ]);
    }
    ids
}

/// Most severe first; ties in id order, so output is stable.
pub fn sort(findings: &mut [Finding]) {
    findings.sort_by(|a, b| b.severity.cmp(&a.severity).then(a.id.cmp(&b.id)));
}

/// fdatasyncs the disk probes issued: one per fsync, WAL or paced op, two
/// per backend commit (bbolt syncs its pages, then its meta page).
fn probe_syncs(report: &Report) -> u64 {
    report
        .disk
        .iter()
        .map(|r| match r.probe {
            DiskProbeKind::Fsync | DiskProbeKind::Wal | DiskProbeKind::Paced => r.ops,
            DiskProbeKind::Backend => r.ops.saturating_mul(2),
        })
        .sum()
}

/// The fdatasync p99 our probes and etcd's metrics saw, for the
/// differential diagnosis.
fn fsync_views(report: &Report, profile: &Profile) -> host::FsyncViews {
    let probe_p99_ms = report
        .disk
        .iter()
        .filter(|r| matches!(r.probe, DiskProbeKind::Fsync | DiskProbeKind::Wal))
        .map(|r| r.latency_us.p99 / 1000.0)
        .reduce(f64::max);
    let etcd_p99_ms = report
        .cluster
        .iter()
        .flat_map(|c| &c.metrics)
        .filter_map(|m| m.wal_fsync)
        .filter(|h| h.span == Span::Window && h.count >= profile.cluster.min_histogram_count)
        .map(|h| h.p99_ms)
        .reduce(f64::max);
    host::FsyncViews {
        probe_p99_ms,
        etcd_p99_ms,
        warn_above_ms: profile.disk.wal_fsync_p99_warn_ms,
        fail_above_ms: profile.disk.wal_fsync_p99_fail_ms,
    }
}
