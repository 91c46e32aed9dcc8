//! What an engine is asked and answers: a batch of writes at offsets,
//! then one fdatasync, timed. Both engines build on this file alone.

use std::fs::File;
use std::io;
use std::time::Duration;

/// One write of a batch: `buf` at byte `offset` of the file.
#[derive(Debug, Clone, Copy)]
pub struct WriteAt<'a> {
    /// Bytes to write.
    pub buf: &'a [u8],
    /// File offset, bytes.
    pub offset: u64,
}

/// How long a batch took.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct BatchTiming {
    /// From the first write issued to the last write done.
    pub write: Duration,
    /// From the last write done to the fdatasync done.
    pub sync: Duration,
}

/// A failed engine operation.
#[derive(Debug)]
pub struct EngineFailure {
    /// The operation: `write` or `fdatasync`.
    pub op: &'static str,
    /// The OS error.
    pub source: io::Error,
}

/// Issues writes and fdatasync.
pub trait Engine {
    /// Writes every buffer at its offset, in order, then fdatasyncs `file` once.
    fn write_then_sync(
        &mut self,
        file: &File,
        writes: &[WriteAt<'_>],
    ) -> Result<BatchTiming, EngineFailure>;
}

/// Most writes one batch may carry (the io_uring ring is sized for it).
pub const MAX_WRITES_PER_BATCH: usize = crate::probe::disk::plan::MAX_PAGES_PER_COMMIT;
