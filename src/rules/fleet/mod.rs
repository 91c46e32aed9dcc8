//! Fleet rules: outliers among hosts and paths of a merged fleet report.
//!
//! - `fleet.disk-outlier`: a host whose disk probe p99 is more than
//!   [`FleetThresholds::outlier_ratio`] times the fleet median of that
//!   probe AND above the profile's own warn level for it. Both: a host three
//!   times slower than fast siblings may still be fast (no finding), and a
//!   slow fleet is every host's own finding, not an outlier.
//! - `fleet.path-outlier`: a link (both directions of a host pair) whose
//!   RTT p99 is more than the ratio times the fleet median over all
//!   measured paths AND at the RTT warn level of the net rules; or whose
//!   throughput (the slower direction) is under the fleet median over
//!   [`FleetThresholds::throughput_outlier_ratio`]: a NIC negotiated at
//!   10 Mbit/s or a mis-set policer carries a hundredth of its siblings'
//!   rate with a normal idle RTT. The summary says when its throughput is
//!   asymmetric.
//!
//! Pure functions of the merged rows and the profile.

use super::profile::Profile;
use crate::findings::emit::Emit;
use crate::findings::registry::ids;
use crate::findings::{Draft, Evidence, Finding, Severity, Unit};
use crate::fleet::{DiskRow, PathEntry};
use crate::measure::{median, round2};
use crate::probe::disk::DiskProbeKind;
use crate::rules::by;

/// Builds the ids of this file's findings: all are `run::fleet`'s.
const EMIT: Emit<by::fleet> = Emit::new();

pub use super::profile::FleetThresholds;

/// Runs the fleet rules: the hosts' and links' findings, in name order
/// (the registry's loop sorts them by severity and id).
pub fn evaluate(disk: &[DiskRow], paths: &[PathEntry], profile: &Profile) -> Vec<Finding> {
    let mut findings: Vec<Finding> = disk
        .iter()
        .flat_map(|row| disk_outliers(row, profile))
        .collect();
    findings.extend(path_outliers(paths, profile));
    findings.sort_by(|a, b| a.summary.cmp(&b.summary));
    findings
}

/// The profile's warn level for a disk probe's p99, ms.
fn disk_warn_ms(probe: DiskProbeKind, profile: &Profile) -> f64 {
    match probe {
        DiskProbeKind::Backend => profile.disk.backend_commit_p99_warn_ms,
        DiskProbeKind::Fsync | DiskProbeKind::Wal | DiskProbeKind::Paced => {
            profile.disk.wal_fsync_p99_warn_ms
        }
    }
}

/// `fleet.disk-outlier` for each host of one probe's row.
pub fn disk_outliers(row: &DiskRow, profile: &Profile) -> Vec<Finding> {
    let t = &profile.fleet;
    if (row.hosts.len() as u64) < t.min_members {
        return Vec::new();
    }
    let floor = disk_warn_ms(row.probe, profile);
    let limit = (row.fleet_p99_ms * t.outlier_ratio).max(floor);
    row.hosts
        .iter()
        .filter(|h| h.p99_ms > limit)
        .map(|h| EMIT.finding(ids::FleetDiskOutlier, Draft {
            severity: Severity::Warn,
            summary: format!(
                "host {}: {} p99 {} ms is {}x the fleet median {} ms",
                h.host,
                row.probe,
                round2(h.p99_ms),
                round2(h.p99_ms / row.fleet_p99_ms.max(1e-6)),
                round2(row.fleet_p99_ms)
            ),
            evidence: vec![
                evidence(format!("{} p99 on {}", row.probe, h.host), h.p99_ms, limit),
                evidence(format!("{} p99 fleet median", row.probe), row.fleet_p99_ms, floor),
            ],
            recommendation: format!(
                "Host {} has the slow disk of this fleet: check that its etcd data dir is on the same \
                 class of device as the others' (SSD/NVMe, not a shared or burst-credit volume), that \
                 nothing else writes to it, and run `etcd-doctor qualify` there again; replace the \
                 volume before it becomes the member that stalls the cluster's commits.",
                h.host
            ),
            commands: vec![format!(
                "etcd-doctor qualify --dir /var/lib/etcd --probe fsync,wal  # on {}",
                h.host
            )],
        }))
        .collect()
}

/// A link: the two hosts of a path, in name order.
fn link(p: &PathEntry) -> (&str, &str) {
    if p.from <= p.to {
        (&p.from, &p.to)
    } else {
        (&p.to, &p.from)
    }
}

/// A path's throughput: the slower of the two directions its host
/// measured, Mbit/s.
fn rate(p: &PathEntry) -> Option<f64> {
    match (p.upload_mbit_s, p.download_mbit_s) {
        (Some(u), Some(d)) => Some(u.min(d)),
        (u, d) => u.or(d),
    }
}

/// The fleet's yardsticks for paths: the median RTT p99 and its limit,
/// the median throughput and its floor; each `None` with too few paths.
struct PathLimits {
    rtt: Option<(f64, f64)>,
    rate: Option<(f64, f64)>,
}

