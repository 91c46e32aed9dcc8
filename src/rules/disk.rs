//! Disk rules: is the data disk fast enough for etcd, and is it the kind of
//! disk etcd should be on? Pure functions over disk probe results and the
//! device facts; the fix is the guide's (Section 4): a high-performance
//! disk (local NVMe, cloud ESSD) instead of spinning or low-end SSDs.

use serde::{Deserialize, Serialize};

use crate::host::device::DeviceFacts;
use crate::probe::disk::{DiskProbeKind, DiskResult};

use super::bounds::{levels, BadKey};
use crate::findings::emit::Emit;
use crate::findings::registry::ids;
use crate::findings::{Draft, Evidence, Finding, Severity, Unit};
use crate::rules::by;

/// Builds the ids of `run::disk_fsync_slow`'s findings.
const FSYNC_SLOW: Emit<by::disk_fsync_slow> = Emit::new();
/// Builds the ids of `run::disk_rotational`'s findings.
const ROTATIONAL: Emit<by::disk_rotational> = Emit::new();

/// Disk thresholds of a profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DiskThresholds {
    /// fdatasync p99 (fsync and wal probes) above which the disk has no
    /// headroom left, milliseconds.
    pub wal_fsync_p99_warn_ms: f64,
    /// fdatasync p99 above which etcd's WAL is too slow, milliseconds
    /// (etcd: below 10 ms).
    pub wal_fsync_p99_fail_ms: f64,
    /// Backend commit p99 (backend probe) warn level, milliseconds.
    pub backend_commit_p99_warn_ms: f64,
    /// Backend commit p99 fail level, milliseconds (etcd: below 25 ms).
    pub backend_commit_p99_fail_ms: f64,
    /// Whether a rotational data disk fails qualification (else it warns).
    pub rotational_is_failure: bool,
    /// An operation longer than this is a stall (etcd's heartbeat
    /// interval), milliseconds; see [`super::stall`].
    pub stall_warn_ms: f64,
    /// A stall longer than this fails (half etcd's election timeout),
    /// milliseconds.
    pub stall_fail_ms: f64,
    /// Stalls above `stall_warn_ms` from which a run warns.
    pub stall_warn_min_events: u64,
}

impl Default for DiskThresholds {
    /// etcd's own guidance (see `profiles/etcd-default.toml`).
    fn default() -> Self {
        DiskThresholds {
            wal_fsync_p99_warn_ms: 5.0,
            wal_fsync_p99_fail_ms: 10.0,
            backend_commit_p99_warn_ms: 12.5,
            backend_commit_p99_fail_ms: 25.0,
            rotational_is_failure: false,
            stall_warn_ms: 100.0,
            stall_fail_ms: 500.0,
            stall_warn_min_events: 2,
        }
    }
}

impl DiskThresholds {
    /// Checks the levels (positive, warn not above fail).
    pub fn validate(&self) -> Result<(), BadKey> {
        levels(
            "disk",
            ("stall_warn_ms", self.stall_warn_ms),
            ("stall_fail_ms", self.stall_fail_ms),
        )?;
        if self.stall_warn_min_events == 0 {
            return Err(BadKey::new(
                "disk",
                "stall_warn_min_events",
                "must be at least 1",
            ));
        }
        levels(
            "disk",
            ("wal_fsync_p99_warn_ms", self.wal_fsync_p99_warn_ms),
            ("wal_fsync_p99_fail_ms", self.wal_fsync_p99_fail_ms),
        )?;
        levels(
            "disk",
            (
                "backend_commit_p99_warn_ms",
                self.backend_commit_p99_warn_ms,
            ),
            (
                "backend_commit_p99_fail_ms",
                self.backend_commit_p99_fail_ms,
            ),
        )
    }

    /// The (warn, fail) p99 levels for a probe, milliseconds.
    fn p99_levels_ms(&self, probe: DiskProbeKind) -> (f64, f64) {
        match probe {
            DiskProbeKind::Fsync | DiskProbeKind::Wal | DiskProbeKind::Paced => {
                (self.wal_fsync_p99_warn_ms, self.wal_fsync_p99_fail_ms)
            }
            DiskProbeKind::Backend => (
                self.backend_commit_p99_warn_ms,
                self.backend_commit_p99_fail_ms,
            ),
        }
    }
}

/// The severity of `observed` against a warn and a fail level.
pub fn level(observed: f64, warn: f64, fail: f64) -> Option<Severity> {
    if observed > fail {
        Some(Severity::Fail)
    } else if observed > warn {
        Some(Severity::Warn)
    } else {
        None
    }
}

