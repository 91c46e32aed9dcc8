//! Snapshot tests of how a disk report looks in the terminal table and in
//! Markdown: the device section and the disk section, from a fixed report.

use std::path::PathBuf;

use etcd_doctor::host::device::DeviceFacts;
use etcd_doctor::host::HostFacts;
use etcd_doctor::measure::{LatencyHistogram, LatencySummary};
use etcd_doctor::probe::disk::{DiskProbeKind, DiskResult, EngineKind, StopReason};
use etcd_doctor::report::{render, Format, Report};

fn latency(p50: f64) -> LatencySummary {
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

fn result(probe: DiskProbeKind, p50: f64, stop_reason: StopReason) -> DiskResult {
    DiskResult {
        probe,
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
    }
}

fn report() -> Report {
    let host = HostFacts {
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
        }),
        ..HostFacts::default()
    };
    let mut report = Report::new("disk", host);
    report.tool_version = "0.0.0-test".into();
    report.disk = vec![
        result(DiskProbeKind::Fsync, 812.0, StopReason::Stable),
        result(DiskProbeKind::Wal, 950.5, StopReason::TimeCap),
        result(DiskProbeKind::Backend, 2_400.0, StopReason::Ops),
    ];
    report
}

fn rendered(format: Format) -> String {
    let mut out = Vec::new();
    render(&report(), format, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn disk_report_as_table() {
    insta::assert_snapshot!(rendered(Format::Table));
}

#[test]
fn disk_report_as_markdown() {
    insta::assert_snapshot!(rendered(Format::Markdown));
}
