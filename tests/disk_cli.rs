//! `etcd-doctor disk` from the outside: every error path gives one line
//! naming the path and exit code 2 and leaves nothing behind; a run's JSON
//! parses back into the contract types.

mod support;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use assert_cmd::prelude::*;
use etcd_doctor::facts::Report;
use etcd_doctor::probe::disk::{DiskProbeKind, DiskResult, EngineKind, StopReason};
use predicates::prelude::*;
use support::slowdisk::LoopFs;

fn disk(dir: &Path) -> Command {
    let mut cmd = Command::cargo_bin("etcd-doctor").unwrap();
    cmd.arg("disk").arg("--dir").arg(dir);
    cmd
}

/// Names in `dir`, sorted.
fn entries(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// Runs `cmd`: exit 2 and a single stderr line containing every `needle`.
fn fails_with(cmd: &mut Command, needles: &[&str]) {
    support::fails_with(&cmd.output().unwrap(), needles);
}

/// A tmpfs mounted in a temporary directory, unmounted on drop.
struct Tmpfs {
    dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(options: &str) -> Tmpfs {
        let dir = tempfile::tempdir().unwrap();
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", options, "tmpfs"])
            .arg(dir.path())
            .status()
            .unwrap();
        assert!(ok.success(), "mount tmpfs {options}");
        Tmpfs { dir }
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(self.dir.path()).status();
    }
}

#[test]
fn missing_dir_is_named() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("no-such-dir");
    fails_with(
        &mut disk(&missing),
        &[&missing.display().to_string(), "no such directory"],
    );
}

#[test]
fn file_given_as_dir_is_named_and_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("data");
    fs::write(&file, b"keep me").unwrap();
    fails_with(
        &mut disk(&file),
        &[&file.display().to_string(), "not a directory"],
    );
    assert_eq!(fs::read(&file).unwrap(), b"keep me");
}

