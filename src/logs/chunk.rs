//! Reading a source in large chunks cut at line ends, and scanning the
//! chunks on several threads with the results merged in file order.
//!
//! Why: a line-at-a-time loop pays a call, a copy and a pre-filter run per
//! line, and uses one core. A chunk of [`CHUNK_BYTES`] is searched whole
//! (see [`super::scan`]), and `threads` workers (the calling thread one of
//! them) each read the next chunk, scan it and merge what is in order.
//! Memory stays bounded by counts: at most `2 x threads` chunks are in
//! flight (read, scanned or waiting for their turn to merge), and their
//! buffers are reused.
//!
//! A line longer than a chunk is never held: the reader skips it and hands
//! on only its length ([`Piece::Overlong`]).

use std::collections::BTreeMap;
use std::io::{self, Read};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Condvar, Mutex};
use std::thread;

use memchr::{memchr, memrchr};

use super::model::{MAX_BYTES_WITHOUT_A_LOG_LINE, MAX_LINE_BYTES};

/// Bytes read per chunk (more than [`MAX_LINE_BYTES`], so a chunk with no
/// line end in it is part of an overlong line).
pub const CHUNK_BYTES: usize = 4 * MAX_LINE_BYTES;

/// Most threads a source is scanned with.
pub const MAX_THREADS: usize = 64;

/// What the reader hands on, in file order.
#[derive(Debug)]
pub enum Piece {
    /// Whole lines (the last one without its newline only at the end of
    /// the source).
    Lines(Vec<u8>),
    /// A line longer than a chunk, skipped: its length with the newline.
    Overlong(u64),
    /// Bytes of a line cut short by a read error (counted, not a line).
    Cut(u64),
}

/// Splits a reader into [`Piece`]s.
pub struct Chunker<'a> {
    reader: &'a mut (dyn Read + Send),
    /// Bytes read per chunk.
    chunk_bytes: usize,
    /// The start of a line whose end was not read yet.
    carry: Vec<u8>,
    /// A piece to hand on before the read error.
    queued: Option<Piece>,
    /// A read error, returned after the lines read before it.
    error: Option<io::Error>,
    done: bool,
}

impl<'a> Chunker<'a> {
    /// Reads from `reader`, `chunk_bytes` at a time (at least twice
    /// [`MAX_LINE_BYTES`], so a chunk without a line end is overlong).
    pub fn new(reader: &'a mut (dyn Read + Send), chunk_bytes: usize) -> Chunker<'a> {
        Chunker {
            reader,
            chunk_bytes: chunk_bytes.max(2 * MAX_LINE_BYTES),
            carry: Vec::new(),
            queued: None,
            error: None,
            done: false,
        }
    }

    /// The next piece, read into `buf` (reused); `Ok(None)` at the end.
    pub fn next(&mut self, mut buf: Vec<u8>) -> io::Result<Option<Piece>> {
        if let Some(piece) = self.queued.take() {
            return Ok(Some(piece));
        }
        if let Some(e) = self.error.take() {
            self.done = true;
            return Err(e);
        }
        if self.done {
            return Ok(None);
        }
        buf.clear();
        buf.extend_from_slice(&self.carry);
        self.carry.clear();
        let eof = self.fill(&mut buf);
        if self.error.is_some() {
            // Whole lines first; the cut one's bytes are only counted.
            let lines = memrchr(b'\n', &buf).map_or(0, |i| i + 1);
            let cut = (buf.len() - lines) as u64;
            if lines == 0 {
                return match cut {
                    0 => self.next(buf),
                    _ => Ok(Some(Piece::Cut(cut))),
                };
            }
            self.queued = (cut > 0).then_some(Piece::Cut(cut));
            buf.truncate(lines);
            return Ok(Some(Piece::Lines(buf)));
        }
        if eof {
            self.done = true;
            return Ok((!buf.is_empty()).then_some(Piece::Lines(buf)));
        }
        match memrchr(b'\n', &buf) {
            Some(i) => {
                self.carry.extend_from_slice(&buf[i + 1..]);
                buf.truncate(i + 1);
                Ok(Some(Piece::Lines(buf)))
            }
            None => Ok(Some(self.skip_overlong(buf))),
        }
    }

    /// Reads until `buf` holds a chunk; true at the end of the
    /// source. A read error is kept (and ends the source).
    fn fill(&mut self, buf: &mut Vec<u8>) -> bool {
        let missing = self.chunk_bytes.saturating_sub(buf.len());
        match (&mut *self.reader).take(missing as u64).read_to_end(buf) {
            Ok(n) => n < missing,
            Err(e) => {
                self.error = Some(e);
                true
            }
        }
    }

    /// `buf` is full and has no newline: skip to the end of this line.
    fn skip_overlong(&mut self, mut buf: Vec<u8>) -> Piece {
        let mut skipped = 0u64;
        loop {
            if let Some(i) = memchr(b'\n', &buf) {
                self.carry.extend_from_slice(&buf[i + 1..]);
                return Piece::Overlong(skipped + i as u64 + 1);
            }
            skipped += buf.len() as u64;
            buf.clear();
            if skipped > MAX_BYTES_WITHOUT_A_LOG_LINE {
                // A stream without line ends is not read forever.
                self.error = Some(io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!(
                        "stopped reading: a line of more than {} MiB",
                        MAX_BYTES_WITHOUT_A_LOG_LINE >> 20
                    ),
                ));
                return Piece::Cut(skipped);
            }
            if self.fill(&mut buf) && memchr(b'\n', &buf).is_none() {
                let bytes = skipped + buf.len() as u64;
                if self.error.is_some() {
                    return Piece::Cut(bytes);
                }
                self.done = true;
                return Piece::Overlong(bytes);
            }
        }
    }
}

