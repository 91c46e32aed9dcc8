//! The CRI log format kubelet writes under /var/log/pods:
//! `2024-03-01T12:00:00.123456789Z stderr F <line>`. A `P` tag marks a
//! partial line (the runtime split a long one); the following parts up to
//! the `F` one are joined.

use super::model::Wrapped;
use super::time::parse_timestamp;

/// Splits a CRI line; `None` when `line` is not one.
pub fn parse(line: &str) -> Option<Wrapped<'_>> {
    let (at_ms, len) = parse_timestamp(line)?;
    let rest = line.get(len..)?;
    let rest = rest
        .strip_prefix(" stderr ")
        .or_else(|| rest.strip_prefix(" stdout "))?;
    let (partial, content) = match rest.as_bytes() {
        [b'P', b' ', ..] | [b'P'] => (true, rest.get(2..).unwrap_or_default()),
        [b'F', b' ', ..] | [b'F'] => (false, rest.get(2..).unwrap_or_default()),
        _ => return None,
    };
    Some(Wrapped {
        at_ms,
        content: content.into(),
        partial,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn full_and_partial_lines() {
        let w = parse("2024-03-01T12:00:00.123456789Z stderr F {\"msg\":\"x\"}").unwrap();
        assert_eq!(
            (w.at_ms, w.partial, &*w.content),
            (1_709_294_400_123, false, "{\"msg\":\"x\"}")
        );
        let w = parse("2024-03-01T12:00:00.1+00:00 stdout P abc").unwrap();
        assert_eq!((w.partial, &*w.content), (true, "abc"));
        assert!(parse("2024-03-01T12:00:00Z stdin F x").is_none());
        assert!(parse("2024-03-01 12:00:00.123456 W | wal: x").is_none());
    }

    proptest! {
        #[test]
        fn never_panics(s in "\\PC{0,120}") {
            let _ = parse(&s);
            let _ = parse(&format!("2024-03-01T12:00:00Z stderr {s}"));
        }
    }
}
