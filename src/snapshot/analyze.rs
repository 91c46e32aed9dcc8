//! `snapshot analyze`: what fills an etcd database, read from a snapshot or
//! a copy of a member's `member/snap/db`. The file is memory-mapped and
//! checked like `snapshot verify` (sha256 trailer when there is one, on a
//! thread of its own; meta pages, tree structure, freelist), and the check's
//! walk is the analysis's only pass over the pages: per user key (a slice
//! of the mapping, never copied) its revisions and bytes, then per group
//! ([`Grouping`]) the live keys, the uncompacted history and their shares.
//! The `lease` and `meta` buckets and a page count of every bucket complete
//! the picture.
//!
//! Memory grows with the distinct keys (about 145 bytes each: the key, its
//! figures and its hash slot), so it is bounded by a count, not by the
//! file's size: past `max_keys` keys (and leases) new ones are no longer
//! kept, only counted ([`KeyLimit`]), and a file with more top-level
//! entries than an etcd db could hold is refused.

use std::collections::HashSet;
use std::path::Path;

use super::bbolt::{BboltError, Db, Item, Tree, Value};
use super::keytable::{FxMap, KeyTable};
use super::mvcc::{self, KeyValue, RevKey};
use super::verify::{self, TrailerCheck, VerifyError};
use crate::keyspace::{
    bounded_group, finish_prefixes, BucketStats, Grouping, KeyLimit, KeyStat, KeyspaceReport,
    LeaseStats, MetaStats, PageStats, PrefixStats, Source, OUTSIDE,
};

/// Keys listed in each top list.
pub const TOP_KEYS: usize = 10;

/// Distinct keys (and leases) kept unless `--max-keys` says otherwise:
/// about 1.5 GB of memory. A Kubernetes cluster of 5000 nodes has a few
/// million keys.
pub const DEFAULT_MAX_KEYS: usize = 10_000_000;

/// The most `--max-keys` takes (about 29 GB of memory).
pub const MAX_MAX_KEYS: usize = 200_000_000;

/// Top-level entries of a db file kept: etcd writes about a dozen buckets.
pub const MAX_TOP_ENTRIES: usize = 10_000;

/// What one user key's revisions in the file add up to: 40 bytes, one
/// per distinct key. The 32-bit counts saturate; they cannot reach that
/// (bbolt's values are below 2 GiB, a key's revisions are below the
/// file's 200 GiB divided by 40 bytes of entry).
#[derive(Debug, Default, Clone, Copy)]
struct KeyState {
    /// Bytes of all its revisions (revision key + value).
    bytes: u64,
    version: i64,
    lease: i64,
    revisions: u32,
    /// Bytes of its latest revision.
    latest_bytes: u32,
    latest_value_len: u32,
    deleted: bool,
}

impl KeyState {
    fn revisions(&self) -> u64 {
        u64::from(self.revisions)
    }

    fn latest_bytes(&self) -> u64 {
        u64::from(self.latest_bytes)
    }

    fn latest_value_len(&self) -> u64 {
        u64::from(self.latest_value_len)
    }
}

/// How to analyze a file.
#[derive(Debug, Clone)]
pub struct AnalyzePlan {
    /// How keys are grouped.
    pub grouping: Grouping,
    /// What to do with the sha256 trailer.
    pub trailer: TrailerCheck,
    /// Distinct keys (and leases) kept, 1 to [`MAX_MAX_KEYS`].
    pub max_keys: usize,
}

/// Analyzes the file at `path` as `plan` says.
pub fn analyze(path: &Path, plan: &AnalyzePlan) -> Result<KeyspaceReport, VerifyError> {
    let map = verify::map(path)?;
    analyze_bytes(path, &map, plan)
}

