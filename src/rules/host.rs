//! Host rules: the differential diagnosis of slow disk IO (hardware or
//! contention?) and CPU steal. Pure functions over host activity sampled
//! while the probes ran, the probes' results and etcd's own WAL fsync
//! metric. The fixes are the guide's Section 4: isolate IO-intensive
//! services from the etcd host, schedule IO-heavy VMs on different nodes.

use serde::{Deserialize, Serialize};

use crate::host::activity::{HostActivity, ProcessIo};
use crate::host::etcd::ETCD_NAME;
use crate::host::virt::Virtualization;

use super::bounds::{check_keys, levels, BadKey, Bound};
use crate::findings::emit::Emit;
use crate::findings::registry::ids;
use crate::findings::{Draft, Evidence, Finding, Severity, Unit};
use crate::rules::by;

/// Builds the ids of `run::io_contention`'s findings.
const CONTENTION: Emit<by::io_contention> = Emit::new();
/// Builds the ids of `run::cpu_steal`'s findings.
const STEAL: Emit<by::cpu_steal> = Emit::new();

/// Host thresholds of a profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HostThresholds {
    /// CPU steal over the run above which etcd's timing suffers, percent.
    pub cpu_steal_warn_pct: f64,
    /// CPU steal fail level, percent.
    pub cpu_steal_fail_pct: f64,
    /// Write rate from which another process on the data device counts as
    /// a contender, MiB/s.
    pub contender_min_write_mib_s: f64,
    /// Device busy share above which the device is saturated, percent.
    pub device_util_warn_pct: f64,
    /// Write calls per second from which another process on the data
    /// device counts as a contender whatever its bytes: small synced
    /// writes load a disk by their count.
    pub contender_min_write_ops_s: f64,
    /// Writes per second the data device completed beyond the probes' own
    /// from which the device counts as shared, and every other process
    /// writing to it as a contender.
    pub contender_min_device_iops: f64,
    /// Device writes one probe fdatasync causes (data, journal and commit
    /// blocks), to tell the probes' own writes from others'; also the
    /// device writes counted per write call of etcd's own.
    pub probe_device_writes_per_sync: f64,
    /// On a shared device, the share of the device's other writes a process
    /// must be able to account for (its write calls, or its bytes as 4 KiB
    /// writes) to be named: one that wrote almost nothing is never named.
    pub contender_min_share_pct: f64,
    /// Time etcd's cgroup was throttled by its CPU quota, as a share of
    /// the run's wall time, from which etcd is CPU-starved, percent.
    pub cpu_throttled_warn_pct: f64,
    /// Throttled-time fail level, percent.
    pub cpu_throttled_fail_pct: f64,
    /// etcd's threads' run-queue wait per second of CPU they got from
    /// which etcd is CPU-starved (its work waits for a CPU as long as that).
    pub cpu_run_delay_warn_ratio: f64,
    /// Run-queue wait ratio fail level.
    pub cpu_run_delay_fail_ratio: f64,
    /// Mean wait for a CPU each time an etcd thread could run, ms, under
    /// which no ratio counts (an idle etcd waiting half a millisecond per
    /// wake-up on a busy host is not starved).
    pub cpu_run_wait_min_ms: f64,
    /// Run-queue wait, ms per second of the run (all threads), under which
    /// no ratio counts.
    pub cpu_run_delay_min_ms_per_s: f64,
    /// Share of the host's CPU time busy (not idle, not iowait) from which
    /// its CPUs are saturated, percent: etcd's slow WAL fsyncs on a device
    /// the probe found fast, with no other writer on it, are then the CPU's.
    pub cpu_saturated_busy_pct: f64,
    /// The disk probe's median fdatasync at most this, ms, on a saturated
    /// host with nobody else on the device: its slow tail is the CPU's.
    pub cpu_tail_probe_p50_max_ms: f64,
    /// Major page faults of etcd per second from which its memory is
    /// under pressure (pages read back from disk or swap).
    pub major_faults_warn_per_s: f64,
    /// Major faults fail level, per second.
    pub major_faults_fail_per_s: f64,
    /// etcd's memory in swap from which its memory is under pressure, MiB.
    pub etcd_swap_warn_mib: f64,
}

