//! `snapshot save` against real etcd 3.5, 3.6 and 3.7 clusters: the saved
//! file agrees with the same version's `etcdutl snapshot status` (hash,
//! revision, total keys, size; 3.6's live-key count and storage version)
//! and restores with its `etcdutl snapshot restore` into a member that
//! serves the same keys;
//! a save interrupted by SIGINT or by the member dying mid-stream leaves
//! neither the file nor its temporary file.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::etcd::{available, free_port, Cluster, Version};
use crate::support::output::succeeded;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use serde_json::Value;

fn doctor() -> Command {
    Command::new(assert_cmd::cargo::cargo_bin("etcd-doctor"))
}

/// Runs `etcd-doctor snapshot save FILE -w json` against `endpoint`.
fn save_json(endpoint: &str, file: &Path) -> Value {
    let out = doctor()
        .args(["snapshot", "save", "-w", "json", "--endpoints", endpoint])
        .arg(file)
        .output()
        .unwrap();
    succeeded(&out);
    crate::support::output::json(&out.stdout)["snapshot"].clone()
}

/// A single etcd serving a restored data dir; killed on drop.
struct Restored {
    child: Child,
    client_url: String,
}

impl Drop for Restored {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `etcdutl snapshot restore FILE` into `dir`, then starts etcd on it.
fn restore_and_start(cluster: &Cluster, file: &Path, dir: &Path) -> Restored {
    let peer = format!("http://127.0.0.1:{}", free_port());
    let client_url = format!("http://127.0.0.1:{}", free_port());
    let out = Command::new(cluster.bins.etcdutl.as_ref().unwrap())
        .args(["snapshot", "restore"])
        .arg(file)
        .args(["--name", "restored", "--initial-cluster"])
        .arg(format!("restored={peer}"))
        .args(["--initial-advertise-peer-urls", &peer, "--data-dir"])
        .arg(dir)
        .output()
        .unwrap();
    succeeded(&out);
    let child = Command::new(&cluster.bins.etcd)
        .args(["--name", "restored", "--data-dir"])
        .arg(dir)
        .args([
            "--listen-peer-urls",
            &peer,
            "--listen-client-urls",
            &client_url,
        ])
        .args(["--advertise-client-urls", &client_url])
        .env("ETCD_UNSUPPORTED_ARCH", std::env::consts::ARCH)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let restored = Restored { child, client_url };
    let deadline = Instant::now() + Duration::from_secs(20);
    while !cluster
        .etcdctl_at(&restored.client_url, &["endpoint", "health"])
        .status
        .success()
    {
        assert!(
            Instant::now() < deadline,
            "restored etcd did not become healthy"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    restored
}

#[test]
fn saved_snapshot_matches_etcdutl_and_restores_the_same_keys() {
    save_matches_etcdutl(Version::V35);
}

/// On the binary's shared 3.6 cluster.
#[test]
fn etcd36_saved_snapshot_matches_etcdutl_and_restores_the_same_keys() {
    if let Some(c) = crate::support::shared::etcd36("etcd36_saved_snapshot_matches_etcdutl") {
        save_matches_etcdutl_on(&c);
    }
}

#[test]
fn etcd37_saved_snapshot_matches_etcdutl_and_restores_the_same_keys() {
    if available(Version::V37, "etcd37_saved_snapshot_matches_etcdutl") {
        save_matches_etcdutl(Version::V37);
    }
}

fn save_matches_etcdutl(version: Version) {
    save_matches_etcdutl_on(&Cluster::start(version, 3));
}

fn save_matches_etcdutl_on(cluster: &Cluster) {
    let version = cluster.version;
    cluster.put_keys(3000);
    // Deleted keys: etcdutl 3.6 counts only live ones.
    succeeded(&cluster.etcdctl(&["del", "key-00", "--prefix"]));
    // etcd 3.6 on writes the storage version into the backend some
    // seconds after the cluster version is decided; a snapshot saved
    // before that holds none (etcdutl then says ""). Save again until it
    // is there, at most 20 times a second apart.
    let wants_version = matches!(version, Version::V36 | Version::V37);
    let mut attempt = 0;
    let (file, ours) = loop {
        let file = cluster.dir().join(format!("saved-{attempt}.db"));
        let ours = save_json(&cluster.members[1].client_url(), &file);
        if !wants_version || ours["storage_version"].is_string() || attempt == 20 {
            break (file, ours);
        }
        attempt += 1;
        std::thread::sleep(std::time::Duration::from_secs(1));
    };

    let out = Command::new(cluster.bins.etcdutl.as_ref().unwrap())
        .args(["snapshot", "status", "-w", "json"])
        .arg(&file)
        .output()
        .unwrap();
    succeeded(&out);
    let theirs: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(ours["hash"], theirs["hash"]);
    assert_eq!(ours["revision"], theirs["revision"]);
    assert_eq!(ours["total_size_bytes"], theirs["totalSize"]);
    assert!(ours["revision"].as_i64().unwrap() > 1, "{ours}");
    match version {
        // etcdutl 3.5: every bbolt entry; no storage version.
        Version::V34 | Version::V35 => {
            assert_eq!(ours["total_keys"], theirs["totalKey"]);
            assert!(ours.get("storage_version").is_none(), "{ours}");
        }
        // etcdutl 3.6 on: live user keys, and the snapshot's storage version.
        Version::V36 | Version::V37 => {
            assert_eq!(ours["live_keys"], theirs["totalKey"]);
            assert_eq!(ours["live_keys"], 2000, "3000 put, 1000 deleted");
            assert_eq!(ours["storage_version"], theirs["version"]);
            assert_eq!(ours["storage_version"], format!("{}.0", version.minor()));
        }
    }

    let restored = restore_and_start(cluster, &file, &cluster.dir().join("restored.etcd"));
    let get = |endpoint: &str, args: &[&str]| {
        let out = cluster.etcdctl_at(endpoint, args);
        succeeded(&out);
        String::from_utf8(out.stdout).unwrap()
    };
    let original = get(
        &cluster.members[0].client_url(),
        &["get", "key-", "--prefix"],
    );
    let copy = get(&restored.client_url, &["get", "key-", "--prefix"]);
    assert_eq!(copy.lines().count(), 2 * 2000, "key and value lines");
    assert!(original == copy, "restored keys differ from the original's");
}

/// Files in `dir` whose names start with `prefix` (the save's file or its temp file).
fn leftovers(dir: &Path, prefix: &str) -> Vec<PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            let name = p.file_name().unwrap().to_string_lossy();
            name.starts_with(prefix) || name.starts_with(&format!(".{prefix}"))
        })
        .collect()
}

