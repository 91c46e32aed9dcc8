//! Host rules: the differential diagnosis of slow disk IO (hardware or
//! contention?) and CPU steal. Pure functions over host activity sampled
//! while the probes ran, the probes' results and etcd's own WAL fsync
//! metric. The fixes are the guide's Section 4: isolate IO-intensive
//! services from the etcd host, schedule IO-heavy VMs on different nodes.

use serde::{Deserialize, Serialize};

use crate::host::activity::{HostActivity, ProcessIo};
use crate::host::virt::Virtualization;

use super::finding::{Evidence, Finding, FindingId, Severity};
use super::profile::{check_keys, levels, BadKey, Bound};

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
}

impl Default for HostThresholds {
    /// The numbers of `profiles/etcd-default.toml`.
    fn default() -> Self {
        HostThresholds {
            cpu_steal_warn_pct: 5.0,
            cpu_steal_fail_pct: 10.0,
            contender_min_write_mib_s: 1.0,
            device_util_warn_pct: 60.0,
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
            ],
        )?;
        levels(
            "host",
            ("cpu_steal_warn_pct", self.cpu_steal_warn_pct),
            ("cpu_steal_fail_pct", self.cpu_steal_fail_pct),
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

/// Command name of etcd itself: its writes are the workload, not contention.
pub const ETCD_COMM: &str = "etcd";

/// Other processes on the data device (etcd itself aside) writing at least
/// the contender rate.
pub fn contenders<'a>(activity: &'a HostActivity, t: &HostThresholds) -> Vec<&'a ProcessIo> {
    activity
        .writers
        .iter()
        .filter(|w| w.on_device && w.comm != ETCD_COMM)
        .filter(|w| w.write_mib_s >= t.contender_min_write_mib_s)
        .collect()
}

/// disk.io-contention, the differential diagnosis: other processes writing
/// to the data device while fdatasync is slow means contention; etcd's own
/// metrics slow while a probe on the same device is fast means the slowness
/// came from load, not from the hardware.
pub fn io_contention(
    activity: Option<&HostActivity>,
    views: FsyncViews,
    t: &HostThresholds,
) -> Option<Finding> {
    let contenders = activity.map(|a| contenders(a, t)).unwrap_or_default();
    let util = activity
        .and_then(|a| a.device_io.as_ref())
        .map(|d| d.util_pct);
    let busy = util.is_some_and(|u| u >= t.device_util_warn_pct);
    let (severity, summary) = if let (false, Some(slowness)) =
        (contenders.is_empty(), views.slowness())
    {
        (
            slowness,
            format!(
                "fdatasync is slow while {} wrote to the etcd data device: IO contention",
                names(&contenders)
            ),
        )
    } else if views.fast_probe_slow_etcd() {
        (
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
        )
    } else if !contenders.is_empty() && busy {
        (
            Severity::Warn,
            format!(
                "the etcd data device was {:.0}% busy with {} writing: no headroom for etcd's fsyncs",
                util.unwrap_or_default(),
                names(&contenders)
            ),
        )
    } else {
        return None;
    };
    Some(Finding {
        id: FindingId::DiskIoContention,
        severity,
        summary,
        evidence: contention_evidence(&contenders, util, views, t),
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
    })
}

fn names(writers: &[&ProcessIo]) -> String {
    writers
        .iter()
        .map(|w| format!("{} (pid {}, {:.1} MiB/s)", w.comm, w.pid, w.write_mib_s))
        .collect::<Vec<_>>()
        .join(", ")
}

fn contention_evidence(
    contenders: &[&ProcessIo],
    util: Option<f64>,
    views: FsyncViews,
    t: &HostThresholds,
) -> Vec<Evidence> {
    let mut evidence: Vec<Evidence> = contenders
        .iter()
        .map(|w| Evidence {
            metric: format!("write rate of {} (pid {})", w.comm, w.pid),
            observed: w.write_mib_s,
            threshold: t.contender_min_write_mib_s,
            unit: "MiB/s".into(),
        })
        .collect();
    if let Some(u) = util {
        evidence.push(Evidence {
            metric: "data device utilization".into(),
            observed: u,
            threshold: t.device_util_warn_pct,
            unit: "%".into(),
        });
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
            evidence.push(Evidence {
                metric: metric.into(),
                observed: v,
                threshold,
                unit: "ms".into(),
            });
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
    Some(Finding {
        id: FindingId::HostCpuSteal,
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
            unit: "%".into(),
        }],
        recommendation: "The host is oversubscribed: move etcd to a dedicated or less loaded VM \
            (dedicated/exclusive instance types on clouds), and spread IO- and CPU-heavy VMs over \
            different physical nodes."
            .into(),
        commands: vec!["vmstat 1 10  # the 'st' column".into()],
    })
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
            on_device,
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

    #[test]
    fn slow_fsync_with_a_writer_on_the_device_is_contention_naming_it() {
        let t = HostThresholds::default();
        let a = activity(vec![writer(true, 40.0)], 90.0);
        let f = io_contention(Some(&a), views(Some(25.0), None), &t).unwrap();
        assert_eq!(f.severity, Severity::Fail);
        assert!(
            f.summary.contains("io-hog (pid 4242, 40.0 MiB/s)"),
            "{}",
            f.summary
        );
        assert!(f.commands[0].starts_with("ionice -c 3 -p 4242"));
        assert!(f.recommendation.contains("Isolate IO-intensive services"));
    }

    #[test]
    fn etcd_itself_is_not_a_contender() {
        let t = HostThresholds::default();
        let mut etcd = writer(true, 40.0);
        etcd.comm = ETCD_COMM.into();
        let a = activity(vec![etcd], 90.0);
        assert_eq!(io_contention(Some(&a), views(Some(25.0), None), &t), None);
    }

    #[test]
    fn slow_metrics_with_a_fast_probe_is_contention_not_hardware() {
        let t = HostThresholds::default();
        let a = activity(vec![], 5.0);
        let f = io_contention(Some(&a), views(Some(1.0), Some(40.0)), &t).unwrap();
        assert_eq!(f.severity, Severity::Fail);
        assert!(f.summary.contains("the hardware is fast"), "{}", f.summary);
    }

    #[test]
    fn slow_everything_without_writers_is_not_contention() {
        let t = HostThresholds::default();
        let a = activity(vec![writer(false, 80.0)], 95.0);
        assert_eq!(
            io_contention(Some(&a), views(Some(25.0), Some(30.0)), &t),
            None
        );
        assert_eq!(io_contention(None, views(Some(25.0), None), &t), None);
    }

    #[test]
    fn a_busy_device_with_writers_warns_even_when_fast() {
        let t = HostThresholds::default();
        let a = activity(vec![writer(true, 30.0)], 80.0);
        let f = io_contention(Some(&a), views(Some(2.0), None), &t).unwrap();
        assert_eq!(f.severity, Severity::Warn);
        let quiet = activity(vec![writer(true, 0.5)], 80.0);
        assert_eq!(
            io_contention(Some(&quiet), views(Some(2.0), None), &t),
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
        });
        assert_eq!(cpu_steal(Some(&a), &virt, &t), None);
    }
}
