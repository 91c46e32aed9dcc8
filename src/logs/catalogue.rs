//! The catalogue: the etcd log messages operators grep for in an incident,
//! in one table, each with the wording of etcd 3.5 (zap JSON) and of
//! etcd 3.4 (capnslog text; the FAQ still quotes these), where its
//! duration sits, and the source file that writes it. Strings and
//! thresholds are copied from etcd v3.5.33 and v3.4.23, and checked
//! against v3.6.17 and v3.7.4: the messages keep their text there (raft's
//! now come from go.etcd.io/raft/v3, `caller` `v3@v3.6.0/node.go:370`,
//! which nothing here reads), except `saved snapshot to disk` and
//! `Detected compaction hash mismatch`, and 3.6 no longer logs `alarm
//! raised` (alarms are read from the API and etcd_debugging_server_alarms).

use std::cell::RefCell;
use std::hash::BuildHasher;
use std::sync::LazyLock;

use aho_corasick::{AhoCorasick, AhoCorasickKind};
use foldhash::fast::FixedState;
use serde::{Deserialize, Serialize};

/// A kind of event found in etcd's logs.
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
pub enum EventKind {
    /// A WAL fdatasync over 1 s.
    SlowFdatasync,
    /// Applying a request took over `--experimental-warning-apply-duration` (100 ms).
    ApplySlow,
    /// A read-only range or txn took over the same threshold: the read's
    /// own work, or its wait for the read index (`apply request took too
    /// long` with prefix `read-only range `; 3.4's `read-only range request`).
    ExpensiveRead,
    /// The leader sent a heartbeat later than twice the heartbeat interval.
    HeartbeatLate,
    /// A linearizable read waited over 500 ms for its ReadIndex.
    ReadIndexSlow,
    /// A linearizable read timed out waiting for its ReadIndex.
    ReadIndexTimeout,
    /// A request traced over 100 ms (`trace[...]`) or logged as expensive.
    SlowRequest,
    /// The peer prober could not reach a peer.
    PeerUnhealthy,
    /// A peer's clock differs from ours by over 1 s.
    ClockDrift,
    /// A raft message was dropped: the peer's sending buffer was full.
    RaftBufferFull,
    /// A peer's streaming connection broke.
    StreamLost,
    /// A leader was elected (raft.node: elected leader).
    LeaderElected,
    /// The leader changed (raft.node: changed leader).
    LeaderChanged,
    /// This member lost its leader.
    LeaderLost,
    /// This member started an election.
    ElectionStarted,
    /// The backend quota was exceeded: NOSPACE alarm.
    SpaceExceeded,
    /// Sending a snapshot to a peer takes too long.
    SnapshotSlow,
    /// A scheduled compaction finished (with its duration).
    Compaction,
    /// A defragmentation finished (with its duration in 3.5).
    Defrag,
    /// raft panicked: the leader's commit index is past the member's last
    /// log index (its data dir was wiped or replaced while it stayed listed).
    RaftLogLost,
    /// etcd refused to start an empty data dir with `--initial-cluster-state
    /// new`: the member is already in the cluster.
    AlreadyBootstrapped,
    /// A corruption check found members' hashes apart at one revision (a
    /// CORRUPT alarm follows where a quorum agrees).
    HashMismatch,
    /// The member wrote a raft snapshot (every `--snapshot-count` applies).
    SnapshotSaved,
}

impl EventKind {
    /// The kind as written in reports, e.g. `slow-fdatasync`.
    pub fn as_str(self) -> &'static str {
        self.entry().map_or("unknown", |e| e.name)
    }

    /// Its catalogue entry.
    pub fn entry(self) -> Option<&'static Entry> {
        CATALOGUE.iter().find(|e| e.kind == self)
    }

    /// Kinds whose events carry a term: elections, counted once per term
    /// however many members' logs report them.
    pub fn is_election(self) -> bool {
        matches!(self, EventKind::LeaderElected | EventKind::LeaderChanged)
    }
}

/// Where in a line the event's duration is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DurationAt {
    /// The zap JSON field holding it (a Go duration string).
    pub zap_field: &'static str,
    /// In capnslog text, the words right before it (empty: none).
    pub text_after: &'static str,
}

