//! Lines of Go's standard logger, which etcd 3.4's raft writes beside
//! capnslog: `raft2024/03/01 12:00:00 INFO: raft.node: 8e9e elected leader
//! 8e9e at term 2`. The prefix is the logger's name; times have whole
//! seconds, local time read as UTC. raft's panics carry no level:
//! `raft2024/03/01 12:00:00 tocommit(28) is out of range [lastIndex(0)]...`.

use super::model::Parsed;
use super::time::parse_timestamp;

/// The time and the text after `LEVEL: `, when `line` is a Go log line.
fn split(line: &str) -> Option<(i64, &str)> {
    let prefix = line.find(|c: char| !c.is_ascii_alphabetic())?;
    if prefix > 16 {
        return None;
    }
    let stamp = line.get(prefix..prefix + 19)?;
    let b = stamp.as_bytes();
    if b[4] != b'/' || b[7] != b'/' {
        return None;
    }
    let iso = stamp.replace('/', "-");
    let (at_ms, len) = parse_timestamp(&iso)?;
    if len != 19 {
        return None;
    }
    let rest = line.get(prefix + 19..)?.strip_prefix(' ')?;
    // raft's Panicf and Fatalf write no level: the text follows the time.
    let text = rest
        .find(": ")
        .filter(|&i| i <= 8 && rest[..i].bytes().all(|c| c.is_ascii_uppercase()))
        .map_or(rest, |level| &rest[level + 2..]);
    Some((at_ms, text))
}

/// True when `line` is a Go log line.
pub fn looks_like(line: &str) -> bool {
    split(line).is_some()
}

/// Parses a Go log line; `None` when it is not one.
pub fn parse(line: &str) -> Option<Parsed> {
    super::capnslog::text_line(split(line))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::catalogue::EventKind;
    use proptest::prelude::*;

    #[test]
    fn raft_lines_of_etcd_3_4() {
        let p =
            parse("raft2024/03/01 12:00:00 INFO: raft.node: 2e12 elected leader 2e12 at term 2")
                .unwrap();
        assert_eq!(p.at_ms, 1_709_294_400_000);
        let e = p.event.unwrap();
        assert_eq!((e.kind, e.term), (EventKind::LeaderElected, Some(2)));
        assert!(
            parse("raft2024/03/01 12:00:00 INFO: 2e12 became follower at term 0")
                .unwrap()
                .event
                .is_none()
        );
        assert!(parse("2024-03-01 12:00:00.123456 I | raft: x").is_none());
        let p = parse("raft2026/11/26 14:34:46 tocommit(28) is out of range [lastIndex(0)]. Was the raft log corrupted, truncated, or lost?").unwrap();
        assert_eq!(p.event.unwrap().kind, EventKind::RaftLogLost);
        assert!(parse("raft2024/03/01 12:00:00").is_none());
    }

    proptest! {
        #[test]
        fn never_panics(s in "\\PC{0,120}") {
            let _ = parse(&s);
            let _ = parse(&format!("raft2024/03/01 12:00:00 {s}"));
        }
    }
}
