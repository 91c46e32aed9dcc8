//! Snapshot tests of how a disk report looks in the terminal table and in
//! Markdown: the device section and the disk section, from a fixed report.

use etcd_doctor::facts::Report;
use etcd_doctor::report::{render, Format};

fn report() -> Report {
    crate::support::fixtures::disk_report("disk", [812.0, 950.5, 2_400.0])
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
