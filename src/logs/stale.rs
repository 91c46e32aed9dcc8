//! Members whose own log says they cannot rejoin with the data they have:
//! a member down for good, not merely down. Two lines prove it:
//!
//! - raft's `tocommit(N) is out of range [lastIndex(M)]. Was the raft log
//!   corrupted, truncated, or lost?` (raft/log.go commitTo, etcd 3.5 and
//!   3.4): the leader's heartbeat says N entries are committed on this
//!   member and its log ends at M < N. The data dir was wiped (or replaced
//!   by an older copy) while the member stayed listed; etcd panics at the
//!   first heartbeat, on every restart.
//! - `member X has already been bootstrapped` (etcdserver/bootstrap, the
//!   error of `discovery failed` in 3.5; etcdmain's critical line in 3.4):
//!   an empty data dir started again with `--initial-cluster-state new`.
//!
//! Either way the fix is the field guide's: remove the member, set its
//! data dir aside, add it back and start it with `--initial-cluster-state
//! existing`.

use serde::{Deserialize, Serialize};

use super::catalogue::EventKind;
use super::identity::{normalize_id, Identity};
use super::time::UnixMs;
use crate::member::MemberId;

/// Most members tracked (one entry per member and cause).
const MAX_MEMBERS: usize = 64;

/// Longest example line kept.
const EXAMPLE_CHARS: usize = 400;

/// One member's proof that its data is gone, from its own log.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct StaleMemberLog {
    /// Which line proved it: `raft-log-lost` or `already-bootstrapped`.
    pub cause: EventKind,
    /// The member id (16 hex digits), when the log named it.
    #[serde(default, skip_serializing_if = "MemberId::is_empty")]
    pub member_id: MemberId,
    /// The member's `--name`, when the log named it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// The member's `--data-dir`, when the log named it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub data_dir: String,
    /// The log the lines were read from.
    pub source: String,
    /// Lines of this cause (one per failed start).
    pub lines: u64,
    /// Time of the first.
    pub first_unix_ms: i64,
    /// Time of the last.
    pub last_unix_ms: i64,
    /// `tocommit(N)`: the commit index the leader sent, in raft entries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub leader_commit_index: Option<u64>,
    /// `lastIndex(M)`: the last index of the member's own raft log.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member_last_index: Option<u64>,
    /// The last such message, cut to 400 characters: a text line as it
    /// is, a zap line as its `msg` and `error` (without the stack trace).
    pub example: String,
}

/// True for the kinds that prove a stale member.
pub fn is_stale_kind(kind: EventKind) -> bool {
    matches!(
        kind,
        EventKind::RaftLogLost | EventKind::AlreadyBootstrapped
    )
}

/// Accumulates the proofs of a scan.
#[derive(Debug, Default)]
pub struct StaleLogs {
    members: Vec<StaleMemberLog>,
}

impl StaleLogs {
    /// Adds one line of `kind`, read from `source` whose member is `who`.
    pub fn add(
        &mut self,
        source: &str,
        who: &Identity,
        at_ms: UnixMs,
        kind: EventKind,
        line: &str,
    ) {
        let member_id = match kind {
            EventKind::AlreadyBootstrapped => bootstrapped_id(line),
            _ => None,
        }
        .or_else(|| who.member_id.clone())
        .unwrap_or_default();
        let same = |m: &StaleMemberLog| {
            m.cause == kind
                && if member_id.is_empty() {
                    m.member_id.is_empty() && m.source == source
                } else {
                    m.member_id == member_id
                }
        };
        let example: String = message(line).chars().take(EXAMPLE_CHARS).collect();
        let (leader_commit_index, member_last_index) = (
            number_after(line, "tocommit("),
            number_after(line, "[lastIndex("),
        );
        if let Some(m) = self.members.iter_mut().find(|m| same(m)) {
            m.lines += 1;
            m.first_unix_ms = m.first_unix_ms.min(at_ms);
            if at_ms >= m.last_unix_ms {
                m.last_unix_ms = at_ms;
                m.example = example;
                m.leader_commit_index = leader_commit_index;
                m.member_last_index = member_last_index;
            }
            return;
        }
        if self.members.len() >= MAX_MEMBERS {
            return;
        }
        self.members.push(StaleMemberLog {
            cause: kind,
            member_id,
            name: who.name.clone().unwrap_or_default(),
            data_dir: who.data_dir.clone().unwrap_or_default(),
            source: source.to_string(),
            lines: 1,
            first_unix_ms: at_ms,
            last_unix_ms: at_ms,
            leader_commit_index,
            member_last_index,
            example,
        });
    }