impl Default for HostThresholds {
    /// The numbers of `profiles/etcd-default.toml`.
    fn default() -> Self {
        HostThresholds {
            cpu_steal_warn_pct: 5.0,
            cpu_steal_fail_pct: 10.0,
            contender_min_write_mib_s: 1.0,
            device_util_warn_pct: 60.0,
            contender_min_write_ops_s: 50.0,
            contender_min_device_iops: 50.0,
            probe_device_writes_per_sync: 3.0,
            contender_min_share_pct: 10.0,
            cpu_throttled_warn_pct: 5.0,
            cpu_throttled_fail_pct: 25.0,
            cpu_run_delay_warn_ratio: 0.5,
            cpu_run_delay_fail_ratio: 2.0,
            cpu_run_wait_min_ms: 1.0,
            cpu_run_delay_min_ms_per_s: 150.0,
            cpu_saturated_busy_pct: 90.0,
            cpu_tail_probe_p50_max_ms: 0.5,
            major_faults_warn_per_s: 150.0,
            major_faults_fail_per_s: 500.0,
            etcd_swap_warn_mib: 1.0,
        }
    }
}

impl HostThresholds {
    /// Checks the values (positive, warn not above fail).
    pub fn validate(&self) -> Result<(), BadKey> {
        check_keys(
            "host",
            &[
                (
                    "cpu_steal_warn_pct",
                    self.cpu_steal_warn_pct,
                    Bound::Percent,
                ),
                (
                    "cpu_steal_fail_pct",
                    self.cpu_steal_fail_pct,
                    Bound::Percent,
                ),
                (
                    "contender_min_write_mib_s",
                    self.contender_min_write_mib_s,
                    Bound::Positive,
                ),
                (
                    "device_util_warn_pct",
                    self.device_util_warn_pct,
                    Bound::Percent,
                ),
                (
                    "contender_min_write_ops_s",
                    self.contender_min_write_ops_s,
                    Bound::Positive,
                ),
                (
                    "contender_min_device_iops",
                    self.contender_min_device_iops,
                    Bound::Positive,
                ),
                (
                    "probe_device_writes_per_sync",
                    self.probe_device_writes_per_sync,
                    Bound::Positive,
                ),
                (
                    "contender_min_share_pct",
                    self.contender_min_share_pct,
                    Bound::Percent,
                ),
                (
                    "cpu_throttled_warn_pct",
                    self.cpu_throttled_warn_pct,
                    Bound::Percent,
                ),
                (
                    "cpu_throttled_fail_pct",
                    self.cpu_throttled_fail_pct,
                    Bound::Percent,
                ),
                (
                    "cpu_run_delay_warn_ratio",
                    self.cpu_run_delay_warn_ratio,
                    Bound::Positive,
                ),
                (
                    "cpu_run_delay_fail_ratio",
                    self.cpu_run_delay_fail_ratio,
                    Bound::Positive,
                ),
                (
                    "cpu_run_wait_min_ms",
                    self.cpu_run_wait_min_ms,
                    Bound::Positive,
                ),
                (
                    "cpu_run_delay_min_ms_per_s",
                    self.cpu_run_delay_min_ms_per_s,
                    Bound::Positive,
                ),
                (
                    "cpu_saturated_busy_pct",
                    self.cpu_saturated_busy_pct,
                    Bound::Percent,
                ),
                (
                    "cpu_tail_probe_p50_max_ms",
                    self.cpu_tail_probe_p50_max_ms,
                    Bound::Positive,
                ),
                (
                    "major_faults_warn_per_s",
                    self.major_faults_warn_per_s,
                    Bound::Positive,
                ),
                (
                    "major_faults_fail_per_s",
                    self.major_faults_fail_per_s,
                    Bound::Positive,
                ),
                (
                    "etcd_swap_warn_mib",
                    self.etcd_swap_warn_mib,
                    Bound::Positive,
                ),
            ],
        )?;
        levels(
            "host",
            ("cpu_steal_warn_pct", self.cpu_steal_warn_pct),
            ("cpu_steal_fail_pct", self.cpu_steal_fail_pct),
        )?;
        levels(
            "host",
            ("cpu_throttled_warn_pct", self.cpu_throttled_warn_pct),
            ("cpu_throttled_fail_pct", self.cpu_throttled_fail_pct),
        )?;
        levels(
            "host",
            ("cpu_run_delay_warn_ratio", self.cpu_run_delay_warn_ratio),
            ("cpu_run_delay_fail_ratio", self.cpu_run_delay_fail_ratio),
        )?;
        levels(
            "host",
            ("major_faults_warn_per_s", self.major_faults_warn_per_s),
            ("major_faults_fail_per_s", self.major_faults_fail_per_s),
        )
    }
}

