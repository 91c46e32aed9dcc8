//! Reads JSON reports out of a byte stream as `kubectl logs -l ...` prints
//! it: concatenated (pretty-printed) JSON documents, with the odd log line
//! between them (a pod's stderr, `Defaulted container ...`), and possibly
//! a last document cut off when a pod was killed mid-write.
//!
//! The reader never fails on content: documents it can parse come out as
//! their bytes; lines that are not JSON are skipped and counted; a cut-off
//! document ends the stream with a note. It streams: memory is one
//! document (bounded) whatever the size of the input, and work is linear:
//! a parse that fails resumes after the line where it failed, never at
//! the byte after where it started.

use std::io::{self, BufRead, BufReader, Read};

use memchr::memchr;
use serde::de::{Deserialize, IgnoredAny};

/// Most bytes read from one file or standard input: reading streams (the
/// memory a source costs does not grow with its size), this bounds the
/// time; the rest of a longer source is left out with a note.
pub const MAX_INPUT_BYTES: u64 = 256 << 20;

/// Largest document kept: the largest report `compare` reads. Longer
/// ones are parsed to find their end, never held, and counted.
pub const MAX_DOCUMENT_BYTES: usize = crate::compare::MAX_REPORT_BYTES as usize;

/// Most bytes of documents kept across all sources: what the kept
/// reports may cost, whatever the number and size of the inputs.
pub const MAX_KEPT_BYTES: u64 = 256 << 20;

/// What may still be kept, shared by the sources of one merge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budget {
    /// Documents.
    pub documents: usize,
    /// Bytes of documents.
    pub bytes: u64,
}

impl Budget {
    /// `documents` documents of [`MAX_KEPT_BYTES`] in all.
    pub fn new(documents: usize) -> Budget {
        Budget {
            documents,
            bytes: MAX_KEPT_BYTES,
        }
    }
}

/// What one pass over a stream found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Documents {
    /// Lines that were not (the start of) a JSON document.
    pub skipped_lines: usize,
    /// Byte offset of a document that ended before it was complete.
    pub truncated_at: Option<u64>,
    /// Documents past the budget's count or bytes: parsed to find their
    /// end, not kept.
    pub over_limit: usize,
    /// Documents larger than [`MAX_DOCUMENT_BYTES`], not kept.
    pub too_large: usize,
    /// Documents kept (handed to the caller).
    pub kept: usize,
    /// The source went on past [`MAX_INPUT_BYTES`]: the rest was not read.
    pub stopped: bool,
}

/// Splits `reader` into JSON documents and skipped lines, handing each
/// kept document's bytes to `each` (with its byte offset) as soon as it
/// is complete. Memory is one document (at most [`MAX_DOCUMENT_BYTES`])
/// and a read buffer, whatever the stream's size; work is linear (a
/// document is checked once while it is read, and parsed by `each`).
pub fn each_document(
    reader: &mut dyn Read,
    budget: &mut Budget,
    each: &mut dyn FnMut(u64, &[u8]),
) -> io::Result<Documents> {
    each_document_within(reader, (MAX_INPUT_BYTES, MAX_DOCUMENT_BYTES), budget, each)
}

