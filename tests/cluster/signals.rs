//! SIGINT, SIGTERM and SIGHUP stop every command promptly with exit 2 and
//! `etcd-doctor: error: interrupted`, wherever they land: in the network
//! phase of `qualify` (which used to ignore them for 20-36 s and exit 0),
//! in a cluster read waiting on a member that never answers, and in the
//! disk phase (scratch files removed; tests/cli/disk_signal.rs has SIGINT and
//! SIGTERM there). Nothing is left in the probed directory.

use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

use crate::support::etcd::free_port;
use crate::support::netns::Daemon;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

const TOKEN: &str = "signals-test-token";

fn bin() -> Command {
    Command::new(assert_cmd::cargo::cargo_bin("etcd-doctor"))
}

/// Sends `signal` to `child` and returns how long it took to exit, its
/// exit code and its stderr; panics if it did not exit within 5 s.
fn stop(mut child: Child, signal: Signal) -> (Duration, Option<i32>, String, String) {
    let sent = Instant::now();
    kill(Pid::from_raw(child.id() as i32), signal).unwrap();
    while child.try_wait().unwrap().is_none() {
        if sent.elapsed() > Duration::from_secs(5) {
            let _ = child.kill();
            panic!("still running 5 s after {signal}");
        }
        sleep(Duration::from_millis(10));
    }
    let took = sent.elapsed();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    (took, out.status.code(), err, stdout)
}

fn assert_interrupted(
    what: &str,
    (took, code, err, stdout): (Duration, Option<i32>, String, String),
) {
    assert_eq!(code, Some(2), "{what}: {err}");
    assert_eq!(
        err.lines().last(),
        Some("etcd-doctor: error: interrupted"),
        "{what}: {err}"
    );
    assert!(stdout.is_empty(), "{what}: a report was written: {stdout}");
    assert!(took < Duration::from_millis(1500), "{what}: took {took:?}");
}

/// An agent on loopback, killed on drop.
fn agent() -> (Daemon, String) {
    let listen = format!("127.0.0.1:{}", free_port());
    let mut cmd = bin();
    cmd.args(["agent", "--listen", &listen, "--token", TOKEN]);
    let mut agent = Daemon::start(&mut cmd).unwrap();
    agent
        .wait_for("listening on", Duration::from_secs(10))
        .unwrap();
    (agent, listen)
}

#[test]
fn signals_in_the_network_phase_of_qualify_stop_it_at_once() {
    let (_agent, listen) = agent();
    for (signal, after) in [
        (Signal::SIGINT, 300),
        (Signal::SIGTERM, 1500),
        (Signal::SIGHUP, 800),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let child = bin()
            .args([
                "qualify",
                "--probe",
                "fsync",
                "--ops",
                "50",
                "--net-duration",
                "10",
            ])
            .arg("--dir")
            .arg(dir.path())
            .args(["--peers", &listen, "--token", TOKEN])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // 50 fsyncs take well under a second; the network phase then
        // lasts 10 s per probe.
        sleep(Duration::from_millis(1500 + after));
        assert_eq!(
            std::fs::read_dir(dir.path()).unwrap().count(),
            0,
            "disk phase still running"
        );
        assert_interrupted(&format!("qualify, {signal}"), stop(child, signal));
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}

#[test]
fn signals_stop_a_cluster_read_waiting_on_a_silent_member() {
    // Accepts connections (the kernel does) and never answers.
    let silent = TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", silent.local_addr().unwrap());
    for signal in [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP] {
        let child = bin()
            .args(["cluster", "status", "--endpoints", &endpoint])
            .args(["--dial-timeout", "20s", "--command-timeout", "20s"])
            .env_remove("ETCDCTL_ENDPOINTS")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        sleep(Duration::from_millis(500));
        assert_interrupted(&format!("cluster status, {signal}"), stop(child, signal));
    }
}

#[test]
fn sighup_mid_disk_probe_removes_the_scratch_files() {
    let dir = tempfile::tempdir().unwrap();
    let child = bin()
        .args(["disk", "--probe", "wal", "--duration", "60", "--dir"])
        .arg(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let started = Instant::now();
    while std::fs::read_dir(dir.path()).unwrap().count() == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "no scratch dir"
        );
        sleep(Duration::from_millis(20));
    }
    sleep(Duration::from_millis(300));
    assert_interrupted("disk, SIGHUP", stop(child, Signal::SIGHUP));
    assert_eq!(
        std::fs::read_dir(dir.path()).unwrap().count(),
        0,
        "scratch left behind"
    );
}
