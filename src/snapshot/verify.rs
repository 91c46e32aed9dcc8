//! `snapshot verify`: proves a snapshot file is whole before anyone restores
//! from it. Checks the sha256 etcd appends to the snapshot stream, the bbolt
//! meta pages and tree structure, then computes what `etcdutl snapshot
//! status` prints (hash, revision, total keys, total size) the way etcd does:
//! crc32c over every bucket name, key and value in key order; the revision is
//! the main revision of the last key in the `key` bucket. Read-only.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::files::mapped::{self, MapError, Mapped};

use super::bbolt::{self, BboltError, Db, Item, Tree, Value};
use super::keytable::KeyTable;
use super::mvcc::{KeyValue, RevKey};

/// Length of the sha256 trailer etcd appends to a snapshot stream, bytes.
pub const TRAILER_BYTES: usize = 32;
/// etcd's rule for "has a trailer": size modulo this equals [`TRAILER_BYTES`]
/// (bbolt files are whole pages, pages are multiples of 512 bytes).
const SECTOR_BYTES: u64 = 512;

/// Why a file is not a usable snapshot; every message is one line naming the file.
#[derive(Debug, Error)]
pub enum VerifyError {
    /// Not a regular file, or cannot be opened.
    #[error(transparent)]
    Input(#[from] crate::files::InputError),
    /// The file cannot be opened or mapped.
    #[error("{path}: cannot read: {error}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        error: std::io::Error,
    },
    /// The file is empty.
    #[error("{path}: empty file, not an etcd snapshot")]
    Empty {
        /// The file.
        path: PathBuf,
    },
    /// The bbolt structure is broken (or the file is not bbolt at all).
    #[error("{path}: {problem}")]
    Bbolt {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        problem: BboltError,
    },
    /// No sha256 trailer: a copied `member/snap/db`, not a saved snapshot.
    #[error("{path}: no sha256 integrity trailer ({size_bytes} bytes is not 32 past a multiple of 512): a copied member/snap/db, not a saved snapshot (etcdutl needs --skip-hash-check for it)")]
    NoTrailer {
        /// The file.
        path: PathBuf,
        /// File size.
        size_bytes: u64,
    },
    /// The trailer does not match the data.
    #[error("{path}: integrity hash mismatch: trailer says sha256 {stored}, data hashes to {computed}: the file changed after it was saved")]
    HashMismatch {
        /// The file.
        path: PathBuf,
        /// Hex sha256 in the trailer.
        stored: String,
        /// Hex sha256 of the data.
        computed: String,
    },
    /// The tree is readable but not what etcd writes.
    #[error("{path}: not an etcd snapshot: {problem}")]
    NotEtcd {
        /// The file.
        path: PathBuf,
        /// What is missing.
        problem: String,
    },
}

/// What `verify` found: `etcdutl snapshot status` plus the integrity facts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SnapshotStatus {
    /// The file verified.
    pub file: PathBuf,
    /// File size including the trailer, bytes.
    pub file_size_bytes: u64,
    /// sha256 of the database (the trailer's value, checked), hex.
    pub sha256: String,
    /// etcd's hash: crc32c over bucket names, keys and values (`etcdutl snapshot status` HASH).
    pub hash: u32,
    /// Highest main revision in the `key` bucket.
    pub revision: i64,
    /// Entries in all buckets (etcdutl 3.4 and 3.5's TOTAL KEYS).
    pub total_keys: u64,
    /// Keys live at the snapshot's revision: put and not deleted since
    /// (etcdutl 3.6 and 3.7's TOTAL KEYS, etcdutl/snapshot/v3_snapshot.go
    /// Status at v3.6.0).
    #[serde(default)]
    pub live_keys: u64,
    /// The `meta` bucket's storageVersion (`3.6.0`), written by etcd 3.6
    /// on (etcdutl 3.6's VERSION); None before.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage_version: Option<String>,
    /// Database size: high-water mark times page size, bytes (`etcdutl` TOTAL SIZE).
    pub total_size_bytes: u64,
    /// bbolt page size, bytes.
    pub page_size_bytes: usize,
    /// bbolt transaction id of the snapshot.
    pub txid: u64,
}

