//! The canary: the paced disk probe, run segment after segment on its own
//! thread at a low duty (10 writes of 2300 B per second by default), one
//! segment per tick. Each segment writes in a fresh scratch directory
//! under `--dir` that the disk probe removes when the segment ends (and
//! on a signal, which stops the segment between two writes), so a
//! segment's file holds at most one tick of writes and nothing is left
//! behind.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{self, Receiver};
use std::thread::JoinHandle;
use std::time::Duration;

use super::join::Segment;
use crate::probe::disk::{self, Control, DiskPlan, DiskProbeKind, StallLevels};

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
                while !cancel.load(Ordering::SeqCst) {
                    let started_unix_s = crate::logs::time::now_ms() as f64 / 1000.0;
                    let outcome = match disk::run(&plan, &Control::quiet().cancel_on(cancel)) {
                        Ok(mut r) if !r.is_empty() => Ok(Segment {
                            started_unix_s,
                            result: r.swap_remove(0),
                        }),
                        Ok(_) => Err("the canary measured nothing".to_string()),
                        Err(_) if cancel.load(Ordering::SeqCst) => break,
                        Err(e) => Err(format!("canary: {e:#}")),
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
