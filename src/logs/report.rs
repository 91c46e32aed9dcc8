//! The `logs` section of a report: per-source counts and what the
//! timeline, the stale-member scan and the request tally found.

use serde::{Deserialize, Serialize};

use super::catalogue::EventKind;
use super::model::Election;
use super::request;
use super::stale::StaleMemberLog;
use super::timeline::KindSummary;

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
