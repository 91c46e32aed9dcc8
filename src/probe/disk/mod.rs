//! Disk probes: how long etcd would wait on this directory's disk.
//!
//! A [`DiskPlan`] names the probes (fsync, wal, backend), the IO engine and
//! the stop rule; [`run`] checks the directory, creates a scratch directory
//! under it, runs each probe through the shared measurement loop and
//! returns one [`DiskResult`] per probe. Nothing outside the scratch
//! directory is written, and it is removed whatever happens.

mod backend;
pub mod engine;
mod error;
mod fsync;
pub mod interrupt;
mod plan;
pub mod result;
mod runner;
mod scratch;
mod stop;
pub mod wal;

pub use error::DiskError;
pub use plan::{
    AdaptiveStop, BackendParams, DiskPlan, PlanError, StopRule, WalParams, BACKEND_PAGE_BYTES,
    ETCD_SEGMENT_BYTES, FSYNC_BLOCK_BYTES, FSYNC_FILE_BYTES, QUICK_STOP,
};
pub use result::{DiskProbeKind, DiskResult, EngineKind, StopReason, TimelinePoint};
pub use runner::{Control, Tick};
pub use scratch::{HEADROOM_BYTES, SCRATCH_PREFIX};

use backend::BackendWorkload;
use engine::Engine;
use fsync::FsyncWorkload;
use runner::{measure, Workload};
use scratch::Scratch;
use wal::WalWorkload;

/// Runs every probe of `plan` in order. Errors are [`DiskError`]s (one
/// line naming the path); [`DiskError::Interrupted`] when `control`'s
/// cancellation flag was set. Pass [`Control::quiet`] for no progress and
/// no cancellation.
pub fn run(plan: &DiskPlan, control: &Control<'_>) -> anyhow::Result<Vec<DiskResult>> {
    Ok(run_probes(plan, control)?)
}

fn run_probes(plan: &DiskPlan, control: &Control<'_>) -> Result<Vec<DiskResult>, DiskError> {
    plan.validate()?;
    let mut engine = engine::open(plan.engine)?;
    let scratch = Scratch::create(&plan.dir, plan.footprint_bytes())?;
    plan.probes
        .iter()
        .map(|&probe| run_probe(probe, plan, &scratch, engine.as_mut(), control))
        .collect()
}

fn run_probe(
    probe: DiskProbeKind,
    plan: &DiskPlan,
    scratch: &Scratch,
    engine: &mut dyn Engine,
    control: &Control<'_>,
) -> Result<DiskResult, DiskError> {
    let go = |w: &mut dyn Workload, engine: &mut dyn Engine| {
        measure(probe, w, engine, plan.stop, control)
    };
    let (measured, block, path) = match probe {
        DiskProbeKind::Fsync => {
            let mut w = FsyncWorkload::new(scratch)?;
            (
                go(&mut w, engine)?,
                FSYNC_BLOCK_BYTES as u64,
                w.path().to_path_buf(),
            )
        }
        DiskProbeKind::Wal => {
            let mut w = WalWorkload::new(scratch, plan.wal)?;
            (
                go(&mut w, engine)?,
                plan.wal.record_bytes as u64,
                w.path().to_path_buf(),
            )
        }
        DiskProbeKind::Backend => {
            let mut w = BackendWorkload::new(scratch, plan.backend)?;
            (
                go(&mut w, engine)?,
                BACKEND_PAGE_BYTES as u64,
                w.path().to_path_buf(),
            )
        }
    };
    // Free the space before the next probe starts.
    scratch.remove_file(&path)?;
    Ok(measured.into_result(probe, plan.engine, &plan.dir, block))
}