    /// The proofs, in the order first seen.
    pub fn finish(self) -> Vec<StaleMemberLog> {
        self.members
    }
}

/// A zap line's `msg` (and `error`, when it has one), or the line itself.
fn message(line: &str) -> String {
    let Ok(serde_json::Value::Object(fields)) = serde_json::from_str(line) else {
        return line.to_string();
    };
    let field = |name: &str| fields.get(name).and_then(serde_json::Value::as_str);
    match (field("msg"), field("error")) {
        (Some(msg), Some(error)) => format!("{msg}: {error}"),
        (Some(msg), None) => msg.to_string(),
        _ => line.to_string(),
    }
}

/// The id in `member X has already been bootstrapped`.
fn bootstrapped_id(line: &str) -> Option<MemberId> {
    let end = line.find(" has already been bootstrapped")?;
    let start = line[..end].rfind("member ")? + "member ".len();
    normalize_id(&line[start..end])
}

/// The decimal number right after `prefix` in `line`.
fn number_after(line: &str, prefix: &str) -> Option<u64> {
    let rest = &line[line.find(prefix)? + prefix.len()..];
    let end = rest
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(rest.len());
    rest[..end].parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const PANIC_3_5: &str = r#"{"level":"panic","ts":"2026-11-26T14:34:11.177Z","logger":"raft","caller":"etcdserver/zap_raft.go:101","msg":"tocommit(28) is out of range [lastIndex(0)]. Was the raft log corrupted, truncated, or lost?","stacktrace":"go.etcd.io/etcd/server/v3/etcdserver.(*zapRaftLogger).Panicf"}"#;
    const BOOTSTRAPPED_3_4: &str =
        "2026-11-26 14:35:22.378074 C | etcdmain: member 11ebe3114a5a4ba has already been bootstrapped";

    fn who(id: Option<&str>) -> Identity {
        Identity {
            name: Some("m2".into()),
            member_id: id.map(MemberId::from),
            data_dir: Some("/var/lib/etcd".into()),
        }
    }

    #[test]
    fn panics_count_per_member_with_the_indexes() {
        let mut s = StaleLogs::default();
        let m2 = who(Some("b216fa67a1b90b9e"));
        s.add("m2.log", &m2, 10, EventKind::RaftLogLost, PANIC_3_5);
        s.add(
            "m2.log",
            &m2,
            20,
            EventKind::RaftLogLost,
            &PANIC_3_5.replace("(28)", "(31)"),
        );
        let r = s.finish();
        assert_eq!(r.len(), 1);
        let m = &r[0];
        assert_eq!(
            (m.member_id.as_str(), m.name.as_str()),
            ("b216fa67a1b90b9e", "m2")
        );
        assert_eq!((m.lines, m.first_unix_ms, m.last_unix_ms), (2, 10, 20));
        assert_eq!(
            (m.leader_commit_index, m.member_last_index),
            (Some(31), Some(0))
        );
        assert_eq!(m.data_dir, "/var/lib/etcd");
        assert_eq!(
            m.example,
            "tocommit(31) is out of range [lastIndex(0)]. Was the raft log corrupted, truncated, or lost?"
        );
    }

    #[test]
    fn the_bootstrapped_line_names_its_member() {
        let mut s = StaleLogs::default();
        s.add(
            "m2.log",
            &who(None),
            5,
            EventKind::AlreadyBootstrapped,
            BOOTSTRAPPED_3_4,
        );
        let r = s.finish();
        assert_eq!(r[0].member_id, "011ebe3114a5a4ba");
        assert_eq!(r[0].leader_commit_index, None);
    }

    #[test]
    fn unnamed_members_are_kept_apart_by_source() {
        let mut s = StaleLogs::default();
        let nobody = Identity::default();
        s.add("a.log", &nobody, 1, EventKind::RaftLogLost, PANIC_3_5);
        s.add("b.log", &nobody, 2, EventKind::RaftLogLost, PANIC_3_5);
        assert_eq!(s.finish().len(), 2);
    }

    /// Reads a member log captured from a real run (tests/fixtures/logs):
    /// member m2 of a 3-member cluster, killed, its data dir wiped, and
    /// started again with `--initial-cluster-state existing` or `new`.
    fn read_fixture(text: &str) -> super::super::LogsReport {
        let mut scanner = super::super::Scanner::new(Default::default());
        scanner.scan("m2.log", &mut std::io::Cursor::new(text));
        scanner.finish()
    }

    #[test]
    fn real_logs_of_wiped_members() {
        let cases = [
            (
                include_str!("../../tests/fixtures/logs/wiped-existing-3.5.log"),
                EventKind::RaftLogLost,
                "b216fa67a1b90b9e",
                "/tmp/stale-exp/a35/m2.etcd",
            ),
            (
                include_str!("../../tests/fixtures/logs/wiped-existing-3.4.log"),
                EventKind::RaftLogLost,
                "b314864427bc1138",
                "/tmp/stale-exp/a34/m2.etcd",
            ),
            (
                include_str!("../../tests/fixtures/logs/wiped-new-3.5.log"),
                EventKind::AlreadyBootstrapped,
                "c12fc47d477f6074",
                "/tmp/stale-exp/n35/m2.etcd",
            ),
            (
                include_str!("../../tests/fixtures/logs/wiped-new-3.4.log"),
                EventKind::AlreadyBootstrapped,
                "011ebe3114a5a4ba",
                "/tmp/stale-exp/n34/m2.etcd",
            ),
        ];
        for (text, cause, id, dir) in cases {
            let r = read_fixture(text);
            assert_eq!(r.stale_members.len(), 1, "{id}: {:?}", r.stale_members);
            let m = &r.stale_members[0];
            assert_eq!(
                (m.cause, m.member_id.as_str(), m.name.as_str()),
                (cause, id, "m2")
            );
            assert_eq!((m.lines, m.data_dir.as_str()), (1, dir));
            if cause == EventKind::RaftLogLost {
                assert_eq!(
                    (m.leader_commit_index, m.member_last_index),
                    (Some(28), Some(0))
                );
            }
            assert_eq!(r.count(cause), 1);
        }
        // The same log as kubelet keeps a static pod's (CRI format).
        let cri: String = include_str!("../../tests/fixtures/logs/wiped-existing-3.5.log")
            .lines()
            .map(|l| format!("2026-11-26T14:34:11.2Z stderr F {l}\n"))
            .collect();
        let r = read_fixture(&cri);
        assert_eq!(r.stale_members[0].member_id, "b216fa67a1b90b9e");
        let healthy = read_fixture(include_str!("../../tests/fixtures/logs/healthy-3.5.log"));
        assert!(healthy.stale_members.is_empty());
    }

    proptest! {
        #[test]
        fn never_panics(s in "\\PC{0,120}") {
            let mut logs = StaleLogs::default();
            logs.add("x", &Identity::default(), 0, EventKind::AlreadyBootstrapped, &s);
            logs.add("x", &Identity::default(), 0, EventKind::RaftLogLost, &format!("tocommit({s}"));
            let _ = bootstrapped_id(&format!("member {s} has already been bootstrapped"));
        }
    }
}
