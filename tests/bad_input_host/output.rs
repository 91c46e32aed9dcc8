//! What reaches standard output: closed, full and broken outputs, control
//! characters; implausible numbers and dates.

use std::fs;
use std::os::unix::process::CommandExt;
use std::process::Stdio;

use crate::capped::{refused, run_capped, Fixtures, Stdin};
use crate::support;
use crate::support::fixtures::disk_report;

/// Standard output closed, full or a broken pipe: exit 2 and one line,
/// for a report and for completions (which used to panic with 101).
#[test]
fn broken_standard_output_is_exit_2() {
    if !support::privileged("broken_standard_output_is_exit_2") {
        return;
    }
    let f = Fixtures::new();
    let good = f.p("good.json");
    let commands: [Vec<&str>; 3] = [
        vec!["completions", "bash"],
        vec!["man"],
        vec!["merge", good.as_str()],
    ];
    for args in &commands {
        let (read, write) = nix::unistd::pipe().unwrap();
        drop(read);
        let r = run_capped(args, Stdin::Null, Some(Stdio::from(write)), &[]);
        refused(
            &r,
            &format!("{args:?} into a closed pipe"),
            &["standard output"],
        );
        let full = fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let r = run_capped(args, Stdin::Null, Some(Stdio::from(full)), &[]);
        refused(
            &r,
            &format!("{args:?} into /dev/full"),
            &["standard output"],
        );
    }
    // A closed descriptor 1.
    let mut cmd = support::doctor::doctor("completions bash");
    // SAFETY: close(2) only.
    unsafe {
        cmd.pre_exec(|| {
            libc::close(1);
            Ok(())
        });
    }
    let out = cmd.stderr(Stdio::piped()).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("standard output is closed"));
}

/// Control characters from a hostname or a log line reach the terminal
/// escaped in tables and markdown (JSON escapes them itself).
#[test]
fn control_characters_are_escaped() {
    if !support::privileged("control_characters_are_escaped") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut r = disk_report("qualify", [500.0, 600.0, 900.0]);
    r.host.hostname = "evil\u{1b}]0;owned\u{7}\u{1b}[2J\u{9b}31m\rhost".into();
    let path = dir.path().join("evil.json");
    fs::write(&path, serde_json::to_vec(&r).unwrap()).unwrap();
    // The source name is in the logs table.
    let log = dir.path().join("evil\u{1b}[2J\u{9b}.log");
    fs::write(
        &log,
        "{\"level\":\"warn\",\"ts\":\"2024-03-01T12:00:00.123Z\",\"caller\":\"wal/wal.go:806\",\"msg\":\"slow fdatasync\",\"took\":\"1.5s\",\"expected-duration\":\"1s\",\"x\":\"\\u001b[2J\\u009b\"}\n",
    )
    .unwrap();
    // (arguments, whether the output shows the hostile text)
    for (args, shown) in [
        (vec!["merge", path.to_str().unwrap()], true),
        (
            vec!["merge", path.to_str().unwrap(), "-w", "markdown"],
            true,
        ),
        (
            vec!["compare", path.to_str().unwrap(), path.to_str().unwrap()],
            false,
        ),
        (vec!["logs", log.to_str().unwrap()], true),
        (vec!["logs", log.to_str().unwrap(), "-w", "markdown"], true),
    ] {
        let out = run_capped(&args, Stdin::Null, None, &[]);
        assert!(matches!(out.code, Some(0 | 1)), "{args:?}: {}", out.stderr);
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(
            !text
                .chars()
                .any(|c| (c.is_control() && c != '\n' && c != '\t')
                    || ('\u{80}'..='\u{9f}').contains(&c)),
            "{args:?}: raw control character in {text:?}"
        );
        assert_eq!(text.contains("\\x1b"), shown, "{args:?}: {text}");
    }
}

/// Values no run writes and times no calendar has are refused with the
/// file and field, or the flag, named.
#[test]
fn implausible_numbers_and_dates_are_refused() {
    if !support::privileged("implausible_numbers_and_dates_are_refused") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for (field, value) in [
        ("p99", -1.0),
        ("p50", 1e305),
        ("max", 1e12),
        ("mean", -0.001),
    ] {
        let mut v = serde_json::to_value(disk_report("qualify", [500.0, 600.0, 900.0])).unwrap();
        v["disk"][0]["latency_us"][field] = serde_json::json!(value);
        let path = dir.path().join(format!("{field}.json"));
        fs::write(&path, serde_json::to_vec(&v).unwrap()).unwrap();
        let r = run_capped(&["merge", path.to_str().unwrap()], Stdin::Null, None, &[]);
        refused(
            &r,
            &format!("{field} = {value}"),
            &[
                path.to_str().unwrap(),
                &format!("disk[0].latency_us.{field}"),
            ],
        );
    }
    let log = dir.path().join("ok.log");
    fs::write(&log, "x\n").unwrap();
    for (flag, value) in [
        ("--since", "2024-02-30T00:00:00Z"),
        ("--since", "2023-02-29T12:00:00Z"),
        ("--until", "2024-03-01T12:00:00+99:99"),
        ("--until", "2024-04-31T00:00:00Z"),
    ] {
        let r = run_capped(
            &["logs", log.to_str().unwrap(), flag, value],
            Stdin::Null,
            None,
            &[],
        );
        refused(&r, &format!("{flag} {value}"), &[flag]);
    }
}
