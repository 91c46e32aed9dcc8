//! The canary: the paced disk probe, run segment after segment on its own
//! thread at a low duty (10 writes of 2300 B per second by default), one
//! segment per tick. Every segment appends into one file: a 64 MiB
//! preallocated segment like etcd's WAL, in a scratch directory under
//! `--dir` made when the canary starts and removed when it stops (a signal
//! stops a segment between two writes). Before each pass over it the
//! file's blocks go back to unwritten extents, so the canary's fdatasyncs
//! wait for journal commits as etcd's WAL appends do
//! ([`crate::probe::disk::ring`]); the disk space it takes is bounded.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::thread::JoinHandle;
use std::time::Duration;

use super::join::Segment;
use crate::probe::disk::ring::{Reuse, RingSegment};
use crate::probe::disk::{
    self, Control, DiskError, DiskPlan, DiskProbeKind, StallLevels, ETCD_SEGMENT_BYTES,
};

/// Size of the canary's reused segment: etcd's WAL segment. At the default
/// 10 writes of 2300 B per second a pass lasts about 49 minutes.
pub const CANARY_SEGMENT_BYTES: u64 = ETCD_SEGMENT_BYTES;

/// A segment, or why the canary could not write.
pub type Outcome = Result<Segment, String>;

/// The running canary.
pub struct Canary {
    thread: JoinHandle<()>,
    results: Receiver<Outcome>,
}

/// The plan of one segment: the paced probe alone for `span`.
pub fn segment_plan(
    dir: &std::path::Path,
    span: Duration,
    rate: u32,
    stall: StallLevels,
) -> DiskPlan {
    let mut plan = DiskPlan::observing(dir.to_path_buf(), span);
    plan.probes = vec![DiskProbeKind::Paced];
    plan.rate_per_s = rate;
    plan.stall = stall;
    plan
}

impl Canary {
    /// Starts segments of `plan` until `cancel` is set.
    pub fn start(plan: DiskPlan, cancel: &'static AtomicBool) -> std::io::Result<Canary> {
        let (tx, results) = mpsc::channel();
        let retry = plan.min_span.unwrap_or(Duration::from_secs(1));
        let thread = std::thread::Builder::new()
            .name("canary".into())
            .spawn(move || {
                let mut ring: Option<RingSegment> = None;
                while !cancel.load(Ordering::SeqCst) {
                    let started_unix_s = crate::units::now_unix_s();
                    let outcome = match segment(&mut ring, &plan, cancel) {
                        Ok(result) => Ok(Segment {
                            started_unix_s,
                            result,
                        }),
                        Err(DiskError::Interrupted) => break,
                        Err(e) => {
                            // A fresh segment next time: this one may be gone.
                            ring = None;
                            Err(format!("canary: {e}"))
                        }
                    };
                    let failed = outcome.is_err();
                    if tx.send(outcome).is_err() {
                        break;
                    }
                    if failed {
                        sleep_unless(cancel, retry);
                    }
                }
            })?;
        Ok(Canary { thread, results })
    }

    /// The segments finished since the last call.
    pub fn drain(&self) -> Vec<Outcome> {
        self.results.try_iter().collect()
    }

    /// Waits for the thread (after the cancel flag was set): its scratch
    /// directory is gone when this returns.
    pub fn join(self) {
        let _ = self.thread.join();
    }
}

/// One segment into the reused file, made first when there is none.
fn segment(
    ring: &mut Option<RingSegment>,
    plan: &DiskPlan,
    cancel: &AtomicBool,
) -> Result<disk::DiskResult, DiskError> {
    let ring = match ring {
        Some(r) => r,
        None => {
            let r = RingSegment::create(&plan.dir, CANARY_SEGMENT_BYTES)?;
            if r.reuse() == Reuse::Truncate {
                eprintln!(
                    "etcd-doctor watch: {}: no fallocate on this filesystem; the canary's \
                     segment is truncated and appended to on each pass instead",
                    plan.dir.display()
                );
            }
            ring.insert(r)
        }
    };
    disk::run_paced_on(ring, plan, &Control::quiet().cancel_on(cancel))
}

/// Sleeps `d`, waking early once `cancel` is set.
fn sleep_unless(cancel: &AtomicBool, d: Duration) {
    let step = Duration::from_millis(50);
    let mut left = d;
    while !left.is_zero() && !cancel.load(Ordering::SeqCst) {
        let s = left.min(step);
        std::thread::sleep(s);
        left -= s;
    }
}
