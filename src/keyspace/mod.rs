//! What fills the etcd database, by key prefix: the facts `snapshot
//! analyze` reads offline from a bbolt file (live keys, uncompacted
//! history, leases, pages) and `cluster keyspace` counts gently on a live
//! cluster (live keys only: history is visible offline only). Both group
//! keys with the same [`Grouping`], so their counts compare one to one.

pub mod live;

use serde::{Deserialize, Serialize};

/// How keys are grouped: everything under `prefix`, cut after `depth` more
/// `/`-separated segments (Kubernetes: `/registry/` and depth 2 gives
/// `/registry/pods/default/`; a cluster-scoped `/registry/nodes/n1` falls
/// in `/registry/nodes/`). Keys outside `prefix` form one group,
/// [`OUTSIDE`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Grouping {
    /// Keys under this prefix are grouped; others count as [`OUTSIDE`].
    pub prefix: String,
    /// Path segments after the prefix that name a group.
    pub depth: usize,
}

/// Kubernetes' key root.
pub const DEFAULT_PREFIX: &str = "/registry/";
/// Resource and namespace: `/registry/<resource>/<namespace>/`.
pub const DEFAULT_DEPTH: usize = 2;
/// Largest `--depth`.
pub const MAX_DEPTH: usize = 16;
/// The group of the keys outside the prefix.
pub const OUTSIDE: &str = "(outside prefix)";
/// Most groups kept: keys with fewer segments than the depth are groups of
/// their own, so a flat keyspace would make one group per key. Keys of
/// groups past this many are counted together under [`OTHER_GROUPS`].
pub const MAX_GROUPS: usize = 10_000;
/// The group of the keys past [`MAX_GROUPS`] groups.
pub const OTHER_GROUPS: &str = "(other groups, past 10000)";

/// The name a key's group is counted under: its own while fewer than
/// [`MAX_GROUPS`] groups are kept or it is one of them, else
/// [`OTHER_GROUPS`]. `kept` says whether `group` is kept already.
pub fn bounded_group(group: &[u8], kept: bool, groups: usize) -> &[u8] {
    if kept || groups < MAX_GROUPS {
        group
    } else {
        OTHER_GROUPS.as_bytes()
    }
}

impl Default for Grouping {
    fn default() -> Self {
        Grouping {
            prefix: DEFAULT_PREFIX.to_string(),
            depth: DEFAULT_DEPTH,
        }
    }
}

impl Grouping {
    /// The group of `key`, a slice of it (no allocation): the prefix and up
    /// to `depth` segments, each ending in `/`; a key with no `/` after the
    /// prefix is a group of its own. `None`: outside the prefix.
    pub fn group<'k>(&self, key: &'k [u8]) -> Option<&'k [u8]> {
        let rest = key.strip_prefix(self.prefix.as_bytes())?;
        let mut end = None;
        for (seen, (i, _)) in rest
            .iter()
            .enumerate()
            .filter(|(_, &b)| b == b'/')
            .enumerate()
        {
            end = Some(i);
            if seen + 1 == self.depth {
                break;
            }
        }
        Some(match end {
            Some(i) => &key[..self.prefix.len() + i + 1],
            None => key,
        })
    }

    /// The resource-level group of a group (depth 1), for roll-ups.
    pub fn top<'k>(&self, group: &'k [u8]) -> &'k [u8] {
        Grouping {
            prefix: self.prefix.clone(),
            depth: 1,
        }
        .group(group)
        .unwrap_or(group)
    }
}

/// The first key after every key starting with `prefix` (etcd's range end
/// for a prefix); empty means "to the end of the keyspace".
pub fn prefix_end(prefix: &[u8]) -> Vec<u8> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return end;
        }
    }
    vec![0]
}

