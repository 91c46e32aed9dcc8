//! etcd 3.5's zap JSON lines: `{"level":"warn","ts":"2024-03-01T12:00:00.123Z",
//! "caller":"wal/wal.go:806","msg":"slow fdatasync","took":"1.2s",...}`.
//! Only lines that passed the catalogue pre-filter are decoded.

use std::borrow::Cow;
use std::fmt;
use std::sync::LazyLock;

use serde::de::{Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;

use super::catalogue;
use super::catalogue::EventKind;
use super::model::{election_term, is_start_message, peer_id, Parsed, RawEvent};
use super::request::{self, Request};
use super::time::{parse_go_duration_ms, parse_timestamp};
use super::zapscan::{self, Val};

/// True when `line` looks like a zap JSON object (cheap: no decoding, no
/// scan; etcd's encoder writes `level` first).
pub fn looks_like(line: &str) -> bool {
    line.starts_with("{\"level\":") && line.trim_end().ends_with('}')
}

/// Decodes a zap line; `None` when it is not zap JSON. The fast check of
/// [`zapscan`] reads most lines; serde_json the ones it leaves.
pub fn parse(line: &str) -> Option<Parsed> {
    let keys = &*KEY_FILTER;
    zapscan::Fields::scan_with(
        line,
        |k| keys.may_hold(k),
        |f| parse_fields(&|name| f.get(name), line),
    )
    .unwrap_or_else(|| parse_slow(line))
}

/// [`parse`] by serde_json alone.
fn parse_slow(line: &str) -> Option<Parsed> {
    let Fields(fields) = serde_json::from_str::<Fields>(line).ok()?;
    parse_fields(&|name| field(&fields, name).map(val_of), line)
}

/// [`parse`] over a line's decoded fields, `get` giving one by name.
fn parse_fields<'a>(get: &dyn Fn(&str) -> Option<Val<'a>>, line: &str) -> Option<Parsed> {
    let Val::Str(msg) = get("msg")? else {
        return None;
    };
    let at_ms = match get("ts")? {
        Val::Str(s) => parse_timestamp(&s)?.0,
        // zap's epoch encoder: seconds as a float.
        Val::Num(n) => (n.parse::<f64>().ok()? * 1000.0) as i64,
        Val::Other => return None,
    };
    // Only a gated message's level is read (see [`event`]).
    let level = match catalogue::level_gate(&msg).and_then(|_| get("level")) {
        Some(Val::Str(s)) => Some(s),
        _ => None,
    };
    let text = |name: &str| get(name)?.into_text();
    Some(Parsed {
        at_ms,
        event: event(&msg, level.as_deref(), &text, line),
        start_line: Some(is_start_message(&msg)),
    })
}

/// A serde_json value as the decoders read it.
fn val_of(v: &Value) -> Val<'_> {
    match v {
        Value::String(s) => Val::Str(Cow::Borrowed(s)),
        Value::Number(n) => Val::Num(Cow::Owned(n.to_string())),
        _ => Val::Other,
    }
}

/// A line's string field by name (a number field as its digits).
pub type StrField<'a> = dyn Fn(&str) -> Option<Cow<'a, str>> + 'a;

/// The catalogued event of zap message `msg` at `level` with its string
/// fields `field` (JSON or console encoding alike), when it is one; `line`
/// is the whole line. A request trace written at debug or info level is an
/// event only when it took longer than the warn threshold the server used.
pub fn event<'a>(
    msg: &str,
    level: Option<&str>,
    field: &StrField<'a>,
    line: &str,
) -> Option<RawEvent> {
    let gate = catalogue::level_gate(msg);
    let gated_ms = gate
        .and_then(|g| field(g.duration_field))
        .and_then(|d| parse_go_duration_ms(&d));
    if let Some(g) = gate.filter(|_| matches!(level, Some("debug" | "info"))) {
        let threshold_ms = field("expected-duration")
            .and_then(|d| parse_go_duration_ms(&d))
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
            .and_then(|d| field(d.zap_field))
            .and_then(|d| parse_go_duration_ms(&d))
            .or(gated_ms),
        peer: entry
            .peer_fields
            .iter()
            .find_map(|f| field(f))
            .map(|p| peer_id(&p)),
        term: election_term(entry.kind, msg),
        request: request_of(entry.kind, field),
    })
}

