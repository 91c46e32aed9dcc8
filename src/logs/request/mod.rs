//! What a slow request asked for. etcd writes the request into two of its
//! slow-request lines, as the protobuf's compact text (gogoproto's
//! `String()`):
//!
//! - `apply request took too long` (server/etcdserver/util.go in 3.5,
//!   server/etcdserver/txn/util.go in 3.6 and 3.7): `request` is
//!   `key:"/registry/pods/" range_end:"/registry/pods0" limit:500 ` for a
//!   read-only range, `compare:<…> success:<request_range:<key:"…" > >`
//!   for a read-only txn (`prefix` `read-only range ` / `read-only txn `),
//!   `header:<ID:… > put:<key:"…" value_size:1024 >` for an apply of a
//!   write; `response` is `range_response_count:N size:M`, `responses:<…>
//!   size:M` or `size:M`.
//! - `request stats` (server/etcdserver/api/v3rpc/interceptor.go, 3.5 to
//!   3.7): `response type` `/etcdserverpb.KV/Range`, `request content` as
//!   above, `response count` (a count-only range's count) and `response
//!   size` as numbers.
//!
//! From them a request gets a [`RequestShape`] (an unpaginated LIST, a
//! count-only range, …) and the key prefix it read, grouped as
//! `cluster keyspace` groups keys (`/registry/<resource>/<namespace>/`).
//! A request is logged by both lines when over both thresholds (100 ms
//! and 300 ms by default); [`RequestTally`] keeps the two apart and
//! reports, per group, the line that saw more.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::LazyLock;

use memchr::memmem::Finder;
use serde::{Deserialize, Serialize};

use crate::keyspace::Grouping;

/// Longest key prefix kept, in characters.
const MAX_PREFIX_CHARS: usize = 120;

/// Most bytes of a request's text read (etcd's are short; a txn's text
/// can be long, and only its first key is needed).
const MAX_REQUEST_TEXT: usize = 4096;

/// Most (shape, prefix) groups kept (the least keys); lines of others are
/// counted in [`RequestsReport::other_lines`].
pub const MAX_REQUEST_GROUPS: usize = 256;

/// What a request did, as an operator names it.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum RequestShape {
    /// A range over a prefix without a limit: an unpaginated LIST.
    UnpaginatedRange,
    /// A range with `count_only`: it walks every key to count them.
    CountOnly,
    /// A range with `keys_only` and no limit: it still reads every key.
    KeysOnly,
    /// A range with a limit: one page of a paginated LIST.
    PaginatedRange,
    /// A read of one key.
    Get,
    /// A read-only transaction.
    ReadTxn,
    /// A write (put, delete, a transaction with writes, a compaction),
    /// slow in its apply or end to end.
    Write,
}

impl RequestShape {
    /// True for shapes whose own work grows with the keys under the prefix.
    pub fn is_wide_read(self) -> bool {
        matches!(
            self,
            RequestShape::UnpaginatedRange | RequestShape::CountOnly | RequestShape::KeysOnly
        )
    }

    /// True for reads.
    pub fn is_read(self) -> bool {
        self != RequestShape::Write
    }

    /// The shape in words.
    pub fn describe(self) -> &'static str {
        match self {
            RequestShape::UnpaginatedRange => "unpaginated range (LIST without limit)",
            RequestShape::CountOnly => "count-only range",
            RequestShape::KeysOnly => "keys-only range without limit",
            RequestShape::PaginatedRange => "paginated range",
            RequestShape::Get => "single-key get",
            RequestShape::ReadTxn => "read-only txn",
            RequestShape::Write => "write",
        }
    }
}

/// One slow request, as its line described it.
#[derive(Debug, Clone, PartialEq)]
pub struct Request {
    /// What it did.
    pub shape: RequestShape,
    /// The key prefix it read or wrote (grouped, printable).
    pub prefix: String,
    /// The response's size in bytes, when the line says.
    pub response_bytes: Option<u64>,
    /// Which line described it.
    pub line: RequestLine,
}

/// The slow-request line a request came from.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum RequestLine {
    /// `apply request took too long` (over --warning-apply-duration, 100 ms).
    Apply,
    /// `request stats` (over --warning-unary-request-duration, 300 ms).
    RequestStats,
}

