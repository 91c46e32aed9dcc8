//! Reading a source in large chunks cut at line ends, and scanning the
//! chunks on several threads with the results merged in file order.
//!
//! Why: a line-at-a-time loop pays a call, a copy and a pre-filter run per
//! line, and uses one core. A chunk of [`CHUNK_BYTES`] is searched whole
//! (see [`super::scan`]), and chunks go to `threads` workers. Memory stays
//! bounded by counts: at most `2 x threads` chunks are in flight (read,
//! queued, scanned or waiting for their turn to merge), and their buffers
//! are reused.
//!
//! A line longer than a chunk is never held: the reader skips it and hands
//! on only its length ([`Piece::Overlong`]).

use std::collections::BTreeMap;
use std::io::{self, Read};
use std::sync::mpsc::{channel, sync_channel, Receiver};
use std::sync::Mutex;
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
    reader: &'a mut dyn Read,
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
    pub fn new(reader: &'a mut dyn Read, chunk_bytes: usize) -> Chunker<'a> {
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
    reader: &mut dyn Read,
    (threads, chunk_bytes): (usize, usize),
    scan: &(dyn Fn(&Piece) -> T + Sync),
    merge: &mut dyn FnMut(&Piece, T) -> bool,
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
    let (work_tx, work_rx) = sync_channel::<(usize, Piece)>(threads);
    let work_rx = Mutex::new(work_rx);
    let (done_tx, done_rx) = channel::<(usize, Piece, T)>();
    thread::scope(|s| {
        for _ in 0..threads {
            let (work_rx, done_tx) = (&work_rx, done_tx.clone());
            s.spawn(move || worker(work_rx, &done_tx, scan));
        }
        drop(done_tx);
        let mut order = Order::default();
        let mut error = None;
        while !order.stopped {
            while order.sent - order.merged >= 2 * threads {
                let Ok(done) = done_rx.recv() else { break };
                order.arrived(done, merge);
            }
            let buf = order.free.pop().unwrap_or_default();
            match chunker.next(buf) {
                Ok(Some(piece)) => {
                    if work_tx.send((order.sent, piece)).is_err() {
                        break;
                    }
                    order.sent += 1;
                }
                Ok(None) => break,
                Err(e) => {
                    error = Some(e);
                    break;
                }
            }
        }
        drop(work_tx);
        while order.merged < order.sent {
            let Ok(done) = done_rx.recv() else { break };
            order.arrived(done, merge);
        }
        error
    })
}

fn worker<T>(
    work: &Mutex<Receiver<(usize, Piece)>>,
    done: &std::sync::mpsc::Sender<(usize, Piece, T)>,
    scan: &(dyn Fn(&Piece) -> T + Sync),
) {
    loop {
        let job = match work.lock() {
            Ok(rx) => rx.recv(),
            Err(_) => return,
        };
        let Ok((seq, piece)) = job else { return };
        let result = scan(&piece);
        if done.send((seq, piece, result)).is_err() {
            return;
        }
    }
}

/// Results waiting for their turn, and buffers to reuse.
struct Order<T> {
    sent: usize,
    merged: usize,
    /// `merge` asked for no more: the rest is dropped unmerged.
    stopped: bool,
    waiting: BTreeMap<usize, (Piece, T)>,
    free: Vec<Vec<u8>>,
}

impl<T> Default for Order<T> {
    fn default() -> Self {
        Order {
            sent: 0,
            merged: 0,
            stopped: false,
            waiting: BTreeMap::new(),
            free: Vec::new(),
        }
    }
}

impl<T> Order<T> {
    fn arrived(
        &mut self,
        (seq, piece, result): (usize, Piece, T),
        merge: &mut dyn FnMut(&Piece, T) -> bool,
    ) {
        self.waiting.insert(seq, (piece, result));
        while let Some((piece, result)) = self.waiting.remove(&self.merged) {
            self.stopped = self.stopped || !merge(&piece, result);
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
