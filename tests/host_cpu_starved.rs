//! A CPU-starved etcd is named as such, not as a slow disk (issue 25). One
//! etcd 3.5 member under a put load, diagnosed four ways in turn:
//! - idle, and busy (two clients putting keys, no limit): no
//!   host.cpu-starved;
//! - its process moved into a cgroup v1 CPU cgroup with
//!   `cpu.cfs_quota_us` at a fiftieth of a core (a static pod's CPU limit):
//!   host.cpu-starved naming the quota;
//! - its threads pinned (`taskset`) to one core beside three CPU-bound
//!   loops pinned to the same core at nice -10 (neighbours with ten times
//!   etcd's CPU weight, as pods with larger requests sharing its core):
//!   host.cpu-starved naming the run queue.
//!
//! In the starved runs a slow WAL fsync in etcd's metrics, on a disk the
//! probe found fast, is marked explained by the CPU.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use serde_json::Value;
use support::doctor::{doctor, findings};
use support::etcd::{Cluster, Version};
use support::etcdlogs::keep_writing;
use support::neighbour::Killed;

/// cgroup v1's CPU controller.
const CPU_ROOT: &str = "/sys/fs/cgroup/cpu";

/// A cgroup v1 CPU cgroup with a quota; its processes go back to the root
/// cgroup and it is removed on drop.
struct CpuCgroup(PathBuf);

impl CpuCgroup {
    fn new(quota_us: u64, pid: u32) -> std::io::Result<CpuCgroup> {
        let dir = Path::new(CPU_ROOT).join(support::unique_name());
        std::fs::create_dir(&dir)?;
        let me = CpuCgroup(dir);
        std::fs::write(me.0.join("cpu.cfs_period_us"), "100000")?;
        std::fs::write(me.0.join("cpu.cfs_quota_us"), quota_us.to_string())?;
        std::fs::write(me.0.join("cgroup.procs"), pid.to_string())?;
        Ok(me)
    }
}

impl Drop for CpuCgroup {
    fn drop(&mut self) {
        let procs = std::fs::read_to_string(self.0.join("cgroup.procs")).unwrap_or_default();
        for pid in procs.lines() {
            let _ = std::fs::write(Path::new(CPU_ROOT).join("cgroup.procs"), pid);
        }
        let _ = std::fs::remove_dir(&self.0);
    }
}

/// `diagnose` of `c` with a short fsync probe of its data dir's disk.
fn diagnose(c: &Cluster) -> Value {
    let out = doctor("diagnose -w json --interval 3s --probe fsync --duration 2")
        .arg("--endpoints")
        .arg(c.endpoints())
        .arg("--dir")
        .arg(c.dir())
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!("{e}: {}", String::from_utf8_lossy(&out.stderr));
    })
}

/// The host.cpu-starved finding at warn or fail, if any.
fn starved(r: &Value) -> Option<Value> {
    findings(r, "host.cpu-starved")
        .into_iter()
        .find(|f| f["severity"] != "info")
        .cloned()
}

/// The etcd process `pid` as diagnose saw it (other etcds on the machine
/// are listed too, and not judged).
fn etcd_seen(r: &Value, pid: u32) -> Value {
    r["host"]["activity"]["etcd"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|p| p["pid"] == pid)
        .cloned()
        .unwrap_or_else(|| panic!("etcd {pid} not followed: {:#}", r["host"]["activity"]))
}

/// Runs `f` while two clients put keys into `c`.
fn under_load<T>(c: &Cluster, f: impl FnOnce() -> T) -> T {
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..2).map(|_| keep_writing(c, stop.clone())).collect();
    std::thread::sleep(Duration::from_millis(500));
    let out = f();
    stop.store(true, Ordering::Relaxed);
    for w in writers {
        w.join().unwrap();
    }
    out
}

/// A slow WAL fsync finding at warn or fail, unless explained.
fn unexplained_disk(r: &Value) -> Vec<String> {
    ["cluster.metrics-wal-fsync-slow", "disk.io-contention"]
        .iter()
        .flat_map(|id| findings(r, id))
        .filter(|f| f["severity"] != "info")
        .map(|f| f["summary"].to_string())
        .collect()
}