/// The request of an `apply request took too long` line: its `request`
/// and `response` fields.
pub fn from_apply(request: &str, response: Option<&str>) -> Option<Request> {
    let text = head(request);
    let key = first_key(text);
    let shape = if text.starts_with("header:") {
        RequestShape::Write
    } else if text.starts_with("compare:") || text.starts_with("success:") {
        txn_shape(text)
    } else {
        range_shape(key.as_ref())?
    };
    Some(Request {
        shape,
        prefix: prefix_of(key.as_ref()),
        response_bytes: response.and_then(|r| number_after(r, "size:")),
        line: RequestLine::Apply,
    })
}

/// The request of a `request stats` line: `response type`, `request
/// content` and `response size`.
pub fn from_stats(method: &str, content: &str, response_size: Option<&str>) -> Option<Request> {
    let text = head(content);
    let key = first_key(text);
    let shape = match method.rsplit('/').next()? {
        "Range" => range_shape(key.as_ref())?,
        "Txn" => txn_shape(text),
        "Put" | "DeleteRange" | "Compact" => RequestShape::Write,
        _ => return None,
    };
    Some(Request {
        shape,
        prefix: prefix_of(key.as_ref()),
        response_bytes: response_size.and_then(|s| s.trim().parse().ok()),
        line: RequestLine::RequestStats,
    })
}

/// The request of etcd 3.4's text line (capnslog, etcdserver/util.go):
/// `read-only range request "key:\"/registry/pods/\" count_only:true "
/// with result "range_response_count:0 size:8" took too long (1.2s) to
/// execute`, both strings as Go's `%q` quoted them (a write's line starts
/// at `request`; a failed one has `with result "error:…"`).
pub fn from_text(text: &str) -> Option<Request> {
    let after = field_start(text, "request ")?;
    let (request, used) = quoted(after)?;
    let result = after[used..]
        .strip_prefix(" with result ")
        .and_then(quoted)
        .map(|(b, _)| String::from_utf8_lossy(&b).into_owned());
    from_apply(&String::from_utf8_lossy(&request), result.as_deref())
}

/// The first [`MAX_REQUEST_TEXT`] bytes, cut at a character boundary.
fn head(text: &str) -> &str {
    let mut end = text.len().min(MAX_REQUEST_TEXT);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

fn txn_shape(text: &str) -> RequestShape {
    if ["request_put:", "request_delete_range:", "request_txn:"]
        .iter()
        .any(|w| text.contains(w))
    {
        RequestShape::Write
    } else {
        RequestShape::ReadTxn
    }
}

/// The first `key:` field of a request's text: its bytes, and the text
/// after its closing quote.
struct Key<'t> {
    bytes: Cow<'t, [u8]>,
    rest: &'t str,
}

fn first_key(text: &str) -> Option<Key<'_>> {
    let after = field_start(text, "key:")?;
    let (bytes, used) = quoted(after)?;
    Some(Key {
        bytes,
        rest: &after[used..],
    })
}

/// The shape of a RangeRequest from its `key`; `None` when it names no
/// key. The other fields follow the key (gogoproto writes fields in
/// number order, `key` first) and are looked for after it only: a key
/// holding ` limit:5` or ` count_only:true` does not make them, and the
/// key (up to 1.5 KiB) is not searched four more times.
fn range_shape(key: Option<&Key>) -> Option<RequestShape> {
    let text = key?.rest;
    let range_end = field_start(text, "range_end:")
        .and_then(quoted)
        .map(|(end, _)| end)
        .unwrap_or_default();
    let flag = |name: &str| field_start(text, name).is_some_and(|v| v.starts_with("true"));
    let limit = field_start(text, "limit:")
        .and_then(|v| number_after(v, ""))
        .unwrap_or(0);
    Some(if range_end.is_empty() {
        RequestShape::Get
    } else if flag("count_only:") {
        RequestShape::CountOnly
    } else if limit > 0 {
        RequestShape::PaginatedRange
    } else if flag("keys_only:") {
        RequestShape::KeysOnly
    } else {
        RequestShape::UnpaginatedRange
    })
}

