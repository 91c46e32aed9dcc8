//! IO engines: how a probe's writes and fdatasync reach the kernel. Both
//! engines take the same batch (writes at offsets, then one fdatasync) and
//! report the same timing, so their results compare directly.

mod sync;
mod uring;

use std::fs::File;
use std::io;
use std::time::Duration;

use super::error::DiskError;
use super::result::EngineKind;

pub use sync::SyncEngine;
pub use uring::UringEngine;

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
pub const MAX_WRITES_PER_BATCH: usize = super::plan::MAX_PAGES_PER_COMMIT;

/// Opens the engine `kind`; io_uring that the kernel refuses is an error,
/// not a crash.
pub fn open(kind: EngineKind) -> Result<Box<dyn Engine>, DiskError> {
    Ok(match kind {
        EngineKind::Sync => Box::new(SyncEngine),
        EngineKind::Uring => Box::new(UringEngine::new()?),
    })
}
