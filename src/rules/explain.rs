//! The explain passes: after every rule ran, each pass reads the findings
//! together and drops one to info, or adds to its fix, where another
//! finding or a setting is its cause (one cause, one finding). They run in
//! [`PASSES`]'s order, the one place that names them.

use super::context::Context;
use super::{logs, remote_disk, settings, starved};
use crate::discover::Source;
use crate::findings::Finding;

/// A pass over all findings of one report.
pub type Pass = fn(&Context, &mut [Finding]);

/// Every explain pass, in the order they run.
pub const PASSES: [Pass; 5] = [
    probe_reach,
    down_peers,
    compaction,
    corruption_checks,
    cpu_starved,
];

/// Slow-disk metrics of members whose WAL the local probe did not measure
/// say so ([`remote_disk`]).
fn probe_reach(cx: &Context, findings: &mut [Finding]) {
    remote_disk::annotate(
        findings,
        cx.report.cluster.as_ref(),
        cx.coverage.as_ref(),
        cx.saturated_busy_pct
            .map(|busy_pct| remote_disk::Saturated {
                busy_pct,
                probed_wal_p99_ms: cx.views.etcd_p99_ms,
            }),
    );
}

/// Peers the logs found unreachable are explained by a member that does
/// not answer or that its own log proves stale.
fn down_peers(cx: &Context, findings: &mut [Finding]) {
    let Some(l) = &cx.report.logs else {
        return;
    };
    let down: Vec<&str> = cx
        .report
        .cluster
        .iter()
        .flat_map(|c| c.facts.unreachable.iter().map(|m| m.member_id.as_str()))
        .chain(l.stale_members.iter().map(|s| s.member_id.as_str()))
        .collect();
    logs::explain_down_peers(findings, l, &down);
}

/// The settings discovery read, where it read them: not OpenShift's
/// certificate layout, which says nothing of them (kubeadm's manifest is
/// etcd's whole command line).
fn read_settings<'a>(cx: &Context<'a>) -> Option<&'a crate::discover::Settings> {
    let d = cx.report.discovery.as_ref()?;
    (d.source != Source::Openshift).then_some(&d.settings)
}

/// History and fragmentation findings say whether etcd compacts by itself.
fn compaction(cx: &Context, findings: &mut [Finding]) {
    if let Some(s) = read_settings(cx) {
        settings::explain_compaction(findings, s);
    }
}

/// An inconsistency finding says whether etcd checks its data itself.
fn corruption_checks(cx: &Context, findings: &mut [Finding]) {
    if let Some(s) = read_settings(cx) {
        settings::explain_corruption_checks(findings, s);
    }
}

/// Late heartbeats, slow applies and slow fsyncs of an etcd starved of
/// CPU are explained by it.
fn cpu_starved(cx: &Context, findings: &mut [Finding]) {
    let cluster = cx.report.cluster.as_ref();
    let scene = starved::CpuScene {
        views: cx.views,
        probe_tail: cx.cpu_tail.is_some(),
    };
    starved::explain_by_cpu(findings, scene, |f| {
        remote_disk::of_unprobed(f, cluster, cx.coverage.as_ref())
    });
}
