//! journald's JSON export (`journalctl -u etcd -o json`): one object per
//! entry with `__REALTIME_TIMESTAMP` (microseconds since the epoch) and
//! `MESSAGE` (a string, or an array of bytes for binary payloads).

use serde::Deserialize;
use serde_json::Value;

use super::model::Wrapped;

#[derive(Deserialize)]
struct Entry {
    #[serde(rename = "__REALTIME_TIMESTAMP")]
    realtime_us: String,
    #[serde(rename = "MESSAGE")]
    message: Value,
}

/// True when `line` looks like a journald JSON entry (cheap: no decoding;
/// journalctl writes the `__` fields first).
pub fn looks_like(line: &str) -> bool {
    line.starts_with("{\"__")
}

/// Decodes a journald entry; `None` when it is not one.
pub fn parse(line: &str) -> Option<Wrapped<'static>> {
    let entry: Entry = serde_json::from_str(line).ok()?;
    let at_us: i64 = entry.realtime_us.parse().ok()?;
    let content = match entry.message {
        Value::String(s) => s,
        Value::Array(bytes) => {
            let bytes: Option<Vec<u8>> = bytes
                .iter()
                .map(|b| b.as_u64().and_then(|b| u8::try_from(b).ok()))
                .collect();
            String::from_utf8_lossy(&bytes?).into_owned()
        }
        _ => return None,
    };
    Some(Wrapped {
        at_ms: at_us / 1000,
        content: content.into(),
        partial: false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn string_and_byte_messages() {
        let w = parse(r#"{"__REALTIME_TIMESTAMP":"1709294400123456","MESSAGE":"x","_SYSTEMD_UNIT":"etcd.service"}"#).unwrap();
        assert_eq!((w.at_ms, &*w.content), (1_709_294_400_123, "x"));
        let w = parse(r#"{"__REALTIME_TIMESTAMP":"1","MESSAGE":[104,105]}"#).unwrap();
        assert_eq!(&*w.content, "hi");
        assert!(parse(r#"{"__REALTIME_TIMESTAMP":"x","MESSAGE":"x"}"#).is_none());
        assert!(parse(r#"{"__REALTIME_TIMESTAMP":"1","MESSAGE":[300]}"#).is_none());
    }

    proptest! {
        #[test]
        fn never_panics(s in "\\PC{0,120}") {
            let _ = parse(&s);
            let _ = parse(&format!("{{\"__REALTIME_TIMESTAMP\":\"1\",\"MESSAGE\":{s}}}"));
        }
    }
}