/// One catalogue entry.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Entry {
    /// The kind of event.
    pub kind: EventKind,
    /// Its name in reports.
    pub name: &'static str,
    /// Substrings of the message, any one identifies it (3.5 and 3.4 wording).
    pub needles: &'static [&'static str],
    /// A substring the line must also hold (e.g. `NOSPACE`), or empty.
    pub also: &'static str,
    /// Where the duration is, when the message has one.
    pub duration: Option<DurationAt>,
    /// zap fields naming the peer, when the message has one.
    pub peer_fields: &'static [&'static str],
    /// etcd's own threshold for logging it, in ms (0: none).
    pub etcd_threshold_ms: f64,
}

const fn took(zap_field: &'static str, text_after: &'static str) -> Option<DurationAt> {
    Some(DurationAt {
        zap_field,
        text_after,
    })
}

/// The messages, in report order.
pub const CATALOGUE: &[Entry] = &[
    // server/wal/wal.go (3.5): "slow fdatasync" took, warnSyncDuration = time.Second;
    // wal/wal.go (3.4): "sync duration of %v, expected less than %v".
    Entry {
        kind: EventKind::SlowFdatasync,
        name: "slow-fdatasync",
        needles: &["slow fdatasync", "sync duration of "],
        also: "",
        duration: took("took", "sync duration of "),
        peer_fields: &[],
        etcd_threshold_ms: 1000.0,
    },
    // The same line for a read (util.go warnOfExpensiveReadOnlyRangeRequest,
    // prefix "read-only range " / "read-only txn "; 3.6 and 3.7 in
    // server/etcdserver/txn/util.go): a read is no apply, and must not send
    // the operator to the disk. Before apply-slow, which matches the rest.
    Entry {
        kind: EventKind::ExpensiveRead,
        name: "expensive-read",
        needles: &["apply request took too long", ") to execute"],
        also: "read-only ",
        duration: took("took", "took too long ("),
        peer_fields: &[],
        etcd_threshold_ms: 100.0,
    },
    // server/etcdserver/util.go (3.5): "apply request took too long" took,
    // expected-duration; embed/config.go DefaultWarningApplyDuration = 100ms;
    // etcdserver/util.go (3.4): "%srequest %q with result %q took too long (%v) to execute".
    Entry {
        kind: EventKind::ApplySlow,
        name: "apply-slow",
        needles: &["apply request took too long", ") to execute"],
        also: "",
        duration: took("took", "took too long ("),
        peer_fields: &[],
        etcd_threshold_ms: 100.0,
    },
    // server/etcdserver/raft.go (3.5): "leader failed to send out heartbeat on
    // time; took too long, leader is overloaded likely from slow disk",
    // exceeded-duration, expected-duration = 2 x heartbeat;
    // etcdserver/raft.go (3.4): "failed to send out heartbeat on time
    // (exceeded the %v timeout for %v, to %x)".
    Entry {
        kind: EventKind::HeartbeatLate,
        name: "heartbeat-late",
        needles: &["failed to send out heartbeat on time"],
        also: "",
        duration: took("exceeded-duration", " timeout for "),
        peer_fields: &["to"],
        etcd_threshold_ms: 200.0,
    },
    // server/etcdserver/v3_server.go (3.5 and 3.4): readIndexRetryTime = 500ms.
    Entry {
        kind: EventKind::ReadIndexSlow,
        name: "read-index-slow",
        needles: &["waiting for ReadIndex response took too long"],
        also: "",
        duration: None,
        peer_fields: &[],
        etcd_threshold_ms: 500.0,
    },
    // server/etcdserver/v3_server.go (3.5 and 3.4).
    Entry {
        kind: EventKind::ReadIndexTimeout,
        name: "read-index-timeout",
        needles: &["timed out waiting for read index response"],
        also: "",
        duration: None,
        peer_fields: &[],
        etcd_threshold_ms: 0.0,
    },
    // pkg/traceutil/trace.go "trace[%d] %s" with duration, logged by
    // server/etcdserver/v3_server.go over traceThreshold = 100ms;
    // server/etcdserver/api/v3rpc/interceptor.go "request stats" (time spent).
    Entry {
        kind: EventKind::SlowRequest,
        name: "slow-request",
        needles: &["trace[", "request stats"],
        also: "",
        duration: took("duration", ""),
        peer_fields: &[],
        etcd_threshold_ms: 100.0,
    },
    // server/etcdserver/api/rafthttp/probing_status.go (3.5): "prober detected
    // unhealthy status" remote-peer-id, rtt; (3.4) "health check for peer %s
    // could not connect: %v".
    Entry {
        kind: EventKind::PeerUnhealthy,
        name: "peer-unhealthy",
        needles: &["prober detected unhealthy status", "could not connect: "],
        also: "",
        duration: took("rtt", ""),
        peer_fields: &["remote-peer-id"],
        etcd_threshold_ms: 0.0,
    },
    // same file: "prober found high clock drift" clock-drift, over 1 s;
    // (3.4) "the clock difference against peer %s is too high [%v > %v]".
    Entry {
        kind: EventKind::ClockDrift,
        name: "clock-drift",
        needles: &[
            "prober found high clock drift",
            "the clock difference against peer ",
        ],
        also: "",
        duration: took("clock-drift", "is too high ["),
        peer_fields: &["remote-peer-id"],
        etcd_threshold_ms: 1000.0,
    },
    // server/etcdserver/api/rafthttp/peer.go and remote.go (3.5): "dropped
    // internal Raft message since sending buffer is full (overloaded network)";
    // (3.4) "dropped internal raft message to %s since ... sending buffer is full".
    Entry {
        kind: EventKind::RaftBufferFull,
        name: "raft-buffer-full",
        needles: &[
            "dropped internal Raft message since sending buffer is full",
            "dropped internal raft message to ",
        ],
        also: "",
        duration: None,
        peer_fields: &["remote-peer-id"],
        etcd_threshold_ms: 0.0,
    },
    // server/etcdserver/api/rafthttp/stream.go (3.5): "lost TCP streaming
    // connection with remote peer"; (3.4) "lost the TCP streaming connection with peer %s".
    Entry {
        kind: EventKind::StreamLost,
        name: "stream-lost",
        needles: &[
            "lost TCP streaming connection with remote peer",
            "lost the TCP streaming connection with peer ",
        ],
        also: "",
        duration: None,
        peer_fields: &["remote-peer-id"],
        etcd_threshold_ms: 0.0,
    },
    // raft/node.go (3.5 and 3.4): "raft.node: %x elected leader %x at term %d".
    Entry {
        kind: EventKind::LeaderElected,
        name: "leader-elected",
        needles: &[" elected leader "],
        also: "",
        duration: None,
        peer_fields: &[],
        etcd_threshold_ms: 0.0,
    },
    // raft/node.go: "raft.node: %x changed leader from %x to %x at term %d".
    Entry {
        kind: EventKind::LeaderChanged,
        name: "leader-changed",
        needles: &[" changed leader from "],
        also: "",
        duration: None,
        peer_fields: &[],
        etcd_threshold_ms: 0.0,
    },
    // raft/node.go: "raft.node: %x lost leader %x at term %d".
    Entry {
        kind: EventKind::LeaderLost,
        name: "leader-lost",
        needles: &[" lost leader "],
        also: "",
        duration: None,
        peer_fields: &[],
        etcd_threshold_ms: 0.0,
    },
    // raft/raft.go: "%x is starting a new election at term %d".
    Entry {
        kind: EventKind::ElectionStarted,
        name: "election-started",
        needles: &[" is starting a new election at term "],
        also: "",
        duration: None,
        peer_fields: &[],
        etcd_threshold_ms: 0.0,
    },
    // server/etcdserver/server.go (3.5 and 3.6): "message exceeded backend
    // quota; raising alarm"; (3.4) "applying raft message exceeded backend
    // quota"; server/etcdserver/apply.go "alarm raised" alarm=NOSPACE (3.5
    // only; 3.4: "alarm NOSPACE raised by peer"); api/v3rpc/rpctypes "mvcc:
    // database space exceeded".
    Entry {
        kind: EventKind::SpaceExceeded,
        name: "space-exceeded",
        needles: &[
            "exceeded backend quota",
            "database space exceeded",
            "alarm raised",
            "NOSPACE raised by peer",
        ],
        also: "NOSPACE",
        duration: None,
        peer_fields: &[],
        etcd_threshold_ms: 0.0,
    },
    // server/mvcc/backend/backend.go (3.5): "snapshotting taking too long to
    // transfer" taking; (3.4) "snapshotting is taking more than %v seconds".
    Entry {
        kind: EventKind::SnapshotSlow,
        name: "snapshot-slow",
        needles: &[
            "snapshotting taking too long to transfer",
            "snapshotting is taking more than ",
        ],
        also: "",
        duration: took("taking", ""),
        peer_fields: &[],
        etcd_threshold_ms: 30_000.0,
    },
    // server/mvcc/kvstore_compaction.go: "finished scheduled compaction" took;
    // (3.4) "finished scheduled compaction at %d (took %v)".
    Entry {
        kind: EventKind::Compaction,
        name: "compaction",
        needles: &["finished scheduled compaction"],
        also: "",
        duration: took("took", "(took "),
        peer_fields: &[],
        etcd_threshold_ms: 0.0,
    },
    // server/mvcc/backend/backend.go: "finished defragmenting directory" took;
    // (3.4) etcdserver/api/v3rpc/maintenance.go "finished defragmenting the storage backend".
    Entry {
        kind: EventKind::Defrag,
        name: "defrag",
        needles: &["finished defragmenting"],
        also: "",
        duration: took("took", ""),
        peer_fields: &[],
        etcd_threshold_ms: 0.0,
    },
    // raft/log.go commitTo (3.5 raft/v3 and 3.4, the same text): "tocommit(%d)
    // is out of range [lastIndex(%d)]. Was the raft log corrupted, truncated,
    // or lost?"; 3.5 writes it as zap's panic line (logger raft), 3.4 through
    // Go's log package without a level (`raft2024/03/01 12:00:00 tocommit(...`).
    Entry {
        kind: EventKind::RaftLogLost,
        name: "raft-log-lost",
        needles: &["is out of range [lastIndex("],
        also: "",
        duration: None,
        peer_fields: &[],
        etcd_threshold_ms: 0.0,
    },
    // server/etcdserver/bootstrap.go (3.5): "member %s has already been
    // bootstrapped", logged by etcdmain/etcd.go as `discovery failed` (fatal;
    // the warn line `failed to start etcd` before it is not counted);
    // etcdserver/server.go (3.4): the same error, etcdmain's critical line.
    Entry {
        kind: EventKind::AlreadyBootstrapped,
        name: "already-bootstrapped",
        needles: &["discovery failed", "has already been bootstrapped"],
        also: "has already been bootstrapped",
        duration: None,
        peer_fields: &[],
        etcd_threshold_ms: 0.0,
    },
    // server/etcdserver/corrupt.go: the compaction hash check, "failed
    // compaction hash check" (3.5) and "Detected compaction hash mismatch"
    // (3.6 and 3.7, also "... but cannot identify the corrupted members");
    // the periodic check (--corrupt-check-time), "found hash mismatch" and,
    // at the leader's own revision, "same compact revision then hashes must
    // match" (3.5 to 3.7; the one a live 3.6 check logged).
    Entry {
        kind: EventKind::HashMismatch,
        name: "hash-mismatch",
        needles: &[
            "failed compaction hash check",
            "Detected compaction hash mismatch",
            "found hash mismatch",
            "same compact revision then hashes must match",
        ],
        also: "",
        duration: None,
        peer_fields: &[],
        etcd_threshold_ms: 0.0,
    },
    // server/etcdserver/server.go snapshot(): "saved snapshot" (3.4 zap and
    // 3.5), "saved snapshot to disk" (3.6 and 3.7); (3.4 capnslog) "saved
    // snapshot at index %d".
    Entry {
        kind: EventKind::SnapshotSaved,
        name: "snapshot-saved",
        needles: &["saved snapshot"],
        also: "",
        duration: None,
        peer_fields: &[],
        etcd_threshold_ms: 0.0,
    },
];