/// What a probe's latency is called in findings.
fn metric_name(r: &DiskResult) -> String {
    match r.probe {
        DiskProbeKind::Fsync => "fdatasync p99 (fio etcd test)".to_string(),
        DiskProbeKind::Wal => "WAL batch fdatasync p99".to_string(),
        DiskProbeKind::Backend => "backend commit p99".to_string(),
        DiskProbeKind::Paced => "paced fdatasync p99 (from the scheduled time)".to_string(),
    }
}

/// The disk name for findings: `/dev/vda (ext4)`, or the directory.
fn where_(device: Option<&DeviceFacts>, results: &[DiskResult]) -> String {
    match device {
        Some(d) => match &d.block_device {
            Some(b) => format!("/dev/{b} ({}, {})", d.fs_type, d.dir.display()),
            None => format!("{} ({})", d.dir.display(), d.fs_type),
        },
        None => results
            .first()
            .map(|r| r.dir.display().to_string())
            .unwrap_or_default(),
    }
}

/// disk.fsync-slow: a probe's p99 above the profile's levels. `contended`
/// (did other processes or the device's own counters show writes beyond
/// the probe's during the run, when that is known) decides whether the
/// text blames the disk.
pub fn fsync_slow(
    results: &[DiskResult],
    device: Option<&DeviceFacts>,
    contended: Option<bool>,
    cpu: ProbeCpu,
    t: &DiskThresholds,
) -> Option<Finding> {
    let mut severity = None;
    let mut evidence = Vec::new();
    // The paced probe's latency counts queueing behind a stall from the
    // scheduled time: disk.fsync-stall judges it, not these fio-derived levels.
    for r in results.iter().filter(|r| r.probe != DiskProbeKind::Paced) {
        let (warn, fail) = t.p99_levels_ms(r.probe);
        let p99_ms = r.latency_us.p99_ms();
        if let Some(s) = level(p99_ms, warn, fail) {
            severity = severity.max(Some(s));
            evidence.push(Evidence {
                metric: metric_name(r),
                observed: p99_ms,
                threshold: if s == Severity::Fail { fail } else { warn },
                unit: Unit::Ms,
            });
        }
    }
    let severity = severity?;
    let worst = &evidence
        .iter()
        .max_by(|a, b| a.observed.total_cmp(&b.observed))?;
    let cause = match (contended, cpu.tail) {
        (_, Some(tail)) => format!(
            "; the device served no writes beyond the probe's, its median fdatasync took {:.2} ms \
             and the host's CPUs were {:.0}% busy: {CPU_TAIL}",
            tail.p50_ms, tail.busy_pct
        ),
        (Some(false), None) => match cpu.busy_pct {
            Some(busy) => format!(
                "; the device served no writes beyond the probe's, but the host's CPUs were \
                 {busy:.0}% busy: part of this may be waiting for a CPU, so measure again when \
                 the host is quieter"
            ),
            None => "; the device served no writes beyond the probe's during the run, so the \
                     disk itself is slow"
                .into(),
        },
        (Some(true), None) => "; the device also served others' writes during the run: it may be \
                               shared rather than slow (see disk.io-contention)"
            .into(),
        (None, None) => String::new(),
    };
    let dir = results.first()?.dir.display().to_string();
    Some(FSYNC_SLOW.finding(ids::DiskFsyncSlow, Draft {
        severity,
        summary: format!(
            "{} is {:.2} ms on {}, above the {:.1} ms etcd can live with{cause}",
            worst.metric,
            worst.observed,
            where_(device, results),
            worst.threshold
        ),
        evidence,
        recommendation: "Put etcd's data dir on a high-performance disk: local NVMe SSD or a cloud ESSD \
            (PL1 or better) with sub-millisecond fdatasync; retire spinning disks and low-end SSDs. \
            If only the WAL can move, give it its own fast device with etcd's --wal-dir. Confirm with \
            fio's etcd test on the new disk."
            .into(),
        commands: vec![format!(
            "fio --name=etcd-fsync --rw=write --ioengine=sync --fdatasync=1 --size=22m --bs=2300 --directory={dir}"
        )],
    }))
}

/// The clause [`fsync_slow`] ends with when the probe's slow fdatasyncs
/// are a saturated CPU's tail; the explain pass looks for it.
pub const CPU_TAIL: &str = "the slow tail waited for a CPU, not for the disk";

/// The probe's slow fdatasyncs as a saturated CPU's tail: nobody else
/// wrote to the device, its median fdatasync was fast (the medium keeps
/// up), and the host's CPUs were busy, so the slow ones waited for the
/// threads that complete them to be scheduled.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CpuTail {
    /// The probes' worst median fdatasync, ms.
    pub p50_ms: f64,
    /// The host's CPU busy share over the run, percent.
    pub busy_pct: f64,
}