/// The request a slow-request line names ([`super::request`]).
fn request_of(kind: EventKind, field: &StrField<'_>) -> Option<Request> {
    match kind {
        EventKind::ApplySlow | EventKind::ExpensiveRead => {
            request::from_apply(&field("request")?, field("response").as_deref())
        }
        EventKind::SlowRequest => request::from_stats(
            &field("response type")?,
            &field("request content")?,
            field("response size").as_deref(),
        ),
        _ => None,
    }
}

fn field<'a>(fields: &'a [(Cow<'_, str>, Value)], name: &str) -> Option<&'a Value> {
    fields.iter().find(|(k, _)| k == name).map(|(_, v)| v)
}

/// A JSON string as it is, a number as its digits; `None` for the rest.
pub fn value_text(v: &Value) -> Option<Cow<'_, str>> {
    val_of(v).into_text()
}

/// True for the fields `parse` reads: `msg`, `ts`, `level`, the
/// catalogue's duration and peer fields, and what the level gates read.
fn wanted(key: &str) -> bool {
    static WANTED: LazyLock<KeySet<'static>> = LazyLock::new(|| KeySet::new(&wanted_keys()));
    WANTED.contains(key)
}

/// The keys [`wanted`] holds.
fn wanted_keys() -> Vec<&'static str> {
    let mut keys = vec!["msg", "ts", "level", "expected-duration"];
    keys.extend(catalogue::REQUEST_FIELDS.iter().copied());
    for e in catalogue::CATALOGUE {
        keys.extend(e.duration.map(|d| d.zap_field));
        keys.extend(e.peer_fields.iter().copied());
    }
    keys.extend(catalogue::LEVEL_GATES.iter().map(|g| g.duration_field));
    keys.sort_unstable();
    keys.dedup();
    keys
}

/// The fast path's test of a key: [`KeyFilter`] over [`wanted_keys`].
static KEY_FILTER: LazyLock<KeyFilter> = LazyLock::new(|| KeyFilter::new(&wanted_keys()));

/// Which keys the fast path keeps a slot for: those whose first byte and
/// length some wanted key has (one table load and a shift; a key kept in
/// vain only costs a slot that [`zapscan::Fields::get`] passes over).
/// [`KeySet`]'s exact test (a hash, a probe, a `memcmp`) per field was 6 %
/// of `logs`' instructions on a log half of whose lines are decoded, and
/// keeping every field instead sent etcd's start line (some 45 fields) to
/// serde_json (callgrind, 20 MB).
struct KeyFilter {
    /// Per first byte, bit `n` for a wanted key of `n` bytes (bit 63: 63
    /// or more).
    lengths: [u64; 256],
}

impl KeyFilter {
    fn new(keys: &[&str]) -> KeyFilter {
        let mut f = KeyFilter { lengths: [0; 256] };
        for k in keys {
            if let Some(&first) = k.as_bytes().first() {
                f.lengths[usize::from(first)] |= 1 << k.len().min(63);
            }
        }
        f
    }

    /// False only for a key no wanted key can be.
    fn may_hold(&self, key: &[u8]) -> bool {
        key.first()
            .is_some_and(|&b| self.lengths[usize::from(b)] >> key.len().min(63) & 1 == 1)
    }
}