/// Analyzes file bytes (`path` names the file in errors).
pub fn analyze_bytes(
    path: &Path,
    bytes: &[u8],
    plan: &AnalyzePlan,
) -> Result<KeyspaceReport, VerifyError> {
    let mut pass = Pass::new(plan);
    let visit = &mut |tree, item| pass.visit(tree, item);
    let (db, _) = verify::checked_db(path, bytes, plan.trailer, visit)?;
    let bbolt_err = |problem| VerifyError::Bbolt {
        path: path.to_path_buf(),
        problem,
    };
    let not_etcd = |problem: String| VerifyError::NotEtcd {
        path: path.to_path_buf(),
        problem,
    };
    if pass.top_entries > MAX_TOP_ENTRIES {
        return Err(not_etcd(format!(
            "{} top-level entries, more than the {MAX_TOP_ENTRIES} read (etcd writes about a dozen buckets)",
            pass.top_entries
        )));
    }
    if !pass.top.iter().any(|t| t.role == Role::Key) {
        return Err(not_etcd("no `key` bucket".into()));
    }
    if let Some(n) = pass.keys.bad {
        return Err(not_etcd(format!(
            "`key` bucket entry {n} is not an etcd revision"
        )));
    }
    let pages =
        page_stats(&db, &pass.top, pass.root_pages, bytes.len() as u64).map_err(bbolt_err)?;
    let leases = pass.leases.stats(&pass.keys.keys);
    let mut meta = pass.meta;
    meta.current_revision = pass.keys.current_revision;
    meta.history_kept_revisions = meta.current_revision - meta.compact_revision;
    Ok(pass.keys.report(path, leases, meta, pages))
}

/// What a top-level bucket is to the analysis.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// Not a bucket: a plain value in the root.
    Plain,
    Key,
    Lease,
    Meta,
    Other,
}

/// A top-level entry and the pages and entries of its trees.
struct Top<'a> {
    name: &'a [u8],
    role: Role,
    pages: u64,
    entries: u64,
}

/// What the one checked walk of the file collects.
struct Pass<'a> {
    /// The root's entries, in key order, the first [`MAX_TOP_ENTRIES`].
    top: Vec<Top<'a>>,
    /// All of the root's entries.
    top_entries: usize,
    root_pages: u64,
    keys: KeyPass,
    leases: Leases,
    meta: MetaStats,
}

impl<'a> Pass<'a> {
    fn new(plan: &AnalyzePlan) -> Pass<'a> {
        Pass {
            top: Vec::new(),
            top_entries: 0,
            root_pages: 0,
            keys: KeyPass {
                max_keys: plan.max_keys,
                grouping: plan.grouping.clone(),
                ..KeyPass::default()
            },
            leases: Leases {
                max: plan.max_keys,
                ..Leases::default()
            },
            meta: MetaStats::default(),
        }
    }

    fn visit(&mut self, tree: Tree, item: Item<'a>) {
        let i = match tree {
            Tree::Root => return self.root(item),
            Tree::Top(i) | Tree::Nested(i) => i,
        };
        let Some(top) = self.top.get_mut(i) else {
            return;
        };
        match item {
            Item::Page { overflow, .. } => top.pages += 1 + overflow,
            Item::Entry { .. } => top.entries += 1,
        }
        let Item::Entry { key, value } = item else {
            return;
        };
        // Only the top-level buckets' own entries are etcd's records.
        match (top.role, tree) {
            (Role::Key, Tree::Top(_)) => self.keys.entry(key, value),
            (Role::Lease, Tree::Top(_)) => self.leases.entry(value),
            (Role::Meta, Tree::Top(_)) => meta_entry(&mut self.meta, key, value),
            _ => {}
        }
    }

    fn root(&mut self, item: Item<'a>) {
        let (name, value) = match item {
            Item::Page { overflow, .. } => return self.root_pages += 1 + overflow,
            Item::Entry { key, value } => (key, value),
        };
        self.top_entries += 1;
        if self.top.len() >= MAX_TOP_ENTRIES {
            return;
        }
        let role = match (name, value) {
            (_, Value::Plain(_)) => Role::Plain,
            (b"key", _) => Role::Key,
            (b"lease", _) => Role::Lease,
            (b"meta", _) => Role::Meta,
            _ => Role::Other,
        };
        self.top.push(Top {
            name,
            role,
            pages: 0,
            entries: 0,
        });
    }
}

/// The pass over the `key` bucket.
#[derive(Default)]
struct KeyPass {
    keys: KeyTable<KeyState>,
    /// Distinct keys kept in `keys`.
    max_keys: usize,
    grouping: Grouping,
    /// Revisions of keys past `max_keys`.
    untracked: Untracked,
    entries: u64,
    bytes: u64,
    current_revision: i64,
    /// The first entry (0-based) that is not a revision with a KeyValue.
    bad: Option<u64>,
}