/// Space and key counts of one group.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PrefixStats {
    /// The group (see [`Grouping`]), lossy UTF-8.
    pub prefix: String,
    /// Keys whose latest revision is not a deletion.
    pub live_keys: u64,
    /// Bytes of the live keys' values.
    pub live_value_bytes: u64,
    /// Revisions kept besides the live ones (older versions and
    /// tombstones, not yet compacted); 0 in a live count.
    #[serde(default)]
    pub history_revisions: u64,
    /// Bytes of those revisions in the `key` bucket (revision key and value).
    #[serde(default)]
    pub history_bytes: u64,
    /// Bytes of every revision of the group in the `key` bucket.
    #[serde(default)]
    pub total_bytes: u64,
    /// Share of the `key` bucket's bytes (offline) or of the live keys
    /// (live), percent.
    pub share_pct: f64,
}

/// One key in a top list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct KeyStat {
    /// The key, lossy UTF-8.
    pub key: String,
    /// Revisions of it in the file.
    pub revisions: u64,
    /// Its latest value's size, bytes.
    pub value_bytes: u64,
    /// Latest `version` (changes since creation).
    pub version: i64,
    /// The latest revision deletes it.
    pub deleted: bool,
}

/// The `lease` bucket and the keys attached to leases.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LeaseStats {
    /// Leases in the `lease` bucket.
    pub leases: u64,
    /// Live keys attached to a lease.
    pub keys_attached: u64,
    /// Live keys attached to a lease the `lease` bucket does not hold (0,
    /// not checked, when `untracked_leases` is not).
    pub keys_on_missing_leases: u64,
    /// Leases past the key limit ([`KeyLimit`]): counted in `leases`, not
    /// in the TTLs, and the missing-lease check is skipped.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub untracked_leases: u64,
    /// Shortest granted TTL, seconds.
    pub ttl_min_s: i64,
    /// Median granted TTL, seconds.
    pub ttl_median_s: i64,
    /// Longest granted TTL, seconds.
    pub ttl_max_s: i64,
}

/// The `meta` bucket and the revisions of the `key` bucket.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct MetaStats {
    /// Raft index of the last applied entry (`consistent_index`).
    pub consistent_index: u64,
    /// Raft term (etcd 3.5 and later; 0 when absent).
    pub term: u64,
    /// Highest main revision in the `key` bucket.
    pub current_revision: i64,
    /// Revision of the last finished compaction (0: never compacted).
    pub compact_revision: i64,
    /// Revision of the last scheduled compaction (0: none).
    pub scheduled_compact_revision: i64,
    /// Revisions of history kept: current minus compacted.
    pub history_kept_revisions: i64,
}

/// Pages of the file, by use. `meta + buckets + freelist + free` equals the
/// high-water mark; with `unallocated_bytes` they add up to the file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PageStats {
    /// Page size, bytes.
    pub page_size_bytes: u64,
    /// The two meta pages.
    pub meta_pages: u64,
    /// Pages of the root bucket's own tree.
    pub root_pages: u64,
    /// Pages and entries of each top-level bucket (nested buckets included).
    pub buckets: Vec<BucketStats>,
    /// Pages holding the freelist.
    pub freelist_pages: u64,
    /// Pages the freelist marks free.
    pub free_pages: u64,
    /// High-water mark, pages.
    pub high_water_pages: u64,
    /// File bytes past the high-water mark (bbolt grows files ahead) and
    /// the snapshot's sha256 trailer.
    pub unallocated_bytes: u64,
    /// File size, bytes.
    pub file_bytes: u64,
    /// Free pages / high-water mark, percent.
    pub fragmentation_pct: f64,
}

/// One top-level bucket of the file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct BucketStats {
    /// Bucket name, lossy UTF-8.
    pub name: String,
    /// Pages of its tree (nested buckets included; 0 when stored inline).
    pub pages: u64,
    /// Entries (keys) in it, as `etcdutl snapshot status` counts them.
    pub entries: u64,
}

/// Where the facts came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    /// A snapshot or `member/snap/db` file.
    Snapshot,
    /// Range requests against a live cluster (live keys only).
    Live,
}

