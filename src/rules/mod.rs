//! Rules turn collected facts into findings. Every rule is a pure function
//! over facts and a profile's thresholds; no rule measures or prints.
//! [`evaluate`] runs every rule whose facts the report has and says which
//! ones it checked, so a CI report can list the rules that passed too.

pub mod bounds;
pub mod cluster;
pub mod consistency;
pub mod disk;
pub mod fleet;
pub mod host;
pub mod keyspace;
pub mod load;
pub mod logs;
pub mod net;
pub mod profile;
pub mod remote_disk;
pub mod requests;
pub mod settings;
pub mod stall;
pub mod starved;
pub mod version_skew;

pub use crate::findings::registry::{self, Fact, Rule, RULES};
pub use crate::findings::{Evidence, Finding, FindingId, Severity, Unit, Verdict};
pub use profile::{Profile, ProfileError};

use crate::cluster::model::Span;
use crate::facts::Report;
use crate::keyspace::Source;
use crate::probe::disk::DiskProbeKind;

impl Report {
    /// Runs the rules over this report's facts with `profile`: fills in the
    /// findings, the rules checked and the verdict.
    pub fn judge(&mut self, profile: &Profile) {
        let evaluation = evaluate(self, profile);
        self.profile = Some(profile.name.clone());
        self.verdict = Verdict::from_findings(&evaluation.findings);
        self.findings = evaluation.findings;
        self.rules_checked = evaluation.checked;
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

/// Runs every applicable rule over `report` with `profile`'s thresholds.
pub fn evaluate(report: &Report, profile: &Profile) -> Evaluation {
    let mut findings = Vec::new();
    let device = report.host.device.as_ref();
    let activity = report.host.activity.as_ref();
    let others = activity.and_then(|a| host::other_writes(a, probe_syncs(report), &profile.host));
    let contended = activity.map(|a| {
        !host::contenders(a, others, &profile.host).is_empty()
            || host::device_shared(others, &profile.host)
    });
    let coverage = remote_disk::coverage(report, probe_p99_ms(report));
    let views = fsync_views(report, profile, coverage.as_ref());
    let have = facts(report, views);
    if have.contains(&Fact::DiskProbes) {
        findings.extend(disk::fsync_slow(
            &report.disk,
            device,
            contended,
            &profile.disk,
        ));
        findings.extend(stall::fsync_stall(&report.disk, &profile.disk));
    }
    if have.contains(&Fact::BlockDevice) {
        findings.extend(disk::rotational(device, &report.disk, &profile.disk));
    }
    if have.contains(&Fact::HostActivity) || have.contains(&Fact::EtcdWalFsync) {
        findings.extend(host::io_contention(activity, others, views, &profile.host));
    }
    if have.contains(&Fact::HostCpu) {
        findings.extend(host::cpu_steal(
            activity,
            &report.host.virtualization,
            &profile.host,
        ));
    }
    if let Some(a) = activity.filter(|_| have.contains(&Fact::EtcdProcess)) {
        let a = &starved::diagnosed(a, report.cluster.as_ref());
        findings.extend(starved::cpu_starved(a, &profile.host));
        let db = report
            .cluster
            .iter()
            .flat_map(|c| &c.endpoints)
            .filter_map(|e| e.db_size_bytes)
            .max();
        findings.extend(starved::memory_pressure(a, db, &profile.host));
        if let Some(c) = &report.cluster {
            findings.extend(net::etcd_peer_loss(&a.etcd, c, &profile.net));
        }
    }
    if have.contains(&Fact::NetProbes) {
        findings.extend(net::evaluate(&report.net, &profile.net));
    }
    let stale_logs = report
        .logs
        .as_ref()
        .map_or(&[][..], |l| &l.stale_members[..]);
    if let Some(c) = &report.cluster {
        let mut found = cluster::evaluate_with_logs(c, &profile.cluster, stale_logs);
        remote_disk::annotate(&mut found, Some(c), coverage.as_ref());
        findings.extend(found);
        findings.extend(consistency::evaluate(c, &profile.consistency));
    }
    if let Some(k) = &report.keyspace {
        findings.extend(keyspace::evaluate(k, &profile.keyspace));
    }
    if let Some(l) = &report.logs {
        findings.extend(logs::evaluate(l, &profile.logs, report.cluster.as_ref()));
        // Peers the logs found unreachable are explained by a member that
        // does not answer or that its own log proves stale.
        let down: Vec<&str> = report
            .cluster
            .iter()
            .flat_map(|c| c.facts.unreachable.iter().map(|m| m.member_id.as_str()))
            .chain(l.stale_members.iter().map(|s| s.member_id.as_str()))
            .collect();
        logs::explain_down_peers(&mut findings, l, &down);
        if report.cluster.is_none() {
            // Without the member list, the logs alone name stale members.
            findings.extend(cluster::stale_from_logs(&l.stale_members));
        }
    }
    if have.contains(&Fact::Logs) || have.contains(&Fact::ClusterMetrics) {
        findings.extend(requests::expensive_requests(
            report.logs.as_ref(),
            report.cluster.as_ref(),
            &profile.requests,
            profile.cluster.min_histogram_count,
        ));
    }
    if let Some(l) = &report.load {
        findings.extend(load::evaluate(l, report.cluster.as_ref(), profile));
    }
    if let Some(d) = &report.discovery {
        findings.extend(settings::wal_on_data_device(d));
        findings.extend(settings::snapshot_count_high(
            &findings,
            &d.settings,
            &profile.cluster,
            profile.keyspace.max_request_bytes,
        ));
        // Only where the settings were read (not OpenShift's certificate
        // layout, which says nothing of them; kubeadm's manifest is
        // etcd's whole command line).
        if d.source != crate::discover::Source::Openshift {
            settings::explain_compaction(&mut findings, &d.settings);
            settings::explain_corruption_checks(&mut findings, &d.settings);
        }
    }
    starved::explain_by_cpu(&mut findings, views);
    sort(&mut findings);
    let checked = registry::checked(&have);
    for f in &findings {
        debug_assert!(
            checked.contains(&f.id) && f.id.rule().severities.contains(&f.severity),
            "{} at {} is not what the registry says it can give",
            f.id,
            f.severity
        );
    }
    Evaluation { findings, checked }
}

/// The kinds of facts `report` holds (`views`: the fdatasync p99s it has).
fn facts(report: &Report, views: host::FsyncViews) -> Vec<Fact> {
    let activity = report.host.activity.as_ref();
    let cluster = report.cluster.as_ref();
    let keyspace = report.keyspace.as_ref();
    [
        (Fact::DiskProbes, !report.disk.is_empty()),
        (Fact::BlockDevice, report.host.device.is_some()),
        (Fact::HostActivity, activity.is_some()),
        (Fact::HostCpu, activity.is_some_and(|a| a.cpu.is_some())),
        (
            Fact::EtcdProcess,
            activity.is_some_and(|a| !a.etcd.is_empty()),
        ),
        (Fact::EtcdWalFsync, views.etcd_p99_ms.is_some()),
        (Fact::NetProbes, !report.net.is_empty()),
        (Fact::ClusterStatus, cluster.is_some()),
        (
            Fact::ClusterMetrics,
            cluster.is_some_and(|c| !c.metrics.is_empty()),
        ),
        (
            Fact::Consistency,
            cluster.is_some_and(|c| c.consistency.is_some()),
        ),
        (Fact::Keyspace, keyspace.is_some()),
        (
            Fact::KeyspaceHistory,
            keyspace.is_some_and(|k| k.source == Source::Snapshot),
        ),
        (Fact::Logs, report.logs.is_some()),
        (Fact::Load, report.load.is_some()),
        (Fact::EtcdSettings, report.discovery.is_some()),
    ]
    .into_iter()
    .filter_map(|(fact, held)| held.then_some(fact))
    .collect()
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

/// The fdatasync p99 of our fsync and WAL probes, ms.
fn probe_p99_ms(report: &Report) -> Option<f64> {
    report
        .disk
        .iter()
        .filter(|r| matches!(r.probe, DiskProbeKind::Fsync | DiskProbeKind::Wal))
        .map(|r| r.latency_us.p99 / 1000.0)
        .reduce(f64::max)
}

/// The fdatasync p99 our probes and etcd's metrics saw, for the
/// differential diagnosis: etcd's only from the members whose WAL is on
/// the probed device, where that is known ([`remote_disk`]).
fn fsync_views(
    report: &Report,
    profile: &Profile,
    coverage: Option<&remote_disk::Coverage>,
) -> host::FsyncViews {
    let probe_p99_ms = probe_p99_ms(report);
    let etcd_p99_ms = report
        .cluster
        .iter()
        .flat_map(|c| &c.metrics)
        .filter(|m| remote_disk::probed(coverage, m.member_id.as_deref()))
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
