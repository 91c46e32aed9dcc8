//! A read-only reader for bbolt, the B+tree file etcd keeps its keyspace in
//! and streams as a snapshot. It exists so `snapshot verify` can check a file
//! without etcd's Go tools: the meta pages (magic, version, FNV-1a checksum),
//! every page reachable from the root bucket (bounds, type, single
//! reference, key order), the freelist (every page either reachable or
//! free), and it iterates buckets in key order like bbolt's `ForEach`.
//!
//! Layout (go.etcd.io/bbolt): a page starts with a 16-byte header
//! `{id u64, flags u16, count u16, overflow u32}`; pages 0 and 1 hold the
//! meta, the valid one with the higher txid wins. Branch elements are
//! `{pos u32, ksize u32, pgid u64}`, leaf elements
//! `{flags u32, pos u32, ksize u32, vsize u32}`, `pos` counted from the
//! element itself. A bucket value is `{root pgid u64, sequence u64}`,
//! followed by an inline page when root is 0. All integers little-endian.

use thiserror::Error;

/// The magic number in every bbolt meta page.
pub const MAGIC: u32 = 0xED0C_DAED;
/// The only bbolt file format version.
pub const VERSION: u32 = 2;
/// Size of a page header, bytes.
const PAGE_HEADER: usize = 16;
/// Size of a branch or leaf element, bytes.
const ELEMENT: usize = 16;
/// Size of a bucket header (root pgid, sequence), bytes.
const BUCKET_HEADER: usize = 16;
/// Bytes of the meta covered by its checksum (all fields before it).
const META_CHECKSUMMED: usize = 56;
const BRANCH_PAGE: u16 = 0x01;
const LEAF_PAGE: u16 = 0x02;
const FREELIST_PAGE: u16 = 0x10;
/// Leaf element flag: the value is a nested bucket.
const BUCKET_LEAF: u32 = 0x01;
/// Freelist pgid when the freelist is not stored (`NoFreelistSync`).
const NO_FREELIST: u64 = u64::MAX;

/// What is wrong with a file read as bbolt; every message fits one line.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum BboltError {
    /// Neither meta page carries bbolt's magic number.
    #[error("not a bbolt database: no meta page carries the magic 0xED0CDAED")]
    NotBbolt,
    /// The meta page has an unknown format version.
    #[error("meta page {page}: unsupported bbolt version {version} (expected 2)")]
    Version {
        /// Meta page number (0 or 1).
        page: u64,
        /// Version found.
        version: u32,
    },
    /// The meta page's FNV-1a checksum does not match its contents.
    #[error(
        "meta page {page}: checksum mismatch (stored {stored:#018x}, computed {computed:#018x})"
    )]
    Checksum {
        /// Meta page number (0 or 1).
        page: u64,
        /// Checksum stored in the page.
        stored: u64,
        /// Checksum of the page's contents.
        computed: u64,
    },
    /// The file is shorter than the meta's high-water mark says.
    #[error("truncated: the database needs {need_bytes} bytes ({pages} pages of {page_size_bytes}), the file has {have_bytes}")]
    Truncated {
        /// Bytes the meta page accounts for.
        need_bytes: u64,
        /// High-water mark, pages.
        pages: u64,
        /// Page size, bytes.
        page_size_bytes: usize,
        /// Bytes available.
        have_bytes: u64,
    },
    /// A page breaks the tree's structure.
    #[error("page {pgid}: {problem}")]
    Page {
        /// The page.
        pgid: u64,
        /// What is wrong with it.
        problem: String,
    },
}

fn page_error(pgid: u64, problem: impl Into<String>) -> BboltError {
    BboltError::Page {
        pgid,
        problem: problem.into(),
    }
}

fn u16_at(b: &[u8], off: usize) -> u16 {
    u16::from_le_bytes([b[off], b[off + 1]])
}

fn u32_at(b: &[u8], off: usize) -> u32 {
    u32::from_le_bytes(b[off..off + 4].try_into().expect("4 bytes"))
}

fn u64_at(b: &[u8], off: usize) -> u64 {
    u64::from_le_bytes(b[off..off + 8].try_into().expect("8 bytes"))
}