/// The grouped prefix of a request's first key, printable.
fn prefix_of(key: Option<&Key>) -> String {
    static DEFAULT: LazyLock<Grouping> = LazyLock::new(Grouping::default);
    static ROOT: LazyLock<Grouping> = LazyLock::new(|| Grouping {
        prefix: "/".to_string(),
        depth: 1,
    });
    let Some(key) = key else {
        return "(no key)".to_string();
    };
    let key = &key.bytes[..];
    let grouped = DEFAULT
        .group(key)
        .unwrap_or_else(|| ROOT.group(key).unwrap_or(key));
    printable(grouped)
}

/// `bytes` as text, control and non-UTF-8 bytes escaped, cut to
/// [`MAX_PREFIX_CHARS`].
fn printable(bytes: &[u8]) -> String {
    // Keys are mostly printable ASCII, which escapes to itself, one char a
    // byte: a char-by-char escape of every slow apply's key was a fifth
    // of `logs`' instructions on a busy member's log (callgrind). The
    // check has no early exit so that it is vectorised (sixteen bytes a
    // step with the baseline's SSE2): a byte at a time with a branch
    // each, it was 4-7 % of `logs`' time (perf) on a log of slow applies
    // with 100-byte prefixes.
    let head = &bytes[..bytes.len().min(MAX_PREFIX_CHARS)];
    let escapes = head.iter().fold(0u8, |acc, &b| {
        acc | u8::from(!(b' '..=b'~').contains(&b) | (b == b'\\') | (b == b'\'') | (b == b'"'))
    });
    if escapes == 0 {
        if let Ok(text) = std::str::from_utf8(head) {
            return text.to_owned();
        }
    }
    escaped(bytes)
}

/// [`printable`] char by char.
fn escaped(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .chars()
        .flat_map(char::escape_debug)
        .take(MAX_PREFIX_CHARS)
        .collect()
}

/// The names [`field_start`] is asked for.
const FIELD_NAMES: &[&str] = &[
    "key:",
    "size:",
    "request ",
    "range_end:",
    "limit:",
    "count_only:",
    "keys_only:",
];

/// Where the value of top-level-looking field `name` (e.g. `limit:`)
/// starts: after `name` at the start or after a space or `<`.
fn field_start<'t>(text: &'t str, name: &str) -> Option<&'t str> {
    // memmem's SIMD search: a request text runs to 4 KiB, and most names
    // asked for are not in it (a whole scan each). Its searcher is built
    // once per name: building one per call was 6 % of `logs`'
    // instructions on a busy member's log (callgrind).
    static NAMES: LazyLock<Vec<(&str, Finder<'static>)>> = LazyLock::new(|| {
        FIELD_NAMES
            .iter()
            .map(|&n| (n, Finder::new(n.as_bytes())))
            .collect()
    });
    debug_assert!(
        FIELD_NAMES.contains(&name),
        "{name} is asked for but not listed in FIELD_NAMES"
    );
    let built;
    let finder = match NAMES.iter().find(|(n, _)| *n == name) {
        Some((_, f)) => f,
        None => {
            built = Finder::new(name.as_bytes());
            &built
        }
    };
    let mut from = 0;
    while let Some(i) = finder.find(&text.as_bytes()[from..]) {
        let at = from + i;
        let before = text[..at].chars().next_back();
        if matches!(before, None | Some(' ' | '<')) {
            return Some(&text[at + name.len()..]);
        }
        from = at + name.len();
    }
    None
}

/// The unsigned number after `word` (digits only), when there is one.
fn number_after(text: &str, word: &str) -> Option<u64> {
    let at = if word.is_empty() {
        text
    } else {
        field_start(text, word)?
    };
    let digits: &str = &at[..at.find(|c: char| !c.is_ascii_digit()).unwrap_or(at.len())];
    digits.parse().ok()
}

/// The bytes of the quoted string `text` starts with, unescaped as Go's
/// text format and `%q` escape them (`\"`, `\\`, `\n`, `\t`, `\r`, `\'`,
/// three octal digits, `\xHH`), and the bytes of `text` it used, quotes
/// included. A string without escapes (almost every key) is borrowed.
fn quoted(text: &str) -> Option<(Cow<'_, [u8]>, usize)> {
    let bytes = text.strip_prefix('"')?.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    loop {
        // Keys run to 1.5 KiB: copy the runs between escapes whole.
        let rest = bytes.get(i..)?;
        let stop = memchr::memchr2(b'"', b'\\', rest)?;
        if rest[stop] == b'"' {
            if i == 0 {
                return Some((Cow::Borrowed(&rest[..stop]), stop + 2));
            }
            out.extend_from_slice(&rest[..stop]);
            return Some((Cow::Owned(out), i + stop + 2));
        }
        out.extend_from_slice(&rest[..stop]);
        let (byte, used) = unescape(&rest[stop + 1..])?;
        out.push(byte);
        i += stop + 1 + used;
    }
}

