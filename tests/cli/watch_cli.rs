//! `watch` without a cluster: the canary on a temp dir, a followed log,
//! short windows (the hidden `--windows`), the HTTP endpoint and the
//! history. It serves `/metrics` that a real Prometheus parser reads
//! (etcd's wal_fsync buckets, counters, the canary and log sources up),
//! `/report` as the JSON contract with the log line appended meanwhile,
//! `/healthz`; `promtool check metrics` (Prometheus's linter) passes the
//! page where promtool is installed; SIGTERM stops it with exit 0, the canary's scratch
//! directory gone and the history files readable by `compare`. Bad flags
//! are one line and exit 2. About 8 s.

use std::io::Write;
use std::time::Duration;

use etcd_doctor::facts::Report;
use etcd_doctor::logs::EventKind;

use crate::support::doctor::doctor;
use crate::support::fails_with;
use crate::support::promtool;
use crate::support::watch::{value, Watch};

const SLOW: &str =
    "2024-03-01 12:00:00.123456 W | wal: sync duration of 1.5s, expected less than 1s\n";

#[test]
fn watch_serves_metrics_report_and_history_and_stops_clean_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let history = dir.path().join("history");
    let log = dir.path().join("etcd.log");
    std::fs::write(&log, SLOW).unwrap();
    let canary_dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let agent = Agent(
        doctor(&format!("agent --listen 127.0.0.1:{port} --token t0ken"))
            .spawn()
            .unwrap(),
    );
    let mut cmd =
        doctor("watch --no-cluster --listen 127.0.0.1:0 --interval 1s --windows 1s,3s,20s");
    cmd.arg("--dir").arg(canary_dir.path());
    cmd.arg("--history").arg(&history);
    cmd.arg("--logs").arg(&log);
    cmd.args(["--token", "t0ken", "--peers", &format!("127.0.0.1:{port}")]);
    let w = Watch::start(cmd);
    w.wait_ready(Duration::from_secs(15));
    // Written after the start: read by the next tick.
    std::fs::OpenOptions::new()
        .append(true)
        .open(&log)
        .unwrap()
        .write_all(SLOW.as_bytes())
        .unwrap();
    std::thread::sleep(Duration::from_millis(3500));

    let m = w.metrics();
    let writes = value(&m, "etcd_doctor_canary_fsync_duration_seconds", &[]).unwrap();
    assert!(writes >= 10.0, "canary writes {writes}");
    let hist = m
        .samples
        .iter()
        .find(|s| s.metric == "etcd_doctor_canary_fsync_duration_seconds")
        .unwrap();
    let prometheus_parse::Value::Histogram(buckets) = &hist.value else {
        panic!("{hist:?}")
    };
    let bounds: Vec<f64> = buckets.iter().map(|b| b.less_than).collect();
    assert_eq!(bounds[0], 0.001);
    assert!(bounds.contains(&8.192), "{bounds:?}");
    let up = |kind| value(&m, "etcd_doctor_source_up", &[("kind", kind)]);
    assert_eq!(up("canary"), Some(1.0));
    assert_eq!(up("logs"), Some(1.0));
    assert_eq!(up("peer"), Some(1.0), "{}", w.stderr());
    assert!(value(&m, "etcd_doctor_process_resident_memory_bytes", &[]).unwrap() > 0.0);
    assert!(value(&m, "etcd_doctor_watch_ticks_total", &[]).unwrap() >= 3.0);

    if let Some(promtool) = promtool::find("promtool check metrics") {
        let (code, page) = w.get("/metrics");
        assert_eq!(code, 200);
        let out = promtool::run(&promtool, &["check", "metrics"], page.as_bytes());
        assert!(
            out.status.success(),
            "promtool check metrics: {out:?}\n{page}"
        );
    }
    let (code, body) = w.get("/report?window=20s");
    assert_eq!(code, 200);
    let r: Report = serde_json::from_str(&body).unwrap();
    assert_eq!(r.command, "watch 20s");
    assert_eq!(r.disk.len(), 1);
    assert!(r.disk[0].ops >= 10, "{:?}", r.disk[0]);
    assert_eq!(r.logs.as_ref().unwrap().count(EventKind::SlowFdatasync), 1);
    let rtt = r.net.first().expect("an rtt result");
    assert!(rtt.error.is_none() && rtt.latency_us.is_some(), "{rtt:?}");
    assert_eq!(w.get("/healthz").0, 200);
    assert_eq!(w.get("/report?window=7h").0, 404);
    assert_eq!(w.get("/nothing").0, 404);

    drop(agent);
    let (status, stderr) = w.stop();
    assert_eq!(status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("stopped on SIGTERM"), "{stderr}");
    let left: Vec<_> = std::fs::read_dir(canary_dir.path()).unwrap().collect();
    assert!(left.is_empty(), "canary left {left:?}");
    let kept: Vec<_> = std::fs::read_dir(&history)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(!kept.is_empty());
    ran(doctor("compare -w json")
        .arg(&kept[0])
        .arg(&kept[kept.len() - 1]));
    // The incident judged after the fact: diagnose over the history.
    let out = ran(doctor("diagnose -w json --since 1h --history").arg(&history));
    let r: Report = serde_json::from_slice(&out.stdout).unwrap();
    assert!(r.command.starts_with("diagnose --since"), "{}", r.command);
    assert_eq!(r.disk.len(), 1);
    assert!(r.disk[0].ops >= kept.len() as u64 * 10, "{:?}", r.disk[0]);
}