/// Maps the file at `path` read-only (a file that shrinks meanwhile ends
/// the process with one line, see [`crate::files::mapped`]); an empty file
/// is an error.
pub(crate) fn map(path: &Path) -> Result<Mapped, VerifyError> {
    let map = mapped::map("snapshot", path).map_err(|e| match e {
        MapError::Input(e) => VerifyError::Input(e),
        MapError::Empty { path, .. } => VerifyError::Empty { path },
        MapError::Io { path, source, .. } => VerifyError::Io {
            path,
            error: source,
        },
        e @ MapError::TooMany { .. } => VerifyError::Io {
            path: path.to_path_buf(),
            error: std::io::Error::other(e.to_string()),
        },
    })?;
    // The sha256 reads it front to back, the tree walk mostly so: ask for
    // read-ahead from a cold page cache.
    map.advise_sequential();
    Ok(map)
}

/// Verifies the snapshot at `path` and computes its status.
pub fn verify(path: &Path) -> Result<SnapshotStatus, VerifyError> {
    verify_bytes(path, &map(path)?)
}

/// What [`checked_db`] does with the sha256 trailer etcd appends to a snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrailerCheck {
    /// There must be a trailer, matching the data (`snapshot verify`).
    Required,
    /// Checked when there is one (a copied `member/snap/db` has none).
    IfPresent,
    /// Not checked, as `etcdutl snapshot status` does not: the meta pages,
    /// tree and freelist still are, so no file can mislead the reader into
    /// a panic, but changed bytes inside keys or values go unnoticed.
    Skip,
}

/// Opens `bytes` as bbolt after `snapshot verify`'s checks: the sha256
/// trailer as `trailer_check` says, the meta pages, then the whole tree and
/// freelist, showing `visit` every item of the trees as
/// [`bbolt::check_with`] does. The sha256 runs on a thread of its own while
/// the trees are checked: on a large file the hash is the longest part. A
/// hash mismatch is reported before a tree error, as when the hash came
/// first. Returns the database and the trailer.
pub(crate) fn checked_db<'a>(
    path: &Path,
    bytes: &'a [u8],
    trailer_check: TrailerCheck,
    visit: &mut dyn FnMut(Tree, Item<'a>),
) -> Result<(Db<'a>, Option<&'a [u8]>), VerifyError> {
    let bbolt_err = |problem| VerifyError::Bbolt {
        path: path.to_path_buf(),
        problem,
    };
    let size = bytes.len() as u64;
    let has_trailer = size % SECTOR_BYTES == TRAILER_BYTES as u64;
    let data = if has_trailer {
        &bytes[..bytes.len() - TRAILER_BYTES]
    } else {
        bytes
    };
    let db = Db::open(data).map_err(bbolt_err)?;
    if !has_trailer && trailer_check == TrailerCheck::Required {
        return Err(VerifyError::NoTrailer {
            path: path.to_path_buf(),
            size_bytes: size,
        });
    }
    let trailer = has_trailer.then(|| &bytes[data.len()..]);
    let (computed, tree) = std::thread::scope(|s| {
        let hasher = trailer
            .filter(|_| trailer_check != TrailerCheck::Skip)
            .map(|_| {
                std::thread::Builder::new()
                    .name("sha256".into())
                    .spawn_scoped(s, || Sha256::digest(data))
            });
        let tree = bbolt::check_with(&db, visit);
        let computed = match hasher {
            None => None,
            Some(Ok(thread)) => Some(
                thread
                    .join()
                    .unwrap_or_else(|p| std::panic::resume_unwind(p)),
            ),
            // No thread to be had: hash here.
            Some(Err(_)) => Some(Sha256::digest(data)),
        };
        (computed, tree)
    });
    if let (Some(stored), Some(computed)) = (trailer, computed) {
        if computed.as_slice() != stored {
            return Err(VerifyError::HashMismatch {
                path: path.to_path_buf(),
                stored: hex::encode(stored),
                computed: hex::encode(computed),
            });
        }
    }
    tree.map_err(bbolt_err)?;
    Ok((db, trailer))
}

/// Verifies snapshot bytes (`path` only names the file in errors).
pub fn verify_bytes(path: &Path, bytes: &[u8]) -> Result<SnapshotStatus, VerifyError> {
    // etcd's status is gathered from the checked walk itself: a second
    // walk in key order cost a third of the time with the page cache warm
    // and read the file again when it is larger than the memory left.
    let mut pass = StatusPass::default();
    let visit = &mut |tree, item| pass.visit(tree, item);
    let (db, trailer) = checked_db(path, bytes, TrailerCheck::Required, visit)?;
    let stored = trailer.unwrap_or_default();
    let EtcdHash {
        crc: hash,
        revision,
        total_keys,
        live_keys,
        storage_version,
    } = pass.finish().map_err(|problem| VerifyError::NotEtcd {
        path: path.to_path_buf(),
        problem,
    })?;
    Ok(SnapshotStatus {
        file: path.to_path_buf(),
        file_size_bytes: bytes.len() as u64,
        sha256: hex::encode(stored),
        hash,
        revision,
        total_keys,
        live_keys,
        storage_version,
        total_size_bytes: db.size_bytes(),
        page_size_bytes: db.meta().page_size_bytes,
        txid: db.meta().txid,
    })
}

