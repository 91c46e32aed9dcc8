//! The line loop: bounded line reading, format detection per line, the
//! catalogue pre-filter, and the hand-off to the timeline. A line is
//! decoded (JSON or text) only when the pre-filter finds a catalogue
//! needle in it; every other line is only classified by its shape, so
//! reading runs at close to `grep`'s speed.

use std::borrow::Cow;
use std::io::Read;

use memchr::memchr;

use super::catalogue::EventKind;
use super::chunk::{self, Piece};
use super::identity::{self, Identity};
use super::model::{Parsed, Wrapped, MAX_BYTES_WITHOUT_A_LOG_LINE, MAX_LINE_BYTES};
use super::needles::Needles;
use super::report::{LogsReport, SourceSummary};
use super::stale::{is_stale_kind, StaleLogs};
use super::time::UnixMs;
use super::timeline::Timeline;
use super::{capnslog, catalogue, console, cri, docker, golog, journald, zap};

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
    shared: Shared,
    threads: usize,
    /// Bytes read per chunk ([`chunk::CHUNK_BYTES`]; smaller in tests).
    chunk_bytes: usize,
    timeline: Timeline,
    sources: Vec<SourceSummary>,
    stale: StaleLogs,
}

/// What every worker reads with.
#[derive(Debug)]
struct Shared {
    prefilter: Needles,
    window: Window,
}

/// What [`Shared::lines`] reads in one step. A chunk is 4 MiB, twice this
/// core's L2 cache: its UTF-8 check, its line check and the pre-filter
/// each read it whole from L3 in turn. A step of a quarter MiB stays in L2
/// from the first pass to the decoding of its last hit.
const STEP_BYTES: usize = 256 << 10;

/// A CRI line whose final part has not come yet: its time and text.
type Pending = Option<(UnixMs, String)>;

/// Lines whose meaning depends on the lines before them in the source
/// (which member wrote it), replayed in file order when parts merge.
#[derive(Debug)]
enum Deferred {
    /// A start line naming the member.
    Identity(String),
    /// A crash line, attributed to the member named last.
    Stale(UnixMs, EventKind, String),
}

/// What one piece of a source held. Merging parts in file order gives
/// what reading the whole source line by line gives.
#[derive(Debug, Default)]
struct Part {
    counts: SourceSummary,
    timeline: Timeline,
    deferred: Vec<Deferred>,
    /// The CRI line left open at the piece's start, as assumed.
    pending_in: bool,
    /// The CRI line left open at its end.
    pending: Pending,
}

impl Scanner {
    /// A scanner keeping events inside `window`, on one thread.
    pub fn new(window: Window) -> Scanner {
        Scanner::with_threads(window, 1)
    }

    /// A scanner keeping events inside `window`, reading each source with
    /// `threads` workers (1 to [`chunk::MAX_THREADS`]).
    pub fn with_threads(window: Window, threads: usize) -> Scanner {
        let needles: Vec<&str> = catalogue::needles()
            .chain(identity::NEEDLES.iter().copied())
            .collect();
        Scanner {
            shared: Shared {
                prefilter: Needles::new(&needles),
                window,
            },
            threads: threads.clamp(1, chunk::MAX_THREADS),
            chunk_bytes: chunk::CHUNK_BYTES,
            timeline: Timeline::default(),
            sources: Vec::new(),
            stale: StaleLogs::default(),
        }
    }