/// One CRI line of `content` (`P`: a part of a line the runtime split).
fn cri(tag: char, content: &str) -> String {
    format!("2024-03-01T12:00:00.123456789Z stderr {tag} {content}\n")
}

/// A capnslog slow-fdatasync line taking `secs`.
fn slow(secs: f64) -> String {
    format!("2024-03-01 12:00:00.123456 W | wal: sync duration of {secs}s, expected less than 1s")
}

/// Appends one entry (`MESSAGE=message` of etcd.service) to the journal
/// file `journal` with `systemd-journal-remote`; false (SKIP said) when it
/// is not installed.
fn journal_append(journal: &std::path::Path, message: &str, seq: u32) -> bool {
    const REMOTE: &str = "/lib/systemd/systemd-journal-remote";
    if !std::path::Path::new(REMOTE).exists() {
        eprintln!("SKIP: {REMOTE} missing (scripts/install-test-deps installs it)");
        return false;
    }
    let now_us = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_micros();
    let export = journal.with_extension(format!("export{seq}"));
    std::fs::write(
        &export,
        format!(
            "__CURSOR=s=0;i={seq}\n__REALTIME_TIMESTAMP={now_us}\n__MONOTONIC_TIMESTAMP={seq}\n\
             _BOOT_ID=0123456789abcdef0123456789abcdef\n_SYSTEMD_UNIT=etcd.service\n\
             MESSAGE={message}\n\n"
        ),
    )
    .unwrap();
    let out = std::process::Command::new(REMOTE)
        .arg(format!("--output={}", journal.display()))
        .arg(&export)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    true
}

#[test]
fn watch_follows_a_rotated_cri_log_and_a_journal_file() {
    if !std::path::Path::new("/usr/bin/journalctl").exists() {
        eprintln!("SKIP: journalctl missing");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("0.log");
    std::fs::write(&log, cri('F', &slow(9.0))).unwrap();
    let journal = dir.path().join("etcd.journal");
    if !journal_append(&journal, &slow(8.0), 1) {
        return;
    }
    let canary_dir = tempfile::tempdir().unwrap();
    let mut cmd =
        doctor("watch --no-cluster --listen 127.0.0.1:0 --interval 1s --windows 1s,3s,30s");
    cmd.arg("--dir").arg(canary_dir.path());
    cmd.arg("--logs")
        .arg(&log)
        .arg("--journal-file")
        .arg(&journal);
    let w = Watch::start(cmd);
    w.wait_ready(Duration::from_secs(15));
    // Lines before the start (9 s, 8 s) are not read; from now on: a line
    // split in CRI parts, one written just before kubelet's rotation
    // (renamed, a new file), two in the new file, one journal entry.
    let mut old = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    let line = slow(1.5);
    let (a, b) = line.split_at(30);
    write!(old, "{}{}", cri('P', a), cri('F', b)).unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    write!(old, "{}", cri('F', &slow(2.5))).unwrap();
    std::fs::rename(&log, dir.path().join("0.log.20240301-120000")).unwrap();
    std::fs::write(&log, cri('F', &slow(3.5)) + &cri('F', &slow(4.5))).unwrap();
    assert!(journal_append(&journal, &slow(5.5), 2));
    std::thread::sleep(Duration::from_millis(3500));

    let m = w.metrics();
    let up = |kind| value(&m, "etcd_doctor_source_up", &[("kind", kind)]);
    assert_eq!(up("logs"), Some(1.0), "{}", w.stderr());
    let (code, body) = w.get("/report?window=30s");
    assert_eq!(code, 200);
    let r: Report = serde_json::from_str(&body).unwrap();
    let logs = r.logs.as_ref().unwrap();
    assert_eq!(
        logs.count(EventKind::SlowFdatasync),
        5,
        "{body}\n{}",
        w.stderr()
    );
    let (status, stderr) = w.stop();
    assert_eq!(status.code(), Some(0), "{stderr}");
}

/// A child process killed on drop.
struct Agent(std::process::Child);

impl Drop for Agent {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs `cmd`; it must not have failed to run (exit 2).
fn ran(cmd: &mut std::process::Command) -> std::process::Output {
    let out = cmd.output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(2), "{err}");
    out
}

#[test]
fn bad_watch_flags_are_one_line_and_exit_2() {
    let dir = tempfile::tempdir().unwrap();
    let run = |args: &str| {
        doctor(&format!("watch --no-cluster --listen 127.0.0.1:0 {args}"))
            .arg("--dir")
            .arg(dir.path())
            .output()
            .unwrap()
    };
    fails_with(&run("--interval 0s"), &["--interval"]);
    fails_with(&run("--rate 0"), &["--rate"]);
    fails_with(&run("--interval 2s --windows 1s"), &["--windows"]);
    let out = doctor("watch --no-cluster --listen 127.0.0.1:0 --dir /nonexistent/x")
        .output()
        .unwrap();
    fails_with(&out, &["--dir", "/nonexistent/x"]);
    let busy = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = busy.local_addr().unwrap().to_string();
    let out = doctor(&format!("watch --no-cluster --listen {addr}"))
        .arg("--dir")
        .arg(dir.path())
        .output()
        .unwrap();
    fails_with(&out, &["--listen", &addr]);
}
