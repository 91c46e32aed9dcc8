//! `snapshot verify` against a real etcd 3.5 snapshot (saved by etcdctl, so
//! the reader is checked against etcd's own writer) and damaged copies of
//! it: each damaged file is refused with one line saying what is wrong, exit 2.

use std::path::{Path, PathBuf};

use crate::support::etcd::{Cluster, Version};
use assert_cmd::Command;
use predicates::prelude::*;

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

    damaged_pages_with_a_matching_trailer_never_panic(&bytes);
}

/// Corrupts the database part of a real snapshot (page headers, branch and
/// leaf elements, the freelist, the metas) and appends a fresh sha256, so
/// the page walk itself meets the damage: it must refuse or read it, never
/// panic, loop or take long.
fn damaged_pages_with_a_matching_trailer_never_panic(snapshot: &[u8]) {
    use proptest::prelude::*;
    use sha2::{Digest, Sha256};
    let data = &snapshot[..snapshot.len() - 32];
    let pages = data.len() / 4096;
    let mut runner = proptest::test_runner::TestRunner::new(ProptestConfig::with_cases(300));
    let damage = (
        0..pages,
        prop::collection::vec((0usize..4096, any::<u8>()), 1..8),
        prop::option::of(0..data.len()),
    );
    runner
        .run(&damage, |(page, edits, truncate)| {
            let mut bytes = data.to_vec();
            for (at, byte) in edits {
                bytes[page * 4096 + at] = byte;
            }
            bytes.truncate(truncate.map_or(bytes.len(), |t| (t / 4096).max(1) * 4096));
            let hash = Sha256::digest(&bytes);
            bytes.extend_from_slice(&hash);
            let started = std::time::Instant::now();
            let _ = etcd_doctor::snapshot::verify::verify_bytes(Path::new("damaged.db"), &bytes);
            prop_assert!(started.elapsed() < std::time::Duration::from_secs(2));
            Ok(())
        })
        .unwrap();
}