/// Reads `reader` piece by piece, scans each with `scan` (on `threads`
/// workers when more than one), and hands the results to `merge` in file
/// order together with the piece (so a result can be redone); reading
/// stops when `merge` returns false. Returns the read error that ended the
/// source, if any.
pub fn run<T: Send>(
    reader: &mut (dyn Read + Send),
    (threads, chunk_bytes): (usize, usize),
    scan: &(dyn Fn(&Piece) -> T + Sync),
    merge: &mut (dyn FnMut(&Piece, T) -> bool + Send),
) -> Option<io::Error> {
    let mut chunker = Chunker::new(reader, chunk_bytes);
    let threads = threads.clamp(1, MAX_THREADS);
    if threads == 1 {
        let mut buf = Vec::new();
        loop {
            match chunker.next(buf) {
                Ok(Some(piece)) => {
                    let result = scan(&piece);
                    if !merge(&piece, result) {
                        return None;
                    }
                    buf = reclaim(piece);
                }
                Ok(None) => return None,
                Err(e) => return Some(e),
            }
        }
    }
    let pool = Pool {
        source: Mutex::new(Source {
            chunker,
            read: 0,
            error: None,
        }),
        ended: AtomicBool::new(false),
        // The buffers are the permits: a worker reads only into a free
        // one, and one is free again only once its piece is merged.
        free: Mutex::new(vec![Vec::new(); 2 * threads]),
        freed: Condvar::new(),
        order: Mutex::new(Order::new(merge)),
    };
    // The calling thread is a worker too, and whichever worker scanned a
    // piece merges what is in order: a merging thread of its own woke on
    // every piece and took a core from a worker (89 of one worker's 108
    // wake-ups on the 200 MB bench log, perf sched).
    thread::scope(|s| {
        for _ in 1..threads {
            s.spawn(|| worker(&pool, scan));
        }
        worker(&pool, scan);
    });
    pool.source.into_inner().ok().and_then(|s| s.error)
}

/// What the workers share.
struct Pool<'a, 'm, T> {
    source: Mutex<Source<'a>>,
    /// The source ended, failed or `merge` asked for no more.
    ended: AtomicBool,
    free: Mutex<Vec<Vec<u8>>>,
    freed: Condvar,
    order: Mutex<Order<'m, T>>,
}

/// The source the workers read in turn.
struct Source<'a> {
    chunker: Chunker<'a>,
    /// Pieces read so far: the next one's place in file order.
    read: usize,
    error: Option<io::Error>,
}

impl<T> Pool<'_, '_, T> {
    /// A free buffer; `None` once the source has ended.
    fn take_free(&self) -> Option<Vec<u8>> {
        let mut free = self.free.lock().ok()?;
        loop {
            if self.ended.load(Ordering::Acquire) {
                return None;
            }
            if let Some(buf) = free.pop() {
                return Some(buf);
            }
            free = self.freed.wait(free).ok()?;
        }
    }

    /// Ends the source for every worker.
    fn end(&self) {
        self.ended.store(true, Ordering::Release);
        // Taken so that no worker is between its check and its wait.
        let _free = self.free.lock();
        self.freed.notify_all();
    }

