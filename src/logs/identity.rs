//! Whose log is this? A crash line such as raft's `tocommit(28) is out of
//! range [lastIndex(0)]` names no member; the lines etcd writes as it
//! starts do. The scanner keeps, per source, the member's name, id and
//! data dir from the last start it read, and attributes the crash to them.
//!
//! The start lines, copied from etcd v3.5.1 and v3.4.23:
//! - 3.5 to 3.7 (zap, JSON or console): `starting an etcd server` (fields `name`, `data-dir`),
//!   `starting local member` / `restarting local member` (`local-member-id`);
//! - 3.4 (capnslog): `embed: name = m2`, `embed: data dir = /var/lib/etcd`,
//!   `etcdserver: starting member 8e9e in cluster cdf8` (and `restarting member`).

use std::sync::LazyLock;

use memchr::memmem::Finder;
use serde_json::{Map, Value};

use super::console;
use crate::member::MemberId;

/// Longest name or data dir kept.
const MAX_VALUE_CHARS: usize = 256;

/// Substrings of the start lines, for the scanner's pre-filter.
pub const NEEDLES: &[&str] = &[
    "starting an etcd server",
    "starting local member",
    "embed: name = ",
    "embed: data dir = ",
    "starting member ",
];

/// True when `line` may be a start line (holds one of the [`NEEDLES`]).
pub fn mentions(line: &str) -> bool {
    // Every needle holds one of these: two SIMD searches rule out most
    // lines before the exact test.
    static COMMON: LazyLock<[Finder<'static>; 2]> =
        LazyLock::new(|| [Finder::new("starting "), Finder::new("embed: ")]);
    COMMON.iter().any(|f| f.find(line.as_bytes()).is_some())
        && NEEDLES.iter().any(|n| line.contains(n))
}

/// What the start lines of one log said about its member.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Identity {
    /// `--name`.
    pub name: Option<String>,
    /// The member id, 16 hex digits.
    pub member_id: Option<MemberId>,
    /// `--data-dir`.
    pub data_dir: Option<String>,
}

impl Identity {
    /// Learns from `line` (a bare etcd line, zap or text) when it is a start line.
    pub fn update(&mut self, line: &str) {
        if !mentions(line) {
            return;
        }
        if line.starts_with('{') {
            if let Ok(Value::Object(fields)) = serde_json::from_str::<Value>(line) {
                if let Some(msg) = fields.get("msg").and_then(Value::as_str) {
                    self.update_zap(msg, &fields);
                }
            }
        } else if let Some(c) = console::split(line) {
            self.update_zap(c.msg, &c.fields);
        } else {
            self.update_text(line);
        }
    }

    /// A zap line's message and fields (JSON or console encoding).
    fn update_zap(&mut self, msg: &str, fields: &Map<String, Value>) {
        let field = |name: &str| fields.get(name).and_then(Value::as_str);
        match Some(msg) {
            Some("starting an etcd server") => {
                self.name = field("name").map(bounded);
                self.data_dir = field("data-dir").map(bounded);
                self.member_id = None;
            }
            Some("starting local member" | "restarting local member") => {
                self.member_id = field("local-member-id").and_then(normalize_id);
            }
            _ => {}
        }
    }

    fn update_text(&mut self, line: &str) {
        if let Some(name) = after(line, "embed: name = ") {
            // A new start: what the previous one said no longer holds.
            *self = Identity {
                name: Some(bounded(name.trim_end())),
                ..Identity::default()
            };
        } else if let Some(dir) = after(line, "embed: data dir = ") {
            self.data_dir = Some(bounded(dir.trim_end()));
        } else if let Some(rest) = after(line, "starting member ") {
            self.member_id = rest.split(' ').next().and_then(normalize_id);
        }
    }
}

/// The text after `needle` in `line`.
fn after<'a>(line: &'a str, needle: &str) -> Option<&'a str> {
    line.find(needle).map(|i| &line[i + needle.len()..])
}

fn bounded(s: &str) -> String {
    s.chars().take(MAX_VALUE_CHARS).collect()
}