/// How fast etcd's disk looked, from the two places that measure it.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct FsyncViews {
    /// Worst fdatasync p99 our probes measured on the data device, ms.
    pub probe_p99_ms: Option<f64>,
    /// Worst WAL fsync p99 etcd's own metrics report, ms.
    pub etcd_p99_ms: Option<f64>,
    /// The p99 above which either leaves no headroom (warn level), ms.
    pub warn_above_ms: f64,
    /// The p99 above which either is too slow (fail level), ms.
    pub fail_above_ms: f64,
}

impl FsyncViews {
    /// How slow the worst view is, if it is.
    fn slowness(&self) -> Option<Severity> {
        let worst = self
            .probe_p99_ms
            .into_iter()
            .chain(self.etcd_p99_ms)
            .reduce(f64::max)?;
        super::disk::level(worst, self.warn_above_ms, self.fail_above_ms)
    }

    /// etcd's own metrics are too slow while the probe of the same device
    /// is not even at the warn level: the hardware is not the cause.
    fn fast_probe_slow_etcd(&self) -> bool {
        matches!(
            (self.probe_p99_ms, self.etcd_p99_ms),
            (Some(probe), Some(etcd)) if probe <= self.warn_above_ms && etcd > self.fail_above_ms
        )
    }
}

/// True when `w` is etcd itself (flagged by the sampler, or by its command
/// name in reports written before the flag): its writes are the workload,
/// not contention.
fn is_etcd(w: &ProcessIo) -> bool {
    w.etcd || w.comm == ETCD_NAME
}

/// The data device's writes that were not the probes' own.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct OtherWrites {
    /// Writes per second the device completed beyond the probes' own.
    pub write_iops: f64,
    /// The device's busy share times others' share of its writes, percent.
    pub util_pct: f64,
}

/// What the data device did beyond the probes' `probe_syncs` fdatasyncs
/// and etcd's own writes (each probe fdatasync and each etcd write call
/// costing [`HostThresholds::probe_device_writes_per_sync`] device writes,
/// etcd's bytes at least one per 4 KiB), from its own counters: a busy
/// cluster's WAL is its load, not a neighbour's.
pub fn other_writes(
    activity: &HostActivity,
    probe_syncs: u64,
    t: &HostThresholds,
) -> Option<OtherWrites> {
    let d = activity.device_io.as_ref()?;
    let probe_iops =
        probe_syncs as f64 * t.probe_device_writes_per_sync / activity.window_s.max(1e-3);
    let etcd_iops: f64 = activity
        .writers
        .iter()
        .filter(|w| w.on_device && is_etcd(w))
        .map(|w| device_writes(w) * t.probe_device_writes_per_sync)
        .sum();
    let write_iops = (d.write_iops - probe_iops - etcd_iops).max(0.0);
    let share = if d.write_iops > 0.0 {
        write_iops / d.write_iops
    } else {
        0.0
    };
    let round1 = |v: f64| (v * 10.0).round() / 10.0;
    Some(OtherWrites {
        write_iops: round1(write_iops),
        util_pct: round1(d.util_pct * share),
    })
}