/// FNV-1a, 64 bits: bbolt's meta checksum.
pub fn fnv1a64(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// A validated meta page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Meta {
    /// Page size, bytes.
    pub page_size_bytes: usize,
    /// Root bucket's root page.
    pub root: u64,
    /// Freelist page, or `u64::MAX` when not stored.
    pub freelist: u64,
    /// High-water mark: pages in use, including the metas.
    pub pages: u64,
    /// Transaction id of the last commit.
    pub txid: u64,
}

impl Meta {
    /// Parses and validates the meta in page `page` starting at `bytes`.
    fn parse(page: u64, bytes: &[u8]) -> Result<Meta, BboltError> {
        if bytes.len() < PAGE_HEADER + META_CHECKSUMMED + 8 {
            return Err(BboltError::NotBbolt);
        }
        let m = &bytes[PAGE_HEADER..];
        if u32_at(m, 0) != MAGIC {
            return Err(BboltError::NotBbolt);
        }
        let version = u32_at(m, 4);
        if version != VERSION {
            return Err(BboltError::Version { page, version });
        }
        let stored = u64_at(m, META_CHECKSUMMED);
        let computed = fnv1a64(&m[..META_CHECKSUMMED]);
        if stored != computed {
            return Err(BboltError::Checksum {
                page,
                stored,
                computed,
            });
        }
        Ok(Meta {
            page_size_bytes: u32_at(m, 8) as usize,
            root: u64_at(m, 16),
            freelist: u64_at(m, 32),
            pages: u64_at(m, 40),
            txid: u64_at(m, 48),
        })
    }
}

/// Where a bucket's tree lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BucketRef<'a> {
    /// Rooted at a page of the file.
    Page(u64),
    /// An inline page stored in the parent's leaf value.
    Inline(&'a [u8]),
}

/// A leaf value: plain bytes or a nested bucket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Value<'a> {
    /// A key's value.
    Plain(&'a [u8]),
    /// A nested bucket.
    Bucket(BucketRef<'a>),
}

/// One step of a walk through a bucket's tree, in key order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Item<'a> {
    /// A page of the file was entered (`pgid`, spanning `1 + overflow` pages).
    Page {
        /// Page id.
        pgid: u64,
        /// Extra pages the node spans.
        overflow: u64,
    },
    /// A leaf entry.
    Entry {
        /// Key.
        key: &'a [u8],
        /// Value.
        value: Value<'a>,
    },
}

/// A node (page) of the tree, by its bytes.
struct Node<'a> {
    pgid: u64,
    flags: u16,
    count: usize,
    bytes: &'a [u8],
}

impl<'a> Node<'a> {
    /// The element's key and the bytes after it (`vsize` of them for leaves).
    fn slice(&self, elem: usize, pos: u32, len: usize) -> Result<&'a [u8], BboltError> {
        let start = elem + pos as usize;
        self.bytes
            .get(start..start + len)
            .ok_or_else(|| page_error(self.pgid, "element points past the end of the page"))
    }

    fn element(&self, i: usize) -> Result<usize, BboltError> {
        let off = PAGE_HEADER + i * ELEMENT;
        if off + ELEMENT > self.bytes.len() {
            return Err(page_error(
                self.pgid,
                format!("{} elements do not fit the page", self.count),
            ));
        }
        Ok(off)
    }
}

/// A bbolt database laid over the bytes of a file (or a snapshot without its trailer).
#[derive(Debug)]
pub struct Db<'a> {
    data: &'a [u8],
    meta: Meta,
}