fn pinned_hog(cpu: usize) -> Killed {
    Killed(
        Command::new("nice")
            .args(["-n", "-10", "taskset", "-c", &cpu.to_string()])
            .args(["sh", "-c", "while :; do :; done"])
            .spawn()
            .expect("taskset"),
    )
}

#[test]
fn a_cpu_starved_etcd_is_named_by_its_cpu_not_its_disk() {
    if !support::privileged("a_cpu_starved_etcd_is_named_by_its_cpu_not_its_disk") {
        return;
    }
    if !Path::new(CPU_ROOT).join("cpu.cfs_quota_us").exists() {
        eprintln!("SKIP a_cpu_starved_etcd_is_named_by_its_cpu_not_its_disk: no cgroup v1 CPU controller at {CPU_ROOT}");
        return;
    }
    let c = Cluster::start(Version::V35, 1);
    let pid = c.members[0].pid().expect("etcd's pid");

    // Healthy twins: idle, then busy without a limit.
    let idle = diagnose(&c);
    healthy_twin("idle", &idle, pid);
    let busy = under_load(&c, || diagnose(&c));
    healthy_twin("busy", &busy, pid);

    // (a) A fiftieth of a core (20m), as a static pod's CPU limit would
    // set: small enough to bind on a shared, loaded CI machine too.
    let quota = {
        let _cg = CpuCgroup::new(2_000, pid).expect("cpu cgroup");
        under_load(&c, || diagnose(&c))
    };
    let f = starved(&quota).unwrap_or_else(|| panic!("not starved: {:#}", quota));
    let summary = f["summary"].as_str().unwrap();
    eprintln!("quota: {}; {summary}", etcd_seen(&quota, pid));
    assert!(
        summary.contains("CPU quota (a CPU limit of 0.02 cores)"),
        "{summary}"
    );
    assert!(f["recommendation"]
        .as_str()
        .unwrap()
        .contains("Guaranteed QoS"));
    assert!(
        unexplained_disk(&quota).is_empty() || probe_found_disk_slow(&quota),
        "{:#}",
        quota["findings"]
    );

    // (b) Pinned to one core beside three CPU-bound loops on that core,
    // each with ten times etcd's weight (nice -10).
    let cpu = 1;
    let status = Command::new("taskset")
        .args(["-a", "-p", "-c", &cpu.to_string(), &pid.to_string()])
        .output()
        .expect("taskset");
    assert!(status.status.success(), "{status:?}");
    let queue = {
        let _hogs: Vec<Killed> = (0..3).map(|_| pinned_hog(cpu)).collect();
        std::thread::sleep(Duration::from_millis(300));
        under_load(&c, || diagnose(&c))
    };
    let f = starved(&queue).unwrap_or_else(|| panic!("not starved: {:#}", queue));
    let summary = f["summary"].as_str().unwrap();
    eprintln!("pinned: {}; {summary}", etcd_seen(&queue, pid));
    assert!(summary.contains("for a CPU"), "{summary}");
    assert!(!summary.contains("quota"), "{summary}");
    assert!(
        unexplained_disk(&queue).is_empty() || probe_found_disk_slow(&queue),
        "{:#}",
        queue["findings"]
    );
    drop(c);
}

/// A healthy twin: not starved, unless the machine itself is loaded beyond
/// its cores (other work on a shared CI host), and then by its run queue,
/// never by a quota.
fn healthy_twin(what: &str, r: &Value, pid: u32) {
    let cores = r["host"]["cpus"].as_f64().unwrap();
    let load = r["host"]["activity"]["load_avg_1m"].as_f64().unwrap();
    eprintln!("{what}: {}; load {load} on {cores} CPUs", etcd_seen(r, pid));
    let Some(f) = starved(r) else {
        return;
    };
    assert!(load > cores, "{what} and healthy named starved: {f:#}");
    let summary = f["summary"].as_str().unwrap();
    assert!(
        summary.contains("for a CPU") && !summary.contains("quota"),
        "{f:#}"
    );
    eprintln!(
        "NOTE: {what} twin on a machine loaded beyond its cores ({load} > {cores}): {summary}"
    );
}

/// True when the probe itself found the disk slow: then a disk finding is
/// the disk's own, not the CPU's.
fn probe_found_disk_slow(r: &Value) -> bool {
    !findings(r, "disk.fsync-slow").is_empty()
}