/// The catalogue entry of the message `text` (zap's `msg`, capnslog's
/// text), if it is one; `line` is the whole line, where `also` is looked for.
pub fn classify(text: &str, line: &str) -> Option<&'static Entry> {
    let mut hit = recent_hits(text);
    // The first entry, in catalogue order, whose `also` the line holds.
    while hit != 0 {
        let e = &CATALOGUE[hit.trailing_zeros() as usize];
        if e.also.is_empty() || memchr::memmem::find(line.as_bytes(), e.also.as_bytes()).is_some() {
            return Some(e);
        }
        hit &= hit - 1;
    }
    None
}

/// The catalogue entries (bits, in catalogue order) whose needles `text`
/// holds.
fn hits(text: &str) -> u64 {
    // One automaton over every needle: each catalogued line is classified,
    // and a `contains` per needle was a tenth of `logs`' time.
    static FINDER: LazyLock<(AhoCorasick, Vec<u64>)> = LazyLock::new(|| {
        let mut needles: Vec<&str> = Vec::new();
        let mut entries: Vec<u64> = Vec::new();
        for (i, e) in CATALOGUE.iter().enumerate() {
            for n in e.needles {
                match needles.iter().position(|m| m == n) {
                    Some(at) => entries[at] |= 1 << i,
                    None => {
                        needles.push(n);
                        entries.push(1 << i);
                    }
                }
            }
        }
        // A contiguous NFA, not the DFA `new` picks for so few needles: it
        // searches short messages (and few, see `recent_hits`), and the
        // DFA took ~6 M instructions (2-3 ms) to build at every start.
        let finder = AhoCorasick::builder()
            .kind(Some(AhoCorasickKind::ContiguousNFA))
            .build(&needles)
            .expect("the catalogue's needles build");
        (finder, entries)
    });
    const _: () = assert!(CATALOGUE.len() <= 64, "entries are bits of a u64");
    let (finder, entries) = &*FINDER;
    finder
        .find_overlapping_iter(text)
        .fold(0u64, |hit, m| hit | entries[m.pattern().as_usize()])
}