    /// The next piece and its place in file order, read into `buf`.
    fn read(&self, buf: Vec<u8>) -> Option<(usize, Piece)> {
        let mut source = self.source.lock().ok()?;
        if self.ended.load(Ordering::Acquire) {
            return None;
        }
        match source.chunker.next(buf) {
            Ok(Some(piece)) => {
                source.read += 1;
                return Some((source.read - 1, piece));
            }
            Ok(None) => {}
            Err(e) => source.error = Some(e),
        }
        // The source ended or failed: every worker stops.
        drop(source);
        self.end();
        None
    }

    /// Merges what is in order after `seq` arrived, and frees its buffers.
    fn arrived(&self, seq: usize, piece: Piece, result: T) {
        let (freed, stopped) = match self.order.lock() {
            Ok(mut order) => {
                order.arrived(seq, piece, result);
                (std::mem::take(&mut order.free), order.stopped)
            }
            Err(_) => (Vec::new(), true),
        };
        if stopped {
            self.end();
            return;
        }
        if let Ok(mut free) = self.free.lock() {
            free.extend(freed);
            self.freed.notify_all();
        }
    }
}

/// Reads the next piece into a free buffer (the source locked, so pieces
/// are numbered in file order), scans it on the same thread while its
/// bytes are still in this core's cache, and merges what is in order,
/// until the source ends. With a reader thread handing chunks over, two
/// threads took ~8 % longer on a 1 GB log (perf stat, median of 4
/// rounds).
fn worker<T>(pool: &Pool<'_, '_, T>, scan: &(dyn Fn(&Piece) -> T + Sync)) {
    let _guard = EndOnPanic(pool);
    while let Some(buf) = pool.take_free() {
        let Some((seq, piece)) = pool.read(buf) else {
            return;
        };
        let result = scan(&piece);
        pool.arrived(seq, piece, result);
    }
}

/// Ends the source for every worker when its own worker panics: the
/// others would otherwise wait for ever for the piece it held (the panic
/// then reaches the caller when the scope joins).
struct EndOnPanic<'p, 'a, 'm, T>(&'p Pool<'a, 'm, T>);

impl<T> Drop for EndOnPanic<'_, '_, '_, T> {
    fn drop(&mut self) {
        if thread::panicking() {
            self.0.end();
        }
    }
}

/// Results waiting for their turn, the merge they wait for, and buffers
/// to reuse.
struct Order<'m, T> {
    merge: &'m mut (dyn FnMut(&Piece, T) -> bool + Send),
    merged: usize,
    /// `merge` asked for no more: the rest is dropped unmerged.
    stopped: bool,
    waiting: BTreeMap<usize, (Piece, T)>,
    free: Vec<Vec<u8>>,
}

impl<'m, T> Order<'m, T> {
    fn new(merge: &'m mut (dyn FnMut(&Piece, T) -> bool + Send)) -> Self {
        Order {
            merge,
            merged: 0,
            stopped: false,
            waiting: BTreeMap::new(),
            free: Vec::new(),
        }
    }

    fn arrived(&mut self, seq: usize, piece: Piece, result: T) {
        if self.stopped {
            return;
        }
        self.waiting.insert(seq, (piece, result));
        while let Some((piece, result)) = self.waiting.remove(&self.merged) {
            self.stopped = self.stopped || !(self.merge)(&piece, result);
            self.free.push(reclaim(piece));
            self.merged += 1;
        }
    }
}

fn reclaim(piece: Piece) -> Vec<u8> {
    match piece {
        Piece::Lines(buf) => buf,
        Piece::Overlong(_) | Piece::Cut(_) => Vec::new(),
    }
}