/// [`each_document`] with the input and document limits given (smaller
/// in tests).
fn each_document_within(
    reader: &mut dyn Read,
    (input_bytes, document_bytes): (u64, usize),
    budget: &mut Budget,
    each: &mut dyn FnMut(u64, &[u8]),
) -> io::Result<Documents> {
    let mut r = Tee::new(reader, input_bytes);
    let mut out = Documents::default();
    while let Some(b) = r.peek()? {
        if b.is_ascii_whitespace() {
            r.skip_whitespace()?;
            continue;
        }
        if b != b'{' {
            out.skipped_lines += 1;
            r.skip_line()?;
            continue;
        }
        let at = r.pos;
        r.copy_up_to(if budget.documents > 0 {
            document_bytes
        } else {
            0
        });
        // Checked, not built: serde's IgnoredAny walks the document with
        // serde_json's own syntax checks and depth limit.
        let checked = IgnoredAny::deserialize(&mut serde_json::Deserializer::from_reader(&mut r));
        let doc = r.take_copy();
        match checked {
            Ok(_) if budget.documents == 0 => out.over_limit += 1,
            Ok(_) => match doc {
                None => out.too_large += 1,
                Some(d) if d.len() as u64 > budget.bytes => out.over_limit += 1,
                Some(d) => {
                    budget.documents -= 1;
                    budget.bytes -= d.len() as u64;
                    out.kept += 1;
                    each(at, &d);
                }
            },
            Err(e) if e.is_io() => return Err(e.into()),
            Err(e) if e.is_eof() => {
                out.truncated_at = Some(at);
                break;
            }
            Err(_) => {
                // Not JSON from here on: resume after the line it failed in.
                out.skipped_lines += 1;
                r.skip_line()?;
            }
        }
    }
    out.stopped = r.pos > input_bytes;
    Ok(out)
}

/// The stream (read up to one byte past its limit), its
/// position, and a copy of what a document parse reads, up to a cap.
struct Tee<'a> {
    inner: BufReader<io::Take<&'a mut dyn Read>>,
    pos: u64,
    copy: Vec<u8>,
    /// Bytes the copy may hold; `None` once the document went past them.
    cap: Option<usize>,
}

impl<'a> Tee<'a> {
    fn new(reader: &'a mut dyn Read, limit: u64) -> Tee<'a> {
        Tee {
            inner: BufReader::with_capacity(64 << 10, reader.take(limit + 1)),
            pos: 0,
            copy: Vec::new(),
            cap: Some(0),
        }
    }

    fn peek(&mut self) -> io::Result<Option<u8>> {
        Ok(self.inner.fill_buf()?.first().copied())
    }

    fn skip(&mut self, n: usize) {
        self.inner.consume(n);
        self.pos += n as u64;
    }

    /// Skips the whitespace at the start of the buffer.
    fn skip_whitespace(&mut self) -> io::Result<()> {
        let buf = self.inner.fill_buf()?;
        let n = buf.iter().take_while(|b| b.is_ascii_whitespace()).count();
        self.skip(n);
        Ok(())
    }

    /// Skips to just past the next line end (or the end of the stream).
    fn skip_line(&mut self) -> io::Result<()> {
        loop {
            let buf = self.inner.fill_buf()?;
            if buf.is_empty() {
                return Ok(());
            }
            match memchr(b'\n', buf) {
                Some(i) => {
                    self.skip(i + 1);
                    return Ok(());
                }
                None => {
                    let n = buf.len();
                    self.skip(n);
                }
            }
        }
    }

    /// Starts copying what is read, up to `cap` bytes.
    fn copy_up_to(&mut self, cap: usize) {
        self.copy.clear();
        self.cap = Some(cap);
    }

    /// What was read since [`Tee::copy_up_to`], unless it went past the cap.
    fn take_copy(&mut self) -> Option<Vec<u8>> {
        let copy = self.cap.take().map(|_| std::mem::take(&mut self.copy));
        self.cap = Some(0);
        copy
    }
}

impl Read for Tee<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.pos += n as u64;
        if let Some(cap) = self.cap {
            if self.copy.len() + n <= cap {
                self.copy.extend_from_slice(&buf[..n]);
            } else {
                // Past the cap: drop what was copied, keep counting.
                self.copy = Vec::new();
                self.cap = None;
            }
        }
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::Value;

    /// The documents of `bytes` as values (at most `limit`), and the counts.
    fn documents(bytes: &[u8], limit: usize) -> (Vec<(u64, Value)>, Documents) {
        let mut values = Vec::new();
        let d = each_document(&mut &bytes[..], &mut Budget::new(limit), &mut |at, doc| {
            values.push((at, serde_json::from_slice(doc).unwrap()))
        })
        .unwrap();
        (values, d)
    }