/// One escape after its backslash: the byte and the bytes it used.
fn unescape(rest: &[u8]) -> Option<(u8, usize)> {
    let digit = |b: u8, radix: u32| char::from(b).to_digit(radix);
    match *rest.first()? {
        b'n' => Some((b'\n', 1)),
        b't' => Some((b'\t', 1)),
        b'r' => Some((b'\r', 1)),
        b'x' => {
            let hi = digit(*rest.get(1)?, 16)?;
            let lo = digit(*rest.get(2)?, 16)?;
            Some(((hi * 16 + lo) as u8, 3))
        }
        b'0'..=b'3' => {
            let v = rest
                .get(..3)?
                .iter()
                .try_fold(0u32, |acc, &b| Some(acc * 8 + digit(b, 8)?))?;
            Some((v as u8, 3))
        }
        other => Some((other, 1)),
    }
}

/// Requests of one shape and prefix, as one line kind counted them.
///
/// Time is summed in whole nanoseconds: a float sum depends on the order
/// of its terms, and the parts of a log read on several threads are
/// summed in another order than one pass sums them.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Seen {
    lines: u64,
    total_ns: u64,
    worst_ms: f64,
    response_bytes: u64,
}

impl Seen {
    fn add(&mut self, ms: f64, bytes: Option<u64>) {
        self.lines += 1;
        // `as` saturates: a finite, non-negative ms of any size is safe.
        self.total_ns = self.total_ns.saturating_add((ms * 1e6).round() as u64);
        self.worst_ms = self.worst_ms.max(ms);
        self.response_bytes = self.response_bytes.saturating_add(bytes.unwrap_or(0));
    }

    fn merge(&mut self, o: Seen) {
        self.lines += o.lines;
        self.total_ns = self.total_ns.saturating_add(o.total_ns);
        self.worst_ms = self.worst_ms.max(o.worst_ms);
        self.response_bytes = self.response_bytes.saturating_add(o.response_bytes);
    }

    fn total_ms(&self) -> f64 {
        self.total_ns as f64 / 1e6
    }
}

/// Slow requests summed by (shape, prefix) and line; bounded by
/// [`MAX_REQUEST_GROUPS`]: the least (shape, prefix) keys are kept, as
/// [`super::timeline::Timeline`] keeps the lowest peer ids, so that parts
/// of a log tallied apart and merged keep what one pass keeps, with the
/// same counts. (It kept the first groups seen, and a merge the later
/// part's least keys: which groups a log past the bound showed depended
/// on where the chunks were cut.) A kept group's counts are exact: it
/// was never evicted, since the lesser keys that would have pushed it
/// out are still there at the end.
///
/// A hash map: every slow request line is looked up, and a log of many
/// distinct prefixes made the B-tree's key compares 3.5 % of `logs`'
/// time (perf, a busy member's log). Its order never shows:
/// [`RequestTally::finish`] breaks ties in time by key.
#[derive(Debug, Default)]
pub struct RequestTally {
    groups: HashMap<GroupKey, [Seen; 2], foldhash::fast::RandomState>,
    /// Set by [`RequestTally::prune`]: the greatest key kept then. A
    /// greater one is not among the least and is counted as other lines
    /// at once.
    bound: Option<GroupKey>,
    other_lines: u64,
}

/// Groups a tally holds before it prunes to the [`MAX_REQUEST_GROUPS`]
/// least: pruning in batches costs a few compares per new group, where
/// keeping exactly the least at every line (a heap) cost 10 % more time
/// on a log of many prefixes, whose chunks evict hundreds of times each.
const ROOM: usize = 2 * MAX_REQUEST_GROUPS;

/// What requests are grouped by.
type GroupKey = (RequestShape, String);