    /// Reads every line of `reader` (named `name` in the report). A read
    /// error stops this source and is recorded in its summary.
    pub fn scan(&mut self, name: &str, reader: &mut (dyn Read + Send)) {
        let mut summary = SourceSummary {
            name: name.to_string(),
            ..SourceSummary::default()
        };
        let mut identity = Identity::default();
        let mut pending: Pending = None;
        let shared = &self.shared;
        let (timeline, stale) = (&mut self.timeline, &mut self.stale);
        // Where the last line in a known format ended: a stream that goes on
        // for MAX_BYTES_WITHOUT_A_LOG_LINE past it without one is not read
        // forever (`/dev/zero` piped in, another program's output).
        let (mut known, mut known_at) = (0, 0);
        let mut gave_up = false;
        let error = chunk::run(
            reader,
            (self.threads, self.chunk_bytes),
            &|piece| shared.part(piece, None),
            &mut |piece, mut part: Part| {
                if pending.is_some() && !part.pending_in {
                    // The piece began inside a CRI line: read it again with it.
                    part = shared.part(piece, pending.take());
                }
                add_counts(&mut summary, &part.counts);
                if summary.known_lines() > known {
                    (known, known_at) = (summary.known_lines(), summary.bytes);
                } else if summary.bytes - known_at > MAX_BYTES_WITHOUT_A_LOG_LINE {
                    gave_up = true;
                    return false;
                }
                timeline.merge(part.timeline);
                for d in part.deferred {
                    match d {
                        Deferred::Identity(line) => identity.update(&line),
                        Deferred::Stale(at, kind, line) => {
                            stale.add(name, &identity, at, kind, &line)
                        }
                    }
                }
                pending = part.pending;
                true
            },
        );
        if let Some(e) = error {
            summary.error = Some(format!("{name}: {e}"));
        } else if gave_up {
            summary.error = Some(format!(
                "{name}: stopped reading: {} MiB without a line in a known log format",
                MAX_BYTES_WITHOUT_A_LOG_LINE >> 20
            ));
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
        let (events, elections, requests) = self.timeline.finish();
        LogsReport {
            sources: self.sources,
            since_unix_ms: self.shared.window.since_ms,
            until_unix_ms: self.shared.window.until_ms,
            events,
            elections,
            stale_members: self.stale.finish(),
            requests,
        }
    }
}

fn add_counts(to: &mut SourceSummary, from: &SourceSummary) {
    to.bytes += from.bytes;
    to.lines += from.lines;
    to.zap_lines += from.zap_lines;
    to.zap_console_lines += from.zap_console_lines;
    to.capnslog_lines += from.capnslog_lines;
    to.cri_lines += from.cri_lines;
    to.docker_lines += from.docker_lines;
    to.journald_lines += from.journald_lines;
    to.unparsed_lines += from.unparsed_lines;
    to.overlong_lines += from.overlong_lines;
    to.outside_window += from.outside_window;
}

impl Shared {
    /// Scans one piece, the CRI line `pending` left open before it.
    fn part(&self, piece: &Piece, pending: Pending) -> Part {
        let mut part = Part {
            pending_in: pending.is_some(),
            pending,
            ..Part::default()
        };
        match piece {
            Piece::Lines(bytes) => {
                part.counts.bytes = bytes.len() as u64;
                self.lines(bytes, &mut part);
            }
            Piece::Overlong(n) => {
                part.counts.bytes = *n;
                part.counts.lines = 1;
                part.counts.unparsed_lines = 1;
                part.counts.overlong_lines = 1;
            }
            Piece::Cut(n) => part.counts.bytes = *n,
        }
        part
    }

    /// Whole lines, a step of about [`STEP_BYTES`] at a time (cut after a
    /// newline, so each step holds whole lines and is valid UTF-8 exactly
    /// when the lines in it are).
    fn lines(&self, bytes: &[u8], part: &mut Part) {
        let mut rest = bytes;
        let mut ends = Vec::new();
        while !rest.is_empty() {
            let cut = match rest.get(STEP_BYTES..) {
                Some(tail) => memchr(b'\n', tail).map_or(rest.len(), |i| STEP_BYTES + i + 1),
                None => rest.len(),
            };
            let (step, tail) = rest.split_at(cut);
            self.step(step, &mut ends, part);
            rest = tail;
        }
    }

