//! `snapshot analyze --skip-hash-check` on a real etcd 3.5 snapshot: the
//! same keyspace as with the check; a damaged trailer is refused without
//! the flag and ignored with it; a damaged page is refused either way (the
//! flag skips the sha256, never the tree check).

use std::path::{Path, PathBuf};

use crate::support::doctor::{doctor, exits};
use crate::support::etcd::{Cluster, Version};
use serde_json::Value;

/// `snapshot analyze FILE [EXTRA] -w json`: exit code and, when it
/// analyzed, the keyspace without the file name.
fn analyze(file: &Path, extra: &str) -> (i32, Option<Value>) {
    let args = format!("snapshot analyze {} {extra} -w json", file.display());
    let out = doctor(&args).output().unwrap();
    let code = out.status.code().unwrap();
    let keyspace = serde_json::from_slice::<Value>(&out.stdout)
        .ok()
        .inspect(crate::support::output::validate)
        .map(|mut r| {
            let keyspace = r["keyspace"].as_object_mut().unwrap();
            assert_eq!(
                keyspace.remove("origin"),
                Some(file.display().to_string().into())
            );
            Value::Object(keyspace.clone())
        });
    (code, keyspace)
}

fn variant(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn skip_hash_check_skips_only_the_hash() {
    let cluster = Cluster::start(Version::V35, 1);
    cluster.put_keys(300);
    let good = cluster.dir().join("good.db");
    let out = cluster.etcdctl(&["snapshot", "save", good.to_str().unwrap()]);
    assert!(out.status.success(), "{out:?}");

    // Exit 0 or 1 (findings on a keyspace of 300 keys outside /registry/).
    let (code, checked) = analyze(&good, "");
    assert!(code == 0 || code == 1, "exit {code}");
    let checked = checked.unwrap();
    assert!(checked["live_keys"].as_u64().unwrap() >= 300, "{checked}");
    assert_eq!(
        analyze(&good, "--skip-hash-check"),
        (code, Some(checked.clone()))
    );

    // A wrong trailer: refused by default, not looked at with the flag.
    let mut bytes = std::fs::read(&good).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x01;
    let trailer = variant(cluster.dir(), "trailer.db", &bytes);
    let out = exits(
        &mut doctor(&format!("snapshot analyze {}", trailer.display())),
        2,
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("integrity hash mismatch"));
    assert_eq!(
        analyze(&trailer, "--skip-hash-check"),
        (code, Some(checked))
    );

    // A wrong page id on both metas' root page: refused with or without the flag.
    let mut bytes = std::fs::read(&good).unwrap();
    let ps = u32::from_le_bytes(bytes[24..28].try_into().unwrap()) as usize;
    for meta in [0, ps] {
        let root = u64::from_le_bytes(bytes[meta + 32..meta + 40].try_into().unwrap()) as usize;
        bytes[root * ps..root * ps + 8].copy_from_slice(&u64::MAX.to_le_bytes());
    }
    let page = variant(cluster.dir(), "page.db", &bytes);
    for extra in ["", "--skip-hash-check"] {
        let args = format!("snapshot analyze {} {extra}", page.display());
        let out = exits(&mut doctor(&args), 2);
        let err = String::from_utf8_lossy(&out.stderr);
        let expected = if extra.is_empty() {
            "integrity hash mismatch"
        } else {
            "page"
        };
        assert!(err.contains(expected), "{extra}: {err}");
    }
}
