//! `etcd-doctor logs` on bad input: binary garbage, truncated JSON, a
//! 10 MB line and mixed formats are counted, never fatal; an unreadable
//! file beside a readable one is reported by name; exit 2 only when
//! nothing could be read, with one line naming the file or flag.

use std::io::Write;

use crate::support::doctor::{doctor, exits, report};
use crate::support::fails_with;

const ZAP_SLOW: &str = r#"{"level":"warn","ts":"2024-03-01T12:00:00.123Z","caller":"wal/wal.go:806","msg":"slow fdatasync","took":"1.534s","expected-duration":"1s"}"#;
const CAPN_SLOW: &str =
    "2024-03-01 12:00:05.000000 W | wal: sync duration of 2.5s, expected less than 1s";

fn mixed(dir: &std::path::Path) -> std::path::PathBuf {
    let path = dir.join("mixed.log");
    let mut f = std::fs::File::create(&path).unwrap();
    f.write_all(b"\x00\x01\xff\xfe binary garbage\n").unwrap();
    writeln!(
        f,
        "{{\"level\":\"warn\",\"ts\":\"2024-03-01T12:00:00Z\",\"msg\":\"slow fdat"
    )
    .unwrap();
    f.write_all(&vec![b'y'; 10 << 20]).unwrap();
    writeln!(f).unwrap();
    writeln!(f, "{ZAP_SLOW}").unwrap();
    writeln!(f, "{CAPN_SLOW}").unwrap();
    writeln!(f, "2024-03-01T12:00:06.5Z stderr F {ZAP_SLOW}").unwrap();
    path
}

#[test]
fn bad_lines_are_counted_and_good_ones_judged() {
    let dir = tempfile::tempdir().unwrap();
    let file = mixed(dir.path());
    let missing = dir.path().join("missing.log");
    let r = report(doctor("logs -w json").arg(&file).arg(&missing), 0);
    let sources = r["logs"]["sources"].as_array().unwrap();
    assert_eq!(sources[0]["lines"], 6);
    assert_eq!(sources[0]["unparsed_lines"], 3);
    assert_eq!(sources[0]["overlong_lines"], 1);
    assert!(sources[1]["error"]
        .as_str()
        .unwrap()
        .contains("missing.log"));
    let slow = &r["logs"]["events"][0];
    assert_eq!(
        (slow["kind"].as_str(), slow["count"].as_u64()),
        (Some("slow-fdatasync"), Some(3))
    );
    assert_eq!(slow["worst_ms"], 2500.0);
    assert_eq!(r["findings"][0]["id"], "disk.fsync-slow");
    assert_eq!(r["findings"][0]["severity"], "warn");
}

#[test]
fn table_and_markdown_show_the_timeline() {
    let dir = tempfile::tempdir().unwrap();
    let file = mixed(dir.path());
    let out = exits(doctor("logs").arg(&file), 0);
    let table = String::from_utf8(out.stdout).unwrap();
    assert!(
        table.contains("Log events") && table.contains("slow-fdatasync"),
        "{table}"
    );
    assert!(table.contains("2024-03-01T12:00:00.000Z"), "{table}");
    let out = exits(doctor("logs -w markdown --fail-on warn").arg(&file), 1);
    let md = String::from_utf8(out.stdout).unwrap();
    assert!(md.contains("slow-fdatasync 3"), "{md}");
}

#[test]
fn stdin_and_window() {
    let out = assert_cmd::Command::from_std(doctor("logs -w json - --since 2024-03-01T12:00:01Z"))
        .write_stdin(format!("{ZAP_SLOW}\n{CAPN_SLOW}\n"))
        .output()
        .unwrap();
    let r: serde_json::Value = crate::support::output::json(&out.stdout);
    assert_eq!(r["logs"]["events"][0]["count"], 1);
    assert_eq!(r["logs"]["sources"][0]["outside_window"], 1);
}

#[test]
fn nothing_readable_exits_2_naming_the_file() {
    let out = doctor("logs /nonexistent/etcd.log").output().unwrap();
    fails_with(&out, &["/nonexistent/etcd.log"]);
    let out = doctor("logs").output().unwrap();
    fails_with(&out, &["nothing to read"]);
    let out = doctor("logs x.log --since yesterday").output().unwrap();
    fails_with(&out, &["--since", "yesterday"]);
    let dir = tempfile::tempdir().unwrap();
    let out = doctor("logs --kubeadm --manifest")
        .arg(dir.path().join("none.yaml"))
        .output()
        .unwrap();
    fails_with(&out, &["none.yaml"]);
}

/// A fixed log on standard input, every human format.
fn rendered(format: &str) -> String {
    let input = format!(
        "{ZAP_SLOW}\n{CAPN_SLOW}\n{}\n{}\n",
        r#"{"level":"warn","ts":"2024-03-01T12:01:00Z","msg":"leader failed to send out heartbeat on time; took too long, leader is overloaded likely from slow disk","to":"8e9e","exceeded-duration":"812ms"}"#,
        "raft2024/03/01 12:02:00 INFO: raft.node: 2e12 elected leader 2e12 at term 2",
    );
    let out = assert_cmd::Command::from_std(doctor(&format!("logs - -w {format}")))
        .write_stdin(input)
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn log_report_as_table() {
    insta::assert_snapshot!(rendered("table"));
}

#[test]
fn log_report_as_markdown() {
    insta::assert_snapshot!(rendered("markdown"));
}

#[test]
fn html_report_plots_the_timeline() {
    let dir = tempfile::tempdir().unwrap();
    let file = mixed(dir.path());
    let out = dir.path().join("report");
    exits(doctor("logs --report").arg(&out).arg(&file), 0);
    let html = std::fs::read_to_string(out.join("report.html")).unwrap();
    assert!(
        html.contains("etcd&#39;s logs") || html.contains("etcd's logs"),
        "no log plot section"
    );
    assert!(html.contains("events per minute"), "no timeline plot");
    let junit = std::fs::read_to_string(out.join("junit.xml")).unwrap();
    assert!(junit.contains("net.peer-unhealthy"));
}