/// A set of keys looked up by [`signature`] in an open-addressed table:
/// serde_json's path asks about every field of a line it decodes, and a
/// linear compare over the twenty-odd wanted keys was 8 % of `logs`'
/// instructions when every decoded line went that way (callgrind).
/// The empty key is never held (no wanted field is unnamed).
struct KeySet<'a> {
    slots: [(u32, &'a str); SLOTS],
}

/// [`KeySet`]'s slots: at least four times the keys, so probes are short.
const SLOTS: usize = 128;

impl<'a> KeySet<'a> {
    fn new(keys: &[&'a str]) -> KeySet<'a> {
        assert!(keys.len() * 4 <= SLOTS, "too many wanted keys");
        let mut set = KeySet {
            slots: [(0, ""); SLOTS],
        };
        for &k in keys {
            if k.is_empty() || set.contains(k) {
                continue;
            }
            let mut i = Self::home(signature(k));
            while !set.slots[i].1.is_empty() {
                i = (i + 1) % SLOTS;
            }
            set.slots[i] = (signature(k), k);
        }
        set
    }

    fn home(sig: u32) -> usize {
        (sig.wrapping_mul(0x9E37_79B1) >> 25) as usize % SLOTS
    }

    fn contains(&self, key: &str) -> bool {
        let sig = signature(key);
        let mut i = Self::home(sig);
        loop {
            let (s, k) = self.slots[i];
            if k.is_empty() {
                return false;
            }
            if s == sig && k == key {
                return true;
            }
            i = (i + 1) % SLOTS;
        }
    }
}

/// A key's length and first and last bytes in one word.
fn signature(key: &str) -> u32 {
    let b = key.as_bytes();
    let len = u32::try_from(b.len()).unwrap_or(u32::MAX) & 0xffff;
    len << 16
        | u32::from(b.first().copied().unwrap_or(0)) << 8
        | u32::from(b.last().copied().unwrap_or(0))
}

/// A zap object with only the fields `parse` reads decoded; the others
/// are checked as `serde_json::Value` would check them (so the same lines
/// are rejected) but never built: no map, no allocation per field. A key
/// given twice keeps its last value, as in `Value`.
struct Fields<'a>(Vec<(Cow<'a, str>, Value)>);

impl<'de> Deserialize<'de> for Fields<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Fields<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Fields<'de>, A::Error> {
                let mut fields: Vec<(Cow<'de, str>, Value)> = Vec::new();
                while let Some(Key(key)) = map.next_key()? {
                    if !wanted(&key) {
                        map.next_value::<Checked>()?;
                        continue;
                    }
                    let value = map.next_value::<Value>()?;
                    match fields.iter_mut().find(|(k, _)| *k == key) {
                        Some(slot) => slot.1 = value,
                        None => fields.push((key, value)),
                    }
                }
                Ok(Fields(fields))
            }
        }
        d.deserialize_map(V)
    }
}

/// A key, borrowed from the line when it has no escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a key")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(v)))
            }
            fn visit_str<E>(self, v: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(v.to_string())))
            }
        }
        d.deserialize_str(V)
    }
}

/// Any JSON value, parsed and checked like `Value` but not kept.
struct Checked;