/// True when the device's own counters show writes beyond the probes'.
pub fn device_shared(others: Option<OtherWrites>, t: &HostThresholds) -> bool {
    others.is_some_and(|o| o.write_iops >= t.contender_min_device_iops)
}

/// Other processes on the data device (etcd itself aside) that wrote to
/// storage at the contender rate in bytes or in write calls, or at all
/// when the device's counters show it shared beyond the probes' own writes
/// (a deep queue of small async writes counts by the device, not by calls).
pub fn contenders<'a>(
    activity: &'a HostActivity,
    others: Option<OtherWrites>,
    t: &HostThresholds,
) -> Vec<&'a ProcessIo> {
    let shared = device_shared(others, t);
    activity
        .writers
        .iter()
        .filter(|w| w.on_device && !is_etcd(w))
        .filter(|w| {
            w.write_mib_s >= t.contender_min_write_mib_s
                || w.write_ops_s >= t.contender_min_write_ops_s
                || (shared && accounts_for_share(w, others, t))
        })
        .collect()
}

/// Device writes `w` made, roughly: one per write call when its calls are
/// counted (a shell's few buffered writes merge into few device writes),
/// else one per 4 KiB of its bytes (libaio and io_uring submit without
/// write calls; 4 KiB is the smallest write they can make).
fn device_writes(w: &ProcessIo) -> f64 {
    if w.write_ops_s >= 1.0 {
        w.write_ops_s
    } else {
        w.write_mib_s * 256.0
    }
}

/// True when `w`'s device writes could make up the profile's share of the
/// device's writes that were not the probe's or etcd's.
fn accounts_for_share(w: &ProcessIo, others: Option<OtherWrites>, t: &HostThresholds) -> bool {
    let floor = others.map_or(0.0, |o| o.write_iops) * t.contender_min_share_pct / 100.0;
    device_writes(w) >= floor.max(1.0)
}