/// What the CPU did while the probe ran, for [`fsync_slow`]'s cause.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ProbeCpu {
    /// The host's CPU busy share, when it was saturated.
    pub busy_pct: Option<f64>,
    /// The probe's slow fdatasyncs as that CPU's tail.
    pub tail: Option<CpuTail>,
}

/// [`CpuTail`] when it holds: `contended` is `Some(false)`, the fsync and
/// WAL probes' median is at most `p50_max_ms`, and `busy_pct` (the host's,
/// when saturated) is given.
pub fn cpu_tail(
    results: &[DiskResult],
    contended: Option<bool>,
    busy_pct: Option<f64>,
    p50_max_ms: f64,
) -> Option<CpuTail> {
    let p50_ms = results
        .iter()
        .filter(|r| matches!(r.probe, DiskProbeKind::Fsync | DiskProbeKind::Wal))
        .map(|r| r.latency_us.p50_ms())
        .reduce(f64::max)?;
    let busy_pct = busy_pct?;
    (contended == Some(false) && p50_ms <= p50_max_ms).then_some(CpuTail { p50_ms, busy_pct })
}

/// fdatasync p99 below which the disk cannot be spinning, milliseconds: a
/// 15k rpm disk turns once in 4 ms and a synced write waits for part of a
/// turn, so thousands of them per second at sub-millisecond p99 mean flash
/// (or a battery-backed cache) whatever the kernel's flag says.
pub const SPINNING_DISK_FLOOR_MS: f64 = 1.0;

