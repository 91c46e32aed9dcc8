//! Snapshot tests of a judged report: a fixed report whose fsync p99 is
//! 20 ms while a backup job writes to the data device, run through the real
//! rules with the etcd-default profile, then rendered as the terminal
//! table, Markdown, JUnit XML and the Prometheus textfile.

use etcd_doctor::facts::Report;
use etcd_doctor::host::activity::{CpuActivity, DeviceIo, HostActivity, ProcessIo};
use etcd_doctor::report::{
    format::{junit, prometheus},
    render, Format,
};
use etcd_doctor::rules::{FindingId, Profile};

fn judged() -> Report {
    let mut report = crate::support::fixtures::disk_report("qualify", [8_000.0, 950.5, 2_400.0]);
    report.host.activity = Some(HostActivity {
        window_s: 12.0,
        cpu: Some(CpuActivity {
            steal_pct: 7.5,
            iowait_pct: 20.0,
            busy_pct: 35.0,
            pressure_some_pct: Some(4.0),
        }),
        device_io: Some(DeviceIo {
            device: "nvme0n1p2".into(),
            util_pct: 92.0,
            write_iops: 2400.0,
            write_mib_s: 180.0,
            write_await_ms: 14.0,
        }),
        writers: vec![ProcessIo {
            pid: 4242,
            comm: "backup-agent".into(),
            write_mib_s: 170.0,
            write_ops_s: 680.0,
            on_device: true,
            etcd: false,
        }],
        ..HostActivity::default()
    });
    report.judge(&Profile::default());
    report
}

fn rendered(f: impl Fn(&Report, &mut Vec<u8>) -> std::io::Result<()>) -> String {
    let mut out = Vec::new();
    f(&judged(), &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn the_rules_find_slow_fsync_contention_and_steal() {
    let ids: Vec<FindingId> = judged().findings.iter().map(|f| f.id).collect();
    assert_eq!(
        ids,
        [
            FindingId::DiskFsyncSlow,
            FindingId::DiskIoContention,
            FindingId::HostCpuSteal
        ]
    );
}

#[test]
fn judged_report_as_table() {
    insta::assert_snapshot!(rendered(|r, w| render(r, Format::Table, w)));
}

#[test]
fn judged_report_as_markdown() {
    insta::assert_snapshot!(rendered(|r, w| render(r, Format::Markdown, w)));
}

#[test]
fn judged_report_as_junit() {
    insta::assert_snapshot!(rendered(|r, w| junit::render(r, w)));
}

#[test]
fn judged_report_as_prometheus_textfile() {
    insta::assert_snapshot!(rendered(|r, w| prometheus::render(r, w)));
}