    /// Whole lines. The pre-filter runs over the whole step; only a line
    /// holding a hit is decoded. When every line is zap-shaped (checked
    /// with whole-step searches too) the others are only counted. The
    /// step's UTF-8 check is simdutf8's (AVX2 where there is one): std's
    /// was a tenth of the instructions on a quiet log. `ends` is room for
    /// the line ends of zap-shaped lines: a hit's line is found among
    /// them, not by a search back and forth from it (those two `memchr`
    /// calls per decoded line were some 4 % of `logs`' time, perf).
    fn step(&self, bytes: &[u8], ends: &mut Vec<usize>, part: &mut Part) {
        let text = simdutf8::basic::from_utf8(bytes).ok();
        let hit_from = |at: usize| self.prefilter.find_from(bytes, at);
        if text.is_some() && all_zap_lines(bytes, ends) {
            let lines = ends.len() as u64;
            part.counts.lines += lines;
            let mut decoded = 0;
            let mut next = hit_from(0);
            // Lines before ends[line] hold no more hits.
            let mut line = 0;
            while let Some(hit) = next {
                // A walk, not a binary search: hits are close
                // together where it matters, and the search's chain of
                // dependent loads was 3 % of `logs`' time (perf).
                line += ends[line..].iter().take_while(|&&e| e < hit).count();
                let start = line.checked_sub(1).map_or(0, |l| ends[l] + 1);
                let end = ends.get(line).copied().unwrap_or(bytes.len());
                decoded += 1;
                // A zap line is neither CRI, docker nor journald, and
                // ends with `}` (no `\r` to strip): straight to `inner`.
                match text.and_then(|t| t.get(start..end)) {
                    Some(line) => self.inner(line, true, part),
                    None => part.counts.unparsed_lines += 1,
                }
                // `end` is past `hit`; the `max` only makes the progress plain.
                next = hit_from(end.max(hit + 1));
            }
            part.counts.zap_lines += lines - decoded;
            return;
        }
        let mut next = hit_from(0);
        let mut start = 0;
        while start < bytes.len() {
            let end = memchr(b'\n', &bytes[start..]).map_or(bytes.len(), |i| start + i);
            let maybe = next.is_some_and(|h| h < end);
            if maybe {
                next = hit_from(end);
            }
            part.counts.lines += 1;
            if end - start > MAX_LINE_BYTES {
                part.counts.unparsed_lines += 1;
                part.counts.overlong_lines += 1;
            } else {
                let line = match text {
                    Some(t) => t.get(start..end),
                    None => std::str::from_utf8(&bytes[start..end]).ok(),
                };
                self.line(line, maybe, part);
            }
            start = end + 1;
        }
    }

    /// One line; `maybe` when the pre-filter hit inside it.
    fn line(&self, line: Option<&str>, maybe: bool, part: &mut Part) {
        let Some(line) = line else {
            part.counts.unparsed_lines += 1;
            return;
        };
        let line = line.strip_suffix('\r').unwrap_or(line);
        if let Some(w) = cri::parse(line) {
            self.cri(w, maybe, part);
        } else if docker::looks_like(line) {
            self.wrapped(line, maybe, docker::parse, part, |s| s.docker_lines += 1);
        } else if journald::looks_like(line) {
            self.wrapped(line, maybe, journald::parse, part, |s| {
                s.journald_lines += 1
            });
        } else {
            self.inner(line, maybe, part);
        }
    }

    /// A CRI line: partial parts are kept until the final one.
    fn cri(&self, w: Wrapped<'_>, maybe: bool, part: &mut Part) {
        let s = &mut part.counts;
        let (joined, interesting) = match part.pending.take() {
            Some((at, mut text)) => {
                if text.len() + w.content.len() > MAX_LINE_BYTES {
                    s.unparsed_lines += 1;
                    s.overlong_lines += 1;
                    return;
                }
                text.push_str(&w.content);
                // Parts joined can hold a needle neither part holds.
                let interesting = self.prefilter.is_match(text.as_str());
                ((at, Cow::Owned(text)), interesting)
            }
            // No hit in the line: none in the text it wraps.
            None => {
                let interesting = maybe && self.prefilter.is_match(w.content.as_ref());
                ((w.at_ms, w.content), interesting)
            }
        };
        if w.partial {
            part.pending = Some((joined.0, joined.1.into_owned()));
            return;
        }
        s.cri_lines += 1;
        self.inner(&joined.1, interesting, part);
    }

