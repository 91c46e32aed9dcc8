//! The rule functions the registry names (src/findings/registry.rs): each
//! reads a [`Context`] and returns its findings. They only pick their
//! facts and thresholds out of the context and call the rule files, which
//! stay pure functions of their own inputs. The registry runs one when a
//! fact it needs is held, so none checks for its facts again (a rule's
//! input missing although its fact is held, e.g. no cluster besides the
//! logs, is the rule's own condition and says so).

use super::context::Context;
use super::{cluster, consistency, disk, fleet, host, keyspace, load, logs, net};
use super::{requests, settings, stall, starved};
use crate::findings::Finding;

/// `disk.fsync-slow` from the disk probes.
pub fn disk_fsync_slow(cx: &Context) -> Vec<Finding> {
    let r = cx.report;
    let device = r.host.device.as_ref();
    let cpu = disk::ProbeCpu {
        busy_pct: cx.saturated_busy_pct,
        tail: cx.cpu_tail,
    };
    disk::fsync_slow(&r.disk, device, cx.contended, cpu, &cx.profile.disk)
        .into_iter()
        .collect()
}

/// `disk.fsync-stall`.
pub fn disk_fsync_stall(cx: &Context) -> Vec<Finding> {
    stall::fsync_stall(&cx.report.disk, &cx.profile.disk)
        .into_iter()
        .collect()
}

/// `disk.rotational`.
pub fn disk_rotational(cx: &Context) -> Vec<Finding> {
    let r = cx.report;
    disk::rotational(r.host.device.as_ref(), &r.disk, &cx.profile.disk)
        .into_iter()
        .collect()
}

/// `disk.io-contention`.
pub fn io_contention(cx: &Context) -> Vec<Finding> {
    let activity = cx.report.host.activity.as_ref();
    host::io_contention(activity, cx.others, cx.views, &cx.profile.host)
        .into_iter()
        .collect()
}

/// `host.cpu-steal`.
pub fn cpu_steal(cx: &Context) -> Vec<Finding> {
    let h = &cx.report.host;
    host::cpu_steal(h.activity.as_ref(), &h.virtualization, &cx.profile.host)
        .into_iter()
        .collect()
}

/// `host.cpu-starved`.
pub fn cpu_starved(cx: &Context) -> Vec<Finding> {
    let Some(a) = cx.etcd.as_ref() else {
        return Vec::new();
    };
    let wal = starved::SlowWal {
        views: cx.views,
        contended: cx.contended,
        warn_ms: cx.profile.cluster.wal_fsync_p99_warn_ms,
        fail_ms: cx.profile.cluster.wal_fsync_p99_fail_ms,
        saturated_busy_pct: cx.saturated_busy_pct,
    };
    starved::cpu_starved(a, &cx.profile.host)
        .or_else(|| starved::cpu_behind_io(a, wal, &cx.profile.host))
        .into_iter()
        .collect()
}

/// `host.memory-pressure`.
pub fn memory_pressure(cx: &Context) -> Vec<Finding> {
    cx.memory_pressure().into_iter().collect()
}

/// The network rules over the probes.
pub fn net(cx: &Context) -> Vec<Finding> {
    net::evaluate(&cx.report.net, &cx.profile.net)
}

/// `net.lossy-link` from etcd's own peer sockets on this host, named by
/// the cluster's member list.
pub fn etcd_peer_loss(cx: &Context) -> Vec<Finding> {
    match (&cx.etcd, &cx.report.cluster) {
        (Some(a), Some(c)) => net::etcd_peer_loss(&a.etcd, c, &cx.profile.net),
        _ => Vec::new(),
    }
}

/// The cluster rules over the member list, status and metrics; members
/// whose own logs prove their data gone are stale, not unreachable.
pub fn cluster(cx: &Context) -> Vec<Finding> {
    let r = cx.report;
    let stale_logs = r.logs.as_ref().map_or(&[][..], |l| &l.stale_members[..]);
    r.cluster
        .as_ref()
        .map(|c| cluster::evaluate_with_logs(c, &cx.profile.cluster, stale_logs))
        .unwrap_or_default()
}

/// `cluster.stale-member` from the logs alone: only without the member
/// list (with it, [`cluster`] judges them).
pub fn stale_from_logs(cx: &Context) -> Vec<Finding> {
    match (&cx.report.logs, &cx.report.cluster) {
        (Some(l), None) => cluster::stale_from_logs(&l.stale_members),
        _ => Vec::new(),
    }
}

/// Data consistency, learners, proposals and version skew.
pub fn consistency(cx: &Context) -> Vec<Finding> {
    cx.report
        .cluster
        .as_ref()
        .map(|c| consistency::evaluate(c, &cx.profile.consistency))
        .unwrap_or_default()
}

/// The keyspace rules.
pub fn keyspace(cx: &Context) -> Vec<Finding> {
    cx.report
        .keyspace
        .as_ref()
        .map(|k| keyspace::evaluate(k, &cx.profile.keyspace))
        .unwrap_or_default()
}

/// The rules over etcd's own logs.
pub fn logs(cx: &Context) -> Vec<Finding> {
    let r = cx.report;
    r.logs
        .as_ref()
        .map(|l| logs::evaluate(l, &cx.profile.logs, r.cluster.as_ref()))
        .unwrap_or_default()
}

/// `cluster.expensive-requests`, from the logs and the metrics.
pub fn requests(cx: &Context) -> Vec<Finding> {
    let (r, p) = (cx.report, cx.profile);
    let min_count = p.cluster.min_histogram_count;
    requests::expensive_requests(r.logs.as_ref(), r.cluster.as_ref(), &p.requests, min_count)
        .into_iter()
        .collect()
}

/// The load rules, with the cluster over the run's window.
pub fn load(cx: &Context) -> Vec<Finding> {
    let r = cx.report;
    r.load
        .as_ref()
        .map(|l| load::evaluate(l, r.cluster.as_ref(), cx.profile))
        .unwrap_or_default()
}

/// `disk.wal-on-data-device`.
pub fn wal_on_data_device(cx: &Context) -> Vec<Finding> {
    cx.report
        .discovery
        .as_ref()
        .and_then(settings::wal_on_data_device)
        .into_iter()
        .collect()
}

/// `cluster.snapshot-count-high`, a warning when the host's memory is
/// under pressure.
pub fn snapshot_count_high(cx: &Context) -> Vec<Finding> {
    let Some(d) = &cx.report.discovery else {
        return Vec::new();
    };
    let p = cx.profile;
    let pressed = cx.memory_pressure().into_iter().collect::<Vec<_>>();
    settings::snapshot_count_high(
        &pressed,
        &d.settings,
        &p.cluster,
        p.keyspace.max_request_bytes,
    )
    .into_iter()
    .collect()
}

/// The fleet rules over a merged fleet.
pub fn fleet(cx: &Context) -> Vec<Finding> {
    cx.fleet
        .map(|f| fleet::evaluate(&f.disk, &f.paths, cx.profile))
        .unwrap_or_default()
}
