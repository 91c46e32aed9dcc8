//! Reads JSON reports out of a byte stream as `kubectl logs -l ...` prints
//! it: concatenated (pretty-printed) JSON documents, with the odd log line
//! between them (a pod's stderr, `Defaulted container ...`), and possibly
//! a last document cut off when a pod was killed mid-write.
//!
//! The reader never fails on content: documents it can parse come out as
//! JSON values; lines that are not JSON are skipped and counted; a cut-off
//! document ends the stream with a note. Work is linear in the input: a
//! parse that fails resumes after the point where it failed, never at the
//! byte after where it started.

use serde_json::Value;

/// Largest input read from one file or standard input: 64 reports of the
/// largest size `compare` accepts would not fit, a fleet of a few hundred
/// ordinary (~100 KiB) ones does.
pub const MAX_INPUT_BYTES: u64 = 256 << 20;

/// What one pass over a stream found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Documents {
    /// Each JSON document parsed, with the byte offset it started at.
    pub values: Vec<(usize, Value)>,
    /// Lines that were not (the start of) a JSON document.
    pub skipped_lines: usize,
    /// Byte offset of a document that ended before it was complete.
    pub truncated_at: Option<usize>,
    /// Documents past the limit: parsed to find their end, not kept.
    pub over_limit: usize,
    /// Documents kept (handed to the caller, or in `values`).
    pub kept: usize,
}

/// Splits `bytes` into JSON documents and skipped lines, keeping at most
/// `limit` documents (the others are skipped without building a value).
pub fn documents(bytes: &[u8], limit: usize) -> Documents {
    let mut values = Vec::new();
    let mut out = each_document(bytes, limit, &mut |at, v| values.push((at, v)));
    out.values = values;
    out
}

/// As [`documents`], handing each kept document to `each` as soon as it
/// is parsed (with its byte offset), so that only one value is alive at
/// a time; `values` stays empty.
pub fn each_document(bytes: &[u8], limit: usize, each: &mut dyn FnMut(usize, Value)) -> Documents {
    let mut out = Documents::default();
    let mut pos = 0;
    while pos < bytes.len() {
        if bytes[pos].is_ascii_whitespace() {
            pos += 1;
            continue;
        }
        if bytes[pos] != b'{' {
            out.skipped_lines += 1;
            pos = next_line(bytes, pos);
            continue;
        }
        let rest = &bytes[pos..];
        let step = if out.kept < limit {
            next_document::<Value>(rest)
        } else {
            next_document::<serde::de::IgnoredAny>(rest).map(|_| None)
        };
        match step {
            Step::Document(value, len) => {
                match value {
                    Some(v) => {
                        out.kept += 1;
                        each(pos, v);
                    }
                    None => out.over_limit += 1,
                }
                pos += len;
            }
            Step::Cut => {
                out.truncated_at = Some(pos);
                break;
            }
            Step::Broken(failed_at) => {
                out.skipped_lines += 1;
                pos = next_line(bytes, pos + failed_at);
            }
            Step::End => break,
        }
    }
    out
}

/// What parsing one document at the start of a slice found.
enum Step<T> {
    /// A document (`None`: past the limit, not kept) and its length.
    Document(T, usize),
    /// The slice ended inside the document.
    Cut,
    /// Not JSON from this offset on.
    Broken(usize),
    /// Nothing left.
    End,
}

impl<T> Step<T> {
    fn map<U>(self, f: impl FnOnce(T) -> U) -> Step<U> {
        match self {
            Step::Document(v, len) => Step::Document(f(v), len),
            Step::Cut => Step::Cut,
            Step::Broken(at) => Step::Broken(at),
            Step::End => Step::End,
        }
    }
}

/// Parses the document at the start of `rest` as a `T`.
fn next_document<T: serde::de::DeserializeOwned>(rest: &[u8]) -> Step<Option<T>> {
    let mut stream = serde_json::Deserializer::from_slice(rest).into_iter::<T>();
    match stream.next() {
        Some(Ok(value)) => Step::Document(Some(value), stream.byte_offset()),
        Some(Err(e)) if e.is_eof() => Step::Cut,
        Some(Err(e)) => Step::Broken(offset_of(rest, e.line(), e.column())),
        None => Step::End,
    }
}

/// The offset just past the end of the line holding `pos`.
fn next_line(bytes: &[u8], pos: usize) -> usize {
    bytes[pos..]
        .iter()
        .position(|&b| b == b'\n')
        .map_or(bytes.len(), |n| pos + n + 1)
}

/// Byte offset of serde_json's 1-based `line`, `column` in `bytes`.
fn offset_of(bytes: &[u8], line: usize, column: usize) -> usize {
    let line_start = bytes
        .iter()
        .enumerate()
        .filter(|(_, &b)| b == b'\n')
        .nth(line.saturating_sub(2))
        .map_or(0, |(i, _)| if line >= 2 { i + 1 } else { 0 });
    (line_start + column.saturating_sub(1)).min(bytes.len())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn documents_between_log_lines_are_found_and_lines_counted() {
        let input = b"Defaulted container \"qualify\"\n{\n  \"a\": 1\n}\n{\"b\": [2]}\nerror: pod gone\n{\"c\": \n";
        let d = documents(input, usize::MAX);
        assert_eq!(d.values.len(), 2);
        assert_eq!(d.values[0].1["a"], 1);
        assert_eq!(d.values[1].1["b"][0], 2);
        assert_eq!(d.skipped_lines, 2);
        assert_eq!(d.truncated_at, Some(input.len() - 7));
    }

    #[test]
    fn a_broken_brace_line_is_skipped_and_the_next_document_read() {
        let d = documents(b"{not json}\n{\"ok\": true}\n", usize::MAX);
        assert_eq!(d.values.len(), 1);
        assert_eq!(d.skipped_lines, 1);
        assert_eq!(d.truncated_at, None);
    }

    #[test]
    fn deep_nesting_is_refused_without_overflowing_the_stack() {
        let mut deep = "[".repeat(100_000);
        deep.insert(0, '{');
        let d = documents(deep.as_bytes(), usize::MAX);
        assert!(d.values.is_empty());
    }

    proptest! {
        #[test]
        fn any_bytes_never_panic_and_offsets_stay_in_bounds(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let d = documents(&bytes, 3);
            for (at, _) in &d.values {
                prop_assert!(*at < bytes.len());
            }
            if let Some(t) = d.truncated_at {
                prop_assert!(t < bytes.len());
            }
        }

        #[test]
        fn documents_survive_any_noise_lines_between_them(
            docs in proptest::collection::vec(0u32..1000, 1..6),
            noise in proptest::collection::vec("[a-zA-Z :\\[\\]\"]{0,40}", 0..6),
        ) {
            let mut input = String::new();
            for (i, n) in docs.iter().enumerate() {
                if let Some(line) = noise.get(i) {
                    input.push_str(line);
                    input.push('\n');
                }
                input.push_str(&serde_json::to_string_pretty(&serde_json::json!({"n": n})).unwrap());
                input.push('\n');
            }
            let d = documents(input.as_bytes(), usize::MAX);
            let found: Vec<u64> = d.values.iter().map(|(_, v)| v["n"].as_u64().unwrap()).collect();
            let expected: Vec<u64> = docs.iter().map(|&n| u64::from(n)).collect();
            prop_assert_eq!(found, expected);
            prop_assert_eq!(d.truncated_at, None);
        }
    }
}
