//! etcd's own logs as incident history. Probes and metrics see the present;
//! the elections at 03:12 and the slow fdatasync warnings that came and
//! went are only in the logs. This module reads them in any of the formats
//! they reach an operator in (zap JSON or console, capnslog text, wrapped by the CRI
//! format, docker's json-file or journald), keeps the messages of the
//! [`catalogue`], and sums them into a [`timeline`] the rules judge.
//!
//! Reading streams in bounded memory: sources are read in chunks cut at
//! line ends ([`chunk`]) and scanned on several threads, lines are capped
//! at [`MAX_LINE_BYTES`], and a line is decoded only when the pre-filter,
//! run over the whole chunk, finds a catalogue needle in it.

pub mod capnslog;
pub mod catalogue;
pub mod chunk;
pub mod console;
pub mod cri;
pub mod docker;
pub mod golog;
pub mod identity;
pub mod journald;
pub mod request;
pub mod scan;
pub mod source;
pub mod stale;
pub mod time;
pub mod timeline;
pub mod zap;

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

pub use catalogue::EventKind;
pub use scan::Scanner;
pub use source::{LogSource, LogsPlan};
pub use stale::StaleMemberLog;
pub use timeline::{KindSummary, Timeline};

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
    /// The raft term it names (`at term N`).
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

/// The term in `... at term 7`, when the text names one.
pub fn term_in(text: &str) -> Option<u64> {
    let at = text.find(" at term ")? + " at term ".len();
    let digits: &str = &text[at..];
    let end = digits
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(digits.len());
    digits[..end].parse().ok()
}

/// Lines of one source by format, and what could not be read.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SourceSummary {
    /// The file, `-` for standard input, or `journal:UNIT`.
    pub name: String,
    /// Bytes read (decompressed).
    pub bytes: u64,
    /// Lines read.
    pub lines: u64,
    /// etcd 3.5 zap JSON lines (bare or wrapped).
    pub zap_lines: u64,
    /// zap lines in `--log-format=console` (tab-separated; bare or wrapped).
    #[serde(default)]
    pub zap_console_lines: u64,
    /// etcd 3.4 text lines (bare or wrapped): capnslog, and the Go log
    /// lines its raft writes.
    pub capnslog_lines: u64,
    /// Lines in the CRI format (partial parts joined count once).
    pub cri_lines: u64,
    /// docker json-file entries.
    pub docker_lines: u64,
    /// journald JSON entries.
    pub journald_lines: u64,
    /// Lines in no known format (binary, truncated, other programs).
    pub unparsed_lines: u64,
    /// Lines longer than the line limit (also counted as unparsed).
    pub overlong_lines: u64,
    /// Catalogued events outside `--since`/`--until`.
    pub outside_window: u64,
    /// Why the source could not be read (whole or in part).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl SourceSummary {
    /// Lines in a known format: etcd's own or a wrapper's.
    pub fn known_lines(&self) -> u64 {
        self.zap_lines
            + self.zap_console_lines
            + self.capnslog_lines
            + self.cri_lines
            + self.docker_lines
            + self.journald_lines
    }
}

/// The `logs` section of a report.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct LogsReport {
    /// Every source read, with its counts.
    pub sources: Vec<SourceSummary>,
    /// `--since`, when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since_unix_ms: Option<i64>,
    /// `--until`, when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until_unix_ms: Option<i64>,
    /// Per kind of event: counts, first and last, worst, per minute.
    pub events: Vec<KindSummary>,
    /// Every election seen (distinct raft terms of `elected leader` /
    /// `changed leader` lines, once however many members logged it), in
    /// term order.
    #[serde(default)]
    pub elections: Vec<Election>,
    /// Members whose own log says they cannot rejoin with the data they
    /// have (raft's `tocommit(N) is out of range`, `already been bootstrapped`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stale_members: Vec<StaleMemberLog>,
    /// Slow requests by what they asked for (shape and key prefix), from
    /// the lines that carry the request.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requests: Option<request::RequestsReport>,
}

/// One leader election: the term and when it was first logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Election {
    /// The raft term of the new leader.
    pub term: u64,
    /// When the first line naming it was written.
    pub at_unix_ms: i64,
}

impl LogsReport {
    /// The summary of `kind`, when the logs had any.
    pub fn kind(&self, kind: EventKind) -> Option<&KindSummary> {
        self.events.iter().find(|e| e.kind == kind)
    }

    /// How many events of `kind` the logs had in the window.
    pub fn count(&self, kind: EventKind) -> u64 {
        self.kind(kind).map_or(0, |k| k.count)
    }

    /// Lines read across sources.
    pub fn lines(&self) -> u64 {
        self.sources.iter().map(|s| s.lines).sum()
    }

    /// Lines in a known format (etcd's own, or a wrapper's) across sources.
    pub fn known_lines(&self) -> u64 {
        self.sources.iter().map(SourceSummary::known_lines).sum()
    }

    /// True when at least one source could be read.
    pub fn read_anything(&self) -> bool {
        self.sources
            .iter()
            .any(|s| s.error.is_none() || s.lines > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn terms() {
        assert_eq!(
            term_in("raft.node: 1 elected leader 2 at term 17"),
            Some(17)
        );
        assert_eq!(term_in("at term x"), None);
        assert_eq!(term_in(" at term 99999999999999999999999"), None);
    }

    proptest! {
        #[test]
        fn term_never_panics(s in "\\PC{0,60}") {
            let _ = term_in(&s);
        }
    }
}
