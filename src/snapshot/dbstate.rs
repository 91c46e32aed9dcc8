//! `snapshot inspect-db`: how far a stopped member had got, read from its
//! `member/snap/db` with our own bbolt reader. When no member answers, the
//! member to rebuild a cluster around is the one whose backend holds the
//! most: etcd records the last raft entry applied to the backend as
//! `consistent_index` (and, from 3.5, its `term`) in the `meta` bucket, and
//! the highest key of the `key` bucket is the store's revision. Only one
//! root-to-leaf path per value is read, so a multi-GiB db costs a few pages;
//! the file is memory-mapped read-only and never written.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::bbolt::{BucketRef, Db, Value};
use super::verify::VerifyError;

/// Said under the table: the numbers come from a few pages, and a damaged
/// tree elsewhere in the file goes unnoticed.
pub const NO_TREE_CHECKED: &str =
    "inspect-db reads only the meta pages and one path per value: it checks no tree \
     (run `snapshot verify` on a copy, or `etcdutl check` / bbolt check, for that)";

/// What a member's db file says about how far the member had got.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DbState {
    /// The file read.
    pub file: PathBuf,
    /// Index of the last raft entry applied to this backend (meta bucket
    /// `consistent_index`); absent in a db that never applied an entry.
    pub consistent_index: Option<u64>,
    /// Raft term of that entry (meta bucket `term`, written from etcd 3.5).
    #[serde(default)]
    pub term: Option<u64>,
    /// Main revision of the highest key in the `key` bucket: the store's
    /// revision when the member stopped.
    pub revision: Option<i64>,
    /// bbolt transaction id of the last commit.
    pub txid: u64,
    /// Database size: high-water mark times page size, bytes.
    pub size_bytes: u64,
}

/// Reads the state of the db file at `path` (a member's `member/snap/db`
/// or a saved snapshot).
pub fn inspect_db(path: &Path) -> Result<DbState, VerifyError> {
    let map = super::verify::map(path)?;
    inspect_bytes(path, &map)
}

/// Reads the state from db bytes (`path` only names the file).
pub fn inspect_bytes(path: &Path, bytes: &[u8]) -> Result<DbState, VerifyError> {
    let bbolt_err = |problem| VerifyError::Bbolt {
        path: path.to_path_buf(),
        problem,
    };
    let not_etcd = |problem: &str| VerifyError::NotEtcd {
        path: path.to_path_buf(),
        problem: problem.to_string(),
    };
    let db = Db::open(bytes).map_err(bbolt_err)?;
    let bucket = |name: &[u8]| -> Result<Option<BucketRef<'_>>, VerifyError> {
        match db.get(db.root(), name).map_err(bbolt_err)? {
            Some(Value::Bucket(b)) => Ok(Some(b)),
            Some(Value::Plain(_)) => Err(not_etcd("a top-level key is not a bucket")),
            None => Ok(None),
        }
    };
    let key = bucket(b"key")?.ok_or_else(|| not_etcd("no `key` bucket"))?;
    let meta = bucket(b"meta")?.ok_or_else(|| not_etcd("no `meta` bucket"))?;
    let counter = |name: &[u8]| -> Result<Option<u64>, VerifyError> {
        match db.get(meta, name).map_err(bbolt_err)? {
            Some(Value::Plain(v)) => v
                .try_into()
                .map(|b| Some(u64::from_be_bytes(b)))
                .map_err(|_| not_etcd("a meta counter is not 8 bytes")),
            _ => Ok(None),
        }
    };
    let revision = db
        .last_entry(key)
        .map_err(bbolt_err)?
        .and_then(|(k, _)| Some(i64::from_be_bytes(k.get(..8)?.try_into().ok()?)));
    Ok(DbState {
        file: path.to_path_buf(),
        consistent_index: counter(b"consistent_index")?,
        term: counter(b"term")?,
        revision,
        txid: db.meta().txid,
        size_bytes: db.size_bytes(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    use proptest::prelude::*;

    /// `pages` pages of 4096 bytes: two valid meta pages (root page `root`,
    /// checksum right) and `tail` as the rest, so the reader gets past the
    /// meta and walks arbitrary pages.
    fn with_metas(root: u64, pages: u64, tail: &[u8]) -> Vec<u8> {
        const PS: usize = 4096;
        let mut data = vec![0u8; PS * pages as usize];
        for (i, b) in tail.iter().enumerate().take(data.len() - 2 * PS) {
            data[2 * PS + i] = *b;
        }
        for page in 0..2usize {
            let m = &mut data[page * PS + 16..page * PS + 16 + 64];
            m[0..4].copy_from_slice(&crate::snapshot::bbolt::MAGIC.to_le_bytes());
            m[4..8].copy_from_slice(&2u32.to_le_bytes());
            m[8..12].copy_from_slice(&(PS as u32).to_le_bytes());
            m[16..24].copy_from_slice(&root.to_le_bytes());
            m[32..40].copy_from_slice(&u64::MAX.to_le_bytes());
            m[40..48].copy_from_slice(&pages.to_le_bytes());
            m[48..56].copy_from_slice(&(page as u64).to_le_bytes());
            let sum = crate::snapshot::bbolt::fnv1a64(&m[..56]);
            m[56..64].copy_from_slice(&sum.to_le_bytes());
        }
        data
    }

    proptest! {
        #[test]
        fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..20_000)) {
            let _ = inspect_bytes(Path::new("db"), &bytes);
        }

        #[test]
        fn arbitrary_pages_behind_valid_metas_never_panic(
            root in 0u64..8,
            pages in 3u64..8,
            tail in proptest::collection::vec(any::<u8>(), 0..24_576),
        ) {
            let _ = inspect_bytes(Path::new("db"), &with_metas(root, pages, &tail));
        }
    }

    #[test]
    fn non_bbolt_bytes_are_errors() {
        let p = Path::new("db");
        let e = inspect_bytes(p, &[0u8; 8192]).unwrap_err();
        assert!(e.to_string().contains("not a bbolt database"), "{e}");
        assert!(inspect_bytes(p, &[]).is_err());
    }
}