/// disk.io-contention, the differential diagnosis: other processes writing
/// to the data device (by bytes, by calls or by the device's own write
/// count) while fdatasync is slow means contention; etcd's own metrics slow
/// while a probe on the same device is fast means the slowness came from
/// load, not from the hardware. A busy device alone is no finding when the
/// probe measured good latency.
pub fn io_contention(
    activity: Option<&HostActivity>,
    others: Option<OtherWrites>,
    views: FsyncViews,
    t: &HostThresholds,
) -> Option<Finding> {
    let contenders = activity
        .map(|a| contenders(a, others, t))
        .unwrap_or_default();
    let unnamed = contenders.is_empty()
        && device_shared(others, t)
        && activity.is_some_and(|a| !a.writers.iter().any(|w| w.on_device));
    let probe_fast = views.probe_p99_ms.is_some_and(|p| p <= views.warn_above_ms);
    let busy = others.is_some_and(|o| o.util_pct >= t.device_util_warn_pct);
    // The device's own counters saw no writes but etcd's and the probe's:
    // a slow WAL beside a fast probe is then etcd's own load or its CPU,
    // not a neighbour's, and cluster.metrics-wal-fsync-slow says it.
    let no_neighbour = contenders.is_empty() && others.is_some() && !device_shared(others, t);
    let (severity, summary) = match views.slowness() {
        Some(slowness) if !contenders.is_empty() => (
            slowness,
            format!(
                "fdatasync is slow while {} wrote to the etcd data device: IO contention{}",
                names(&contenders),
                beyond(others)
            ),
        ),
        _ if views.fast_probe_slow_etcd() && !no_neighbour => (
            Severity::Fail,
            format!(
                "etcd's WAL fsync p99 is {:.1} ms but a probe of the same device just measured {:.2} ms: \
                 the hardware is fast, etcd is slowed by contention{}",
                views.etcd_p99_ms.unwrap_or_default(),
                views.probe_p99_ms.unwrap_or_default(),
                if contenders.is_empty() {
                    String::new()
                } else {
                    format!(" ({} wrote during the probe)", names(&contenders))
                }
            ),
        ),
        Some(slowness) if unnamed => (
            slowness,
            format!(
                "fdatasync is slow while the etcd data device served writes that were not the \
                 probe's{}; no process here holds files on it (another VM, container or host \
                 shares it): IO contention",
                beyond(others)
            ),
        ),
        _ if !contenders.is_empty() && busy && !probe_fast => (
            Severity::Warn,
            format!(
                "the etcd data device was {:.0}% busy with others' writes ({}): no headroom for \
                 etcd's fsyncs",
                others.map(|o| o.util_pct).unwrap_or_default(),
                names(&contenders)
            ),
        ),
        _ => return None,
    };
    Some(CONTENTION.finding(ids::DiskIoContention, Draft {
        severity,
        summary,
        evidence: contention_evidence(&contenders, others, views, t),
        recommendation: "Isolate IO-intensive services from the etcd host: move the writers named here \
            to other nodes or other disks, and on virtualized hosts schedule IO-heavy VMs on different \
            nodes. Give etcd a disk of its own (or its WAL one, with --wal-dir). Until then, lower the \
            writers' IO priority."
            .into(),
        commands: contenders
            .iter()
            .map(|w| format!("ionice -c 3 -p {}  # {}", w.pid, w.comm))
            .chain(["pidstat -d 1 10".to_string()])
            .collect(),
    }))
}

/// ` (N writes/s beyond the probe's and etcd's own)`, when known.
fn beyond(others: Option<OtherWrites>) -> String {
    others
        .filter(|o| o.write_iops >= 1.0)
        .map(|o| {
            format!(
                " (the device completed {:.0} writes/s beyond the probe's and etcd's own)",
                o.write_iops
            )
        })
        .unwrap_or_default()
}

