//! `snapshot analyze`: what fills an etcd database, read from a snapshot or
//! a copy of a member's `member/snap/db`. The file is memory-mapped and
//! checked like `snapshot verify` (sha256 trailer when there is one, meta
//! pages, tree structure, freelist), then read in one pass over the `key`
//! bucket: per user key (a slice of the mapping, never copied) its
//! revisions and bytes, then per group ([`Grouping`]) the live keys, the
//! uncompacted history and their shares. The `lease` and `meta` buckets
//! and a page count of every bucket complete the picture.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::path::Path;

use super::bbolt::{BboltError, BucketRef, Db, Item, Value};
use super::mvcc::{self, KeyValue, RevKey};
use super::verify::{self, VerifyError};
use crate::keyspace::{
    finish_prefixes, BucketStats, Grouping, KeyStat, KeyspaceReport, LeaseStats, MetaStats,
    PageStats, PrefixStats, Source, OUTSIDE,
};

/// Keys listed in each top list.
pub const TOP_KEYS: usize = 10;

/// FxHash (rustc's): a fast non-cryptographic hash for keys read from a
/// file we already checked; one multiply per 8 bytes.
#[derive(Default)]
struct Fx(u64);

impl Hasher for Fx {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            self.add(u64::from_le_bytes(c.try_into().expect("8 bytes")));
        }
        for &b in chunks.remainder() {
            self.add(u64::from(b));
        }
    }

    fn finish(&self) -> u64 {
        self.0
    }
}

impl Fx {
    fn add(&mut self, word: u64) {
        self.0 = (self.0.rotate_left(5) ^ word).wrapping_mul(0x51_7c_c1_b7_27_22_0a_95);
    }
}

type FxMap<K, V> = HashMap<K, V, BuildHasherDefault<Fx>>;

/// What one user key's revisions in the file add up to.
#[derive(Debug, Default, Clone, Copy)]
struct KeyState {
    revisions: u64,
    /// Bytes of all its revisions (revision key + value).
    bytes: u64,
    /// Bytes of its latest revision.
    latest_bytes: u64,
    latest_value_len: u64,
    version: i64,
    lease: i64,
    deleted: bool,
}

/// Analyzes the file at `path` with `grouping`.
pub fn analyze(path: &Path, grouping: &Grouping) -> Result<KeyspaceReport, VerifyError> {
    let map = verify::map(path)?;
    analyze_bytes(path, &map, grouping)
}

/// Analyzes file bytes (`path` names the file in errors).
pub fn analyze_bytes(
    path: &Path,
    bytes: &[u8],
    grouping: &Grouping,
) -> Result<KeyspaceReport, VerifyError> {
    let (db, _) = verify::checked_db(path, bytes, false)?;
    let bbolt_err = |problem| VerifyError::Bbolt {
        path: path.to_path_buf(),
        problem,
    };
    let not_etcd = |problem: String| VerifyError::NotEtcd {
        path: path.to_path_buf(),
        problem,
    };
    let buckets = top_buckets(&db).map_err(bbolt_err)?;
    let bucket = |name: &[u8]| buckets.iter().find(|(n, _)| *n == name).map(|(_, b)| *b);
    let key_bucket = bucket(b"key").ok_or_else(|| not_etcd("no `key` bucket".into()))?;
    let mut keys = KeyPass::default();
    let key_pages = keys.run(&db, key_bucket).map_err(|e| match e {
        PassError::Bbolt(b) => bbolt_err(b),
        PassError::Entry(n) => not_etcd(format!("`key` bucket entry {n} is not an etcd revision")),
    })?;
    let leases = match bucket(b"lease") {
        Some(b) => lease_stats(&db, b, &keys.keys).map_err(bbolt_err)?,
        None => LeaseStats::default(),
    };
    let mut meta = match bucket(b"meta") {
        Some(b) => meta_stats(&db, b).map_err(bbolt_err)?,
        None => MetaStats::default(),
    };
    meta.current_revision = keys.current_revision;
    meta.history_kept_revisions = meta.current_revision - meta.compact_revision;
    let key_counts = (key_pages, keys.entries);
    let pages = page_stats(&db, &buckets, key_counts, bytes.len() as u64).map_err(bbolt_err)?;
    Ok(keys.report(path, grouping, leases, meta, pages))
}