    /// A docker or journald entry: decoded only when interesting.
    fn wrapped(
        &self,
        line: &str,
        interesting: bool,
        parse: fn(&str) -> Option<Wrapped<'static>>,
        part: &mut Part,
        count: fn(&mut SourceSummary),
    ) {
        if !line.ends_with('}') {
            part.counts.unparsed_lines += 1;
            return;
        }
        if !interesting {
            count(&mut part.counts);
            return;
        }
        match parse(line) {
            Some(w) => {
                count(&mut part.counts);
                self.inner(&w.content, true, part);
            }
            None => part.counts.unparsed_lines += 1,
        }
    }

    /// An etcd line (bare or unwrapped): zap JSON or console, or capnslog.
    fn inner(&self, line: &str, interesting: bool, part: &mut Part) {
        let s = &mut part.counts;
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
        // A decoder that read the message knows; text lines (and lines no
        // decoder took) are searched for start needles.
        let start_line = parsed.as_ref().and_then(|p| p.start_line);
        if start_line.unwrap_or_else(|| identity::mentions(line)) {
            part.deferred.push(Deferred::Identity(line.to_string()));
        }
        match parsed {
            Some(Parsed {
                at_ms,
                event: Some(event),
                ..
            }) => {
                if self.window.holds(at_ms) {
                    if is_stale_kind(event.kind) {
                        part.deferred
                            .push(Deferred::Stale(at_ms, event.kind, line.to_string()));
                    }
                    part.timeline.add(at_ms, event, line);
                } else {
                    s.outside_window += 1;
                }
            }
            Some(_) => {}
            None => s.unparsed_lines += 1,
        }
    }
}

/// True when every line of `bytes` is a zap JSON line (starts with
/// `{"level":`, ends with `}`, at most [`MAX_LINE_BYTES`]), found with
/// whole-buffer searches instead of a loop over lines; `ends` is then
/// where each line ends (its newline, or the end of `bytes`), one a line.
fn all_zap_lines(bytes: &[u8], ends: &mut Vec<usize>) -> bool {
    ends.clear();
    const HEAD: &[u8] = b"{\"level\":";
    if !bytes.starts_with(HEAD) {
        return false;
    }
    let mut start = 0;
    // One pass over the line ends: each must close a `}` and open the next line with HEAD.
    for end in memchr::memchr_iter(b'\n', bytes) {
        let next = &bytes[end + 1..];
        let ok = end - start <= MAX_LINE_BYTES
            && end > 0
            && bytes[end - 1] == b'}'
            && (next.is_empty() || next.starts_with(HEAD));
        if !ok {
            return false;
        }
        ends.push(end);
        start = end + 1;
    }
    if start < bytes.len() {
        // The source's last line, without a newline.
        if bytes.len() - start > MAX_LINE_BYTES || !bytes.ends_with(b"}") {
            return false;
        }
        ends.push(bytes.len());
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::io;

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

    /// Lines of every shape, in a seeded random order: zap with and
    /// without needles, CRI lines whose needle is split between a partial
    /// and its final part, docker, capnslog start and crash lines, binary,
    /// empty, `\r`-ended and overlong ones.
    fn mixed_log(seed: u64, bytes: usize) -> Vec<u8> {
        let mut out = Vec::new();
        let mut x = seed;
        let mut i = 0u64;
        while out.len() < bytes {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            i += 1;
            let line = match if i % 20011 == 0 { 8 } else { (x >> 33) % 40 } {
                8 => "y".repeat(MAX_LINE_BYTES + 10),
                0 => ZAP.replace("1.534s", &format!("1.{:03}s", i % 1000)),
                1 => "2024-03-01T12:00:00.2Z stderr P {\"level\":\"warn\",\"ts\":\"2024-03-01T12:00:00.1Z\",\"msg\":\"slow fd\n2024-03-01T12:00:00.2Z stderr F atasync\",\"took\":\"2s\"}".to_string(),
                2 => format!("2024-03-01 12:00:{:02}.000000 I | embed: name = m{}", i % 60, i % 7),
                3 => format!("2024-03-01 12:00:{:02}.000000 P | raft: tocommit({i}) is out of range [lastIndex(0)]. Was the raft log corrupted, truncated, or lost?", i % 60),
                4 => serde_json::json!({"log": format!("{ZAP}\n"), "stream": "stderr", "time": "2024-03-01T12:00:00Z"}).to_string(),
                5 => "\u{0}\u{1} not a log line".to_string(),
                6 => String::new(),
                7 => format!("{ZAP}\r"),
                9 => format!("{{\"level\":\"info\",\"ts\":\"2024-03-01T12:00:00Z\",\"msg\":\"raft.node: a elected leader b at term {}\"}}", i % 50),
                _ => format!("{{\"level\":\"info\",\"ts\":\"2024-03-01T12:00:{:02}Z\",\"msg\":\"request served {i}\"}}", i % 60),
            };
            out.extend_from_slice(line.as_bytes());
            if i % 997 == 0 {
                out.extend_from_slice(b"\xff\xfe");
            }
            out.push(b'\n');
        }
        out
    }

    fn scan_in(text: &[u8], threads: usize, chunk_bytes: usize) -> LogsReport {
        let mut s = Scanner::with_threads(Window::default(), threads);
        s.chunk_bytes = chunk_bytes;
        s.scan("t", &mut io::Cursor::new(text));
        s.finish()
    }

    #[test]
    fn chunks_and_threads_do_not_change_the_answer() {
        let text = mixed_log(7, 9 << 20);
        // One chunk for the whole text: the line-by-line answer.
        let whole = scan_in(&text, 1, 64 << 20);
        let s = &whole.sources[0];
        assert!(
            s.cri_lines > 0 && s.docker_lines > 0 && s.overlong_lines > 0,
            "{s:?}"
        );
        assert!(s.unparsed_lines > 0 && s.capnslog_lines > 0, "{s:?}");
        assert!(!whole.stale_members.is_empty());
        assert!(whole.count(EventKind::SlowFdatasync) > 0);
        for (threads, chunk) in [
            (1, 2 * MAX_LINE_BYTES),
            (3, 2 * MAX_LINE_BYTES),
            (2, 3 * MAX_LINE_BYTES + 7),
        ] {
            assert_eq!(
                scan_in(&text, threads, chunk),
                whole,
                "{threads} threads, chunks of {chunk}"
            );
        }
    }

    #[test]
    fn zap_only_chunks_are_counted_without_a_line_loop() {
        let lines = format!("{ZAP}\n{ZAP}\n{ZAP}");
        let n = ZAP.len();
        let mut ends = Vec::new();
        assert!(all_zap_lines(lines.as_bytes(), &mut ends));
        assert_eq!(ends, [n, 2 * n + 1, 3 * n + 2]);
        let with_newline = format!("{lines}\n");
        assert!(all_zap_lines(with_newline.as_bytes(), &mut ends));
        assert_eq!(ends, [n, 2 * n + 1, 3 * n + 2]);
        for other in ["", "x", "{\"level\":1", "{\"level\":1}\r"] {
            let text = format!("{lines}\n{other}\n{ZAP}\n");
            assert!(!all_zap_lines(text.as_bytes(), &mut ends), "{other:?}");
        }
        let long = format!("{{\"level\":\"{}\"}}\n{ZAP}\n", "x".repeat(MAX_LINE_BYTES));
        assert!(!all_zap_lines(long.as_bytes(), &mut ends));
        let r = scan(format!("{lines}\n").as_bytes());
        assert_eq!((r.sources[0].lines, r.sources[0].zap_lines), (3, 3));
        assert_eq!(r.count(EventKind::SlowFdatasync), 3);
    }

    /// Zap lines: catalogued, gated below and above the threshold,
    /// uncatalogued, and zap-shaped but broken with a needle in them.
    fn zap_line(pick: usize, n: usize) -> String {
        let ts = format!("2024-03-01T12:00:{:02}.{:03}Z", n / 1000 % 60, n % 1000);
        match pick % 5 {
            0 => ZAP.replace("1.534s", &format!("1.{:03}s", n % 1000)),
            1 => format!(
                r#"{{"level":"debug","ts":"{ts}","caller":"v3rpc/interceptor.go:182","msg":"request stats","time spent":"{}ms","response type":"/etcdserverpb.KV/Range","request content":"key:\"/registry/pods/a{n}\" "}}"#,
                n % 700
            ),
            2 => format!(
                r#"{{"level":"info","ts":"{ts}","msg":"saved snapshot","snapshot-index":{n}}}"#
            ),
            3 => format!(r#"{{"level":"info","ts":"{ts}","msg":"watch stream {n} closed"}}"#),
            _ => format!(r#"{{"level":"warn","ts":"{ts}","msg":"slow fdatasync",}}"#),
        }
    }

    /// The zap path (every line zap-shaped: counted, and a hit's line
    /// found among the line ends) against the line loop.
    #[test]
    fn steps_of_zap_lines_read_as_lines_one_by_one() {
        let lines: Vec<String> = (0..9000).map(|n| zap_line(n * 7 / 3, n)).collect();
        let text = lines.join("\n");
        assert!(text.len() > 3 * STEP_BYTES, "{}", text.len());
        let whole = scan(text.as_bytes());
        let mut want = Scanner::new(Window::default());
        for line in &lines {
            want.scan("t", &mut io::Cursor::new(line.as_bytes()));
        }
        let want = want.finish();
        let s = &whole.sources[0];
        let sum = |f: fn(&SourceSummary) -> u64| want.sources.iter().map(f).sum::<u64>();
        assert_eq!(s.lines, 9000);
        assert_eq!(s.zap_lines, sum(|s| s.zap_lines));
        assert_eq!(s.unparsed_lines, sum(|s| s.unparsed_lines));
        assert_eq!(s.unparsed_lines, 1800);
        assert_eq!(whole.events, want.events);
        assert_eq!(whole.requests, want.requests);
        assert!(whole.count(EventKind::SlowFdatasync) > 0);
    }

    proptest! {
        /// A line in no known format first sends the step down the line
        /// loop; the zap path must give the same answer for the rest.
        #[test]
        fn the_zap_path_reads_as_the_line_loop(
            picks in proptest::collection::vec(0usize..5, 1..40),
            newline in any::<bool>(),
        ) {
            let lines: Vec<String> = picks.iter().enumerate().map(|(n, &p)| zap_line(p, n)).collect();
            let mut text = lines.join("\n");
            if newline {
                text.push('\n');
            }
            let fast = scan(text.as_bytes());
            let slow = scan(format!("x\n{text}").as_bytes());
            let (f, s) = (&fast.sources[0], &slow.sources[0]);
            prop_assert_eq!(f.lines + 1, s.lines);
            prop_assert_eq!(f.unparsed_lines + 1, s.unparsed_lines);
            prop_assert_eq!(f.zap_lines, s.zap_lines);
            prop_assert_eq!(&fast.events, &slow.events);
            prop_assert_eq!(&fast.requests, &slow.requests);
        }

        #[test]
        fn any_bytes_are_counted_line_by_line(bytes in proptest::collection::vec(any::<u8>(), 0..2000)) {
            let r = scan(&bytes);
            let s = &r.sources[0];
            prop_assert_eq!(s.bytes, bytes.len() as u64);
            prop_assert!(s.unparsed_lines <= s.lines + 1);
        }
    }
}
