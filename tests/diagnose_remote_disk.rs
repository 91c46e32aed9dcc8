//! One member's slow disk, diagnosed from another member's host (issue
//! 25). Three etcd 3.5 members: m0 and m1 on a fast zram disk of their
//! own, which `diagnose --dir` probes (the host diagnose runs on); m2's
//! data dir on a loop device whose image is in /dev/shm, its process in
//! that device's blkio cgroup. Under a steady put load, three runs:
//! - healthy twin: m2's disk unthrottled: no slow-WAL finding of m2 at
//!   warn or fail, no disk.io-contention;
//! - (a) m2's disk capped at 40 write IOPS: cluster.metrics-wal-fsync-slow
//!   names m2 (name, id, host) and says the local disk probe cannot speak
//!   for it; no disk.io-contention (a fast local probe beside m2's slow
//!   WAL read as contention here);
//! - (b) m2's disk at 200 IOPS shared with a `dd` O_DSYNC writer on the
//!   same device: the same.

mod support;

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::doctor::{doctor, findings, judged};
use support::etcd::{Cluster, Version};
use support::etcdlogs::keep_writing;
use support::slowdisk::{LoopFs, SlowDisk};

/// `diagnose` of `c`, probing `dir` (m0 and m1's disk).
fn diagnose(c: &Cluster) -> Value {
    judged(
        doctor("diagnose -w json --no-logs --interval 5s --probe fsync --duration 2")
            .arg("--endpoints")
            .arg(c.endpoints())
            .arg("--dir")
            .arg(c.dir()),
    )
}

/// The warn/fail slow-WAL finding of member `name`, if any.
fn slow_wal<'a>(r: &'a Value, name: &str) -> Option<&'a Value> {
    findings(r, "cluster.metrics-wal-fsync-slow")
        .into_iter()
        .find(|f| {
            f["severity"] != "info"
                && f["summary"]
                    .as_str()
                    .unwrap()
                    .starts_with(&format!("{name} ("))
        })
}