#[test]
fn permission_denied_is_named() {
    if !support::privileged("permission_denied_is_named") {
        return;
    }
    // Root may write anywhere, so the probe runs as `nobody` in a directory
    // only root may write to.
    let dir = tempfile::tempdir().unwrap();
    fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    // A copy of the binary `nobody` can execute wherever the target dir is.
    let bin_dir = tempfile::tempdir().unwrap();
    fs::set_permissions(bin_dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
    let bin = bin_dir.path().join("etcd-doctor");
    fs::copy(assert_cmd::cargo::cargo_bin("etcd-doctor"), &bin).unwrap();
    let mut cmd = Command::new(&bin);
    cmd.arg("disk").arg("--dir").arg(dir.path());
    cmd.uid(65534).gid(65534);
    fails_with(
        &mut cmd,
        &[&dir.path().display().to_string(), "permission denied"],
    );
    assert!(entries(dir.path()).is_empty());
}

#[test]
fn too_little_free_space_is_refused_before_writing() {
    if !support::privileged("too_little_free_space_is_refused_before_writing") {
        return;
    }
    let fs = Tmpfs::mount("size=32m");
    fails_with(
        disk(fs.path()).args(["--probe", "fsync"]),
        &[
            &fs.path().display().to_string(),
            "refusing to fill the disk",
        ],
    );
    assert!(entries(fs.path()).is_empty());
}

#[test]
fn no_space_left_is_named() {
    if !support::privileged("no_space_left_is_named") {
        return;
    }
    // Plenty of bytes but no inode left: creating the scratch directory
    // fails with a real ENOSPC.
    let fs = Tmpfs::mount("size=256m,nr_inodes=4");
    let mut n = 0;
    while fs::write(fs.path().join(format!("f{n}")), b"x").is_ok() {
        n += 1;
    }
    let before = entries(fs.path());
    fails_with(
        disk(fs.path()).args(["--probe", "fsync", "--ops", "10"]),
        &[&fs.path().display().to_string(), "no space left on device"],
    );
    assert_eq!(entries(fs.path()), before);
}

#[test]
fn filesystem_without_fallocate_is_named_and_cleaned_up() {
    if !support::privileged("filesystem_without_fallocate_is_named_and_cleaned_up") {
        return;
    }
    // ext2 has no extents, so fallocate(2) is EOPNOTSUPP: the WAL probe,
    // which preallocates its segment like etcd, cannot run there.
    let ext2 = LoopFs::new(256 * 1024 * 1024, "ext2").expect("ext2 loop fs");
    let before = entries(ext2.path());
    fails_with(
        disk(ext2.path()).args(["--probe", "wal", "--ops", "10"]),
        &[
            &ext2.path().display().to_string(),
            "does not support fallocate",
        ],
    );
    assert_eq!(
        entries(ext2.path()),
        before,
        "scratch directory left behind"
    );
}

#[test]
fn bad_flags_name_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    fails_with(disk(dir.path()).args(["--ops", "0"]), &["--ops"]);
    fails_with(disk(dir.path()).args(["--duration", "0"]), &["--duration"]);
    fails_with(
        disk(dir.path()).args(["--probe", "wal,wal"]),
        &["--probe", "wal"],
    );
    disk(dir.path())
        .args(["--ops", "5", "--duration", "1"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--ops").and(predicate::str::contains("--duration")));
    disk(dir.path())
        .args(["--probe", "seek"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("--probe"));
    assert!(entries(dir.path()).is_empty());
}

/// Runs every probe for `ops` ops with `-w json` and parses the report.
fn json_run(dir: &Path, extra: &[&str]) -> (Report, serde_json::Value) {
    let out = disk(dir)
        .args(["--ops", "40", "-w", "json"])
        .args(extra)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let report: Report = crate::support::output::parsed(&out.stdout);
    let raw: serde_json::Value = crate::support::output::json(&out.stdout);
    (report, raw)
}

#[test]
fn json_contract_parses_back() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("existing"), b"untouched").unwrap();
    let (report, raw) = json_run(dir.path(), &[]);

    assert_eq!(report.schema_version, 2);
    assert_eq!(report.command, "disk");
    let device = report.host.device.as_ref().expect("host.device");
    assert!(device.total_bytes > 0 && !device.fs_type.is_empty());
    let probes: Vec<DiskProbeKind> = report.disk.iter().map(|r| r.probe).collect();
    assert_eq!(
        probes,
        [
            DiskProbeKind::Fsync,
            DiskProbeKind::Wal,
            DiskProbeKind::Backend
        ]
    );
    for r in &report.disk {
        check_result(r, dir.path());
    }
    assert!(report.disk[0].write_latency_us.is_some());
    assert_eq!(report.disk[0].block_size_bytes, 2300);
    // The contract's names, checked on the raw JSON.
    let first = &raw["disk"][0];
    for key in [
        "probe",
        "engine",
        "dir",
        "block_size_bytes",
        "ops",
        "duration_s",
        "iops",
        "throughput_mib_s",
        "latency_us",
        "write_latency_us",
        "stop_reason",
        "timeline",
        "latency_histogram",
    ] {
        assert!(first.get(key).is_some(), "disk[0] lacks {key}");
    }
    for key in ["mean", "p50", "p90", "p99", "p999", "max"] {
        assert!(
            first["latency_us"][key].is_number(),
            "latency_us lacks {key}"
        );
    }
    assert_eq!(first["probe"], "fsync");
    assert_eq!(first["engine"], "sync");
    assert_eq!(first["stop_reason"], "ops");
    // Success leaves DIR as it was.
    assert_eq!(entries(dir.path()), ["existing"]);
    assert_eq!(fs::read(dir.path().join("existing")).unwrap(), b"untouched");
}

fn check_result(r: &DiskResult, dir: &Path) {
    assert_eq!(r.engine, EngineKind::Sync);
    assert_eq!(r.dir, dir);
    assert_eq!(r.ops, 40);
    assert_eq!(r.stop_reason, StopReason::Ops);
    assert_eq!(r.latency_us.samples, 40);
    assert!(r.duration_s > 0.0 && r.iops > 0.0 && r.throughput_mib_s > 0.0);
    let l = r.latency_us;
    assert!(l.min <= l.p50 && l.p50 <= l.p90 && l.p90 <= l.p99 && l.p99 <= l.max);
    assert_eq!(r.latency_histogram.decode().unwrap().len(), 40);
    assert_eq!(r.timeline.iter().map(|p| p.ops).sum::<u64>(), 40);
}

#[test]
fn out_file_gets_the_report_and_markdown_renders() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = tempfile::tempdir().unwrap();
    let out: PathBuf = out_dir.path().join("report.json");
    disk(dir.path())
        .args(["--probe", "wal", "--ops", "20", "-w", "json", "--out"])
        .arg(&out)
        .assert()
        .success()
        .stdout(predicate::str::is_empty());
    let report: Report = crate::support::output::parsed(&fs::read(&out).unwrap());
    assert_eq!(report.disk[0].probe, DiskProbeKind::Wal);
    disk(dir.path())
        .args(["--probe", "backend", "--ops", "20", "-w", "markdown"])
        .assert()
        .success()
        .stdout(
            predicate::str::contains("## Device")
                .and(predicate::str::contains("| backend | sync | 20 |")),
        );
    assert!(entries(dir.path()).is_empty());
}
