//! What etcd calls its members, as domain types rather than strings: the
//! member id, a member's status in the member list and the kind of an
//! alarm. A leaf module (it imports nothing of the crate) so that every
//! layer that names members (cluster model, metrics, logs, load, rules,
//! watch) can share the types without an import circle.
//!
//! The JSON spelling is the one the reports have always used: an id is
//! the text it was written with (etcd's u64 becomes 16 hex digits, as
//! etcdctl prints it; a report read back keeps a short `0b1` as it is),
//! statuses and alarm kinds are etcd's own words. Their schema stays a
//! plain string, as schema 1 promised.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A member id, as text: 16 hex digits when read from etcd, or the text
/// a report or log line gave. Compares as text; [`MemberId::same`]
/// compares as numbers (`0af3` is `af3`).
#[derive(
    Debug,
    Clone,
    Default,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(transparent)]
#[schemars(inline)]
pub struct MemberId(String);

impl MemberId {
    /// The id as written.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether no id was given (a log line that names no member).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The id as a number, when it is hex.
    pub fn value(&self) -> Option<u64> {
        u64::from_str_radix(&self.0, 16).ok()
    }

    /// Whether `other` names the same member: as hex numbers, leading
    /// zeros or not, else as text.
    pub fn same(&self, other: &str) -> bool {
        let parse = |s: &str| u64::from_str_radix(s, 16).ok();
        parse(&self.0).is_some_and(|a| Some(a) == parse(other)) || self.0 == other
    }
}

/// etcd's u64 id, spelled as etcdctl prints it: 16 hex digits.
impl From<u64> for MemberId {
    fn from(id: u64) -> MemberId {
        MemberId(format!("{id:016x}"))
    }
}

impl From<String> for MemberId {
    fn from(id: String) -> MemberId {
        MemberId(id)
    }
}

impl From<&str> for MemberId {
    fn from(id: &str) -> MemberId {
        MemberId(id.to_string())
    }
}

/// Labels, etcdctl commands and comparisons read the id as text.
impl std::ops::Deref for MemberId {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl PartialEq<str> for MemberId {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for MemberId {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl fmt::Display for MemberId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A member's status in the member list. etcd has no such field: a member
/// added but never started has no name, and etcdctl's table calls it
/// `unstarted`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MemberStatus {
    /// Started: it has a name.
    #[default]
    Started,
    /// Added with `member add` and never started.
    Unstarted,
}

impl MemberStatus {
    /// The status of a listed member with this name.
    pub fn of_name(name: &str) -> MemberStatus {
        if name.is_empty() {
            MemberStatus::Unstarted
        } else {
            MemberStatus::Started
        }
    }

    /// etcdctl's word: `started` or `unstarted`.
    pub fn as_str(self) -> &'static str {
        match self {
            MemberStatus::Started => "started",
            MemberStatus::Unstarted => "unstarted",
        }
    }
}

impl fmt::Display for MemberStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The kind of an active alarm, as etcd names it (`AlarmType`'s
/// `as_str_name`). Kinds a later etcd adds are kept as written.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(from = "String", into = "String")]
pub enum AlarmKind {
    /// The backend database reached its quota: writes are refused.
    NoSpace,
    /// The corruption check found members' data differing.
    Corrupt,
    /// etcd's "no alarm" value.
    None,
    /// A kind this tool does not know, as written.
    Other(String),
}

impl AlarmKind {
    /// etcd's name: `NOSPACE`, `CORRUPT`, `NONE`, or the unknown text.
    pub fn as_str(&self) -> &str {
        match self {
            AlarmKind::NoSpace => "NOSPACE",
            AlarmKind::Corrupt => "CORRUPT",
            AlarmKind::None => "NONE",
            AlarmKind::Other(s) => s,
        }
    }
}

impl From<&str> for AlarmKind {
    fn from(s: &str) -> AlarmKind {
        match s {
            "NOSPACE" => AlarmKind::NoSpace,
            "CORRUPT" => AlarmKind::Corrupt,
            "NONE" => AlarmKind::None,
            other => AlarmKind::Other(other.to_string()),
        }
    }
}

impl From<String> for AlarmKind {
    fn from(s: String) -> AlarmKind {
        AlarmKind::from(s.as_str())
    }
}

impl From<AlarmKind> for String {
    fn from(k: AlarmKind) -> String {
        k.as_str().to_string()
    }
}

impl fmt::Display for AlarmKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_keep_their_spelling_and_compare_as_numbers() {
        assert_eq!(MemberId::from(0xb1u64).as_str(), "00000000000000b1");
        let short: MemberId = serde_json::from_str("\"0b1\"").unwrap();
        assert_eq!(serde_json::to_string(&short).unwrap(), "\"0b1\"");
        assert!(short.same("00000000000000b1") && short.same("b1"));
        assert!(!short.same("b2") && short != "b1");
        assert_eq!(short.value(), Some(0xb1));
        let name = MemberId::from("m1");
        assert!(name.same("m1") && name.value().is_none());
    }

    #[test]
    fn statuses_and_alarms_are_spelled_as_etcd_does() {
        for s in [MemberStatus::Started, MemberStatus::Unstarted] {
            let json = serde_json::to_string(&s).unwrap();
            assert_eq!(json, format!("\"{s}\""));
            assert_eq!(serde_json::from_str::<MemberStatus>(&json).unwrap(), s);
        }
        assert_eq!(MemberStatus::of_name(""), MemberStatus::Unstarted);
        for (text, kind) in [
            ("NOSPACE", AlarmKind::NoSpace),
            ("CORRUPT", AlarmKind::Corrupt),
            ("NONE", AlarmKind::None),
            ("NEWKIND", AlarmKind::Other("NEWKIND".into())),
        ] {
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{text}\""));
            assert_eq!(serde_json::from_str::<AlarmKind>(&json).unwrap(), kind);
        }
    }
}
