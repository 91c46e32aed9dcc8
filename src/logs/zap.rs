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
        event: event(msg, str_field(&fields, "level"), &fields, line),
    })
}

/// The catalogued event of zap message `msg` at `level` with its `fields`
/// (JSON or console encoding alike), when it is one; `line` is the whole
/// line. A request trace written at debug or info level is an event only
/// when it took longer than the warn threshold the server used.
pub fn event(
    msg: &str,
    level: Option<&str>,
    fields: &Map<String, Value>,
    line: &str,
) -> Option<RawEvent> {
    let gate = catalogue::level_gate(msg);
    let gated_ms = gate
        .and_then(|g| str_field(fields, g.duration_field))
        .and_then(parse_go_duration_ms);
    if let Some(g) = gate.filter(|_| matches!(level, Some("debug" | "info"))) {
        let threshold_ms = str_field(fields, "expected-duration")
            .and_then(parse_go_duration_ms)
            .unwrap_or(g.default_threshold_ms);
        if !gated_ms.is_some_and(|ms| ms > threshold_ms) {
            // A debug-level trace of a request that was not slow.
            return None;
        }
    }
    catalogue::classify(msg, line).map(|entry| RawEvent {
        kind: entry.kind,
        duration_ms: entry
            .duration
            .and_then(|d| str_field(fields, d.zap_field))
            .and_then(parse_go_duration_ms)
            .or(gated_ms),
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

    /// `request stats` as etcd 3.5 (v3rpc/interceptor.go:182) and 3.6
    /// (interceptor.go:186) write it: at debug for every request when debug
    /// logging is on, at warn when over 300 ms.
    fn request_stats(version_caller: &str, level: &str, spent: &str) -> String {
        format!(
            r#"{{"level":"{level}","ts":"2025-06-01T10:00:00.123Z","caller":"{version_caller}","msg":"request stats","start time":"2025-06-01T10:00:00.100000Z","time spent":"{spent}","remote":"127.0.0.1:52344","response type":"/etcdserverpb.KV/Range","request count":0,"request size":18,"response count":1,"response size":64,"request content":"key:\"/registry/pods/default/web\" "}}"#
        )
    }

    #[test]
    fn debug_level_request_stats_count_only_over_the_warn_threshold() {
        for caller in ["v3rpc/interceptor.go:182", "v3rpc/interceptor.go:186"] {
            let fast = parse(&request_stats(caller, "debug", "1.204ms")).unwrap();
            assert_eq!(fast.event, None, "{caller}");
            let medium = parse(&request_stats(caller, "info", "250ms")).unwrap();
            assert_eq!(medium.event, None, "{caller}: under 300 ms");
            let slow = parse(&request_stats(caller, "debug", "1.5s")).unwrap();
            let e = slow.event.unwrap();
            assert_eq!(e.kind, EventKind::SlowRequest);
            assert_eq!(e.duration_ms, Some(1500.0));
            // At warn, etcd already judged it slow.
            let warned = parse(&request_stats(caller, "warn", "310ms")).unwrap();
            assert_eq!(warned.event.unwrap().duration_ms, Some(310.0));
        }
    }

    #[test]
    fn apply_lines_below_warn_use_the_servers_expected_duration() {
        // server/etcdserver/util.go (3.5 and 3.6): took, expected-duration.
        let apply = |level: &str, took: &str, expected: &str| {
            format!(
                r#"{{"level":"{level}","ts":"2025-06-01T10:00:00.500Z","caller":"etcdserver/util.go:170","msg":"apply request took too long","took":"{took}","expected-duration":"{expected}","prefix":"read-only range ","request":"key:\"/registry/events/\" range_end:\"/registry/events0\" ","response":"range_response_count:500 size:90000"}}"#
            )
        };
        assert_eq!(parse(&apply("info", "150ms", "200ms")).unwrap().event, None);
        let over = parse(&apply("debug", "250ms", "200ms"))
            .unwrap()
            .event
            .unwrap();
        assert_eq!(over.kind, EventKind::ApplySlow);
        let warned = parse(&apply("warn", "150ms", "100ms"))
            .unwrap()
            .event
            .unwrap();
        assert_eq!(warned.duration_ms, Some(150.0));
    }

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