/// Warn/fail disk.io-contention findings: the confusion this guards
/// against reads m2's slow WAL beside a fast local probe as "a fast
/// device, etcd slowed by contention". (disk.fsync-slow is the local
/// probe's own verdict on the local zram disk, which a loaded 2-core
/// machine can push past 5 ms; it is not about m2.)
fn disk_ids(r: &Value) -> Vec<String> {
    r["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["severity"] != "info" && f["id"] == "disk.io-contention")
        .map(|f| format!("{}: {}", f["id"], f["summary"]))
        .collect()
}

/// Moves member `i` of `c` onto `disk`: stopped, its data dir copied
/// there, started again inside the disk's blkio cgroup.
fn move_member(c: &mut Cluster, i: usize, disk: &SlowDisk) {
    c.stop(i);
    let to = disk.path().join(format!("m{i}.etcd"));
    let status = Command::new("cp")
        .arg("-a")
        .arg(&c.members[i].data_dir)
        .arg(&to)
        .status()
        .unwrap();
    assert!(status.success(), "cp of the data dir");
    c.members[i].data_dir = to;
    c.spawn(i, "existing");
    let pid = c.members[i].pid().expect("m2's pid");
    std::fs::write(disk.cgroup().join("cgroup.procs"), pid.to_string())
        .expect("join the blkio cgroup");
    c.wait_healthy(Duration::from_secs(30));
}

/// A `dd` writing 4 KiB O_DSYNC blocks on `disk`, inside its cgroup.
fn dsync_writer(disk: &SlowDisk) -> Child {
    disk.command("dd")
        .arg("if=/dev/zero")
        .arg(format!("of={}", disk.path().join("hog.dat").display()))
        .args(["bs=4k", "count=100000", "oflag=dsync"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("dd")
}

/// The WAL fsync p99 of member `name` in `r`'s metrics (0 when none).
fn wal_p99_ms(r: &Value, name: &str) -> f64 {
    slow_wal(r, name).map_or(0.0, |f| f["evidence"][0]["observed"].as_f64().unwrap())
}

/// Asserts `r` names m2's slow disk as m2's, over 3x its healthy p99
/// `base`, and no contention here.
fn names_m2(what: &str, r: &Value, m2_id: &str, base: f64) {
    let f =
        slow_wal(r, "m2").unwrap_or_else(|| panic!("{what}: m2 not named: {:#}", r["findings"]));
    let p99 = wal_p99_ms(r, "m2");
    assert!(
        p99 > 3.0 * base.max(10.0),
        "{what}: m2 p99 {p99} ms against {base} ms healthy"
    );
    let summary = f["summary"].as_str().unwrap();
    eprintln!("{what}: {summary}");
    assert!(
        summary.contains(&format!("m2 ({m2_id}) on 127.0.0.1")),
        "{summary}"
    );
    assert!(
        summary.contains("the local disk probe cannot speak for this member's disk"),
        "{summary}"
    );
    assert!(summary.contains("its WAL is on device"), "{summary}");
    assert!(
        slow_wal(r, "m0").is_none() && slow_wal(r, "m1").is_none(),
        "{:#}",
        r["findings"]
    );
    assert!(
        disk_ids(r).is_empty(),
        "{what}: contention blamed here: {:?}",
        disk_ids(r)
    );
}

#[test]
fn a_remote_members_slow_disk_is_named_as_its_own() {
    if !support::privileged("a_remote_members_slow_disk_is_named_as_its_own") {
        return;
    }
    let start = Instant::now();
    let fast = SlowDisk::on(LoopFs::zram(1 << 30, "ext4").expect("zram"), 0).expect("cgroup");
    // A loop image in /dev/shm: one on this machine's shared disk is slow
    // of itself while others build (p99 of 200-500 ms seen), and blkio
    // does not throttle zram.
    let image = LoopFs::new_in(Path::new("/dev/shm"), 512 << 20, "ext4").expect("loop disk");
    let slow = SlowDisk::on(image, 0).expect("slow disk");
    let mut c = Cluster::start_on_disk(Version::V35, 3, &fast);
    move_member(&mut c, 2, &slow);
    let out = c.etcdctl(&["member", "list", "-w", "json"]);
    let list: Value = serde_json::from_slice(&out.stdout).unwrap();
    let m2_id = list["members"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["name"] == "m2")
        .map(|m| format!("{:016x}", m["ID"].as_u64().unwrap()))
        .unwrap();

    // A light put load (one etcdctl at a time): a heavy one starves the
    // loop device's worker thread on two shared cores.
    let stop = Arc::new(AtomicBool::new(false));
    let writer = keep_writing(&c, stop.clone());
    std::thread::sleep(Duration::from_secs(1));

    // Healthy twin. An unthrottled loop device still pays its worker
    // thread on two loaded cores (p99 about 30 ms seen at load 6, against
    // 0.2 ms on zram): m2 may be at warn, never at fail, and the fault
    // runs must be far slower than this one.
    let healthy = diagnose(&c);
    let base = wal_p99_ms(&healthy, "m2");
    eprintln!("healthy: m2 WAL p99 {base:.1} ms");
    assert!(
        slow_wal(&healthy, "m2").is_none_or(|f| f["severity"] == "warn"),
        "healthy: {:#}",
        healthy["findings"]
    );
    assert!(
        disk_ids(&healthy).is_empty(),
        "healthy: {:?}",
        disk_ids(&healthy)
    );

    // (a) An IOPS cap on m2's device.
    slow.set_write_iops(40).unwrap();
    let capped = diagnose(&c);
    names_m2("iops cap", &capped, &m2_id, base);

    // (b) A competing O_DSYNC writer on m2's device, 200 IOPS shared.
    slow.set_write_iops(200).unwrap();
    let mut dd = dsync_writer(&slow);
    std::thread::sleep(Duration::from_secs(1));
    let shared = diagnose(&c);
    let _ = dd.kill();
    let _ = dd.wait();
    names_m2("dd writer", &shared, &m2_id, base);

    slow.set_write_iops(0).unwrap();
    stop.store(true, Ordering::Relaxed);
    writer.join().unwrap();
    eprintln!("took {:.0} s", start.elapsed().as_secs_f64());
}