/// The top-level buckets, by name.
fn top_buckets<'a>(db: &Db<'a>) -> Result<Vec<(&'a [u8], BucketRef<'a>)>, BboltError> {
    let mut out = Vec::new();
    db.walk(db.root(), &mut |item| {
        if let Item::Entry {
            key,
            value: Value::Bucket(b),
        } = item
        {
            out.push((key, b));
        }
        Ok(())
    })?;
    Ok(out)
}

enum PassError {
    Bbolt(BboltError),
    /// The n-th entry (0-based) is not a revision with a KeyValue.
    Entry(u64),
}

/// The pass over the `key` bucket.
#[derive(Default)]
struct KeyPass<'a> {
    keys: FxMap<&'a [u8], KeyState>,
    entries: u64,
    bytes: u64,
    current_revision: i64,
}

impl<'a> KeyPass<'a> {
    /// Reads every revision; returns the pages of the bucket's tree.
    fn run(&mut self, db: &Db<'a>, bucket: BucketRef<'a>) -> Result<u64, PassError> {
        let mut pages = 0u64;
        let mut bad = None;
        db.walk(bucket, &mut |item| {
            match item {
                Item::Page { overflow, .. } => pages += 1 + overflow,
                Item::Entry {
                    key,
                    value: Value::Plain(v),
                } => match RevKey::parse(key).zip(KeyValue::decode(v)) {
                    Some((rev, kv)) => self.add(rev, kv, (key.len() + v.len()) as u64),
                    None => _ = bad.get_or_insert(self.entries),
                },
                Item::Entry { .. } => _ = bad.get_or_insert(self.entries),
            }
            Ok(())
        })
        .map_err(PassError::Bbolt)?;
        match bad {
            Some(n) => Err(PassError::Entry(n)),
            None => Ok(pages),
        }
    }

    /// Adds one revision (revisions come in revision order, so the last
    /// one seen of a key is its latest).
    fn add(&mut self, rev: RevKey, kv: KeyValue<'a>, entry_bytes: u64) {
        self.entries += 1;
        self.bytes += entry_bytes;
        self.current_revision = self.current_revision.max(rev.main);
        let s = self.keys.entry(kv.key).or_default();
        s.revisions += 1;
        s.bytes += entry_bytes;
        s.latest_bytes = entry_bytes;
        s.latest_value_len = kv.value_len as u64;
        s.deleted = rev.tombstone;
        s.version = kv.version;
        s.lease = kv.lease;
    }

    fn report(
        &self,
        path: &Path,
        grouping: &Grouping,
        leases: LeaseStats,
        meta: MetaStats,
        pages: PageStats,
    ) -> KeyspaceReport {
        let mut groups: FxMap<&[u8], PrefixStats> = FxMap::default();
        let mut live_keys = 0;
        for (key, s) in &self.keys {
            let name = grouping.group(key).unwrap_or(OUTSIDE.as_bytes());
            let g = groups.entry(name).or_default();
            let live = u64::from(!s.deleted);
            live_keys += live;
            g.live_keys += live;
            g.live_value_bytes += live * s.latest_value_len;
            g.history_revisions += s.revisions - live;
            g.history_bytes += s.bytes - live * s.latest_bytes;
            g.total_bytes += s.bytes;
        }
        let mut prefixes: Vec<PrefixStats> = groups
            .into_iter()
            .map(|(name, g)| PrefixStats {
                prefix: String::from_utf8_lossy(name).into_owned(),
                ..g
            })
            .collect();
        finish_prefixes(&mut prefixes, self.bytes, |p| p.total_bytes);
        KeyspaceReport {
            source: Source::Snapshot,
            origin: path.display().to_string(),
            grouping: grouping.clone(),
            prefixes,
            live_keys,
            total_revisions: self.entries,
            key_bucket_bytes: self.bytes,
            top_by_revisions: self.top(|s| s.revisions),
            top_by_value_size: self.top(|s| if s.deleted { 0 } else { s.latest_value_len }),
            leases: Some(leases),
            meta: Some(meta),
            pages: Some(pages),
            requests: 0,
        }
    }