impl KeyPass {
    /// Reads one entry of the bucket.
    fn entry(&mut self, key: &[u8], value: Value<'_>) {
        let parsed = match value {
            Value::Plain(v) => RevKey::parse(key).zip(KeyValue::decode(v)).map(|p| (p, v)),
            Value::Bucket(_) => None,
        };
        match parsed {
            Some(((rev, kv), v)) => self.add(rev, kv, (key.len() + v.len()) as u64),
            None => _ = self.bad.get_or_insert(self.entries),
        }
    }

    /// Adds one revision (revisions come in revision order, so the last
    /// one seen of a key is its latest).
    fn add(&mut self, rev: RevKey, kv: KeyValue<'_>, entry_bytes: u64) {
        self.entries += 1;
        self.bytes += entry_bytes;
        self.current_revision = self.current_revision.max(rev.main);
        let Some(s) = self.keys.get_within(kv.key, self.max_keys) else {
            return self.untracked.add(&self.grouping, kv.key, entry_bytes);
        };
        s.revisions = s.revisions.saturating_add(1);
        s.bytes += entry_bytes;
        s.latest_bytes = u32::try_from(entry_bytes).unwrap_or(u32::MAX);
        s.latest_value_len = u32::try_from(kv.value_len).unwrap_or(u32::MAX);
        s.deleted = rev.tombstone;
        s.version = kv.version;
        s.lease = kv.lease;
    }

    fn report(
        &self,
        path: &Path,
        leases: LeaseStats,
        meta: MetaStats,
        pages: PageStats,
    ) -> KeyspaceReport {
        let grouping = &self.grouping;
        let mut groups: FxMap<&[u8], PrefixStats> = FxMap::default();
        let mut live_keys = 0;
        for (key, s) in self.keys.iter() {
            let name = grouping.group(key).unwrap_or(OUTSIDE.as_bytes());
            let name = bounded_group(name, groups.contains_key(name), groups.len());
            let g = groups.entry(name).or_default();
            let live = u64::from(!s.deleted);
            live_keys += live;
            g.live_keys += live;
            g.live_value_bytes += live * s.latest_value_len();
            g.history_revisions += s.revisions() - live;
            g.history_bytes += s.bytes - live * s.latest_bytes();
            g.total_bytes += s.bytes;
        }
        for (name, &bytes) in &self.untracked.groups {
            let name = bounded_group(name, groups.contains_key(name.as_slice()), groups.len());
            groups.entry(name).or_default().total_bytes += bytes;
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
            top_by_revisions: self.top(KeyState::revisions),
            top_by_value_size: self.top(|s| if s.deleted { 0 } else { s.latest_value_len() }),
            leases: Some(leases),
            meta: Some(meta),
            pages: Some(pages),
            requests: 0,
            key_limit: (self.untracked.revisions > 0).then_some(KeyLimit {
                max_keys: self.max_keys as u64,
                untracked_revisions: self.untracked.revisions,
                untracked_bytes: self.untracked.bytes,
            }),
        }
    }

    /// The [`TOP_KEYS`] keys with the highest nonzero `by`, ties by key.
    fn top(&self, by: fn(&KeyState) -> u64) -> Vec<KeyStat> {
        // The TOP_KEYS-th highest value, found on the numbers alone: only
        // the keys at or above it are ordered (with their bytes on ties).
        let mut values: Vec<u64> = self.keys.values().map(by).filter(|&v| v > 0).collect();
        let floor = if values.len() > TOP_KEYS {
            *values
                .select_nth_unstable_by(TOP_KEYS - 1, |a, b| b.cmp(a))
                .1
        } else {
            1
        };
        let mut all: Vec<(&[u8], &KeyState)> =
            self.keys.iter().filter(|(_, s)| by(s) >= floor).collect();
        let order = |a: &(&[u8], &KeyState), b: &(&[u8], &KeyState)| {
            by(b.1).cmp(&by(a.1)).then(a.0.cmp(b.0))
        };
        // Keys are distinct, so the order is total: select, then sort the few.
        if all.len() > TOP_KEYS {
            all.select_nth_unstable_by(TOP_KEYS, order);
            all.truncate(TOP_KEYS);
        }
        all.sort_unstable_by(order);
        all.into_iter()
            .map(|(k, s)| KeyStat {
                key: String::from_utf8_lossy(k).into_owned(),
                revisions: s.revisions(),
                value_bytes: s.latest_value_len(),
                version: s.version,
                deleted: s.deleted,
            })
            .collect()
    }
}

