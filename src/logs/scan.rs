//! The line loop: bounded line reading, format detection per line, the
//! catalogue pre-filter, and the hand-off to the timeline. A line is
//! decoded (JSON or text) only when the pre-filter finds a catalogue
//! needle in it; every other line is only classified by its shape, so
//! reading runs at close to `grep`'s speed.

use std::io::{self, BufRead};

use memchr::memchr;
use regex::bytes::Regex;

use super::identity::{self, Identity};
use super::stale::{is_stale_kind, StaleLogs};
use super::time::UnixMs;
use super::timeline::Timeline;
use super::{
    capnslog, catalogue, console, cri, docker, golog, journald, zap, LogsReport, Parsed,
    SourceSummary, Wrapped, MAX_BYTES_WITHOUT_A_LOG_LINE, MAX_LINE_BYTES,
};

/// The inclusive time window events must fall in.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Window {
    /// Earliest time kept.
    pub since_ms: Option<UnixMs>,
    /// Latest time kept.
    pub until_ms: Option<UnixMs>,
}

impl Window {
    fn holds(&self, at_ms: UnixMs) -> bool {
        self.since_ms.is_none_or(|s| at_ms >= s) && self.until_ms.is_none_or(|u| at_ms <= u)
    }
}

/// Reads sources one after another into one timeline.
#[derive(Debug)]
pub struct Scanner {
    prefilter: Regex,
    window: Window,
    timeline: Timeline,
    sources: Vec<SourceSummary>,
    /// The member whose log the current source is, from its start lines.
    identity: Identity,
    stale: StaleLogs,
}

/// One line as the bounded reader returns it.
enum Line {
    /// A whole line (without its newline).
    Text,
    /// A line over [`MAX_LINE_BYTES`], skipped.
    Overlong,
}

impl Scanner {
    /// A scanner keeping events inside `window`.
    pub fn new(window: Window) -> Scanner {
        let alternation: Vec<String> = catalogue::needles()
            .chain(identity::NEEDLES.iter().copied())
            .map(regex::escape)
            .collect();
        Scanner {
            prefilter: Regex::new(&alternation.join("|")).expect("catalogue needles are literals"),
            window,
            timeline: Timeline::default(),
            sources: Vec::new(),
            identity: Identity::default(),
            stale: StaleLogs::default(),
        }
    }

    /// Reads every line of `reader` (named `name` in the report). A read
    /// error stops this source and is recorded in its summary.
    pub fn scan(&mut self, name: &str, reader: &mut dyn BufRead) {
        let mut summary = SourceSummary {
            name: name.to_string(),
            ..SourceSummary::default()
        };
        self.identity = Identity::default();
        let mut buf = Vec::with_capacity(4096);
        let mut pending: Option<(UnixMs, String)> = None;
        // Where the last line in a known format ended.
        let (mut known, mut known_at) = (0, 0);
        loop {
            if summary.known_lines() > known {
                (known, known_at) = (summary.known_lines(), summary.bytes);
            } else if summary.bytes - known_at > MAX_BYTES_WITHOUT_A_LOG_LINE {
                summary.error = Some(format!(
                    "{name}: stopped reading: {} MiB without a line in a known log format",
                    MAX_BYTES_WITHOUT_A_LOG_LINE >> 20
                ));
                break;
            }
            match next_line(reader, &mut buf, &mut summary.bytes) {
                Ok(None) => break,
                Ok(Some(Line::Overlong)) => {
                    summary.lines += 1;
                    summary.unparsed_lines += 1;
                    summary.overlong_lines += 1;
                }
                Ok(Some(Line::Text)) => {
                    summary.lines += 1;
                    self.line(&buf, &mut pending, &mut summary);
                }
                Err(e) => {
                    summary.error = Some(format!("{name}: {e}"));
                    break;
                }
            }
        }
        if pending.is_some() {
            // A partial line whose final part never came.
            summary.unparsed_lines += 1;
        }
        self.sources.push(summary);
    }

    /// Records a source that could not be opened.
    pub fn failed(&mut self, name: &str, error: String) {
        self.sources.push(SourceSummary {
            name: name.to_string(),
            error: Some(error),
            ..SourceSummary::default()
        });
    }