/// etcd's snapshot status, computed as etcdutl's `Status` does.
struct EtcdHash {
    /// crc32c over bucket names, keys and values.
    crc: u32,
    /// Highest main revision in the `key` bucket.
    revision: i64,
    /// Entries in all buckets (etcdutl 3.5).
    total_keys: u64,
    /// Live user keys (etcdutl 3.6).
    live_keys: u64,
    /// `meta/storageVersion`.
    storage_version: Option<String>,
}

/// Longest storage version kept (etcd writes `3.6.0`).
const MAX_STORAGE_VERSION_BYTES: usize = 32;

/// What etcdutl's `Status` computes, from [`bbolt::check_with`]'s items:
/// the root's entries come first, then each top-level bucket's in key
/// order, but the buckets not in the order of their names. etcd's crc32c
/// runs over each name followed by its bucket's keys and values, so each
/// bucket's part is a crc32c of its own, joined in name order at the end
/// (`crc32c_combine`, as zlib's `crc32_combine`).
#[derive(Default)]
struct StatusPass<'a> {
    /// The root's entries in key order: name, and whether it is a bucket.
    top: Vec<(&'a [u8], bool)>,
    /// Per root entry seen in a bucket walk: crc32c (from 0) of the
    /// bucket's keys and values, and their length in bytes.
    parts: Vec<(u32, u64)>,
    revision: i64,
    total: u64,
    /// etcdutl 3.6 counts user keys put and not deleted since, in revision
    /// order. Each key is copied once into the table's arena: a set of
    /// slices into the mapping compared every lookup with a key on a page
    /// read long before, so a file larger than the memory left to us
    /// re-read its pages without end (in a 1 GiB memory cgroup the 4.3 GB
    /// k8s-shaped file ran past 180 s; 17 s with the copies).
    live: KeyTable<bool>,
    storage_version: Option<String>,
}

impl<'a> StatusPass<'a> {
    fn visit(&mut self, tree: Tree, item: Item<'a>) {
        let Item::Entry { key, value } = item else {
            return;
        };
        match tree {
            Tree::Root => self.top.push((key, matches!(value, Value::Bucket(_)))),
            // etcdutl reads the top-level buckets' own entries only.
            Tree::Top(i) => self.entry(i, key, value),
            Tree::Nested(_) => {}
        }
    }

    fn entry(&mut self, i: usize, key: &[u8], value: Value<'_>) {
        // The root is walked first, so every bucket has its name.
        let Some(&(name, _)) = self.top.get(i) else {
            return;
        };
        if self.parts.len() <= i {
            self.parts.resize(i + 1, (0, 0));
        }
        let part = &mut self.parts[i];
        part.0 = crc32c::crc32c_append(part.0, key);
        part.1 += key.len() as u64;
        let is_key_bucket = name == b"key";
        if let Value::Plain(v) = value {
            part.0 = crc32c::crc32c_append(part.0, v);
            part.1 += v.len() as u64;
            if is_key_bucket {
                count_live(&mut self.live, key, v);
            } else if name == b"meta" && key == b"storageVersion" {
                self.storage_version = Some(v)
                    .filter(|v| !v.is_empty() && v.len() <= MAX_STORAGE_VERSION_BYTES)
                    .map(|v| String::from_utf8_lossy(v).into_owned());
            }
        }
        if is_key_bucket && key.len() >= 8 {
            self.revision = i64::from_be_bytes(key[..8].try_into().expect("8 bytes"));
        }
        self.total += 1;
    }

    /// The status, or why the file is not etcd's.
    fn finish(self) -> Result<EtcdHash, String> {
        if !self.top.iter().any(|(name, _)| *name == b"key") {
            return Err("no `key` bucket".into());
        }
        let mut crc = 0u32;
        for (i, (name, is_bucket)) in self.top.iter().enumerate() {
            if !is_bucket {
                let shown = String::from_utf8_lossy(name);
                return Err(format!("top-level key {shown:?} is not a bucket"));
            }
            crc = crc32c::crc32c_append(crc, name);
            let (part, len) = self.parts.get(i).copied().unwrap_or_default();
            // A part longer than the address space cannot come from a mapped file.
            crc = crc32c::crc32c_combine(crc, part, usize::try_from(len).unwrap_or(usize::MAX));
        }
        Ok(EtcdHash {
            crc,
            revision: self.revision,
            total_keys: self.total,
            live_keys: self.live.values().filter(|&&v| v).count() as u64,
            storage_version: self.storage_version,
        })
    }
}