/// Revisions of the keys a [`KeyPass`] did not keep: their bytes per
/// group (groups bounded as the report's are), to keep each group's
/// share of the bucket right.
#[derive(Default)]
struct Untracked {
    revisions: u64,
    bytes: u64,
    groups: FxMap<Vec<u8>, u64>,
}

impl Untracked {
    fn add(&mut self, grouping: &Grouping, key: &[u8], bytes: u64) {
        self.revisions += 1;
        self.bytes += bytes;
        let name = grouping.group(key).unwrap_or(OUTSIDE.as_bytes());
        match self.groups.get_mut(name) {
            Some(b) => *b += bytes,
            None => {
                let name = bounded_group(name, false, self.groups.len());
                *self.groups.entry(name.to_vec()).or_default() += bytes;
            }
        }
    }
}

/// The `lease` bucket's leases: their ids and TTLs, the first `max`.
#[derive(Default)]
struct Leases {
    ids: HashSet<i64>,
    ttls: Vec<i64>,
    max: usize,
    /// Leases past `max`, counted only.
    untracked: u64,
}

impl Leases {
    fn entry(&mut self, value: Value<'_>) {
        if let Some((id, ttl)) = match value {
            Value::Plain(v) => mvcc::decode_lease(v),
            Value::Bucket(_) => None,
        } {
            if self.ttls.len() >= self.max {
                self.untracked += 1;
                return;
            }
            self.ids.insert(id);
            self.ttls.push(ttl);
        }
    }

    /// Leases, their TTLs and the live keys attached to them.
    fn stats(mut self, keys: &KeyTable<KeyState>) -> LeaseStats {
        let ttls = &mut self.ttls;
        ttls.sort_unstable();
        let attached = keys.values().filter(|s| !s.deleted && s.lease != 0);
        let (mut keys_attached, mut missing) = (0, 0);
        for s in attached {
            keys_attached += 1;
            missing += u64::from(self.untracked == 0 && !self.ids.contains(&s.lease));
        }
        LeaseStats {
            leases: ttls.len() as u64 + self.untracked,
            untracked_leases: self.untracked,
            keys_attached,
            keys_on_missing_leases: missing,
            ttl_min_s: ttls.first().copied().unwrap_or(0),
            ttl_median_s: ttls.get(ttls.len() / 2).copied().unwrap_or(0),
            ttl_max_s: ttls.last().copied().unwrap_or(0),
        }
    }
}

/// One entry of the `meta` bucket: its consistent index, term and
/// compaction revisions.
fn meta_entry(m: &mut MetaStats, key: &[u8], value: Value<'_>) {
    let Value::Plain(v) = value else {
        return;
    };
    let rev = |v: &[u8]| RevKey::parse(v).map_or(0, |r| r.main);
    match key {
        b"consistent_index" => m.consistent_index = mvcc::meta_u64(v).unwrap_or(0),
        b"term" => m.term = mvcc::meta_u64(v).unwrap_or(0),
        b"finishedCompactRev" => m.compact_revision = rev(v),
        b"scheduledCompactRev" => m.scheduled_compact_revision = rev(v),
        _ => {}
    }
}

