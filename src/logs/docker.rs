//! docker's json-file log driver:
//! `{"log":"<line>\n","stream":"stderr","time":"2024-03-01T12:00:00.123456789Z"}`.
//! A `log` without its trailing newline is a partial line (docker splits
//! lines at 16 KiB).

use serde::Deserialize;

use super::model::Wrapped;
use super::time::parse_timestamp;

#[derive(Deserialize)]
struct Entry {
    log: String,
    time: String,
}

/// True when `line` looks like a json-file entry (cheap: no decoding).
pub fn looks_like(line: &str) -> bool {
    line.starts_with("{\"log\":")
}

/// Decodes a json-file entry; `None` when it is not one.
pub fn parse(line: &str) -> Option<Wrapped<'static>> {
    let entry: Entry = serde_json::from_str(line).ok()?;
    let at_ms = parse_timestamp(&entry.time)?.0;
    let mut log = entry.log;
    let partial = !log.ends_with('\n');
    if !partial {
        log.pop();
    }
    Some(Wrapped {
        at_ms,
        content: log.into(),
        partial,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn entries_and_partials() {
        let w = parse(r#"{"log":"2024-03-01 12:00:00.123456 W | wal: x\n","stream":"stderr","time":"2024-03-01T12:00:00.5Z"}"#).unwrap();
        assert_eq!((w.at_ms, w.partial), (1_709_294_400_500, false));
        assert_eq!(&*w.content, "2024-03-01 12:00:00.123456 W | wal: x");
        let w = parse(r#"{"log":"abc","stream":"stderr","time":"2024-03-01T12:00:00Z"}"#).unwrap();
        assert!(w.partial);
        assert!(parse(r#"{"log":"abc"}"#).is_none());
    }

    proptest! {
        #[test]
        fn never_panics(s in "\\PC{0,120}") {
            let _ = parse(&s);
            let _ = parse(&format!("{{\"log\":{s}"));
        }
    }
}