    /// The finished report.
    pub fn finish(self) -> LogsReport {
        let (events, elections) = self.timeline.finish();
        LogsReport {
            sources: self.sources,
            since_unix_ms: self.window.since_ms,
            until_unix_ms: self.window.until_ms,
            events,
            elections,
            stale_members: self.stale.finish(),
        }
    }

    fn line(
        &mut self,
        bytes: &[u8],
        pending: &mut Option<(UnixMs, String)>,
        s: &mut SourceSummary,
    ) {
        let Ok(line) = std::str::from_utf8(bytes) else {
            s.unparsed_lines += 1;
            return;
        };
        let line = line.strip_suffix('\r').unwrap_or(line);
        let interesting = self.prefilter.is_match(line.as_bytes());
        if let Some(w) = cri::parse(line) {
            self.cri(w, pending, s);
        } else if docker::looks_like(line) {
            self.wrapped(line, interesting, docker::parse, s, |s| s.docker_lines += 1);
        } else if journald::looks_like(line) {
            self.wrapped(line, interesting, journald::parse, s, |s| {
                s.journald_lines += 1
            });
        } else {
            self.inner(line, interesting, s);
        }
    }

    /// A CRI line: partial parts are kept until the final one.
    fn cri(
        &mut self,
        w: Wrapped<'_>,
        pending: &mut Option<(UnixMs, String)>,
        s: &mut SourceSummary,
    ) {
        let joined = match pending.take() {
            Some((at, mut text)) => {
                if text.len() + w.content.len() > MAX_LINE_BYTES {
                    s.unparsed_lines += 1;
                    s.overlong_lines += 1;
                    return;
                }
                text.push_str(&w.content);
                (at, text)
            }
            None => (w.at_ms, w.content.into_owned()),
        };
        if w.partial {
            *pending = Some(joined);
            return;
        }
        s.cri_lines += 1;
        let interesting = self.prefilter.is_match(joined.1.as_bytes());
        self.inner(&joined.1, interesting, s);
    }

    /// A docker or journald entry: decoded only when interesting.
    fn wrapped(
        &mut self,
        line: &str,
        interesting: bool,
        parse: fn(&str) -> Option<Wrapped<'static>>,
        s: &mut SourceSummary,
        count: fn(&mut SourceSummary),
    ) {
        if !line.ends_with('}') {
            s.unparsed_lines += 1;
            return;
        }
        if !interesting {
            count(s);
            return;
        }
        match parse(line) {
            Some(w) => {
                count(s);
                self.inner(&w.content, true, s);
            }
            None => s.unparsed_lines += 1,
        }
    }

    /// An etcd line (bare or unwrapped): zap JSON or console, or capnslog.
    fn inner(&mut self, line: &str, interesting: bool, s: &mut SourceSummary) {
        if !interesting {
            if zap::looks_like(line) {
                s.zap_lines += 1;
            } else if console::looks_like(line) {
                s.zap_console_lines += 1;
            } else if capnslog::looks_like(line) || golog::looks_like(line) {
                s.capnslog_lines += 1;
            } else {
                s.unparsed_lines += 1;
            }
            return;
        }
        self.identity.update(line);
        let parsed = if line.starts_with('{') {
            zap::parse(line).inspect(|_| s.zap_lines += 1)
        } else if let Some(p) = console::parse(line) {
            s.zap_console_lines += 1;
            Some(p)
        } else {
            capnslog::parse(line)
                .or_else(|| golog::parse(line))
                .inspect(|_| s.capnslog_lines += 1)
        };
        match parsed {
            Some(Parsed {
                at_ms,
                event: Some(event),
            }) => {
                if self.window.holds(at_ms) {
                    if is_stale_kind(event.kind) {
                        self.stale
                            .add(&s.name, &self.identity, at_ms, event.kind, line);
                    }
                    self.timeline.add(at_ms, event, line);
                } else {
                    s.outside_window += 1;
                }
            }
            Some(_) => {}
            None => s.unparsed_lines += 1,
        }
    }
}

