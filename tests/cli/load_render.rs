//! A judged load report in the terminal and Markdown formats (insta
//! snapshots), its JSON round trip with the encoded histograms, and the
//! HTML page with both load plots. The run is built from fixed samples:
//! a fast member and one whose requests took 40x longer.

use std::time::Duration;

use etcd_doctor::cluster::conn::Target;
use etcd_doctor::facts::Report;
use etcd_doctor::load::generator::Recorded;
use etcd_doctor::load::plan::{LoadPlan, LoadRequest, Mix, Preset};
use etcd_doctor::load::result::MemberLoad;
use etcd_doctor::report::{format::html, render, Format};
use etcd_doctor::rules::Profile;

fn target(port: u16) -> (Target, Option<etcd_doctor::member::MemberId>) {
    let t = Target {
        endpoint: format!("http://10.0.0.{port}:2379"),
        url: format!("http://10.0.0.{port}:2379"),
        host: format!("10.0.0.{port}"),
        port: 2379,
        tls: false,
    };
    (t, Some(format!("{port:016x}").into()))
}

fn report() -> Report {
    let plan = LoadPlan::new(LoadRequest {
        preset: Preset::S,
        rate: Some(100),
        clients: Some(10),
        conns: Some(2),
        duration: Some(Duration::from_secs(10)),
        key_size: None,
        value_size: None,
        mix: Some(Mix::parse("put=1,range=1").unwrap()),
        key_space: Some(1000),
        max_duration: Duration::from_secs(600),
        prefix: "/etcd-doctor-load/".into(),
        scrape_interval: Duration::from_secs(5),
    })
    .unwrap();
    let mut rec = Recorded {
        by_target: vec![Default::default(), Default::default()],
        ..Recorded::default()
    };
    for i in 0..1000u64 {
        let (member, kind) = ((i % 2) as usize, (i / 2 % 2) as usize);
        let ms = if member == 1 {
            40 * (1 + i % 7)
        } else {
            1 + i % 7
        };
        let d = Duration::from_millis(ms);
        for g in [
            &mut rec.all,
            &mut rec.by_kind[kind],
            &mut rec.by_target[member],
        ] {
            g.latency.record(d);
        }
    }
    rec.elapsed = Duration::from_secs(10);
    (rec.scheduled, rec.sent) = (1000, 1000);
    let mut load = etcd_doctor::load::summarize(&plan, &rec, &[target(1), target(2)], 0.05);
    load.deleted_keys = 500;
    load.server = vec![MemberLoad {
        url: "http://10.0.0.2:2379/metrics".into(),
        member_id: Some(format!("{:016x}", 2).into()),
        apply: None,
        cpu_cores: Some(0.4),
        proposals_pending_max: Some(3.0),
        wal_fsync_p99_ms_over_time: vec![(5.0, 80.0), (10.0, 120.0)],
        tcp_handshake_ms_median: Some(0.25),
        tcp_handshakes: 4,
    }];
    let mut r = Report::new("load", crate::support::fixtures::host());
    r.tool_version = "0.0.0-test".into();
    r.load = Some(load);
    r.judge(&Profile::default());
    r
}

fn rendered(format: Format) -> String {
    let mut out = Vec::new();
    render(&report(), format, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn load_report_as_table() {
    insta::assert_snapshot!(rendered(Format::Table));
}

#[test]
fn load_report_as_markdown() {
    insta::assert_snapshot!(rendered(Format::Markdown));
}

#[test]
fn json_keeps_the_histograms_and_html_has_both_plots() {
    let r = report();
    let json = serde_json::to_string(&r).unwrap();
    let back: Report = crate::support::output::parsed(json.as_bytes());
    let l = back.load.unwrap();
    let put = l.ops.iter().find(|o| o.name == "put").unwrap();
    let hist = put.latency_histogram.decode().unwrap();
    assert_eq!(hist.len(), put.ok);
    assert_eq!(hist.summary(), put.latency_us);
    let mut page = Vec::new();
    html::render(&r, &mut page).unwrap();
    let page = String::from_utf8(page).unwrap();
    assert!(
        page.contains("request latency over time"),
        "no latency plot"
    );
    assert!(page.contains("WAL fdatasync p99 per member"), "no WAL plot");
    assert_eq!(page.matches("<svg").count(), 2);
}