/// Slots of the per-thread cache of [`recent_hits`].
const RECENT_SLOTS: usize = 256;
/// Longer texts are searched each time, not cached.
const RECENT_MAX_TEXT: usize = 256;

/// [`hits`] through a small direct-mapped cache per thread. A log repeats
/// a few messages (`saved snapshot`, `request stats`, `apply request took
/// too long`): on a log half of whose lines are catalogued the
/// overlapping search was 8 % of `logs`' instructions, a hash and a
/// compare are a tenth of that. Memory: at most 256 texts of 256 bytes.
fn recent_hits(text: &str) -> u64 {
    thread_local! {
        static RECENT: RefCell<Vec<(String, u64)>> =
            RefCell::new(vec![(String::new(), 0); RECENT_SLOTS]);
    }
    if text.len() > RECENT_MAX_TEXT {
        return hits(text);
    }
    let slot = FixedState::with_seed(0).hash_one(text) as usize % RECENT_SLOTS;
    RECENT.with_borrow_mut(|recent| {
        let (cached, bits) = &mut recent[slot];
        if cached != text {
            cached.clear();
            cached.push_str(text);
            *bits = hits(text);
        }
        *bits
    })
}

/// A message etcd also writes below warn level: with debug logging on,
/// every request's `request stats` (server/etcdserver/api/v3rpc/
/// interceptor.go, 3.5 and 3.6: `lg.Debug` whenever debug is enabled, fast
/// or slow). Written below warn, such a line is a slow request only when
/// its duration is over the warn threshold the server used: the line's
/// `expected-duration` when it has one (server/etcdserver/util.go, "apply
/// request took too long"), else etcd's default.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LevelGate {
    /// The message (zap `msg`).
    pub message: &'static str,
    /// The zap field holding its duration.
    pub duration_field: &'static str,
    /// etcd's default warn threshold for it, ms.
    pub default_threshold_ms: f64,
}

