//! `snapshot verify` against a real etcd 3.5 snapshot (saved by etcdctl, so
//! the reader is checked against etcd's own writer) and damaged copies of
//! it: each damaged file is refused with one line saying what is wrong, exit 2.

mod support;

use std::path::{Path, PathBuf};

use assert_cmd::Command;
use predicates::prelude::*;
use support::etcd::{Cluster, Version};

/// A snapshot of a one-member cluster holding 500 keys, saved by etcdctl.
fn etcdctl_snapshot(cluster: &Cluster) -> PathBuf {
    cluster.put_keys(500);
    let file = cluster.dir().join("etcdctl.db");
    let out = cluster.etcdctl(&["snapshot", "save", file.to_str().unwrap()]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    file
}

fn verify(file: &Path) -> assert_cmd::assert::Assert {
    Command::cargo_bin("etcd-doctor")
        .unwrap()
        .args(["snapshot", "verify"])
        .arg(file)
        .assert()
}

/// Asserts exit 2 and a single stderr line containing `needle`.
fn refused(file: &Path, needle: &str) {
    let assert = verify(file).code(2);
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
    assert_eq!(stderr.lines().count(), 1, "one line expected: {stderr}");
    assert!(stderr.contains(needle), "expected {needle:?} in {stderr}");
    assert!(
        stderr.contains(file.file_name().unwrap().to_str().unwrap()),
        "{stderr}"
    );
}

fn write_variant(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn verify_accepts_etcd_snapshots_and_refuses_damaged_copies() {
    let cluster = Cluster::start(Version::V35, 1);
    let good = etcdctl_snapshot(&cluster);
    verify(&good)
        .success()
        .stdout(predicate::str::contains("TOTAL KEYS").and(predicate::str::contains("ok")));

    let bytes = std::fs::read(&good).unwrap();
    let dir = cluster.dir();
    let truncated = write_variant(dir, "truncated.db", &bytes[..bytes.len() / 2]);
    refused(&truncated, "truncated");

    let mut data_flip = bytes.clone();
    data_flip[bytes.len() / 2 + 100] ^= 0x01;
    refused(
        &write_variant(dir, "dataflip.db", &data_flip),
        "integrity hash mismatch",
    );

    let mut trailer_flip = bytes.clone();
    let last = trailer_flip.len() - 5;
    trailer_flip[last] ^= 0x80;
    refused(
        &write_variant(dir, "trailerflip.db", &trailer_flip),
        "integrity hash mismatch",
    );

    refused(&write_variant(dir, "empty.db", &[]), "empty file");

    let random: Vec<u8> = (0..bytes.len()).map(|_| fastrand::u8(..)).collect();
    refused(
        &write_variant(dir, "random.db", &random),
        "not a bbolt database",
    );

    let db_copy = write_variant(dir, "nohash.db", &bytes[..bytes.len() - 32]);
    refused(&db_copy, "no sha256 integrity trailer");

    refused(&dir.join("missing.db"), "cannot read");
}