    #[test]
    fn documents_between_log_lines_are_found_and_lines_counted() {
        let input = b"Defaulted container \"qualify\"\n{\n  \"a\": 1\n}\n{\"b\": [2]}\nerror: pod gone\n{\"c\": \n";
        let (values, d) = documents(input, usize::MAX);
        assert_eq!(values.len(), 2);
        assert_eq!(values[0].1["a"], 1);
        assert_eq!(values[1].1["b"][0], 2);
        assert_eq!(d.skipped_lines, 2);
        assert_eq!(d.truncated_at, Some(input.len() as u64 - 7));
    }

    #[test]
    fn a_broken_brace_line_is_skipped_and_the_next_document_read() {
        let (values, d) = documents(b"{not json}\n{\"ok\": true}\n", usize::MAX);
        assert_eq!(values.len(), 1);
        assert_eq!(d.skipped_lines, 1);
        assert_eq!(d.truncated_at, None);
    }

    #[test]
    fn deep_nesting_is_refused_without_overflowing_the_stack() {
        let mut deep = "[".repeat(100_000);
        deep.insert(0, '{');
        let (values, _) = documents(deep.as_bytes(), usize::MAX);
        assert!(values.is_empty());
    }

    /// Past the count, a document is walked to its end and not kept; one
    /// larger than a report can be is not kept either, and the next one is.
    #[test]
    fn documents_past_the_count_or_too_large_are_counted_not_kept() {
        let (values, d) = documents(b"{\"n\":1} {\"n\":2}\n{\"n\":3}", 2);
        assert_eq!((values.len(), d.kept, d.over_limit), (2, 2, 1));
        let big = format!("{{\"pad\":\"{}\"}}\n{{\"n\":1}}\n", "x".repeat(1000));
        let mut values = Vec::new();
        let d = each_document_within(
            &mut big.as_bytes(),
            (1 << 20, 100),
            &mut Budget::new(10),
            &mut |_, doc| values.push(doc.to_vec()),
        )
        .unwrap();
        assert_eq!((d.too_large, d.kept), (1, 1));
        assert_eq!(values, [b"{\"n\":1}".to_vec()]);
    }

    /// Kept bytes are shared by the sources of a merge: a second source
    /// finds the budget spent.
    #[test]
    fn the_byte_budget_spans_sources() {
        let doc = b"{\"n\":1}";
        let mut budget = Budget {
            documents: 10,
            bytes: 12,
        };
        let mut kept = 0;
        for _ in 0..2 {
            let d = each_document(&mut &doc[..], &mut budget, &mut |_, _| kept += 1).unwrap();
            assert_eq!(d.kept + d.over_limit, 1);
        }
        assert_eq!((kept, budget.bytes), (1, 12 - doc.len() as u64));
    }

    /// A source longer than its limit is read to there, not held: endless
    /// blanks and endless garbage stop with the flag set.
    #[test]
    fn an_endless_stream_stops_at_the_read_limit() {
        for byte in [b' ', b'x'] {
            let mut endless = io::repeat(byte);
            let d = each_document_within(
                &mut endless,
                (4 << 20, 100),
                &mut Budget::new(10),
                &mut |_, _| {},
            )
            .unwrap();
            assert!(d.stopped);
            assert_eq!(d.kept, 0);
        }
    }

    proptest! {
        #[test]
        fn any_bytes_never_panic_and_offsets_stay_in_bounds(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
            let (values, d) = documents(&bytes, 3);
            for (at, _) in &values {
                prop_assert!(*at < bytes.len() as u64);
            }
            if let Some(t) = d.truncated_at {
                prop_assert!(t < bytes.len() as u64);
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
            let (values, d) = documents(input.as_bytes(), usize::MAX);
            let found: Vec<u64> = values.iter().map(|(_, v)| v["n"].as_u64().unwrap()).collect();
            let expected: Vec<u64> = docs.iter().map(|&n| u64::from(n)).collect();
            prop_assert_eq!(found, expected);
            prop_assert_eq!(d.truncated_at, None);
        }
    }
}