impl RequestTally {
    /// Adds one slow request that took `ms`.
    pub fn add(&mut self, r: Request, ms: f64) {
        let ms = if ms.is_finite() { ms.max(0.0) } else { 0.0 };
        let slot = r.line as usize;
        let key = (r.shape, r.prefix);
        if let Some(g) = self.groups.get_mut(&key) {
            g[slot].add(ms, r.response_bytes);
            return;
        }
        let mut g = [Seen::default(); 2];
        g[slot].add(ms, r.response_bytes);
        self.insert(key, g);
    }

    /// Adds `later`'s counts (the same as adding its lines one by one).
    pub fn merge(&mut self, later: RequestTally) {
        self.other_lines += later.other_lines;
        for (key, l) in later.groups {
            if let Some(g) = self.groups.get_mut(&key) {
                g[0].merge(l[0]);
                g[1].merge(l[1]);
            } else {
                self.insert(key, l);
            }
        }
    }

    /// Inserts a group not in the table, unless a prune found
    /// [`MAX_REQUEST_GROUPS`] lesser keys (then its lines are other lines).
    fn insert(&mut self, key: GroupKey, seen: [Seen; 2]) {
        if self.bound.as_ref().is_some_and(|bound| key > *bound) {
            self.other_lines += seen[0].lines + seen[1].lines;
            return;
        }
        self.groups.insert(key, seen);
        if self.groups.len() >= ROOM {
            self.prune();
        }
    }

    /// Keeps the [`MAX_REQUEST_GROUPS`] least keys; the others' lines
    /// become other lines.
    fn prune(&mut self) {
        if self.groups.len() <= MAX_REQUEST_GROUPS {
            return;
        }
        let mut keys: Vec<&GroupKey> = self.groups.keys().collect();
        let (_, bound, _) = keys.select_nth_unstable(MAX_REQUEST_GROUPS - 1);
        let bound = (*bound).clone();
        let mut out = 0;
        self.groups.retain(|key, seen| {
            let keep = *key <= bound;
            if !keep {
                out += seen[0].lines + seen[1].lines;
            }
            keep
        });
        self.other_lines += out;
        self.bound = Some(bound);
    }

    /// The groups, most time first (ties in shape and prefix order);
    /// `None` when no line named a request.
    pub fn finish(mut self) -> Option<RequestsReport> {
        self.prune();
        if self.groups.is_empty() && self.other_lines == 0 {
            return None;
        }
        let mut groups: Vec<RequestGroup> = self
            .groups
            .into_iter()
            .map(|((shape, prefix), seen)| {
                let (line, s) = if seen[1].lines > seen[0].lines {
                    (RequestLine::RequestStats, seen[1])
                } else {
                    (RequestLine::Apply, seen[0])
                };
                RequestGroup {
                    shape,
                    prefix,
                    requests: s.lines,
                    total_ms: s.total_ms(),
                    worst_ms: s.worst_ms,
                    response_bytes: s.response_bytes,
                    line,
                }
            })
            .collect();
        groups.sort_by(|a, b| {
            b.total_ms
                .total_cmp(&a.total_ms)
                .then_with(|| (a.shape, &a.prefix).cmp(&(b.shape, &b.prefix)))
        });
        Some(RequestsReport {
            groups,
            other_lines: self.other_lines,
        })
    }
}

/// Slow requests by what they asked for (the `requests` of a logs report).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RequestsReport {
    /// By shape and prefix, most time first.
    pub groups: Vec<RequestGroup>,
    /// Lines (of either kind) of the groups past the [`MAX_REQUEST_GROUPS`]
    /// least keys.
    #[serde(default)]
    pub other_lines: u64,
}

impl RequestsReport {
    /// Time of every group, ms.
    pub fn total_ms(&self) -> f64 {
        self.groups.iter().map(|g| g.total_ms).sum()
    }
}

/// Slow requests of one shape under one prefix.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct RequestGroup {
    /// What they did.
    pub shape: RequestShape,
    /// The key prefix, grouped as `cluster keyspace` groups keys.
    pub prefix: String,
    /// Slow requests (lines of the kind that saw more of them).
    pub requests: u64,
    /// Their time summed, ms.
    pub total_ms: f64,
    /// The slowest, ms.
    pub worst_ms: f64,
    /// Bytes of their responses, where the lines say.
    pub response_bytes: u64,
    /// The line they were counted from.
    pub line: RequestLine,
}

#[cfg(test)]
mod tests;
