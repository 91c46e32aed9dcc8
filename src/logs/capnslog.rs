//! etcd 3.4's capnslog text lines:
//! `2024-03-01 12:00:00.123456 W | wal: sync duration of 1.2s, expected less than 1s`.
//! capnslog writes local time without a zone; it is read as UTC.

use super::catalogue::{self, EventKind};
use super::model::{election_term, Parsed, RawEvent};
use super::request;
use super::time::{parse_go_duration_ms, parse_timestamp};

/// The text after the `L | ` level marker, when `line` is capnslog's.
fn split(line: &str) -> Option<(i64, &str)> {
    let (at_ms, len) = parse_timestamp(line)?;
    if len != 26 {
        return None;
    }
    let rest = line.get(len..)?;
    let bytes = rest.as_bytes();
    let level_ok = bytes.first() == Some(&b' ')
        && bytes.get(1).is_some_and(u8::is_ascii_uppercase)
        && rest.get(2..5) == Some(" | ");
    level_ok.then(|| (at_ms, &rest[5..]))
}

/// True when `line` is a capnslog line.
pub fn looks_like(line: &str) -> bool {
    split(line).is_some()
}

/// Parses a capnslog line; `None` when it is not one.
pub fn parse(line: &str) -> Option<Parsed> {
    text_line(split(line))
}

/// A text line (capnslog's, Go's logger's) as its format's `split` cut it:
/// its time and the catalogued event of its text.
pub(super) fn text_line(split: Option<(i64, &str)>) -> Option<Parsed> {
    let (at_ms, text) = split?;
    Some(Parsed {
        at_ms,
        event: text_event(text),
        start_line: None,
    })
}

/// The catalogued event of an etcd 3.4 text message, if it is one: its
/// duration after the entry's words, its peer after `peer `, its term.
pub fn text_event(text: &str) -> Option<RawEvent> {
    catalogue::classify(text, text).map(|entry| RawEvent {
        kind: entry.kind,
        duration_ms: entry
            .duration
            .filter(|d| !d.text_after.is_empty())
            .and_then(|d| {
                text.find(d.text_after)
                    .map(|i| &text[i + d.text_after.len()..])
            })
            .and_then(parse_go_duration_ms),
        peer: (!entry.peer_fields.is_empty())
            .then(|| peer_in(text))
            .flatten(),
        term: election_term(entry.kind, text),
        request: matches!(entry.kind, EventKind::ApplySlow | EventKind::ExpensiveRead)
            .then(|| request::from_text(text))
            .flatten(),
    })
}

/// The peer id after `peer ` (3.4's wording), up to a space or `(`.
fn peer_in(text: &str) -> Option<String> {
    let after = &text[text.find("peer ")? + 5..];
    let id: String = after
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric())
        .take(32)
        .collect();
    (!id.is_empty()).then_some(id)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn etcd_3_4_wording() {
        let p = parse(
            "2024-03-01 12:00:00.123456 W | wal: sync duration of 1.534s, expected less than 1s",
        )
        .unwrap();
        assert_eq!(p.at_ms, 1_709_294_400_123);
        let e = p.event.unwrap();
        assert_eq!(
            (e.kind, e.duration_ms),
            (EventKind::SlowFdatasync, Some(1534.0))
        );
        let e = parse("2024-03-01 12:00:00.123456 W | rafthttp: health check for peer 8e9e05c52164694d could not connect: dial tcp: connection refused").unwrap().event.unwrap();
        assert_eq!(e.kind, EventKind::PeerUnhealthy);
        assert_eq!(e.peer.as_deref(), Some("8e9e05c52164694d"));
        let e = parse("2024-03-01 12:00:00.123456 W | etcdserver: failed to send out heartbeat on time (exceeded the 100ms timeout for 401.2ms, to 8e9e)").unwrap().event.unwrap();
        assert_eq!(
            (e.kind, e.duration_ms),
            (EventKind::HeartbeatLate, Some(401.2))
        );
        let e = parse("2024-03-01 12:00:00.123456 I | raft: raft.node: 1 changed leader from 1 to 2 at term 9").unwrap().event.unwrap();
        assert_eq!((e.kind, e.term), (EventKind::LeaderChanged, Some(9)));
        assert!(
            parse("2024-03-01 12:00:00.123456 I | etcdserver: published")
                .unwrap()
                .event
                .is_none()
        );
        assert!(parse("2024-03-01T12:00:00Z W | x").is_none());
    }

    proptest! {
        #[test]
        fn never_panics(s in "\\PC{0,200}") {
            let _ = parse(&s);
        }

        #[test]
        fn never_panics_after_a_valid_prefix(s in "\\PC{0,120}") {
            let _ = parse(&format!("2024-03-01 12:00:00.123456 W | {s}"));
        }
    }
}