fn names(writers: &[&ProcessIo]) -> String {
    writers
        .iter()
        .map(|w| {
            format!(
                "{} (pid {}, {:.1} MiB/s, {:.0} write calls/s)",
                w.comm, w.pid, w.write_mib_s, w.write_ops_s
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn contention_evidence(
    contenders: &[&ProcessIo],
    others: Option<OtherWrites>,
    views: FsyncViews,
    t: &HostThresholds,
) -> Vec<Evidence> {
    let ev = |metric: String, observed, threshold, unit| {
        Evidence::new(metric, observed, threshold, unit)
    };
    let mut evidence: Vec<Evidence> = contenders
        .iter()
        .flat_map(|w| {
            [
                ev(
                    format!("write rate of {} (pid {})", w.comm, w.pid),
                    w.write_mib_s,
                    t.contender_min_write_mib_s,
                    Unit::MibPerSec,
                ),
                ev(
                    format!("write calls of {} (pid {})", w.comm, w.pid),
                    w.write_ops_s,
                    t.contender_min_write_ops_s,
                    Unit::CallsPerSec,
                ),
            ]
        })
        .collect();
    if let Some(o) = others {
        evidence.push(ev(
            "data device writes beyond the probe's and etcd's own".into(),
            o.write_iops,
            t.contender_min_device_iops,
            Unit::WritesPerSec,
        ));
        evidence.push(ev(
            "data device busy with others' writes".into(),
            o.util_pct,
            t.device_util_warn_pct,
            Unit::Percent,
        ));
    }
    for (metric, value, threshold) in [
        (
            "etcd WAL fsync p99 (metrics)",
            views.etcd_p99_ms,
            views.fail_above_ms,
        ),
        (
            "probe fdatasync p99",
            views.probe_p99_ms,
            views.warn_above_ms,
        ),
    ] {
        if let Some(v) = value {
            evidence.push(ev(metric.into(), v, threshold, Unit::Ms));
        }
    }
    evidence
}

/// host.cpu-steal: the hypervisor took CPU time from this VM during the run.
pub fn cpu_steal(
    activity: Option<&HostActivity>,
    virt: &Virtualization,
    t: &HostThresholds,
) -> Option<Finding> {
    let steal = activity?.cpu?.steal_pct;
    let severity = super::disk::level(steal, t.cpu_steal_warn_pct, t.cpu_steal_fail_pct)?;
    let on = match (&virt.cloud, &virt.vendor) {
        (Some(cloud), _) => format!(" on {cloud}"),
        (None, Some(vendor)) => format!(" on {vendor}"),
        _ => String::new(),
    };
    Some(
        STEAL.finding(
            ids::HostCpuSteal,
            Draft {
                severity,
                summary: format!(
                    "the hypervisor took {steal:.1}% of this VM's CPU time during the run{on}: \
             heartbeats and fsyncs wait for it"
                ),
                evidence: vec![Evidence {
                    metric: "CPU steal".into(),
                    observed: steal,
                    threshold: if severity == Severity::Fail {
                        t.cpu_steal_fail_pct
                    } else {
                        t.cpu_steal_warn_pct
                    },
                    unit: Unit::Percent,
                }],
                recommendation:
                    "The host is oversubscribed: move etcd to a dedicated or less loaded VM \
            (dedicated/exclusive instance types on clouds), and spread IO- and CPU-heavy VMs over \
            different physical nodes."
                        .into(),
                commands: vec!["vmstat 1 10  # the 'st' column".into()],
            },
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::host::activity::{CpuActivity, DeviceIo};

    fn writer(on_device: bool, mib_s: f64) -> ProcessIo {
        ProcessIo {
            pid: 4242,
            comm: "io-hog".into(),
            write_mib_s: mib_s,
            write_ops_s: mib_s * 16.0,
            on_device,
            etcd: false,
        }
    }

    fn activity(writers: Vec<ProcessIo>, util_pct: f64) -> HostActivity {
        HostActivity {
            window_s: 5.0,
            cpu: Some(CpuActivity::default()),
            device_io: Some(DeviceIo {
                device: "loop0".into(),
                util_pct,
                write_iops: 100.0,
                write_mib_s: 5.0,
                write_await_ms: 9.0,
            }),
            writers,
            ..HostActivity::default()
        }
    }

    fn views(probe: Option<f64>, etcd: Option<f64>) -> FsyncViews {
        FsyncViews {
            probe_p99_ms: probe,
            etcd_p99_ms: etcd,
            warn_above_ms: 5.0,
            fail_above_ms: 10.0,
        }
    }

    /// [`io_contention`] with the device's writes all counted as others'.
    fn judge(a: Option<&HostActivity>, v: FsyncViews) -> Option<Finding> {
        let t = HostThresholds::default();
        let others = a.and_then(|a| other_writes(a, 0, &t));
        io_contention(a, others, v, &t)
    }

    #[test]
    fn slow_fsync_with_a_writer_on_the_device_is_contention_naming_it() {
        let a = activity(vec![writer(true, 40.0)], 90.0);
        let f = judge(Some(&a), views(Some(25.0), None)).unwrap();
        assert_eq!(f.severity, Severity::Fail);
        assert!(
            f.summary
                .contains("io-hog (pid 4242, 40.0 MiB/s, 640 write calls/s)"),
            "{}",
            f.summary
        );
        assert!(f.commands[0].starts_with("ionice -c 3 -p 4242"));
        assert!(f.recommendation.contains("Isolate IO-intensive services"));
    }

    #[test]
    fn etcd_itself_is_not_a_contender() {
        let mut etcd = writer(true, 40.0);
        etcd.comm = ETCD_NAME.into();
        let a = activity(vec![etcd.clone()], 90.0);
        assert_eq!(judge(Some(&a), views(Some(25.0), None)), None);
        // Flagged by its executable under another command name.
        etcd.comm = "etcd-3.5".into();
        etcd.etcd = true;
        let a = activity(vec![etcd], 90.0);
        assert_eq!(judge(Some(&a), views(Some(25.0), None)), None);
    }

    #[test]
    fn a_busy_cluster_is_not_a_contended_disk() {
        // Issue 25: a steady put load; the device's writes beyond the probe
        // were etcd's WAL, and a shell and a client that wrote almost
        // nothing were named.
        let t = HostThresholds::default();
        let mut etcd = writer(true, 3.2);
        (etcd.comm, etcd.etcd, etcd.write_ops_s) = ("etcd".into(), true, 700.0);
        let mut bash = writer(true, 0.3);
        (bash.comm, bash.write_ops_s) = ("bash".into(), 2.0);
        let mut python = bash.clone();
        python.comm = "python3".into();
        let mut a = activity(vec![etcd.clone(), bash.clone(), python], 70.0);
        a.device_io.as_mut().unwrap().write_iops = 2118.0;
        let others = other_writes(&a, 20, &t);
        assert!(!device_shared(others, &t), "{others:?}");
        assert_eq!(
            io_contention(Some(&a), others, views(Some(6.0), Some(8.0)), &t),
            None
        );
        // A real neighbour beside the same load: 400 more device writes a
        // second through libaio (no write calls counted) is named, the
        // shell is not.
        let mut fio = writer(true, 0.8);
        (fio.comm, fio.write_ops_s) = ("fio".into(), 0.0);
        let mut a = activity(vec![etcd, bash, fio], 90.0);
        a.device_io.as_mut().unwrap().write_iops = 2518.0;
        let others = other_writes(&a, 20, &t);
        assert!(device_shared(others, &t), "{others:?}");
        let f = io_contention(Some(&a), others, views(Some(12.0), Some(30.0)), &t).unwrap();
        assert!(f.summary.contains("fio (pid"), "{}", f.summary);
        assert!(!f.summary.contains("bash"), "{}", f.summary);
        assert!(!f.summary.contains("etcd (pid"), "{}", f.summary);
    }

    #[test]
    fn slow_metrics_with_a_fast_probe_is_contention_not_hardware() {
        let a = activity(vec![], 5.0);
        let f = judge(Some(&a), views(Some(1.0), Some(40.0))).unwrap();
        assert_eq!(f.severity, Severity::Fail);
        assert!(f.summary.contains("the hardware is fast"), "{}", f.summary);
    }

    #[test]
    fn a_slow_wal_beside_a_fast_probe_on_a_device_nobody_else_wrote_is_not_contention() {
        // Issue 25's remote-healthy row: two members' WALs on the probed
        // loop device, their p99 21 ms, the probe's 2.2 ms, and the
        // device's counters holding nothing but etcd's and the probe's.
        let t = HostThresholds::default();
        let mut etcd = writer(true, 1.5);
        (etcd.comm, etcd.etcd, etcd.write_ops_s) = ("etcd".into(), true, 30.0);
        let a = activity(vec![etcd.clone()], 20.0);
        let others = other_writes(&a, 0, &t);
        assert!(!device_shared(others, &t), "{others:?}");
        assert_eq!(
            io_contention(Some(&a), others, views(Some(2.2), Some(21.4)), &t),
            None
        );
        // Unknown device counters: the differential still speaks.
        let f = io_contention(Some(&a), None, views(Some(2.2), Some(21.4)), &t).unwrap();
        assert!(f.summary.contains("the hardware is fast"), "{}", f.summary);
    }

    #[test]
    fn slow_everything_with_only_the_probes_writes_is_not_contention() {
        let t = HostThresholds::default();
        let a = activity(vec![writer(false, 80.0)], 95.0);
        // 100 writes/s over 5 s are the probe's 167 fdatasyncs (3 each).
        let others = other_writes(&a, 167, &t);
        assert!(others.unwrap().write_iops < 1.0, "{others:?}");
        assert_eq!(
            io_contention(Some(&a), others, views(Some(25.0), Some(30.0)), &t),
            None
        );
        assert_eq!(judge(None, views(Some(25.0), None)), None);
    }

    #[test]
    fn small_writes_count_by_calls_or_by_the_device_not_by_bytes() {
        let t = HostThresholds::default();
        // 0.7 MiB/s of 4 KiB writes: under the bytes threshold, but 180
        // write calls a second.
        let mut small = writer(true, 0.7);
        small.write_ops_s = 180.0;
        let a = activity(vec![small.clone()], 99.0);
        let quiet_device = other_writes(&a, 167, &t);
        let f = io_contention(Some(&a), quiet_device, views(Some(40.0), None), &t).unwrap();
        assert!(f.summary.contains("io-hog"), "{}", f.summary);
        // Submitted through libaio: no write calls counted, but the device
        // completed 100 writes/s the probe's 10 fdatasyncs do not explain.
        small.write_ops_s = 0.0;
        let a = activity(vec![small], 99.0);
        let shared = other_writes(&a, 10, &t);
        assert!(device_shared(shared, &t), "{shared:?}");
        let f = io_contention(Some(&a), shared, views(Some(40.0), None), &t).unwrap();
        assert!(f.summary.contains("io-hog"), "{}", f.summary);
        assert!(f.summary.contains("94 writes/s beyond"), "{}", f.summary);
        // Nobody on the device to name: still contention, said so.
        let a = activity(vec![], 99.0);
        let f = judge(Some(&a), views(Some(40.0), None)).unwrap();
        assert!(f.summary.contains("another VM"), "{}", f.summary);
    }

    #[test]
    fn a_busy_device_warns_only_when_others_keep_it_busy_and_the_probe_is_not_fast() {
        let t = HostThresholds::default();
        let a = activity(vec![writer(true, 30.0)], 80.0);
        let f = judge(Some(&a), views(Some(6.0), None)).unwrap();
        assert_eq!(f.severity, Severity::Warn);
        // Good measured latency outweighs a busy device.
        assert_eq!(judge(Some(&a), views(Some(2.0), None)), None);
        // Busy with the probe's own writes: 140 of 100 writes/s explained.
        let own = other_writes(&a, 50, &t);
        assert_eq!(
            io_contention(Some(&a), own, views(Some(4.9), None), &t),
            None
        );
        let quiet = activity(vec![writer(true, 0.5)], 80.0);
        let own = other_writes(&quiet, 150, &t);
        assert_eq!(
            io_contention(Some(&quiet), own, views(Some(6.0), None), &t),
            None
        );
    }

    #[test]
    fn cpu_steal_levels_and_vendor() {
        let t = HostThresholds::default();
        let mut a = activity(vec![], 0.0);
        a.cpu = Some(CpuActivity {
            steal_pct: 12.0,
            iowait_pct: 1.0,
            ..CpuActivity::default()
        });
        let virt = Virtualization {
            hypervisor: true,
            cloud: Some("Alibaba Cloud".into()),
            ..Virtualization::default()
        };
        let f = cpu_steal(Some(&a), &virt, &t).unwrap();
        assert_eq!(f.severity, Severity::Fail);
        assert!(f.summary.contains("on Alibaba Cloud"));
        a.cpu = Some(CpuActivity {
            steal_pct: 1.0,
            iowait_pct: 0.0,
            ..CpuActivity::default()
        });
        assert_eq!(cpu_steal(Some(&a), &virt, &t), None);
    }
}