impl<'a> Db<'a> {
    /// Reads the meta pages of `data` and picks the valid one with the higher
    /// txid, as bbolt does. `data` must hold every page up to the high-water mark.
    pub fn open(data: &'a [u8]) -> Result<Db<'a>, BboltError> {
        let meta0 = Meta::parse(0, data);
        let page_size = match &meta0 {
            Ok(m) => Some(m.page_size_bytes),
            Err(_) => guess_page_size(data),
        };
        let meta1 = match page_size {
            Some(ps) if data.len() > ps => Meta::parse(1, &data[ps..]),
            _ => Err(BboltError::NotBbolt),
        };
        let meta = match (meta0, meta1) {
            (Ok(a), Ok(b)) => {
                if b.txid > a.txid {
                    b
                } else {
                    a
                }
            }
            (Ok(m), Err(_)) | (Err(_), Ok(m)) => m,
            (Err(BboltError::NotBbolt), Err(e)) | (Err(e), _) => return Err(e),
        };
        if meta.page_size_bytes < 512 || !meta.page_size_bytes.is_power_of_two() {
            return Err(page_error(
                0,
                format!("invalid page size {}", meta.page_size_bytes),
            ));
        }
        let need = meta.pages.saturating_mul(meta.page_size_bytes as u64);
        if need > data.len() as u64 {
            return Err(BboltError::Truncated {
                need_bytes: need,
                pages: meta.pages,
                page_size_bytes: meta.page_size_bytes,
                have_bytes: data.len() as u64,
            });
        }
        Ok(Db { data, meta })
    }

    /// The chosen meta page.
    pub fn meta(&self) -> &Meta {
        &self.meta
    }

    /// Database size as bbolt's `Tx.Size`: high-water mark times page size, bytes.
    pub fn size_bytes(&self) -> u64 {
        self.meta.pages * self.meta.page_size_bytes as u64
    }

    /// The root bucket (whose keys are the top-level bucket names).
    pub fn root(&self) -> BucketRef<'a> {
        BucketRef::Page(self.meta.root)
    }