/// The keyspace facts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct KeyspaceReport {
    /// Snapshot or live.
    pub source: Source,
    /// The file or the endpoint read.
    pub origin: String,
    /// How keys were grouped.
    pub grouping: Grouping,
    /// Groups, most bytes (offline) or keys (live) first.
    pub prefixes: Vec<PrefixStats>,
    /// Live keys in all groups.
    pub live_keys: u64,
    /// Revisions in the `key` bucket (offline only).
    #[serde(default)]
    pub total_revisions: u64,
    /// Bytes of the `key` bucket's entries (offline only).
    #[serde(default)]
    pub key_bucket_bytes: u64,
    /// Keys with the most revisions (offline only).
    #[serde(default)]
    pub top_by_revisions: Vec<KeyStat>,
    /// Keys with the largest latest value (offline only).
    #[serde(default)]
    pub top_by_value_size: Vec<KeyStat>,
    /// Leases (offline only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leases: Option<LeaseStats>,
    /// The `meta` bucket (offline only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub meta: Option<MetaStats>,
    /// Page accounting (offline only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pages: Option<PageStats>,
    /// Range requests made (live only).
    #[serde(default)]
    pub requests: u64,
    /// Set when the file held more distinct keys than the analysis keeps
    /// (offline only; memory grows with each key kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_limit: Option<KeyLimit>,
}

/// What `snapshot analyze --max-keys` left out: the first `max_keys`
/// distinct keys met are kept; revisions of any other key count in the
/// totals and in their group's `total_bytes` and `share_pct`, but not in
/// live keys, history or the top lists.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct KeyLimit {
    /// Distinct keys kept.
    pub max_keys: u64,
    /// Revisions of keys not kept.
    pub untracked_revisions: u64,
    /// Their bytes in the `key` bucket.
    pub untracked_bytes: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// Sorts groups by `key` descending, then name, and fills in each share of `total`.
pub fn finish_prefixes(prefixes: &mut [PrefixStats], total: u64, key: fn(&PrefixStats) -> u64) {
    prefixes.sort_by(|a, b| key(b).cmp(&key(a)).then(a.prefix.cmp(&b.prefix)));
    for p in prefixes.iter_mut() {
        p.share_pct = if total == 0 {
            0.0
        } else {
            key(p) as f64 * 100.0 / total as f64
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn groups_past_the_bound_are_counted_together() {
        let mut groups: std::collections::BTreeMap<Vec<u8>, u64> = Default::default();
        // A flat keyspace: every key its own group.
        for i in 0..MAX_GROUPS + 500 {
            let key = format!("flat-{i}").into_bytes();
            let name = bounded_group(&key, groups.contains_key(&key), groups.len());
            *groups.entry(name.to_vec()).or_default() += 1;
        }
        assert_eq!(groups.len(), MAX_GROUPS + 1);
        assert_eq!(groups[OTHER_GROUPS.as_bytes()], 500);
        // A group already kept still counts under its own name.
        let kept = b"flat-0".to_vec();
        assert_eq!(bounded_group(&kept, true, groups.len()), &kept[..]);
    }

    fn group(g: &Grouping, key: &str) -> Option<String> {
        g.group(key.as_bytes())
            .map(|s| String::from_utf8_lossy(s).into_owned())
    }

    #[test]
    fn kubernetes_keys_group_by_resource_and_namespace() {
        let g = Grouping::default();
        assert_eq!(
            group(&g, "/registry/pods/default/web-1").as_deref(),
            Some("/registry/pods/default/")
        );
        assert_eq!(
            group(&g, "/registry/nodes/node-1").as_deref(),
            Some("/registry/nodes/")
        );
        assert_eq!(
            group(&g, "/registry/health").as_deref(),
            Some("/registry/health")
        );
        assert_eq!(group(&g, "/other/x"), None);
        let g1 = Grouping {
            depth: 1,
            ..Grouping::default()
        };
        assert_eq!(
            group(&g1, "/registry/pods/default/web-1").as_deref(),
            Some("/registry/pods/")
        );
        assert_eq!(g.top(b"/registry/pods/default/"), b"/registry/pods/");
    }

    #[test]
    fn prefix_end_is_etcds_range_end() {
        assert_eq!(prefix_end(b"/a/"), b"/a0");
        assert_eq!(prefix_end(b"a\xff"), b"b");
        assert_eq!(prefix_end(b"\xff"), vec![0]);
    }
}
