//! Support for the `logs` tests: the wall-clock window of a test phase,
//! `etcd-doctor logs` over member logs, leadership moves, and the kubelet
//! view of a log (CRI-wrapped with partial lines, split across a rotated
//! `.gz` file and the live one, under a pod log directory).

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::doctor::{doctor, report};
use super::etcd::Cluster;
use etcd_doctor::logs::time::{format_timestamp, now_ms};

/// Sets the environment every etcd of this test binary inherits: logs in
/// UTC (capnslog writes local time without a zone) and a small quota.
pub fn etcd_env(quota_bytes: u64) {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        std::env::set_var("TZ", "UTC");
        std::env::set_var("ETCD_QUOTA_BACKEND_BYTES", quota_bytes.to_string());
    });
}

/// The current time as `--since`/`--until` take it, after a pause that
/// keeps phases apart.
pub fn mark() -> String {
    std::thread::sleep(Duration::from_millis(1100));
    let t = format_timestamp(now_ms());
    std::thread::sleep(Duration::from_millis(1100));
    t
}

/// The member logs of `cluster`.
pub fn member_logs(cluster: &Cluster) -> Vec<PathBuf> {
    cluster.members.iter().map(|m| m.log.clone()).collect()
}

/// `etcd-doctor logs FILES --since S --until U -w json --fail-on warn`,
/// expecting exit `code`.
pub fn logs_between(files: &[PathBuf], since: &str, until: &str, code: i32) -> Value {
    let mut cmd = doctor("logs -w json --fail-on warn");
    cmd.args(files).args(["--since", since, "--until", until]);
    report(&mut cmd, code)
}

/// The ids of a report's findings at warn or fail, but `host.cpu-steal`:
/// the hypervisor's share of the test machine is a true finding that no
/// test injects or can prevent (8 % during a CI rehearsal on a shared
/// 2-core VM made a healthy cluster's `diagnose` warn), so it is printed
/// and left out; every other finding still fails a healthy twin.
pub fn serious(report: &Value) -> Vec<String> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["severity"] != "info")
        .filter(|f| {
            let steal = f["id"] == "host.cpu-steal";
            if steal {
                eprintln!(
                    "the test machine's own CPU steal, not counted: {}",
                    f["summary"]
                );
            }
            !steal
        })
        .map(|f| f["id"].as_str().unwrap().to_string())
        .collect()
}

/// The count of event `kind` in a report's logs section.
pub fn count(report: &Value, kind: &str) -> u64 {
    report["logs"]["events"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == kind)
        .map_or(0, |e| e["count"].as_u64().unwrap())
}

/// Each member's id (hex, as etcdctl prints it) and whether it leads.
pub fn leadership(cluster: &Cluster) -> Vec<(String, String, bool)> {
    let out = cluster.etcdctl(&["endpoint", "status", "-w", "json"]);
    let status: Value = serde_json::from_slice(&out.stdout).expect("endpoint status json");
    status
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            let id = s["Status"]["header"]["member_id"].as_u64().unwrap();
            let leader = s["Status"]["leader"].as_u64().unwrap();
            (
                s["Endpoint"].as_str().unwrap().to_string(),
                format!("{id:x}"),
                id == leader,
            )
        })
        .collect()
}

/// Moves leadership `times` times, each to the next member.
pub fn move_leader(cluster: &Cluster, times: usize) {
    for _ in 0..times {
        let members = leadership(cluster);
        let at = members.iter().position(|m| m.2).expect("a leader");
        let target = &members[(at + 1) % members.len()].1;
        let out = cluster.etcdctl_at(&members[at].0, &["move-leader", target]);
        assert!(
            out.status.success(),
            "move-leader: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        std::thread::sleep(Duration::from_millis(700));
    }
}

/// Writes 100 kB values until etcd answers "database space exceeded"
/// (at most 400 puts); returns how many went in.
pub fn fill_quota(cluster: &Cluster) -> usize {
    let value = "x".repeat(100_000);
    for i in 0..400 {
        let out = cluster.etcdctl(&["put", &format!("fill-{i}"), &value]);
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(
                err.contains("database space exceeded"),
                "put failed otherwise: {err}"
            );
            return i;
        }
    }
    panic!("400 puts of 100 kB never exceeded the quota");
}

/// Lays `log` out as kubelet would for member `name` under `root`:
/// CRI-wrapped (lines over 80 bytes split into a `P` and an `F` part),
/// the first half in a rotated gzip file, the rest in the live `0.log`.
pub fn as_pod_logs(log: &Path, name: &str, root: &Path) {
    let text = std::fs::read_to_string(log).unwrap();
    let dir = root
        .join(format!("kube-system_etcd-{name}_0a1b2c3d"))
        .join("etcd");
    std::fs::create_dir_all(&dir).unwrap();
    let cri: Vec<String> = text
        .lines()
        .map(|line| {
            let ts = "2024-03-01T12:00:00.000000001Z stderr";
            match line.char_indices().nth(80) {
                Some((cut, _)) => format!("{ts} P {}\n{ts} F {}", &line[..cut], &line[cut..]),
                None => format!("{ts} F {line}"),
            }
        })
        .collect();
    let (old, live) = cri.split_at(cri.len() / 2);
    let gz = std::fs::File::create(dir.join("0.log.20240301-120000.gz")).unwrap();
    let mut enc = flate2::write::GzEncoder::new(gz, flate2::Compression::fast());
    writeln!(enc, "{}", old.join("\n")).unwrap();
    enc.finish().unwrap();
    std::fs::write(dir.join("0.log"), format!("{}\n", live.join("\n"))).unwrap();
}

/// A kubeadm etcd manifest for member `name`.
pub fn manifest(dir: &Path, name: &str) -> PathBuf {
    let path = dir.join("etcd.yaml");
    std::fs::write(
        &path,
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: etcd\n  namespace: kube-system\nspec:\n  containers:\n  - name: etcd\n    command:\n    - etcd\n    - --name={name}\n    - --advertise-client-urls=https://127.0.0.1:2379\n    - --data-dir=/var/lib/etcd\n"
        ),
    )
    .unwrap();
    path
}

/// Writes keys one by one through every endpoint until `stop` (at most two
/// minutes), each put given up after 3 s.
pub fn keep_writing(cluster: &Cluster, stop: Arc<AtomicBool>) -> std::thread::JoinHandle<()> {
    let etcdctl = cluster.bins.etcdctl.clone();
    let endpoints = cluster.endpoints();
    std::thread::spawn(move || {
        let deadline = Instant::now() + Duration::from_secs(120);
        let mut i = 0;
        while !stop.load(Ordering::Relaxed) && Instant::now() < deadline {
            let _ = Command::new(&etcdctl)
                .arg(format!("--endpoints={endpoints}"))
                .args(["--command-timeout=3s", "put", &format!("load-{i}"), "x"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
            i += 1;
        }
    })
}