impl<'de> Deserialize<'de> for Checked {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Checked;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_bool<E>(self, _: bool) -> Result<Checked, E> {
                Ok(Checked)
            }
            fn visit_i64<E>(self, _: i64) -> Result<Checked, E> {
                Ok(Checked)
            }
            fn visit_u64<E>(self, _: u64) -> Result<Checked, E> {
                Ok(Checked)
            }
            fn visit_f64<E>(self, _: f64) -> Result<Checked, E> {
                Ok(Checked)
            }
            fn visit_str<E>(self, _: &str) -> Result<Checked, E> {
                Ok(Checked)
            }
            fn visit_unit<E>(self) -> Result<Checked, E> {
                Ok(Checked)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Checked, A::Error> {
                while seq.next_element::<Checked>()?.is_some() {}
                Ok(Checked)
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Checked, A::Error> {
                while map.next_entry::<Checked, Checked>()?.is_some() {}
                Ok(Checked)
            }
        }
        d.deserialize_any(V)
    }
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
        // A read-only range is a read, not an apply.
        assert_eq!(over.kind, EventKind::ExpensiveRead);
        let r = over.request.unwrap();
        assert_eq!(r.prefix, "/registry/events/");
        assert_eq!(r.response_bytes, Some(90000));
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
        // A peer id of 5,000 characters is kept as its first 64.
        let long = line.replace("\"abc\"", &format!("\"{}\"", "é".repeat(5_000)));
        let e = parse(&long).unwrap().event.unwrap();
        assert_eq!(e.peer, Some("é".repeat(crate::logs::MAX_PEER_CHARS)));
    }

    #[test]
    fn other_messages_parse_without_an_event() {
        let line = r#"{"level":"info","ts":"2024-03-01T12:00:00Z","msg":"serving client traffic"}"#;
        assert!(parse(line).unwrap().event.is_none());
        assert!(parse(r#"{"level":"info","ts":"2024-03-01T12:"#).is_none());
    }

    #[test]
    fn skipped_fields_are_checked_like_a_full_decode() {
        for line in [
            r#"{"level":"warn","ts":"2024-03-01T12:00:00Z","msg":"slow fdatasync","x":1e999}"#,
            r#"{"level":"warn","ts":"2024-03-01T12:00:00Z","msg":"slow fdatasync","x":"\ud800"}"#,
            r#"{"level":"warn","ts":"2024-03-01T12:00:00Z","msg":"slow fdatasync","x":[1,{"a":nul}]}"#,
            r#"{"level":"warn","ts":"2024-03-01T12:00:00Z","msg":"slow fdatasync"} x"#,
            r#"["level","warn"]"#,
        ] {
            assert!(serde_json::from_str::<Value>(line)
                .ok()
                .and_then(|v| v.as_object().cloned())
                .is_none());
            assert!(parse(line).is_none(), "{line}");
        }
        let twice = r#"{"level":"warn","ts":"2024-03-01T12:00:00Z","msg":"x","msg":"slow fdatasync","took":"1s","took":"2s","n":[1,{"a":null}]}"#;
        let e = parse(twice).unwrap().event.unwrap();
        assert_eq!(
            (e.kind, e.duration_ms),
            (EventKind::SlowFdatasync, Some(2000.0))
        );
    }

    /// Every zap line of the fixtures (etcd 3.5 and 3.6 as they write
    /// them) goes the fast way and reads as serde_json reads it.
    #[test]
    fn real_lines_take_the_fast_path_with_the_same_answer() {
        let mut zap = 0;
        for file in [
            "tests/fixtures/logs/healthy-3.5.log",
            "tests/fixtures/logs/wiped-new-3.5.log",
            "tests/fixtures/logs/wiped-existing-3.5.log",
            "fuzz/corpus/log_stream/etcd-3.6-start.log",
        ] {
            let text = std::fs::read_to_string(file).unwrap();
            for line in text.lines().filter(|l| l.starts_with("{\"level\"")) {
                zap += 1;
                assert!(
                    zapscan::Fields::scan(line, |k| KEY_FILTER.may_hold(k)).is_some(),
                    "{line}"
                );
                assert_eq!(parse(line), parse_slow(line), "{line}");
            }
        }
        assert!(zap > 50, "{zap} zap lines");
        for k in wanted_keys() {
            assert!(KEY_FILTER.may_hold(k.as_bytes()), "{k}");
        }
    }

    /// A key of a zap line: the ones `parse` reads, others, repeats.
    fn field_key() -> impl Strategy<Value = String> {
        prop_oneof![
            prop::sample::select(vec![
                "\"msg\"",
                "\"ts\"",
                "\"level\"",
                "\"took\"",
                "\"to\"",
                "\"request\"",
                "\"time spent\"",
                "\"expected-duration\"",
                "\"x\"",
                "\"m\\u0073g\"",
                "\"ms\\\"g\"",
            ])
            .prop_map(str::to_string),
            "\"[a-z -]{0,8}\"",
        ]
    }

    /// A value: catalogued messages, durations, times, numbers of every
    /// JSON form, escapes, nesting.
    fn field_value() -> impl Strategy<Value = String> {
        let leaf = prop_oneof![
            prop::sample::select(vec![
                "\"slow fdatasync\"",
                "\"apply request took too long\"",
                "\"request stats\"",
                "\"warn\"",
                "\"debug\"",
                "\"2024-03-01T12:00:00.123Z\"",
                "\"1.5s\"",
                "\"150ms\"",
                "1709294400",
                "1709294400.25",
                "-0",
                "0",
                "01",
                "1e3",
                "-7",
                "12345678901234567890",
                "true",
                "false",
                "null",
                "\"a\\\"b\\\\c\\n\"",
                "\"\\u00e9t\\ud800\"",
                "\"\\q\"",
                "\"raft.node: 1 elected leader 1 at term 4\"",
            ])
            .prop_map(str::to_string),
            "\"[a-z0-9 /:.µ]{0,16}\"",
            (-99i64..99).prop_map(|n| n.to_string()),
        ];
        leaf.prop_recursive(3, 12, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..3)
                    .prop_map(|v| format!("[{}]", v.join(","))),
                proptest::collection::vec(inner, 0..3).prop_map(|v| format!(
                    "{{{}}}",
                    v.iter()
                        .enumerate()
                        .map(|(i, x)| format!("\"k{i}\":{x}"))
                        .collect::<Vec<_>>()
                        .join(",")
                )),
            ]
        })
    }

    proptest! {
        #[test]
        fn never_panics(s in "\\PC{0,200}") {
            let _ = looks_like(&s);
            let _ = parse(&s);
        }

        /// The fast check and serde_json accept the same lines and read
        /// the same fields from them, mangled ones included.
        #[test]
        fn fast_and_serde_paths_agree(
            fields in proptest::collection::vec((field_key(), field_value()), 0..12),
            ws in "[ \t]{0,1}",
            cut in any::<proptest::sample::Index>(),
            insert in "[\\\"{}\\[\\],:0-9a-z.\\- ]{0,2}",
            mangle in any::<bool>(),
        ) {
            let body: Vec<String> = fields.iter().map(|(k, v)| format!("{k}{ws}:{ws}{v}")).collect();
            let mut line = format!("{ws}{{{}}}{ws}", body.join(","));
            if mangle {
                let mut at = cut.index(line.len() + 1);
                while !line.is_char_boundary(at) {
                    at -= 1;
                }
                line.insert_str(at, &insert);
            }
            prop_assert_eq!(parse(&line), parse_slow(&line), "{}", line);
        }

        /// The key set holds exactly its keys, colliding signatures too.
        #[test]
        fn key_set_holds_exactly_its_keys(
            keys in proptest::collection::vec("[a-e -]{0,6}", 0..32),
            probes in proptest::collection::vec("[a-e -]{0,6}", 0..32),
        ) {
            let keys: Vec<&str> = keys.iter().map(String::as_str).filter(|k| !k.is_empty()).collect();
            let set = KeySet::new(&keys);
            for k in keys.iter().copied().chain(probes.iter().map(String::as_str)) {
                prop_assert_eq!(set.contains(k), keys.contains(&k), "{:?}", k);
            }
        }

        /// The fast path's filter keeps every key it was given, long ones
        /// and multi-byte first characters too, and turns away a key whose
        /// first byte no given key has.
        #[test]
        fn key_filter_keeps_every_wanted_key(
            keys in proptest::collection::vec("[a-eé -]{1,70}", 1..32),
            other in "[x-z][a-e]{0,70}",
        ) {
            let keys: Vec<&str> = keys.iter().map(String::as_str).collect();
            let filter = KeyFilter::new(&keys);
            for k in &keys {
                prop_assert!(filter.may_hold(k.as_bytes()), "{:?}", k);
            }
            prop_assert!(!filter.may_hold(other.as_bytes()), "{:?}", other);
            prop_assert!(!filter.may_hold(b""));
        }

        #[test]
        fn never_panics_on_zap_shaped_lines(msg in "\\PC{0,80}", took in "[0-9.a-zµ]{0,12}") {
            let line = serde_json::json!({"level":"warn","ts":"2024-03-01T12:00:00Z","msg":msg,"took":took}).to_string();
            let _ = parse(&line);
        }

        /// Accepts exactly the lines a full `Value` decode accepts as objects
        /// (no `s` or `t` in the tail: no field `parse` reads is named).
        #[test]
        fn accepts_what_a_full_decode_accepts(tail in "[\\[\\]{}:,\"a-ru-z0-9.eE+\\\\ -]{0,40}") {
            let line = format!(r#"{{"level":"warn","ts":"2024-03-01T12:00:00Z","msg":"slow fdatasync","x":{tail}"#);
            let full = serde_json::from_str::<Value>(&line).ok().is_some_and(|v| v.is_object());
            prop_assert_eq!(parse(&line).is_some(), full);
        }
    }
}