/// disk.rotational: the data dir is on a spinning disk. The flag is read
/// from the medium: a loop device's backing device. When the medium is a
/// virtual disk (virtio-blk reports rotational=1 by default, a loop device
/// on a file says nothing) or the probes measured flash-like fdatasync, the
/// flag is no evidence of a spinning disk: the finding is only
/// informational and says why; measured latency is judged by
/// disk.fsync-slow.
pub fn rotational(
    device: Option<&DeviceFacts>,
    results: &[DiskResult],
    t: &DiskThresholds,
) -> Option<Finding> {
    let d = device?;
    let medium = d.medium();
    if medium.rotational != Some(true) {
        return None;
    }
    let disk = medium.disk.as_deref().unwrap_or("unknown disk");
    let fastest_p99_ms = results
        .iter()
        .filter(|r| matches!(r.probe, DiskProbeKind::Fsync | DiskProbeKind::Wal))
        .map(|r| r.latency_us.p99_ms())
        .reduce(f64::min);
    let mut evidence = vec![Evidence {
        metric: format!("/sys/block/{disk}/queue/rotational"),
        observed: 1.0,
        threshold: 0.0,
        unit: Unit::None,
    }];
    if let Some(kind) = &medium.virtual_disk {
        evidence.extend(fastest_p99_ms.map(|p99| Evidence {
            metric: "fdatasync p99 (judged by disk.fsync-slow)".into(),
            observed: p99,
            threshold: t.wal_fsync_p99_warn_ms,
            unit: Unit::Ms,
        }));
        return Some(
            ROTATIONAL.finding(
                ids::DiskRotational,
                Draft {
                    severity: Severity::Info,
                    summary: format!(
                "the kernel marks {disk} rotational, but it is a virtual disk ({kind}): the flag \
                 says nothing about the medium; the measured fdatasync latency decides"
            ),
                    evidence,
                    recommendation:
                        "Nothing to change for the flag itself; confirm the backing storage type \
                with your provider. Whether the disk is fast enough is disk.fsync-slow's verdict."
                            .into(),
                    commands: vec!["lsblk -d -o NAME,ROTA,MODEL,SIZE".into()],
                },
            ),
        );
    }
    if let Some(p99) = fastest_p99_ms.filter(|p| *p < SPINNING_DISK_FLOOR_MS) {
        evidence.push(Evidence {
            metric: "fdatasync p99 (no spinning disk is this fast)".into(),
            observed: p99,
            threshold: SPINNING_DISK_FLOOR_MS,
            unit: Unit::Ms,
        });
        return Some(ROTATIONAL.finding(ids::DiskRotational, Draft {
            severity: Severity::Info,
            summary: format!(
                "the kernel marks {disk} rotational, but fdatasync p99 of {p99:.2} ms is no spinning \
                 disk: virtual disks often report rotational=1"
            ),
            evidence,
            recommendation: "Nothing to change for latency; confirm the backing storage type with your \
                provider, and tell the kernel (rotational=0) so IO schedulers treat it as flash."
                .into(),
            commands: vec![format!("echo 0 > /sys/block/{disk}/queue/rotational")],
        }));
    }
    Some(
        ROTATIONAL.finding(
            ids::DiskRotational,
            Draft {
                severity: if t.rotational_is_failure {
                    Severity::Fail
                } else {
                    Severity::Warn
                },
                summary: format!(
                    "{} is on a rotational disk ({disk}): every fdatasync waits for a seek",
                    d.dir.display()
                ),
                evidence,
                recommendation:
                    "etcd needs an SSD: move the data dir (at least the WAL, with --wal-dir) to \
            an NVMe/SSD or a cloud ESSD volume."
                        .into(),
                commands: vec!["lsblk -d -o NAME,ROTA,MODEL,SIZE".into()],
            },
        ),
    )
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::measure::LatencyHistogram;
    use crate::probe::disk::{EngineKind, StopReason};

    pub(crate) fn result(probe: DiskProbeKind, p99_ms: f64) -> DiskResult {
        let mut h = LatencyHistogram::new();
        for _ in 0..100 {
            h.record(crate::units::Millis(p99_ms).as_duration());
        }
        DiskResult {
            probe,
            run: 0,
            engine: EngineKind::Sync,
            dir: "/var/lib/etcd".into(),
            block_size_bytes: 2300,
            ops: 100,
            duration_s: 1.0,
            iops: 100.0,
            throughput_mib_s: 0.2,
            latency_us: h.summary(),
            write_latency_us: None,
            stop_reason: StopReason::Ops,
            timeline: vec![],
            latency_histogram: h.encode(),
            stalls: Default::default(),
        }
    }

    #[test]
    fn fast_disks_have_no_finding() {
        let t = DiskThresholds::default();
        let results = [
            result(DiskProbeKind::Fsync, 2.0),
            result(DiskProbeKind::Backend, 10.0),
        ];
        assert_eq!(
            fsync_slow(&results, None, None, ProbeCpu::default(), &t),
            None
        );
    }

    #[test]
    fn severity_follows_the_worst_probe() {
        let t = DiskThresholds::default();
        let warn = fsync_slow(
            &[result(DiskProbeKind::Wal, 7.0)],
            None,
            None,
            ProbeCpu::default(),
            &t,
        )
        .unwrap();
        assert_eq!(warn.severity, Severity::Warn);
        assert_eq!(warn.evidence[0].threshold, 5.0);
        let fail = fsync_slow(
            &[
                result(DiskProbeKind::Fsync, 21.0),
                result(DiskProbeKind::Backend, 13.0),
            ],
            None,
            None,
            ProbeCpu::default(),
            &t,
        )
        .unwrap();
        assert_eq!(fail.severity, Severity::Fail);
        assert_eq!(fail.evidence.len(), 2);
        assert!(fail.summary.contains("21.0"), "{}", fail.summary);
        assert!(fail.recommendation.contains("ESSD"));
        assert!(fail.commands[0].contains("--fdatasync=1"));
    }

    #[test]
    fn the_paced_probe_is_left_to_the_stall_rule() {
        let t = DiskThresholds::default();
        assert_eq!(
            fsync_slow(
                &[result(DiskProbeKind::Paced, 50.0)],
                None,
                None,
                ProbeCpu::default(),
                &t
            ),
            None
        );
    }

    #[test]
    fn the_text_blames_the_disk_only_when_nothing_else_wrote() {
        let t = DiskThresholds::default();
        let results = [result(DiskProbeKind::Fsync, 20.0)];
        let alone = fsync_slow(&results, None, Some(false), ProbeCpu::default(), &t).unwrap();
        assert!(alone.summary.contains("the disk itself is slow"));
        let shared = fsync_slow(&results, None, Some(true), ProbeCpu::default(), &t).unwrap();
        assert!(shared.summary.contains("disk.io-contention"));
        let unknown = fsync_slow(&results, None, None, ProbeCpu::default(), &t).unwrap();
        assert!(!unknown.summary.contains("disk itself"));
        // A busy host with a slow median: the disk is not cleared, the
        // CPU is named as a part.
        let busy = ProbeCpu {
            busy_pct: Some(100.0),
            tail: None,
        };
        let saturated = fsync_slow(&results, None, Some(false), busy, &t).unwrap();
        assert!(saturated
            .summary
            .contains("100% busy: part of this may be waiting for a CPU"));
        assert_eq!(saturated.severity, alone.severity);
    }

    #[test]
    fn a_fast_median_on_a_saturated_host_is_the_cpus_tail() {
        let t = DiskThresholds::default();
        // 980 fdatasyncs of 40 µs and 20 of 20 ms: p50 0.04, p99 20 ms.
        let mut h = LatencyHistogram::new();
        for i in 0..1000 {
            let ms = if i % 50 == 0 { 20.0 } else { 0.04 };
            h.record(crate::units::Millis(ms).as_duration());
        }
        let mut tailed = result(DiskProbeKind::Fsync, 20.0);
        tailed.latency_us = h.summary();
        let results = [tailed];
        let tail = cpu_tail(&results, Some(false), Some(99.0), 0.5).unwrap();
        assert!(tail.p50_ms < 0.05, "{tail:?}");
        let cpu = ProbeCpu {
            busy_pct: Some(99.0),
            tail: Some(tail),
        };
        let f = fsync_slow(&results, None, Some(false), cpu, &t).unwrap();
        assert!(f.summary.ends_with(CPU_TAIL), "{}", f.summary);
        assert!(f.summary.contains("99% busy"), "{}", f.summary);
        // Others writing, an idle host, or a slow median: no tail.
        assert_eq!(cpu_tail(&results, Some(true), Some(99.0), 0.5), None);
        assert_eq!(cpu_tail(&results, Some(false), None, 0.5), None);
        let slow = [result(DiskProbeKind::Fsync, 20.0)];
        assert_eq!(cpu_tail(&slow, Some(false), Some(99.0), 0.5), None);
    }

    #[test]
    fn rotational_disks_warn_or_fail_per_profile() {
        let mut d = DeviceFacts {
            rotational: Some(true),
            disk: Some("sda".into()),
            ..DeviceFacts::default()
        };
        let mut t = DiskThresholds::default();
        let slow = [result(DiskProbeKind::Fsync, 9.0)];
        assert_eq!(
            rotational(Some(&d), &slow, &t).unwrap().severity,
            Severity::Warn
        );
        assert_eq!(
            rotational(Some(&d), &[], &t).unwrap().severity,
            Severity::Warn
        );
        t.rotational_is_failure = true;
        assert_eq!(
            rotational(Some(&d), &slow, &t).unwrap().severity,
            Severity::Fail
        );
        d.rotational = Some(false);
        assert_eq!(rotational(Some(&d), &slow, &t), None);
    }

    #[test]
    fn a_rotational_flag_on_a_flash_fast_disk_is_only_information() {
        let d = DeviceFacts {
            rotational: Some(true),
            disk: Some("vda".into()),
            ..DeviceFacts::default()
        };
        let t = DiskThresholds {
            rotational_is_failure: true,
            ..DiskThresholds::default()
        };
        let fast = [result(DiskProbeKind::Fsync, 0.2)];
        let f = rotational(Some(&d), &fast, &t).unwrap();
        assert_eq!(f.severity, Severity::Info);
        assert!(f.summary.contains("virtual disks"), "{}", f.summary);
        assert_eq!(f.evidence.len(), 2);
    }

    #[test]
    fn a_rotational_virtual_disk_or_loop_backing_is_only_information() {
        let t = DiskThresholds {
            rotational_is_failure: true,
            ..DiskThresholds::default()
        };
        let slow = [result(DiskProbeKind::Fsync, 9.0)];
        let virtio = DeviceFacts {
            rotational: Some(true),
            disk: Some("vda".into()),
            virtual_disk: Some("virtio_blk".into()),
            ..DeviceFacts::default()
        };
        let f = rotational(Some(&virtio), &slow, &t).unwrap();
        assert_eq!(f.severity, Severity::Info);
        assert!(
            f.summary.contains("virtual disk (virtio_blk)"),
            "{}",
            f.summary
        );
        // A loop device is judged by its backing device: a physical
        // spinning disk under it still fails, a flash one says nothing.
        let mut on_loop = DeviceFacts {
            rotational: Some(true),
            disk: Some("loop3".into()),
            virtual_disk: Some("loop".into()),
            backing: Some(Box::new(DeviceFacts {
                rotational: Some(true),
                disk: Some("sdb".into()),
                ..DeviceFacts::default()
            })),
            ..DeviceFacts::default()
        };
        let f = rotational(Some(&on_loop), &slow, &t).unwrap();
        assert_eq!(f.severity, Severity::Fail);
        assert!(f.summary.contains("(sdb)"), "{}", f.summary);
        on_loop.backing.as_mut().unwrap().rotational = Some(false);
        assert_eq!(rotational(Some(&on_loop), &slow, &t), None);
        on_loop.backing = None;
        assert_eq!(
            rotational(Some(&on_loop), &slow, &t).unwrap().severity,
            Severity::Info
        );
    }
}