/// The parts `len` items fall into when cut at `cuts` (each taken modulo
/// `len + 1`, in any order): for tests that tally parts apart and merge
/// them, as the workers do with chunks.
#[cfg(test)]
pub(crate) fn parts(len: usize, cuts: &[usize]) -> Vec<std::ops::Range<usize>> {
    let mut bounds: Vec<usize> = cuts.iter().map(|c| c % (len + 1)).collect();
    bounds.push(len);
    bounds.sort_unstable();
    let mut start = 0;
    bounds
        .into_iter()
        .map(|end| {
            let part = start..end;
            start = end;
            part
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lines of 100 bytes, `n` of them.
    fn text(n: usize) -> Vec<u8> {
        (0..n)
            .flat_map(|i| format!("{i:099}\n").into_bytes())
            .collect()
    }

    /// What `run` merged, in merge order: the pieces' bytes.
    fn merged(
        reader: &mut (dyn Read + Send),
        threads: usize,
        stop_after: usize,
    ) -> (Vec<u8>, usize, Option<io::Error>) {
        let (mut out, mut calls) = (Vec::new(), 0);
        let error = run(
            reader,
            (threads, 2 * MAX_LINE_BYTES),
            &|piece| match piece {
                Piece::Lines(b) => b.len(),
                _ => 0,
            },
            &mut |piece, len| {
                calls += 1;
                if let Piece::Lines(b) = piece {
                    assert_eq!(b.len(), len, "the result of this piece");
                    out.extend_from_slice(b);
                }
                calls < stop_after
            },
        );
        (out, calls, error)
    }

    #[test]
    fn every_thread_count_merges_the_source_in_order() {
        let text = text(120_000);
        for threads in [1, 2, 3, 8] {
            let (out, calls, error) = merged(&mut io::Cursor::new(&text), threads, usize::MAX);
            assert!(out == text, "{threads} threads");
            assert_eq!(calls, 6, "{threads} threads: 12 MB in 2 MiB pieces");
            assert!(error.is_none());
        }
    }

    #[test]
    fn a_slow_first_piece_holds_the_others_until_it_is_merged() {
        let text = text(120_000);
        for threads in [2, 3] {
            let mut calls = 0;
            let mut out = Vec::new();
            let error = run(
                &mut io::Cursor::new(&text),
                (threads, 2 * MAX_LINE_BYTES),
                &|piece| {
                    // The first piece starts with line 0: every buffer is
                    // used up behind it, and the others wait for a free one.
                    if matches!(piece, Piece::Lines(b) if b.starts_with(&[b'0'; 99])) {
                        thread::sleep(std::time::Duration::from_millis(50));
                    }
                },
                &mut |piece, ()| {
                    calls += 1;
                    if let Piece::Lines(b) = piece {
                        out.extend_from_slice(b);
                    }
                    true
                },
            );
            assert!(out == text, "{threads} threads: in file order");
            assert_eq!(calls, 6);
            assert!(error.is_none());
        }
    }

    #[test]
    fn a_panicking_worker_ends_the_run_instead_of_hanging_it() {
        let (tx, rx) = std::sync::mpsc::channel();
        thread::spawn(move || {
            let text = text(120_000);
            let outcome = std::panic::catch_unwind(|| {
                run(
                    &mut io::Cursor::new(&text),
                    (2, 2 * MAX_LINE_BYTES),
                    &|piece| {
                        if matches!(piece, Piece::Lines(b) if b.starts_with(&[b'0'; 99])) {
                            panic!("scan failed on the first piece");
                        }
                    },
                    &mut |_, ()| true,
                )
            });
            let _ = tx.send(outcome.is_err());
        });
        let panicked = rx.recv_timeout(std::time::Duration::from_secs(20));
        assert_eq!(panicked, Ok(true), "the panic reached the caller in time");
    }

    #[test]
    fn merge_can_stop_the_reading() {
        let text = text(120_000);
        for threads in [1, 2, 4] {
            let (out, calls, error) = merged(&mut io::Cursor::new(&text), threads, 2);
            assert_eq!(calls, 2, "{threads} threads: nothing merged after the stop");
            assert!(text.starts_with(&out) && out.len() > 2 * MAX_LINE_BYTES);
            assert!(error.is_none());
        }
    }

    /// Gives `good` bytes of its text, then fails.
    struct Failing {
        text: io::Cursor<Vec<u8>>,
        good: u64,
    }

    impl Read for Failing {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let left = self.good.saturating_sub(self.text.position());
            if left == 0 {
                return Err(io::Error::other("disk gone"));
            }
            let n = buf.len().min(left as usize);
            self.text.read(&mut buf[..n])
        }
    }

    #[test]
    fn a_read_error_ends_the_source_after_the_lines_before_it() {
        for threads in [1, 2, 4] {
            let mut r = Failing {
                text: io::Cursor::new(text(120_000)),
                good: 7_000_050,
            };
            let (out, _, error) = merged(&mut r, threads, usize::MAX);
            // Whole lines up to the failure; the cut line is only counted.
            assert_eq!(out.len(), 7_000_000, "{threads} threads");
            assert_eq!(error.map(|e| e.to_string()).as_deref(), Some("disk gone"));
        }
    }
}