/// A member id as etcd writes it (hex, unpadded) in etcdctl's form: 16
/// hex digits; `None` when `s` is not one.
pub fn normalize_id(s: &str) -> Option<MemberId> {
    let ok = (1..=16).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_hexdigit());
    ok.then(|| u64::from_str_radix(s, 16).ok())
        .flatten()
        .map(MemberId::from)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::model::is_start_message;
    use proptest::prelude::*;

    #[test]
    fn every_needle_holds_a_common_part() {
        for n in NEEDLES {
            assert!(n.contains("starting ") || n.contains("embed: "), "{n}");
            assert!(mentions(&format!("x {n} y")));
        }
        assert!(!mentions("starting embed:"));
    }

    #[test]
    fn etcd_3_5_start_lines() {
        let mut id = Identity::default();
        id.update(r#"{"level":"info","ts":"2026-11-26T14:34:11.153Z","caller":"embed/etcd.go:307","msg":"starting an etcd server","etcd-version":"3.5.1","name":"m2","data-dir":"/tmp/stale-exp/a35/m2.etcd","wal-dir":""}"#);
        id.update(r#"{"level":"info","ts":"2026-11-26T14:34:11.161Z","caller":"etcdserver/raft.go:448","msg":"starting local member","local-member-id":"b216fa67a1b90b9e","cluster-id":"8ebc0c7a0af383a"}"#);
        assert_eq!(
            id,
            Identity {
                name: Some("m2".into()),
                member_id: Some("b216fa67a1b90b9e".into()),
                data_dir: Some("/tmp/stale-exp/a35/m2.etcd".into()),
            }
        );
    }

    #[test]
    fn etcd_3_4_start_lines() {
        let mut id = Identity {
            member_id: Some("0000000000000001".into()),
            ..Identity::default()
        };
        for line in [
            "2026-11-26 14:35:17.844787 I | embed: name = m2",
            "2026-11-26 14:35:17.844790 I | embed: data dir = /tmp/stale-exp/n34/m2.etcd",
            "2026-11-26 14:35:19.880060 I | etcdserver: starting member 11ebe3114a5a4ba in cluster d134537f4ef5228e",
        ] {
            id.update(line);
        }
        assert_eq!(id.name.as_deref(), Some("m2"));
        assert_eq!(id.member_id.as_deref(), Some("011ebe3114a5a4ba"));
        assert_eq!(id.data_dir.as_deref(), Some("/tmp/stale-exp/n34/m2.etcd"));
        // The next start forgets the old id until it names one.
        id.update("2026-11-26 14:35:22.375632 I | embed: name = m2");
        assert_eq!(id.member_id, None);
    }

    /// The decoders flag start lines by [`is_start_message`] and the line
    /// loop hands on only those: it must hold for exactly the messages
    /// that teach this module something.
    #[test]
    fn only_start_messages_name_a_member() {
        for msg in [
            "starting an etcd server",
            "starting local member",
            "restarting local member",
            "starting member ab",
            "starting an etcd server now",
            "embed: name = m",
        ] {
            let line = format!(
                r#"{{"level":"info","ts":"2026-11-26T14:34:11.153Z","msg":"{msg}","name":"m","local-member-id":"ab"}}"#
            );
            let mut id = Identity::default();
            id.update(&line);
            assert_eq!(id != Identity::default(), is_start_message(msg), "{msg}");
        }
    }

    #[test]
    fn ids() {
        assert_eq!(normalize_id("abc").as_deref(), Some("0000000000000abc"));
        assert_eq!(normalize_id("11ebe3114a5a4ba0f"), None);
        assert_eq!(normalize_id("xyz"), None);
        assert_eq!(normalize_id(""), None);
    }

    proptest! {
        #[test]
        fn never_panics(s in "\\PC{0,200}") {
            let mut id = Identity::default();
            id.update(&s);
            id.update(&format!("2024-03-01 12:00:00.000000 I | etcdserver: starting member {s}"));
            id.update(&format!("{{\"level\":\"info\",\"msg\":\"starting local member\",\"local-member-id\":{}}}", serde_json::Value::from(s.as_str())));
        }
    }
}
