//! Fixed reports for the render snapshot tests: a control-plane host on
//! NVMe with three disk results whose latencies are set by hand.

use std::path::PathBuf;

use etcd_doctor::facts::Report;
use etcd_doctor::host::device::DeviceFacts;
use etcd_doctor::host::HostFacts;
use etcd_doctor::measure::{LatencyHistogram, LatencySummary};
use etcd_doctor::probe::disk::{DiskProbeKind, DiskResult, EngineKind, StopReason};

/// A latency summary shaped around `p50` microseconds.
pub fn latency(p50: f64) -> LatencySummary {
    LatencySummary {
        samples: 1000,
        mean: p50 * 1.1,
        min: p50 * 0.5,
        p50,
        p90: p50 * 1.6,
        p99: p50 * 2.5,
        p999: p50 * 4.0,
        max: p50 * 9.0,
    }
}

/// A disk result of `probe` with median `p50` microseconds.
pub fn disk_result(probe: DiskProbeKind, p50: f64, stop_reason: StopReason) -> DiskResult {
    DiskResult {
        probe,
        run: 0,
        engine: EngineKind::Sync,
        dir: PathBuf::from("/var/lib/etcd"),
        block_size_bytes: 2300,
        ops: 1000,
        duration_s: 1.25,
        iops: 800.0,
        throughput_mib_s: 1.75,
        latency_us: latency(p50),
        write_latency_us: None,
        stop_reason,
        timeline: Vec::new(),
        latency_histogram: LatencyHistogram::new().encode(),
        stalls: Default::default(),
    }
}

/// Host `cp-1` with /var/lib/etcd on an NVMe partition.
pub fn host() -> HostFacts {
    HostFacts {
        hostname: "cp-1".into(),
        kernel: "6.1.0".into(),
        cpus: 4,
        device: Some(DeviceFacts {
            dir: PathBuf::from("/var/lib/etcd"),
            dev_major_minor: "259:2".into(),
            mount_point: PathBuf::from("/var/lib/etcd"),
            fs_type: "xfs".into(),
            mount_source: Some("/dev/nvme0n1p2".into()),
            block_device: Some("nvme0n1p2".into()),
            disk: Some("nvme0n1".into()),
            rotational: Some(false),
            scheduler: Some("none".into()),
            free_bytes: 80_000_000_000,
            total_bytes: 100_000_000_000,
            ..DeviceFacts::default()
        }),
        ..HostFacts::default()
    }
}

/// A `command` report from `host()` with fsync, wal and backend results
/// of the given medians (µs), stamped with a fixed tool version.
pub fn disk_report(command: &str, p50s: [f64; 3]) -> Report {
    let mut report = Report::new(command, host());
    report.tool_version = "0.0.0-test".into();
    report.disk = vec![
        disk_result(DiskProbeKind::Fsync, p50s[0], StopReason::Stable),
        disk_result(DiskProbeKind::Wal, p50s[1], StopReason::TimeCap),
        disk_result(DiskProbeKind::Backend, p50s[2], StopReason::Ops),
    ];
    report
}
