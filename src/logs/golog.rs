//! Lines of Go's standard logger, which etcd 3.4's raft writes beside
//! capnslog: `raft2024/03/01 12:00:00 INFO: raft.node: 8e9e elected leader
//! 8e9e at term 2`. The prefix is the logger's name; times have whole
//! seconds, local time read as UTC.

use super::time::parse_timestamp;
use super::Parsed;

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
    let level = rest.find(": ").filter(|&i| i <= 8)?;
    rest[..level]
        .bytes()
        .all(|c| c.is_ascii_uppercase())
        .then(|| (at_ms, &rest[level + 2..]))
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
        assert!(parse("raft2024/03/01 12:00:00 lowercase: x").is_none());
    }

    proptest! {
        #[test]
        fn never_panics(s in "\\PC{0,120}") {
            let _ = parse(&s);
            let _ = parse(&format!("raft2024/03/01 12:00:00 {s}"));
        }
    }
}
