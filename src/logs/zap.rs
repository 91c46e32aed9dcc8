//! etcd 3.5's zap JSON lines: `{"level":"warn","ts":"2024-03-01T12:00:00.123Z",
//! "caller":"wal/wal.go:806","msg":"slow fdatasync","took":"1.2s",...}`.
//! Only lines that passed the catalogue pre-filter are decoded.

use serde_json::{Map, Value};

use super::time::{parse_go_duration_ms, parse_timestamp};
use super::{catalogue, Parsed, RawEvent};

/// True when `line` looks like a zap JSON object (cheap: no decoding, no
/// scan; etcd's encoder writes `level` first).
pub fn looks_like(line: &str) -> bool {
    line.starts_with("{\"level\":") && line.trim_end().ends_with('}')
}

/// Decodes a zap line; `None` when it is not zap JSON.
pub fn parse(line: &str) -> Option<Parsed> {
    let Value::Object(fields) = serde_json::from_str::<Value>(line).ok()? else {
        return None;
    };
    let msg = fields.get("msg")?.as_str()?;
    let at_ms = match fields.get("ts")? {
        Value::String(s) => parse_timestamp(s)?.0,
        // zap's epoch encoder: seconds as a float.
        Value::Number(n) => (n.as_f64()? * 1000.0) as i64,
        _ => return None,
    };
    Some(Parsed {
        at_ms,
        event: event(msg, &fields, line),
    })
}

/// The catalogued event of zap message `msg` with its `fields` (JSON or
/// console encoding alike), when it is one; `line` is the whole line.
pub fn event(msg: &str, fields: &Map<String, Value>, line: &str) -> Option<RawEvent> {
    catalogue::classify(msg, line).map(|entry| RawEvent {
        kind: entry.kind,
        duration_ms: entry
            .duration
            .and_then(|d| str_field(fields, d.zap_field))
            .and_then(parse_go_duration_ms),
        peer: entry
            .peer_fields
            .iter()
            .find_map(|f| str_field(fields, f))
            .map(str::to_string),
        term: super::term_in(msg),
    })
}

fn str_field<'a>(fields: &'a Map<String, Value>, name: &str) -> Option<&'a str> {
    fields.get(name).and_then(Value::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::catalogue::EventKind;
    use proptest::prelude::*;

    #[test]
    fn slow_fdatasync_with_its_duration() {
        let line = r#"{"level":"warn","ts":"2024-03-01T12:00:00.123Z","caller":"wal/wal.go:806","msg":"slow fdatasync","took":"1.534s","expected-duration":"1s"}"#;
        assert!(looks_like(line));
        let p = parse(line).unwrap();
        assert_eq!(p.at_ms, 1_709_294_400_123);
        let e = p.event.unwrap();
        assert_eq!(e.kind, EventKind::SlowFdatasync);
        assert_eq!(e.duration_ms, Some(1534.0));
    }

    #[test]
    fn election_and_prober_fields() {
        let line = r#"{"level":"info","ts":"2024-03-01T12:00:00.123+0100","logger":"raft","caller":"raft/node.go:329","msg":"raft.node: 8e9e elected leader 8e9e at term 7"}"#;
        let e = parse(line).unwrap().event.unwrap();
        assert_eq!((e.kind, e.term), (EventKind::LeaderElected, Some(7)));
        let line = r#"{"level":"warn","ts":"2024-03-01T12:00:00Z","msg":"prober detected unhealthy status","round-tripper-name":"ROUND_TRIPPER_RAFT_MESSAGE","remote-peer-id":"abc","rtt":"1.2ms","error":"EOF"}"#;
        let e = parse(line).unwrap().event.unwrap();
        assert_eq!(e.kind, EventKind::PeerUnhealthy);
        assert_eq!(e.peer.as_deref(), Some("abc"));
        assert_eq!(e.duration_ms, Some(1.2));
    }

    #[test]
    fn other_messages_parse_without_an_event() {
        let line = r#"{"level":"info","ts":"2024-03-01T12:00:00Z","msg":"serving client traffic"}"#;
        assert!(parse(line).unwrap().event.is_none());
        assert!(parse(r#"{"level":"info","ts":"2024-03-01T12:"#).is_none());
    }

    proptest! {
        #[test]
        fn never_panics(s in "\\PC{0,200}") {
            let _ = looks_like(&s);
            let _ = parse(&s);
        }

        #[test]
        fn never_panics_on_zap_shaped_lines(msg in "\\PC{0,80}", took in "[0-9.a-zµ]{0,12}") {
            let line = serde_json::json!({"level":"warn","ts":"2024-03-01T12:00:00Z","msg":msg,"took":took}).to_string();
            let _ = parse(&line);
        }
    }
}
