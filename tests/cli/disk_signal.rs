//! Ctrl-C and SIGTERM mid-run: the probe stops between operations, removes
//! its scratch directory and exits 2 with "interrupted"; the files that
//! were in DIR before are all still there, byte-identical, and nothing
//! else is.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;
use std::process::{Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use assert_cmd::cargo::CommandCargoExt;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

/// Every file in `dir` with its bytes.
fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

/// Polls until `f` holds or `limit` passes.
fn wait_for(limit: Duration, mut f: impl FnMut() -> bool) -> bool {
    let start = Instant::now();
    while start.elapsed() < limit {
        if f() {
            return true;
        }
        sleep(Duration::from_millis(20));
    }
    false
}

fn interrupted_run_leaves_dir_as_it_was(signal: Signal) {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("member.wal"), b"pre-existing wal bytes").unwrap();
    fs::write(dir.path().join("db"), vec![7u8; 10_000]).unwrap();
    let before = snapshot(dir.path());

    let mut child = Command::cargo_bin("etcd-doctor")
        .unwrap()
        .args(["disk", "--probe", "fsync,wal", "--duration", "60", "--dir"])
        .arg(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = wait_for(Duration::from_secs(20), || {
        fs::read_dir(dir.path()).unwrap().count() > before.len()
    });
    assert!(started, "the scratch directory never appeared");
    sleep(Duration::from_millis(300)); // well inside the run
    kill(Pid::from_raw(child.id() as i32), signal).unwrap();

    let exited = wait_for(Duration::from_secs(10), || {
        child.try_wait().unwrap().is_some()
    });
    if !exited {
        let _ = child.kill();
        panic!("etcd-doctor did not stop within 10 s of {signal}");
    }
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "stderr: {stderr}");
    assert_eq!(stderr.trim(), "etcd-doctor: error: interrupted");
    assert_eq!(snapshot(dir.path()), before);
}

#[test]
fn sigint_mid_run_cleans_up() {
    interrupted_run_leaves_dir_as_it_was(Signal::SIGINT);
}

#[test]
fn sigterm_mid_run_cleans_up() {
    interrupted_run_leaves_dir_as_it_was(Signal::SIGTERM);
}