    /// The [`TOP_KEYS`] keys with the highest nonzero `by`, ties by key.
    fn top(&self, by: fn(&KeyState) -> u64) -> Vec<KeyStat> {
        let mut all: Vec<(&&[u8], &KeyState)> =
            self.keys.iter().filter(|(_, s)| by(s) > 0).collect();
        all.sort_unstable_by(|a, b| by(b.1).cmp(&by(a.1)).then(a.0.cmp(b.0)));
        all.into_iter()
            .take(TOP_KEYS)
            .map(|(k, s)| KeyStat {
                key: String::from_utf8_lossy(k).into_owned(),
                revisions: s.revisions,
                value_bytes: s.latest_value_len,
                version: s.version,
                deleted: s.deleted,
            })
            .collect()
    }
}

/// Leases, their TTLs and the live keys attached to them.
fn lease_stats(
    db: &Db<'_>,
    bucket: BucketRef<'_>,
    keys: &FxMap<&[u8], KeyState>,
) -> Result<LeaseStats, BboltError> {
    let mut ids = HashSet::new();
    let mut ttls = Vec::new();
    db.walk(bucket, &mut |item| {
        if let Item::Entry {
            value: Value::Plain(v),
            ..
        } = item
        {
            if let Some((id, ttl)) = mvcc::decode_lease(v) {
                ids.insert(id);
                ttls.push(ttl);
            }
        }
        Ok(())
    })?;
    ttls.sort_unstable();
    let attached = keys.values().filter(|s| !s.deleted && s.lease != 0);
    let (mut keys_attached, mut missing) = (0, 0);
    for s in attached {
        keys_attached += 1;
        missing += u64::from(!ids.contains(&s.lease));
    }
    Ok(LeaseStats {
        leases: ttls.len() as u64,
        keys_attached,
        keys_on_missing_leases: missing,
        ttl_min_s: ttls.first().copied().unwrap_or(0),
        ttl_median_s: ttls.get(ttls.len() / 2).copied().unwrap_or(0),
        ttl_max_s: ttls.last().copied().unwrap_or(0),
    })
}

/// The `meta` bucket's consistent index, term and compaction revisions.
fn meta_stats(db: &Db<'_>, bucket: BucketRef<'_>) -> Result<MetaStats, BboltError> {
    let mut m = MetaStats::default();
    let rev = |v: &[u8]| RevKey::parse(v).map_or(0, |r| r.main);
    db.walk(bucket, &mut |item| {
        if let Item::Entry {
            key,
            value: Value::Plain(v),
        } = item
        {
            match key {
                b"consistent_index" => m.consistent_index = mvcc::meta_u64(v).unwrap_or(0),
                b"term" => m.term = mvcc::meta_u64(v).unwrap_or(0),
                b"finishedCompactRev" => m.compact_revision = rev(v),
                b"scheduledCompactRev" => m.scheduled_compact_revision = rev(v),
                _ => {}
            }
        }
        Ok(())
    })?;
    Ok(m)
}

/// Pages and entries of a bucket's tree, nested buckets included.
fn bucket_stats(db: &Db<'_>, bucket: BucketRef<'_>) -> Result<(u64, u64), BboltError> {
    let (mut pages, mut entries, mut stack) = (0, 0, vec![bucket]);
    while let Some(b) = stack.pop() {
        db.walk(b, &mut |item| {
            match item {
                Item::Page { overflow, .. } => pages += 1 + overflow,
                Item::Entry { value, .. } => {
                    entries += 1;
                    if let Value::Bucket(nested) = value {
                        stack.push(nested);
                    }
                }
            }
            Ok(())
        })?;
    }
    Ok((pages, entries))
}

