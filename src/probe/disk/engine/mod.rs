//! IO engines: how a probe's writes and fdatasync reach the kernel. Both
//! engines take the same batch (writes at offsets, then one fdatasync) and
//! report the same timing, so their results compare directly.

mod batch;
mod sync;
mod uring;

use super::error::DiskError;
use super::result::EngineKind;

pub use batch::{BatchTiming, Engine, EngineFailure, WriteAt, MAX_WRITES_PER_BATCH};
pub use sync::SyncEngine;
pub use uring::UringEngine;

/// Opens the engine `kind`; io_uring that the kernel refuses is an error,
/// not a crash.
pub fn open(kind: EngineKind) -> Result<Box<dyn Engine>, DiskError> {
    Ok(match kind {
        EngineKind::Sync => Box::new(SyncEngine),
        EngineKind::Uring => Box::new(UringEngine::new()?),
    })
}
