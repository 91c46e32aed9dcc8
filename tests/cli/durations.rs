//! Every time flag takes a Go duration and a bare number of seconds
//! (docs/durations.md; `--heartbeat-interval`'s bare number is ms, as
//! etcd's flag). Each flag gets both forms on a command line that then
//! stops at a later obstacle (a missing directory, a refusing endpoint):
//! both forms must pass the flag and end alike, and a malformed value
//! must be refused naming the flag.

use std::process::Output;

use crate::support::doctor::doctor;

const NO_DIR: &str = "/nonexistent-etcd-doctor/x";
const DEAD: &str = "http://127.0.0.1:1";

/// (command line, flag, bare form, Go form)
fn cases() -> Vec<(String, &'static str, &'static str, &'static str)> {
    let disk = format!("disk --dir {NO_DIR} --probe fsync,paced");
    let qualify = format!("qualify --dir {NO_DIR}");
    let qualify_net = format!("qualify --dir {NO_DIR} --peers 127.0.0.1:9 --token t");
    let net = "net --peers 127.0.0.1:9 --token t --probe rtt".to_string();
    let cluster = format!("cluster status --endpoints {DEAD}");
    let metrics = format!("cluster metrics --endpoints {DEAD}");
    let consistency = format!("cluster consistency --endpoints {DEAD}");
    let load = format!("load --endpoints {DEAD}");
    let diagnose = format!("diagnose --no-disk --endpoints {DEAD}");
    let logs = "logs /nonexistent-etcd-doctor.log".to_string();
    vec![
        (disk.clone(), "--duration", "2", "2s"),
        (disk, "--min-span", "1.5", "1500ms"),
        (qualify.clone(), "--duration", "3", "3s"),
        (qualify, "--min-span", "90", "1m30s"),
        (qualify_net.clone(), "--net-duration", "2", "2s"),
        (qualify_net, "--heartbeat-interval", "100", "100ms"),
        (net.clone(), "--duration", "0.5", "500ms"),
        (net.clone(), "--timeout", "1", "1s"),
        (net, "--heartbeat-interval", "250", "0.25s"),
        (
            "agent --listen nope --token t".into(),
            "--max-seconds",
            "90",
            "1.5m",
        ),
        (cluster.clone(), "--dial-timeout", "1", "1s"),
        (cluster, "--command-timeout", "2", "2s"),
        (metrics, "--interval", "1", "1s"),
        (consistency, "--interval", "1", "1s"),
        (load.clone(), "--duration", "5", "5s"),
        (load.clone(), "--max-duration", "60", "1m"),
        (load, "--scrape-interval", "1", "1s"),
        (diagnose.clone(), "--interval", "1", "1s"),
        (diagnose, "--logs-since", "3600", "1h"),
        (logs.clone(), "--since", "7200", "2h"),
        (logs, "--until", "60", "1m"),
    ]
}

fn run(line: &str, flag: &str, value: &str) -> Output {
    doctor(line)
        .arg(format!("{flag}={value}"))
        .output()
        .unwrap()
}

#[test]
fn every_time_flag_takes_go_durations_and_bare_seconds() {
    for (line, flag, bare, go) in cases() {
        let (a, b) = (run(&line, flag, bare), run(&line, flag, go));
        for (value, out) in [(bare, &a), (go, &b)] {
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(
                !stderr.contains(&format!("{flag} ")) && !stderr.contains(&format!("'{flag}")),
                "{line} {flag}={value} was refused: {stderr}"
            );
        }
        assert_eq!(
            a.status.code(),
            b.status.code(),
            "{line}: {flag}={bare} and {flag}={go} ended differently"
        );
        let bad = run(&line, flag, "2x");
        let stderr = String::from_utf8_lossy(&bad.stderr);
        assert_eq!(bad.status.code(), Some(2), "{line} {flag}=2x: {stderr}");
        assert!(
            stderr.contains(flag) && stderr.contains("2x"),
            "{line}: {stderr}"
        );
    }
}

#[test]
fn a_bare_number_and_its_go_form_run_the_probe_as_long() {
    let dir = tempfile::tempdir().unwrap();
    for value in ["0.3", "300ms"] {
        let out = doctor("disk --probe fsync -w json --dir")
            .arg(dir.path())
            .arg(format!("--duration={value}"))
            .output()
            .unwrap();
        let report =
            crate::support::output::json(&crate::support::output::succeeded(&out).into_bytes());
        let secs = report["disk"][0]["duration_s"].as_f64().unwrap();
        assert!(
            (0.3..2.0).contains(&secs),
            "--duration={value}: ran {secs} s"
        );
    }
}