    /// Reads page `pgid`, with its overflow pages, checked against the high-water mark.
    fn node(&self, pgid: u64) -> Result<Node<'a>, BboltError> {
        if pgid < 2 || pgid >= self.meta.pages {
            return Err(page_error(
                pgid,
                format!("out of bounds (high-water mark {})", self.meta.pages),
            ));
        }
        let ps = self.meta.page_size_bytes;
        let start = pgid as usize * ps;
        let head = &self.data[start..start + PAGE_HEADER];
        if u64_at(head, 0) != pgid {
            return Err(page_error(
                pgid,
                format!("header says page {}", u64_at(head, 0)),
            ));
        }
        let overflow = u32_at(head, 12) as u64;
        if pgid + overflow >= self.meta.pages {
            return Err(page_error(
                pgid,
                format!("overflow {overflow} runs past the high-water mark"),
            ));
        }
        Ok(Node {
            pgid,
            flags: u16_at(head, 8),
            count: usize::from(u16_at(head, 10)),
            bytes: &self.data[start..start + ps * (overflow as usize + 1)],
        })
    }

    /// Walks `bucket` in key order, calling `f` for every page entered and
    /// every leaf entry (nested buckets are reported, not entered).
    pub fn walk(
        &self,
        bucket: BucketRef<'a>,
        f: &mut dyn FnMut(Item<'a>) -> Result<(), BboltError>,
    ) -> Result<(), BboltError> {
        match bucket {
            BucketRef::Page(pgid) => self.walk_page(pgid, 0, f),
            BucketRef::Inline(bytes) => self.walk_leaf(&inline_node(bytes)?, f),
        }
    }

    /// Walks the subtree of `pgid`, `depth` levels below the bucket's root.
    fn walk_page(
        &self,
        pgid: u64,
        depth: usize,
        f: &mut dyn FnMut(Item<'a>) -> Result<(), BboltError>,
    ) -> Result<(), BboltError> {
        // A deeper tree is a chain of branch pages in a damaged file, deep
        // enough to overflow the stack.
        if depth >= MAX_DEPTH {
            return Err(page_error(
                pgid,
                format!("tree deeper than {MAX_DEPTH} levels"),
            ));
        }
        let node = self.node(pgid)?;
        f(Item::Page {
            pgid,
            overflow: (node.bytes.len() / self.meta.page_size_bytes - 1) as u64,
        })?;
        match node.flags {
            LEAF_PAGE => self.walk_leaf(&node, f),
            // bbolt never writes a branch without children (it rebalances
            // a branch that loses its last one away), and its cursor
            // cannot step through one: etcdutl rejects such a copy.
            BRANCH_PAGE if node.count == 0 => Err(page_error(pgid, "empty branch page")),
            BRANCH_PAGE => {
                let mut previous: Option<&[u8]> = None;
                for i in 0..node.count {
                    let elem = node.element(i)?;
                    let pos = u32_at(node.bytes, elem);
                    let key = node.slice(elem, pos, u32_at(node.bytes, elem + 4) as usize)?;
                    check_order(pgid, previous, key)?;
                    previous = Some(key);
                    self.walk_page(u64_at(node.bytes, elem + 8), depth + 1, f)?;
                }
                Ok(())
            }
            other => Err(page_error(
                pgid,
                format!("invalid type {other:#x} in a bucket tree"),
            )),
        }
    }

    fn walk_leaf(
        &self,
        node: &Node<'a>,
        f: &mut dyn FnMut(Item<'a>) -> Result<(), BboltError>,
    ) -> Result<(), BboltError> {
        let mut previous: Option<&[u8]> = None;
        for i in 0..node.count {
            let elem = node.element(i)?;
            let flags = u32_at(node.bytes, elem);
            let pos = u32_at(node.bytes, elem + 4);
            let ksize = u32_at(node.bytes, elem + 8) as usize;
            let vsize = u32_at(node.bytes, elem + 12) as usize;
            let both = node.slice(elem, pos, ksize + vsize)?;
            let (key, value) = both.split_at(ksize);
            check_order(node.pgid, previous, key)?;
            previous = Some(key);
            let value = if flags & BUCKET_LEAF != 0 {
                Value::Bucket(bucket_ref(node.pgid, value)?)
            } else {
                Value::Plain(value)
            };
            f(Item::Entry { key, value })?;
        }
        Ok(())
    }

    /// The page ids the freelist marks free, or `None` when no freelist is stored.
    pub fn free_pages(&self) -> Result<Option<(u64, Vec<u64>)>, BboltError> {
        let pgid = self.meta.freelist;
        if pgid == NO_FREELIST {
            return Ok(None);
        }
        let node = self.node(pgid)?;
        if node.flags != FREELIST_PAGE {
            return Err(page_error(pgid, "freelist page has the wrong type"));
        }
        // A count of 0xFFFF means the real count is the first u64.
        let (count, first) = if node.count == 0xFFFF {
            (u64_at(node.bytes, PAGE_HEADER) as usize, PAGE_HEADER + 8)
        } else {
            (node.count, PAGE_HEADER)
        };
        let ids = node
            .bytes
            .get(first..first + count * 8)
            .ok_or_else(|| page_error(pgid, format!("{count} free ids do not fit the freelist")))?;
        let overflow = (node.bytes.len() / self.meta.page_size_bytes - 1) as u64;
        Ok(Some((
            overflow,
            ids.chunks_exact(8).map(|c| u64_at(c, 0)).collect(),
        )))
    }
}

/// Deepest tree a walk or a point lookup descends: bbolt trees are a few
/// levels deep, so a deeper path is a reference cycle or a chain of branch
/// pages in a damaged file.
const MAX_DEPTH: usize = 64;

/// Point lookups that read one root-to-leaf path instead of the whole tree:
/// what `snapshot inspect-db` needs from a member's (possibly large) db file.
impl<'a> Db<'a> {
    /// The leaf node of `bucket` that `pick` leads to, descending from the
    /// root; `pick` gets each branch node's keys and returns the element to
    /// follow (`None`: nothing to find).
    fn descend(
        &self,
        bucket: BucketRef<'a>,
        pick: &dyn Fn(&[&'a [u8]]) -> Option<usize>,
    ) -> Result<Option<Node<'a>>, BboltError> {
        let mut pgid = match bucket {
            BucketRef::Inline(bytes) => return inline_node(bytes).map(Some),
            BucketRef::Page(pgid) => pgid,
        };
        for _ in 0..MAX_DEPTH {
            let node = self.node(pgid)?;
            match node.flags {
                LEAF_PAGE => return Ok(Some(node)),
                BRANCH_PAGE => {
                    let keys = (0..node.count)
                        .map(|i| {
                            let elem = node.element(i)?;
                            let pos = u32_at(node.bytes, elem);
                            node.slice(elem, pos, u32_at(node.bytes, elem + 4) as usize)
                        })
                        .collect::<Result<Vec<_>, _>>()?;
                    let Some(i) = pick(&keys) else {
                        return Ok(None);
                    };
                    pgid = u64_at(node.bytes, node.element(i)? + 8);
                }
                other => {
                    return Err(page_error(
                        pgid,
                        format!("invalid type {other:#x} in a bucket tree"),
                    ))
                }
            }
        }
        Err(page_error(
            pgid,
            format!("tree deeper than {MAX_DEPTH} levels"),
        ))
    }

    /// The `i`th entry of leaf `node`.
    fn leaf_entry(&self, node: &Node<'a>, i: usize) -> Result<(&'a [u8], Value<'a>), BboltError> {
        let elem = node.element(i)?;
        let flags = u32_at(node.bytes, elem);
        let pos = u32_at(node.bytes, elem + 4);
        let ksize = u32_at(node.bytes, elem + 8) as usize;
        let vsize = u32_at(node.bytes, elem + 12) as usize;
        let (key, value) = node.slice(elem, pos, ksize + vsize)?.split_at(ksize);
        let value = if flags & BUCKET_LEAF != 0 {
            Value::Bucket(bucket_ref(node.pgid, value)?)
        } else {
            Value::Plain(value)
        };
        Ok((key, value))
    }

    /// The value of `key` in `bucket`, read along one path of the tree.
    pub fn get(&self, bucket: BucketRef<'a>, key: &[u8]) -> Result<Option<Value<'a>>, BboltError> {
        // bbolt's branch search: the last element whose key is <= `key`.
        let pick = |keys: &[&[u8]]| Some(keys.partition_point(|k| *k <= key).saturating_sub(1));
        let Some(leaf) = self.descend(bucket, &pick)? else {
            return Ok(None);
        };
        for i in 0..leaf.count {
            let (k, v) = self.leaf_entry(&leaf, i)?;
            if k == key {
                return Ok(Some(v));
            }
        }
        Ok(None)
    }

    /// The entry with the highest key in `bucket` (its rightmost leaf's last).
    pub fn last_entry(
        &self,
        bucket: BucketRef<'a>,
    ) -> Result<Option<(&'a [u8], Value<'a>)>, BboltError> {
        let pick = |keys: &[&[u8]]| keys.len().checked_sub(1);
        match self.descend(bucket, &pick)? {
            Some(leaf) if leaf.count > 0 => self.leaf_entry(&leaf, leaf.count - 1).map(Some),
            _ => Ok(None),
        }
    }
}

/// The leaf node of an inline bucket.
fn inline_node(bytes: &[u8]) -> Result<Node<'_>, BboltError> {
    if bytes.len() < PAGE_HEADER {
        return Err(page_error(0, "inline bucket shorter than a page header"));
    }
    let node = Node {
        pgid: 0,
        flags: u16_at(bytes, 8),
        count: usize::from(u16_at(bytes, 10)),
        bytes,
    };
    if node.flags != LEAF_PAGE {
        return Err(page_error(0, "inline bucket page is not a leaf"));
    }
    Ok(node)
}

/// Looks for meta page 1 at the usual page sizes when meta 0 is unreadable.
fn guess_page_size(data: &[u8]) -> Option<usize> {
    (10..=16)
        .map(|shift| 1usize << shift)
        .find(|&ps| matches!(data.get(ps..).map(|rest| Meta::parse(1, rest)), Some(Ok(m)) if m.page_size_bytes == ps))
}

/// Parses a bucket header value.
fn bucket_ref(pgid: u64, value: &[u8]) -> Result<BucketRef<'_>, BboltError> {
    if value.len() < BUCKET_HEADER {
        return Err(page_error(
            pgid,
            "bucket value shorter than a bucket header",
        ));
    }
    match u64_at(value, 0) {
        0 => Ok(BucketRef::Inline(&value[BUCKET_HEADER..])),
        root => Ok(BucketRef::Page(root)),
    }
}

fn check_order(pgid: u64, previous: Option<&[u8]>, key: &[u8]) -> Result<(), BboltError> {
    match previous {
        Some(p) if p >= key => Err(page_error(pgid, "keys out of order")),
        _ => Ok(()),
    }
}

impl Tree {
    /// The tree of the bucket in entry `index` of this one.
    fn child(self, index: usize) -> Tree {
        match self {
            Tree::Root => Tree::Top(index),
            Tree::Top(i) | Tree::Nested(i) => Tree::Nested(i),
        }
    }
}

/// Checks the whole file like bbolt's `Tx.Check`: every page reachable from
/// the root (through nested buckets) is in bounds, of a tree type, referenced
/// once and not free, and every other page below the high-water mark is free.
pub fn check(db: &Db<'_>) -> Result<(), BboltError> {
    check_with(db, &mut |_, _| {})
}

/// Which tree an item of [`check_with`]'s walk comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tree {
    /// The root bucket, whose entries are the top-level buckets.
    Root,
    /// Top-level bucket `i`: the `i`th entry of the root, in key order.
    Top(usize),
    /// A bucket nested (at any depth) in top-level bucket `i`.
    Nested(usize),
}

/// [`check`], showing `visit` every item of every tree as it is checked, so
/// a reader needs no walk of its own. The root comes first, in key order;
/// then the other trees, each in key order, but the top-level buckets not
/// in the order of their names. On an error the visit stops there: the
/// caller drops what it saw.
pub fn check_with<'a>(
    db: &Db<'a>,
    visit: &mut dyn FnMut(Tree, Item<'a>),
) -> Result<(), BboltError> {
    let mut seen = vec![false; db.meta.pages as usize];
    seen[0] = true;
    seen[1] = true;
    let mut mark = |pgid: u64, overflow: u64| -> Result<(), BboltError> {
        for id in pgid..=pgid + overflow {
            let slot = seen
                .get_mut(id as usize)
                .ok_or_else(|| page_error(id, "out of bounds"))?;
            if *slot {
                return Err(page_error(id, "referenced twice"));
            }
            *slot = true;
        }
        Ok(())
    };
    let free = db.free_pages()?;
    if let Some((overflow, _)) = &free {
        mark(db.meta.freelist, *overflow)?;
    }
    let mut buckets = vec![(db.root(), Tree::Root)];
    while let Some((bucket, tree)) = buckets.pop() {
        let mut index = 0;
        db.walk(bucket, &mut |item| {
            match item {
                Item::Page { pgid, overflow } => mark(pgid, overflow)?,
                Item::Entry { value, .. } => {
                    if let Value::Bucket(b) = value {
                        buckets.push((b, tree.child(index)));
                    }
                    index += 1;
                }
            }
            visit(tree, item);
            Ok(())
        })?;
    }
    let Some((_, free_ids)) = free else {
        return Ok(());
    };
    for id in free_ids {
        match seen.get_mut(id as usize) {
            None => return Err(page_error(id, "freed page out of bounds")),
            Some(true) => return Err(page_error(id, "reachable but freed")),
            Some(slot) => *slot = true,
        }
    }
    match seen.iter().position(|s| !s) {
        Some(id) => Err(page_error(id as u64, "unreachable and not freed")),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a64_matches_reference_vectors() {
        assert_eq!(fnv1a64(b""), 0xcbf29ce484222325);
        assert_eq!(fnv1a64(b"a"), 0xaf63dc4c8601ec8c);
        assert_eq!(fnv1a64(b"foobar"), 0x85944171f73967e8);
    }

    #[test]
    fn random_bytes_are_not_bbolt() {
        let data: Vec<u8> = (0..16384u32)
            .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
            .collect();
        assert_eq!(Db::open(&data).unwrap_err(), BboltError::NotBbolt);
        assert_eq!(Db::open(&[]).unwrap_err(), BboltError::NotBbolt);
    }
}
