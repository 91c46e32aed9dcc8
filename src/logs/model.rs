//! One log line as the parsers hand it on (its time, the catalogued
//! event, the wrapper's content) and the bounds on what a line may keep.
//! A leaf: every parser and the timeline use it.

use std::borrow::Cow;
use std::sync::LazyLock;

use serde::{Deserialize, Serialize};

use super::catalogue::EventKind;
use super::{request, time};

/// Longest line kept; longer ones are counted as unparsed and skipped.
pub const MAX_LINE_BYTES: usize = 1 << 20;

/// Most bytes a source may go on without one line in a known log format
/// before reading it stops (random bytes, `/dev/zero` piped in, a binary
/// file): the source is then reported with an error, never read forever.
pub const MAX_BYTES_WITHOUT_A_LOG_LINE: u64 = 64 << 20;

/// Longest peer id kept (etcd writes 16 hex digits; longer ones are cut,
/// so a line cannot make a kept peer weigh more than this).
pub const MAX_PEER_CHARS: usize = 64;

/// A peer id as kept: cut to [`MAX_PEER_CHARS`] characters.
pub fn peer_id(s: &str) -> String {
    s.chars().take(MAX_PEER_CHARS).collect()
}

/// An etcd line decoded: its time and the catalogued event, if any.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    /// etcd's own timestamp of the line.
    pub at_ms: time::UnixMs,
    /// The event, when the message is in the catalogue.
    pub event: Option<RawEvent>,
    /// Whether the line is a start line naming its member (a zap message
    /// [`is_start_message`] holds); `None` from decoders that cannot tell
    /// (text lines: [`super::identity::mentions`] decides).
    pub start_line: Option<bool>,
}

/// True for the zap messages with which a member names itself as it
/// starts ([`super::identity`] reads their fields). Decoders say so, so
/// the line loop does not search every catalogued line for start needles.
pub fn is_start_message(msg: &str) -> bool {
    matches!(
        msg,
        "starting an etcd server" | "starting local member" | "restarting local member"
    )
}

/// One catalogued message, before aggregation.
#[derive(Debug, Clone, PartialEq)]
pub struct RawEvent {
    /// Which message.
    pub kind: EventKind,
    /// The duration it reports, in ms.
    pub duration_ms: Option<f64>,
    /// The peer it names.
    pub peer: Option<String>,
    /// The raft term an election names (`at term N`); only election
    /// kinds are asked (the timeline reads no other's term).
    pub term: Option<u64>,
    /// What a slow request asked for, when the line says.
    pub request: Option<request::Request>,
}

/// A line inside a wrapper (CRI, docker, journald).
#[derive(Debug, Clone, PartialEq)]
pub struct Wrapped<'a> {
    /// The wrapper's timestamp.
    pub at_ms: time::UnixMs,
    /// The wrapped etcd line.
    pub content: Cow<'a, str>,
    /// True when the line continues in the next entry.
    pub partial: bool,
}

/// The term an election line of `kind` names (`... at term 7`); `None`
/// for other kinds, whose term the timeline never reads (searching every
/// catalogued line for it was 2 % of `logs`' instructions).
pub fn election_term(kind: EventKind, text: &str) -> Option<u64> {
    kind.is_election().then(|| term_in(text)).flatten()
}

/// The term in `... at term 7`, when the text names one.
pub fn term_in(text: &str) -> Option<u64> {
    static AT_TERM: LazyLock<memchr::memmem::Finder<'static>> =
        LazyLock::new(|| memchr::memmem::Finder::new(" at term "));
    let at = AT_TERM.find(text.as_bytes())? + " at term ".len();
    let digits: &str = &text[at..];
    let end = digits
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(digits.len());
    digits[..end].parse().ok()
}

/// One leader election: the term and when it was first logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Election {
    /// The raft term of the new leader.
    pub term: u64,
    /// When the first line naming it was written.
    pub at_unix_ms: i64,
}