/// Starts a save into `dir/name` and returns it once its temp file holds data
/// (the caller waits for it).
#[allow(clippy::zombie_processes)]
fn save_in_flight(endpoint: &str, dir: &Path, name: &str) -> Child {
    let mut child = doctor()
        .args(["snapshot", "save", "--endpoints", endpoint])
        .arg(dir.join(name))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let started = leftovers(dir, name)
            .iter()
            .any(|p| std::fs::metadata(p).map(|m| m.len() > 0).unwrap_or(false));
        if started {
            return child;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait_with_output();
            panic!("the save never started streaming");
        }
        std::thread::sleep(Duration::from_micros(200));
    }
}

fn assert_failed_clean(child: Child, dir: &Path, name: &str, reason: &str) {
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(reason), "expected {reason:?} in {stderr}");
    assert_eq!(leftovers(dir, name), Vec::<PathBuf>::new(), "{stderr}");
}

#[test]
fn interrupted_save_leaves_no_file() {
    let mut cluster = Cluster::start(Version::V35, 1);
    // ~24 MiB of values so the stream lasts long enough to be interrupted.
    let value = "v".repeat(6 * 1024);
    cluster.put_keys_with(4000, |_| value.clone());
    let endpoint = cluster.members[0].client_url();
    let out_dir = tempfile::tempdir().unwrap();

    let save = save_in_flight(&endpoint, out_dir.path(), "sigint.db");
    kill(Pid::from_raw(save.id() as i32), Signal::SIGINT).unwrap();
    assert_failed_clean(save, out_dir.path(), "sigint.db", "interrupted by SIGINT");

    // Freeze the save mid-stream, kill the member, let the save see the broken stream.
    let save = save_in_flight(&endpoint, out_dir.path(), "killed.db");
    let pid = Pid::from_raw(save.id() as i32);
    kill(pid, Signal::SIGSTOP).unwrap();
    cluster.kill(0);
    kill(pid, Signal::SIGCONT).unwrap();
    assert_failed_clean(save, out_dir.path(), "killed.db", "snapshot stream");
}