/// One `key` bucket entry for etcdutl 3.6's count: a put makes its user
/// key live, a tombstone not; entries that are not etcd's are skipped.
fn count_live(live: &mut KeyTable<bool>, rev: &[u8], value: &[u8]) {
    let (Some(rev), Some(kv)) = (RevKey::parse(rev), KeyValue::decode(value)) else {
        return;
    };
    if let Some(is_live) = live.get_within(kv.key, usize::MAX) {
        *is_live = !rev.tombstone;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_tiny_inputs_are_rejected_with_the_reason() {
        let p = Path::new("x.db");
        let err = verify_bytes(p, &[0u8; 32]).unwrap_err();
        assert!(err.to_string().contains("not a bbolt database"), "{err}");
        let err = verify_bytes(p, &[0u8; 4096 * 2]).unwrap_err();
        assert!(err.to_string().contains("not a bbolt database"), "{err}");
    }

    proptest::proptest! {
        /// Puts and tombstones in revision order leave live the keys whose
        /// last entry is a put, as etcdutl 3.6's set does.
        #[test]
        fn live_keys_are_those_last_put(ops in proptest::collection::vec(
            (proptest::collection::vec(0u8..3, 0..3), proptest::prelude::any::<bool>()), 0..200)) {
            let mut live = KeyTable::default();
            let mut model = std::collections::HashSet::new();
            for (main, (key, tombstone)) in ops.iter().enumerate() {
                let mut rev = (main as i64 + 1).to_be_bytes().to_vec();
                rev.push(b'_');
                rev.extend(0i64.to_be_bytes());
                if *tombstone {
                    rev.push(b't');
                    model.remove(key);
                } else {
                    model.insert(key.clone());
                }
                // A KeyValue holding only its key (field 1).
                let mut kv = vec![0x0a, key.len() as u8];
                kv.extend_from_slice(key);
                count_live(&mut live, &rev, &kv);
            }
            proptest::prop_assert_eq!(live.values().filter(|&&v| v).count(), model.len());
        }

        /// etcd's crc32c runs over each top-level name and then its
        /// bucket's keys and values, in name order; the walk gives the
        /// buckets in another order, so the pass joins per-bucket parts.
        #[test]
        fn status_crc_is_etcds_whatever_the_bucket_order(
            buckets in proptest::collection::btree_map(
                proptest::collection::vec(proptest::prelude::any::<u8>(), 0..4),
                proptest::collection::vec((proptest::collection::vec(proptest::prelude::any::<u8>(), 0..5),
                                           proptest::collection::vec(proptest::prelude::any::<u8>(), 0..9)), 0..5),
                0..5),
            rotate in 0usize..5) {
            let mut buckets = buckets;
            buckets.entry(b"key".to_vec()).or_default();
            let mut expected = 0u32;
            for (name, entries) in &buckets {
                expected = crc32c::crc32c_append(expected, name);
                for (k, v) in entries {
                    expected = crc32c::crc32c_append(crc32c::crc32c_append(expected, k), v);
                }
            }
            let mut pass = StatusPass::default();
            for name in buckets.keys() {
                let value = Value::Bucket(bbolt::BucketRef::Page(3));
                pass.visit(Tree::Root, Item::Entry { key: name, value });
            }
            let mut order: Vec<usize> = (0..buckets.len()).collect();
            order.rotate_left(rotate % buckets.len());
            order.reverse();
            let all: Vec<_> = buckets.values().collect();
            for i in order {
                for (k, v) in all[i] {
                    pass.visit(Tree::Top(i), Item::Entry { key: k, value: Value::Plain(v) });
                }
            }
            let total = all.iter().map(|e| e.len() as u64).sum::<u64>();
            let status = pass.finish().unwrap();
            proptest::prop_assert_eq!(status.crc, expected);
            proptest::prop_assert_eq!(status.total_keys, total);
        }

        /// Arbitrary bytes, with and without a sha256 trailer that
        /// matches them: an error naming the file, never a panic.
        #[test]
        fn arbitrary_files_never_panic(data in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..6000),
                                       trailer in proptest::prelude::any::<bool>()) {
            let mut data = data;
            if trailer {
                let sum = Sha256::digest(&data);
                data.extend_from_slice(&sum);
            }
            if let Err(e) = verify_bytes(Path::new("f.db"), &data) {
                proptest::prop_assert!(e.to_string().starts_with("f.db"), "{}", e);
            }
        }
    }
}
