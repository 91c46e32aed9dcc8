//! The paced probe: etcd's write pattern in time, not only in size. The
//! fsync probe's 2300-byte appends, each followed by fdatasync, leave on a
//! fixed schedule (`--rate` per second) instead of back to back, for a
//! span long enough to see what comes once every few seconds (writeback,
//! journal commits, a cloud volume out of burst credits).
//!
//! Latency is counted from each write's *scheduled* time (no coordinated
//! omission): when the disk hangs for 300 ms, every write due in those
//! 300 ms is counted with the wait it had, as every heartbeat due then
//! would be late in etcd. When the writer was idle at the scheduled time
//! and merely woke late, the lateness is the harness's and the clock
//! starts when it woke ([`clock_start`], as the network rtt probe does).

use std::time::{Duration, Instant};

use super::engine::Engine;
use super::error::DiskError;
use super::runner::{OpSample, Workload};
use crate::probe::pace::clock_start;

pub use super::plan::{DEFAULT_RATE_PER_S, MAX_RATE_PER_S};

/// An append-and-fdatasync workload (the fsync probe's, or the canary's
/// reused segment) on a fixed schedule.
pub struct PacedWorkload<W> {
    inner: W,
    interval: Duration,
    start: Option<Instant>,
    next: u64,
    free_at: Option<Instant>,
}

impl<W: Workload> PacedWorkload<W> {
    /// `inner`'s writes at `rate_per_s` per second; the schedule starts at
    /// the first operation.
    pub fn new(inner: W, rate_per_s: u32) -> PacedWorkload<W> {
        PacedWorkload {
            inner,
            interval: Duration::from_nanos(1_000_000_000 / u64::from(rate_per_s.max(1))),
            start: None,
            next: 0,
            free_at: None,
        }
    }

    /// The workload being paced.
    pub fn inner(&self) -> &W {
        &self.inner
    }

    /// When write `i` (from 0) is due.
    fn scheduled(&self, start: Instant, i: u64) -> Instant {
        start
            + self
                .interval
                .saturating_mul(u32::try_from(i).unwrap_or(u32::MAX))
    }
}

impl<W: Workload> Workload for PacedWorkload<W> {
    fn op(&mut self, engine: &mut dyn Engine) -> Result<OpSample, DiskError> {
        let start = *self.start.get_or_insert_with(Instant::now);
        let due = self.scheduled(start, self.next);
        self.next += 1;
        let now = Instant::now();
        if due > now {
            std::thread::sleep(due - now);
        }
        let woke = Instant::now();
        let from = clock_start(due, self.free_at.unwrap_or(start), woke);
        let sample = self.inner.op(engine)?;
        let done = Instant::now();
        self.free_at = Some(done);
        Ok(OpSample {
            latency: done - from,
            ..sample
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::engine;
    use super::super::fsync::FsyncWorkload;
    use super::super::scratch::Scratch;
    use super::*;
    use crate::probe::disk::EngineKind;

    #[test]
    fn writes_leave_on_schedule() {
        let dir = tempfile::tempdir().unwrap();
        let scratch = Scratch::create(dir.path(), 0).unwrap();
        let mut engine = engine::open(EngineKind::Sync).unwrap();
        let mut w = PacedWorkload::new(FsyncWorkload::new(&scratch).unwrap(), 200);
        let t0 = Instant::now();
        for _ in 0..21 {
            let s = w.op(engine.as_mut()).unwrap();
            assert_eq!(s.bytes, 2300);
        }
        // 20 intervals of 5 ms after the first write.
        let took = t0.elapsed();
        assert!(took >= Duration::from_millis(100), "{took:?}");
    }
}