/// Every page of the file by use (the `key` bucket's were counted in its pass).
fn page_stats(
    db: &Db<'_>,
    buckets: &[(&[u8], BucketRef<'_>)],
    key_bucket: (u64, u64),
    file_bytes: u64,
) -> Result<PageStats, BboltError> {
    let mut root_pages = 0;
    db.walk(db.root(), &mut |item| {
        if let Item::Page { overflow, .. } = item {
            root_pages += 1 + overflow;
        }
        Ok(())
    })?;
    let mut stats = Vec::with_capacity(buckets.len());
    for (name, b) in buckets {
        let (pages, entries) = if *name == b"key" {
            key_bucket
        } else {
            bucket_stats(db, *b)?
        };
        stats.push(BucketStats {
            name: String::from_utf8_lossy(name).into_owned(),
            pages,
            entries,
        });
    }
    let meta = db.meta();
    let in_trees = root_pages + stats.iter().map(|b| b.pages).sum::<u64>();
    let (freelist_pages, free_pages) = match db.free_pages()? {
        Some((overflow, ids)) => (1 + overflow, ids.len() as u64),
        // No freelist stored: every page not in a tree is free.
        None => (0, meta.pages.saturating_sub(2 + in_trees)),
    };
    let ps = meta.page_size_bytes as u64;
    Ok(PageStats {
        page_size_bytes: ps,
        meta_pages: 2,
        root_pages,
        buckets: stats,
        freelist_pages,
        free_pages,
        high_water_pages: meta.pages,
        unallocated_bytes: file_bytes.saturating_sub(meta.pages * ps),
        file_bytes,
        fragmentation_pct: free_pages as f64 * 100.0 / meta.pages.max(1) as f64,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::bbolt::fnv1a64;
    use proptest::prelude::*;

    const PS: usize = 512;

    /// A file of `pages` 512-byte pages whose two meta pages are valid and
    /// point at `root` and `freelist`; the other pages are `fill`.
    fn file(pages: usize, root: u64, freelist: u64, fill: &[u8]) -> Vec<u8> {
        let mut b: Vec<u8> = fill.iter().copied().cycle().take(pages * PS).collect();
        for (id, txid) in [(0u64, 1u64), (1, 2)] {
            let at = id as usize * PS;
            let page = &mut b[at..at + PS];
            page[..16].fill(0);
            page[..8].copy_from_slice(&id.to_le_bytes());
            page[8..10].copy_from_slice(&0x04u16.to_le_bytes());
            let m = &mut page[16..];
            m[..4].copy_from_slice(&crate::snapshot::bbolt::MAGIC.to_le_bytes());
            m[4..8].copy_from_slice(&2u32.to_le_bytes());
            m[8..12].copy_from_slice(&(PS as u32).to_le_bytes());
            m[12..16].fill(0);
            m[16..24].copy_from_slice(&root.to_le_bytes());
            m[24..32].fill(0);
            m[32..40].copy_from_slice(&freelist.to_le_bytes());
            m[40..48].copy_from_slice(&(pages as u64).to_le_bytes());
            m[48..56].copy_from_slice(&txid.to_le_bytes());
            let sum = fnv1a64(&m[..56]);
            m[56..64].copy_from_slice(&sum.to_le_bytes());
        }
        b
    }

    #[test]
    fn fx_hash_spreads_keys() {
        let h = |k: &[u8]| {
            let mut f = Fx::default();
            f.write(k);
            f.finish()
        };
        assert_ne!(h(b"/registry/pods/a"), h(b"/registry/pods/b"));
        assert_ne!(h(b"12345678a"), h(b"12345678b"));
    }

    #[test]
    fn a_meta_only_file_is_rejected_not_misread() {
        let b = file(4, 2, u64::MAX, &[0]);
        let err = analyze_bytes(Path::new("m.db"), &b, &Grouping::default()).unwrap_err();
        assert!(err.to_string().starts_with("m.db: "), "{err}");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]
        /// Valid metas over arbitrary pages: the page, bucket and record
        /// parsers return an error or a report, never panic.
        #[test]
        fn arbitrary_pages_never_panic(pages in 3usize..10, root in 0u64..12, free in 0u64..12,
                                       fill in proptest::collection::vec(any::<u8>(), 1..PS * 2)) {
            let free = if free == 11 { u64::MAX } else { free };
            let b = file(pages, root, free, &fill);
            let _ = analyze_bytes(Path::new("p.db"), &b, &Grouping::default());
        }

        #[test]
        fn arbitrary_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..4096)) {
            let _ = analyze_bytes(Path::new("p.db"), &b, &Grouping::default());
        }
    }
}