impl PathLimits {
    fn new(paths: &[PathEntry], profile: &Profile) -> PathLimits {
        let t = &profile.fleet;
        let enough = |n: usize| n as u64 >= t.min_members && n > 0;
        let rtts: Vec<f64> = paths.iter().filter_map(|p| p.rtt_p99_ms).collect();
        let rates: Vec<f64> = paths.iter().filter_map(rate).collect();
        let floor = profile.net.heartbeat_interval_ms * profile.net.rtt_warn_heartbeat_ratio;
        PathLimits {
            rtt: enough(rtts.len()).then(|| {
                let m = median(rtts.iter().copied()).unwrap_or(0.0);
                (m, (m * t.outlier_ratio).max(floor))
            }),
            rate: enough(rates.len()).then(|| {
                let m = median(rates.iter().copied()).unwrap_or(0.0);
                (m, m / t.throughput_outlier_ratio.max(1e-6))
            }),
        }
    }

    fn slow_rtt(&self, p: &PathEntry) -> bool {
        matches!((self.rtt, p.rtt_p99_ms), (Some((_, limit)), Some(r)) if r > limit)
    }

    fn slow_rate(&self, p: &PathEntry) -> bool {
        matches!((self.rate, rate(p)), (Some((_, floor)), Some(r)) if r < floor)
    }
}

/// `fleet.path-outlier` for each link whose RTT p99 or throughput stands
/// out.
pub fn path_outliers(paths: &[PathEntry], profile: &Profile) -> Vec<Finding> {
    let limits = PathLimits::new(paths, profile);
    let mut links: Vec<(&str, &str)> = paths
        .iter()
        .filter(|p| limits.slow_rtt(p) || limits.slow_rate(p))
        .map(link)
        .collect();
    links.sort();
    links.dedup();
    links
        .into_iter()
        .map(|(a, b)| path_finding(a, b, paths, &limits, &profile.fleet))
        .collect()
}

fn path_finding(
    a: &str,
    b: &str,
    paths: &[PathEntry],
    limits: &PathLimits,
    t: &FleetThresholds,
) -> Finding {
    let both: Vec<&PathEntry> = paths.iter().filter(|p| link(p) == (a, b)).collect();
    let asymmetric: Vec<String> = both
        .iter()
        .filter(|p| p.asymmetry_ratio.is_some_and(|r| r >= t.asymmetry_ratio))
        .map(|p| {
            format!(
                "{} -> {} {} Mbit/s but {} -> {} {} Mbit/s",
                p.from,
                p.to,
                round2(p.upload_mbit_s.unwrap_or_default()),
                p.to,
                p.from,
                round2(p.download_mbit_s.unwrap_or_default())
            )
        })
        .collect();
    let mut parts = Vec::new();
    let mut evidence = Vec::new();
    if let Some((fleet, limit)) = limits
        .rtt
        .filter(|_| both.iter().any(|p| limits.slow_rtt(p)))
    {
        let worst = both.iter().filter_map(|p| p.rtt_p99_ms).fold(0.0, f64::max);
        parts.push(format!(
            "RTT p99 {} ms is {}x the fleet median {} ms",
            round2(worst),
            round2(worst / fleet.max(1e-6)),
            round2(fleet)
        ));
        evidence.extend(both.iter().filter_map(|p| {
            let rtt = p.rtt_p99_ms?;
            Some(evidence_in(
                format!("RTT p99 {} -> {}", p.from, p.to),
                rtt,
                limit,
                Unit::Ms,
            ))
        }));
    }
    if let Some((fleet, floor)) = limits
        .rate
        .filter(|_| both.iter().any(|p| limits.slow_rate(p)))
    {
        let slowest = both.iter().filter_map(|p| rate(p)).fold(f64::MAX, f64::min);
        parts.push(format!(
            "throughput {} Mbit/s is 1/{} of the fleet median {} Mbit/s",
            round2(slowest),
            round2(fleet / slowest.max(1e-6)),
            round2(fleet)
        ));
        evidence.extend(both.iter().filter_map(|p| {
            let r = rate(p)?;
            Some(evidence_in(
                format!("throughput {} -> {} (slower direction)", p.from, p.to),
                r,
                floor,
                Unit::MbitPerSec,
            ))
        }));
    }
    let mut summary = format!("path {a} <-> {b}: {}", parts.join("; "));
    if !asymmetric.is_empty() {
        summary.push_str(&format!("; asymmetric: {}", asymmetric.join("; ")));
    }
    EMIT.finding(ids::FleetPathOutlier, Draft {
        severity: Severity::Warn,
        summary,
        evidence,
        recommendation: format!(
            "The path between {a} and {b} is the slow one of this fleet: something on it queues \
             or caps it (a shaper or policer, a NIC or switch port negotiated down to 10/100 \
             Mbit/s or half duplex, a saturated uplink, a bulk flow sharing the NIC). Trace it \
             (`mtr`), check both hosts' link speed and duplex and the NIC and switch-port \
             counters, and keep bulk traffic off etcd's peer path; a leader on either host waits \
             for it on every commit, and a snapshot sent over it to a new member may time out."
        ),
        commands: vec![
            format!("mtr -rwc 100 {b}  # on {a}"),
            format!("ethtool $(ip -o route get {b} | sed -n 's/.* dev \\([^ ]*\\).*/\\1/p') | grep -iE 'speed|duplex'  # on {a}"),
            format!("etcd-doctor net --peers {b}:7480 --probe rtt,throughput  # on {a}, with `etcd-doctor agent --listen {b}:7480` on {b}"),
        ],
    })
}

fn evidence(metric: String, observed: f64, threshold: f64) -> Evidence {
    evidence_in(metric, observed, threshold, Unit::Ms)
}

fn evidence_in(metric: String, observed: f64, threshold: f64, unit: Unit) -> Evidence {
    Evidence {
        metric,
        observed: round2(observed),
        threshold: round2(threshold),
        unit,
    }
}

#[cfg(test)]
mod tests;