/// The messages gated by level and threshold.
pub const LEVEL_GATES: &[LevelGate] = &[
    // interceptor.go: warnUnaryRequestLatency = 300ms (3.5); 3.6:
    // --warning-unary-request-duration, DefaultWarningUnaryRequestDuration = 300ms.
    LevelGate {
        message: "request stats",
        duration_field: "time spent",
        default_threshold_ms: 300.0,
    },
    // util.go: "apply request took too long" took, expected-duration;
    // DefaultWarningApplyDuration = 100ms.
    LevelGate {
        message: "apply request took too long",
        duration_field: "took",
        default_threshold_ms: 100.0,
    },
];

/// The level gate of zap message `msg`, if it has one.
pub fn level_gate(msg: &str) -> Option<&'static LevelGate> {
    LEVEL_GATES.iter().find(|g| msg == g.message)
}

/// Every needle of the catalogue, for the line pre-filter.
pub fn needles() -> impl Iterator<Item = &'static str> {
    CATALOGUE.iter().flat_map(|e| e.needles.iter().copied())
}

/// zap fields that hold the request of a slow-request line
/// ([`super::request`]): the apply line's request and response, the
/// `request stats` line's method, content and response size.
pub const REQUEST_FIELDS: &[&str] = &[
    "request",
    "response",
    "response type",
    "request content",
    "response size",
];

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn every_kind_has_one_entry() {
        for (i, e) in CATALOGUE.iter().enumerate() {
            assert_eq!(e.kind.as_str(), e.name);
            let json = serde_json::to_string(&e.kind).unwrap();
            assert_eq!(json, format!("\"{}\"", e.name));
            assert!(CATALOGUE[i + 1..].iter().all(|o| o.kind != e.kind));
        }
    }

    #[test]
    fn old_and_new_wording_match_the_same_kind() {
        let cases = [
            ("slow fdatasync", EventKind::SlowFdatasync),
            (
                "sync duration of 1.2s, expected less than 1s",
                EventKind::SlowFdatasync,
            ),
            (
                "failed to send out heartbeat on time (exceeded",
                EventKind::HeartbeatLate,
            ),
            (
                "health check for peer 1 could not connect: EOF",
                EventKind::PeerUnhealthy,
            ),
            (
                "raft.node: 1 elected leader 2 at term 3",
                EventKind::LeaderElected,
            ),
            (
                "alarm raised\",\"alarm\":\"NOSPACE\"",
                EventKind::SpaceExceeded,
            ),
            ("failed compaction hash check", EventKind::HashMismatch),
            ("Detected compaction hash mismatch", EventKind::HashMismatch),
            (
                "same compact revision then hashes must match",
                EventKind::HashMismatch,
            ),
            ("saved snapshot", EventKind::SnapshotSaved),
            ("saved snapshot to disk", EventKind::SnapshotSaved),
            (
                "read-only range request \"key:\\\"a\\\" \" with result \"size:1\" took too long (1s) to execute",
                EventKind::ExpensiveRead,
            ),
            (
                "request \"header:<> put:<>\" with result \"size:1\" took too long (1s) to execute",
                EventKind::ApplySlow,
            ),
            ("saved snapshot at index 51", EventKind::SnapshotSaved),
        ];
        for (text, kind) in cases {
            assert_eq!(classify(text, text).map(|e| e.kind), Some(kind), "{text}");
        }
        assert_eq!(classify("alarm raised", "alarm raised CORRUPT"), None);
    }

    proptest! {
        /// The cache answers as the search does, whatever the order of
        /// texts, colliding slots and texts past the cache's limit too.
        #[test]
        fn recent_hits_agree_with_the_search(
            texts in proptest::collection::vec(
                prop_oneof![
                    proptest::sample::select(vec![
                        "slow fdatasync", "saved snapshot", "request stats", "",
                        "apply request took too long", " elected leader ",
                    ]).prop_map(str::to_string),
                    "[a-z ]{0,12}(slow fdatasync|trace\\[)?[a-z ]{0,300}",
                ],
                0..600,
            ),
        ) {
            for t in &texts {
                prop_assert_eq!(recent_hits(t), hits(t), "{:?}", t);
            }
        }
    }
}