/// Reads the next line into `buf` (without its newline), keeping at most
/// [`MAX_LINE_BYTES`]: the rest of a longer line is skipped unread into
/// memory, and a line past [`MAX_BYTES_WITHOUT_A_LOG_LINE`] ends there (a
/// stream without newlines is not read forever).
fn next_line(
    reader: &mut dyn BufRead,
    buf: &mut Vec<u8>,
    bytes: &mut u64,
) -> io::Result<Option<Line>> {
    buf.clear();
    let mut overlong = false;
    let mut any = false;
    let mut line_bytes = 0u64;
    loop {
        if line_bytes > MAX_BYTES_WITHOUT_A_LOG_LINE {
            return Ok(Some(Line::Overlong));
        }
        let chunk = match reader.fill_buf() {
            Ok(c) => c,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if chunk.is_empty() {
            return Ok(any.then_some(if overlong { Line::Overlong } else { Line::Text }));
        }
        any = true;
        let (take, done) = match memchr(b'\n', chunk) {
            Some(i) => (i, true),
            None => (chunk.len(), false),
        };
        if !overlong && buf.len() + take <= MAX_LINE_BYTES {
            buf.extend_from_slice(&chunk[..take]);
        } else {
            overlong = true;
            buf.clear();
        }
        let used = take + usize::from(done);
        reader.consume(used);
        *bytes += used as u64;
        line_bytes += used as u64;
        if done {
            return Ok(Some(if overlong { Line::Overlong } else { Line::Text }));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::EventKind;
    use proptest::prelude::*;

    const ZAP: &str = r#"{"level":"warn","ts":"2024-03-01T12:00:00.123Z","caller":"wal/wal.go:806","msg":"slow fdatasync","took":"1.534s","expected-duration":"1s"}"#;

    fn scan(text: &[u8]) -> LogsReport {
        let mut s = Scanner::new(Window::default());
        s.scan("t", &mut io::Cursor::new(text));
        s.finish()
    }

    #[test]
    fn every_format_gives_the_same_event() {
        let capn =
            "2024-03-01 12:00:00.123456 W | wal: sync duration of 1.534s, expected less than 1s";
        let (head, tail) = ZAP.split_at(40);
        let docker = serde_json::json!({"log": format!("{ZAP}\n"), "stream": "stderr", "time": "2024-03-01T12:00:00Z"});
        let journal = format!(
            r#"{{"__CURSOR":"s=1","__REALTIME_TIMESTAMP":"1709294400123000","MESSAGE":{}}}"#,
            serde_json::Value::from(capn)
        );
        let text = format!(
            "{ZAP}\n{capn}\n2024-03-01T12:00:00.2Z stderr P {head}\n2024-03-01T12:00:00.2Z stderr F {tail}\n{docker}\n{journal}\n"
        );
        let r = scan(text.as_bytes());
        let s = &r.sources[0];
        assert_eq!((s.lines, s.unparsed_lines), (6, 0), "{s:?}");
        assert_eq!(
            (
                s.zap_lines,
                s.capnslog_lines,
                s.cri_lines,
                s.docker_lines,
                s.journald_lines
            ),
            (3, 2, 1, 1, 1)
        );
        assert_eq!(r.count(EventKind::SlowFdatasync), 5);
        assert_eq!(
            r.kind(EventKind::SlowFdatasync).unwrap().worst_ms,
            Some(1534.0)
        );
    }

    #[test]
    fn bad_input_is_counted_never_fatal() {
        let mut text = b"\x00\xff\xfe garbage\n{\"level\":\"warn\",\"ts\":\"2024\n".to_vec();
        text.extend(std::iter::repeat_n(b'x', 10 << 20));
        text.extend_from_slice(b"\n");
        text.extend_from_slice(ZAP.as_bytes());
        let r = scan(&text);
        let s = &r.sources[0];
        assert_eq!((s.lines, s.unparsed_lines, s.overlong_lines), (4, 3, 1));
        assert_eq!(r.count(EventKind::SlowFdatasync), 1);
    }

    #[test]
    fn the_window_drops_events_outside_it() {
        let mut s = Scanner::new(Window {
            since_ms: Some(1_709_294_400_124),
            until_ms: None,
        });
        s.scan("t", &mut io::Cursor::new(ZAP));
        let r = s.finish();
        assert_eq!(
            (
                r.count(EventKind::SlowFdatasync),
                r.sources[0].outside_window
            ),
            (0, 1)
        );
    }

    proptest! {
        #[test]
        fn any_bytes_are_counted_line_by_line(bytes in proptest::collection::vec(any::<u8>(), 0..2000)) {
            let r = scan(&bytes);
            let s = &r.sources[0];
            prop_assert_eq!(s.bytes, bytes.len() as u64);
            prop_assert!(s.unparsed_lines <= s.lines + 1);
        }
    }
}
