//! What every rule reads, built once per judged report: the facts, the
//! profile, the facts' kinds ([`Fact`]) and the views several rules share
//! (the host's other writers, the probes' reach over the members, the two
//! fdatasync views, etcd's diagnosed processes). Rules and explain passes
//! take a [`Context`] and nothing else, so they all have one signature and
//! a view is derived in one place.

use super::disk::{self, CpuTail};
use super::host::{self, FsyncViews, OtherWrites};
use super::profile::Profile;
use super::remote_disk::{self, Coverage};
use super::starved;
use crate::cluster::model::Span;
use crate::facts::Report;
use crate::findings::{Fact, Finding};
use crate::fleet::FleetReport;
use crate::host::activity::HostActivity;
use crate::keyspace::Source;
use crate::probe::disk::DiskProbeKind;

/// The facts of one report (or one merged fleet) and the views derived
/// from them with one profile.
pub struct Context<'a> {
    /// The host report judged (empty for a fleet).
    pub report: &'a Report,
    /// The merged fleet judged, for the fleet rules.
    pub fleet: Option<&'a FleetReport>,
    /// The thresholds.
    pub profile: &'a Profile,
    /// The kinds of facts held: a rule runs when one it needs is here.
    pub have: Vec<Fact>,
    /// The data device's writes that were not the probes' own.
    pub others: Option<OtherWrites>,
    /// Whether something else wrote to the data device during the run
    /// (`None`: the run watched no host activity).
    pub contended: Option<bool>,
    /// Which members' WALs the local disk probe measured.
    pub coverage: Option<Coverage>,
    /// The fdatasync p99 our probes and etcd's metrics saw.
    pub views: FsyncViews,
    /// etcd's processes on this host, diagnosed against the cluster's
    /// members; only when the run watched them ([`Fact::EtcdProcess`]).
    pub etcd: Option<HostActivity>,
    /// The host's CPU busy share, when it was saturated.
    pub saturated_busy_pct: Option<f64>,
    /// The disk probe's slow fdatasyncs as a saturated CPU's tail.
    pub cpu_tail: Option<CpuTail>,
}

impl<'a> Context<'a> {
    /// The context of a host report.
    pub fn new(report: &'a Report, profile: &'a Profile) -> Context<'a> {
        let activity = report.host.activity.as_ref();
        let others =
            activity.and_then(|a| host::other_writes(a, probe_syncs(report), &profile.host));
        let contended = activity.map(|a| {
            !host::contenders(a, others, &profile.host).is_empty()
                || host::device_shared(others, &profile.host)
        });
        let coverage = remote_disk::coverage(report, probe_p99_ms(report));
        let views = fsync_views(report, profile, coverage.as_ref());
        let have = facts(report, views);
        let etcd = activity
            .filter(|_| have.contains(&Fact::EtcdProcess))
            .map(|a| starved::diagnosed(a, report.cluster.as_ref()));
        let saturated_busy_pct = activity
            .and_then(|a| a.cpu)
            .map(|c| c.busy_pct)
            .filter(|b| *b >= profile.host.cpu_saturated_busy_pct);
        let cpu_tail = disk::cpu_tail(
            &report.disk,
            contended,
            saturated_busy_pct,
            profile.host.cpu_tail_probe_p50_max_ms,
        );
        Context {
            report,
            fleet: None,
            profile,
            have,
            others,
            contended,
            coverage,
            views,
            etcd,
            saturated_busy_pct,
            cpu_tail,
        }
    }

    /// The context of a merged fleet: `empty` is a report without facts,
    /// so only the fleet rules run.
    pub fn fleet(fleet: &'a FleetReport, empty: &'a Report, profile: &'a Profile) -> Context<'a> {
        let mut cx = Context::new(empty, profile);
        cx.fleet = Some(fleet);
        cx.have.push(Fact::Fleet);
        cx
    }

    /// Whether the facts hold any of `needs`.
    pub fn has_any(&self, needs: &[Fact]) -> bool {
        needs.iter().any(|n| self.have.contains(n))
    }

    /// `host.memory-pressure` as the rule finds it: the largest member
    /// database against etcd's memory. The snapshot-count rule reads it
    /// too (raft entries kept in memory may be its cause).
    pub fn memory_pressure(&self) -> Option<Finding> {
        let db = self
            .report
            .cluster
            .iter()
            .flat_map(|c| &c.endpoints)
            .filter_map(|e| e.db_size_bytes)
            .max();
        starved::memory_pressure(self.etcd.as_ref()?, db, &self.profile.host)
    }
}

/// The kinds of facts `report` holds (`views`: the fdatasync p99s it has).
fn facts(report: &Report, views: FsyncViews) -> Vec<Fact> {
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
        .map(|r| r.latency_us.p99_ms())
        .reduce(f64::max)
}

/// The fdatasync p99 our probes and etcd's metrics saw, for the
/// differential diagnosis: etcd's only from the members whose WAL is on
/// the probed device, where that is known ([`remote_disk`]).
fn fsync_views(report: &Report, profile: &Profile, coverage: Option<&Coverage>) -> FsyncViews {
    let probe_p99_ms = probe_p99_ms(report);
    let etcd_p99_ms = report
        .cluster
        .iter()
        .flat_map(|c| &c.metrics)
        .filter(|m| remote_disk::probed(coverage, m.member_id.as_deref()))
        .filter_map(|m| m.wal_fsync)
        .filter(|h| h.span == Span::Window && h.count >= profile.cluster.min_histogram_count)
        .map(|h| h.judged_p99_ms())
        .reduce(f64::max);
    FsyncViews {
        probe_p99_ms,
        etcd_p99_ms,
        warn_above_ms: profile.disk.wal_fsync_p99_warn_ms,
        fail_above_ms: profile.disk.wal_fsync_p99_fail_ms,
    }
}