/// Every page of the file by use, from the pass's counts.
fn page_stats(
    db: &Db<'_>,
    top: &[Top<'_>],
    root_pages: u64,
    file_bytes: u64,
) -> Result<PageStats, BboltError> {
    let stats: Vec<BucketStats> = top
        .iter()
        .filter(|t| t.role != Role::Plain)
        .map(|t| BucketStats {
            name: String::from_utf8_lossy(t.name).into_owned(),
            pages: t.pages,
            entries: t.entries,
        })
        .collect();
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

    /// The default grouping, `trailer`, at most `max_keys` keys.
    fn plan(trailer: TrailerCheck, max_keys: usize) -> AnalyzePlan {
        AnalyzePlan {
            grouping: Grouping::default(),
            trailer,
            max_keys,
        }
    }

    /// Why analyzing `bytes` as the file `name` fails.
    fn refusal(name: &str, bytes: &[u8]) -> String {
        let result = analyze_bytes(Path::new(name), bytes, &plan(TrailerCheck::IfPresent, 3));
        result.unwrap_err().to_string()
    }

    #[test]
    fn a_meta_only_file_is_rejected_not_misread() {
        let err = refusal("m.db", &file(4, 2, u64::MAX, &[0]));
        assert!(err.starts_with("m.db: "), "{err}");
    }

    /// A chain of branch pages, each the only child of the one before, far
    /// deeper than any bbolt tree: an error, not a stack overflow.
    #[test]
    fn a_chain_of_branch_pages_is_rejected_not_recursed() {
        let pages = 20_000;
        let mut b = file(pages, 2, u64::MAX, &[0]);
        for id in 2..pages {
            let page = &mut b[id * PS..(id + 1) * PS];
            page[..8].copy_from_slice(&(id as u64).to_le_bytes());
            let last = id + 1 == pages;
            // A leaf without entries ends the chain; before it, branch
            // pages of one element {pos 16, ksize 1, pgid id + 1}, key "a".
            page[8..10].copy_from_slice(&(if last { 0x02u16 } else { 0x01 }).to_le_bytes());
            page[10..12].copy_from_slice(&u16::from(!last).to_le_bytes());
            page[16..20].copy_from_slice(&16u32.to_le_bytes());
            page[20..24].copy_from_slice(&1u32.to_le_bytes());
            page[24..32].copy_from_slice(&(id as u64 + 1).to_le_bytes());
            page[32] = b'a';
        }
        let err = refusal("deep.db", &b);
        assert!(err.contains("tree deeper than 64 levels"), "{err}");
    }

    /// A branch page without elements (as root, and under a branch) is
    /// rejected as etcdutl rejects it, not walked as an empty tree.
    #[test]
    fn an_empty_branch_page_is_rejected() {
        let mut b = file(3, 2, u64::MAX, &[0]);
        let page = &mut b[2 * PS..3 * PS];
        page[..8].copy_from_slice(&2u64.to_le_bytes());
        page[8..10].copy_from_slice(&0x01u16.to_le_bytes());
        page[10..12].copy_from_slice(&0u16.to_le_bytes());
        let err = refusal("empty.db", &b);
        assert!(
            err.contains("page 2") && err.contains("empty branch page"),
            "{err}"
        );

        let mut b = file(4, 2, u64::MAX, &[0]);
        for (id, count) in [(2usize, 1u16), (3, 0)] {
            let page = &mut b[id * PS..(id + 1) * PS];
            page[..8].copy_from_slice(&(id as u64).to_le_bytes());
            page[8..10].copy_from_slice(&0x01u16.to_le_bytes());
            page[10..12].copy_from_slice(&count.to_le_bytes());
            page[16..20].copy_from_slice(&16u32.to_le_bytes());
            page[20..24].copy_from_slice(&1u32.to_le_bytes());
            page[24..32].copy_from_slice(&3u64.to_le_bytes());
            page[32] = b'a';
        }
        let err = refusal("nested.db", &b);
        assert!(
            err.contains("page 3") && err.contains("empty branch page"),
            "{err}"
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]
        /// Valid metas over arbitrary pages: the page, bucket and record
        /// parsers return an error or a report, never panic; also with a
        /// (wrong) trailer that `--skip-hash-check` does not look at.
        #[test]
        fn arbitrary_pages_never_panic(pages in 3usize..10, root in 0u64..12, free in 0u64..12,
                                       fill in proptest::collection::vec(any::<u8>(), 1..PS * 2),
                                       trailer in any::<bool>()) {
            let free = if free == 11 { u64::MAX } else { free };
            let mut b = file(pages, root, free, &fill);
            let check = if trailer {
                b.extend([0xa5; verify::TRAILER_BYTES]);
                TrailerCheck::Skip
            } else {
                TrailerCheck::IfPresent
            };
            let _ = analyze_bytes(Path::new("p.db"), &b, &plan(check, 2));
        }

        #[test]
        fn arbitrary_bytes_never_panic(b in proptest::collection::vec(any::<u8>(), 0..4096)) {
            let _ = analyze_bytes(Path::new("p.db"), &b, &plan(TrailerCheck::IfPresent, 2));
        }
    }
}
