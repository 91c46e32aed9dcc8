//! The measurement loop shared by every probe: run a workload's operations
//! until the stop rule says done, recording each latency in histograms and
//! per-interval timeline points and the stall ledger, checking for
//! cancellation between operations and reporting progress to the caller.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::engine::Engine;
use super::error::DiskError;
use super::plan::StopRule;
use super::result::{DiskProbeKind, DiskResult, TimelinePoint};
use super::stall::{StallLevels, StallSummary, StallTracker};
use super::stop::Stopper;
use crate::measure::{round3, LatencyHistogram, MIB};
use crate::probe::timeline::Timeline;

/// How often progress is reported.
const TICK_INTERVAL: Duration = Duration::from_millis(100);

/// Where a probe is, for progress displays.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tick {
    /// The probe running.
    pub probe: DiskProbeKind,
    /// Operations done so far.
    pub ops: u64,
    /// Time since the probe started.
    pub elapsed: Duration,
    /// Fraction of the run done (0..=1); for the adaptive rule, of its time cap.
    pub fraction: f64,
}

/// How a caller steers a run: a cancellation flag checked between
/// operations and a progress callback. [`Control::quiet`] has neither.
#[derive(Clone, Copy, Default)]
pub struct Control<'a> {
    cancel: Option<&'a AtomicBool>,
    progress: Option<&'a dyn Fn(&Tick)>,
}

impl std::fmt::Debug for Control<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Control")
            .field("cancel", &self.cancel)
            .field("progress", &self.progress.is_some())
            .finish()
    }
}

impl<'a> Control<'a> {
    /// No cancellation, no progress.
    pub fn quiet() -> Control<'a> {
        Control::default()
    }

    /// Stops the run with [`DiskError::Interrupted`] once `flag` is set
    /// (e.g. the flag of [`crate::interrupt::install`]).
    pub fn cancel_on(mut self, flag: &'a AtomicBool) -> Control<'a> {
        self.cancel = Some(flag);
        self
    }

    /// Calls `f` about ten times a second while a probe runs.
    pub fn progress(mut self, f: &'a dyn Fn(&Tick)) -> Control<'a> {
        self.progress = Some(f);
        self
    }

    fn cancelled(&self) -> bool {
        self.cancel.is_some_and(|c| c.load(Ordering::Relaxed))
    }
}

/// One operation of a workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpSample {
    /// The latency etcd would wait on.
    pub latency: Duration,
    /// The write call alone, when the probe reports it.
    pub write_latency: Option<Duration>,
    /// Bytes written by the operation.
    pub bytes: u64,
}

/// A probe's workload: one call, one measured operation.
pub trait Workload {
    /// Runs one operation.
    fn op(&mut self, engine: &mut dyn Engine) -> Result<OpSample, DiskError>;
}

impl<W: Workload + ?Sized> Workload for &mut W {
    fn op(&mut self, engine: &mut dyn Engine) -> Result<OpSample, DiskError> {
        (**self).op(engine)
    }
}

/// What a finished measurement loop hands to the probe.
pub struct Measured {
    /// Operations done.
    pub ops: u64,
    /// Wall-clock time of the loop.
    pub elapsed: Duration,
    /// Bytes written.
    pub bytes: u64,
    /// Latency of every operation.
    pub latency: LatencyHistogram,
    /// Write-call latency, when the workload reports it.
    pub write_latency: Option<LatencyHistogram>,
    /// Why the loop stopped.
    pub stop_reason: super::result::StopReason,
    /// Per-interval points.
    pub timeline: Vec<TimelinePoint>,
    /// Operations slower than the stall levels.
    pub stalls: StallSummary,
}

/// How one probe's loop runs: when it stops and what counts as a stall.
#[derive(Debug, Clone, Copy)]
pub struct LoopPlan {
    /// The stop rule.
    pub rule: StopRule,
    /// The stall levels.
    pub stall: StallLevels,
}

/// Runs `workload` until the plan's rule says stop.
pub fn measure(
    probe: DiskProbeKind,
    workload: &mut dyn Workload,
    engine: &mut dyn Engine,
    plan: LoopPlan,
    control: &Control<'_>,
) -> Result<Measured, DiskError> {
    let rule = plan.rule;
    let mut stopper = Stopper::new(rule);
    let mut stalls = StallTracker::new(plan.stall);
    let mut latency = LatencyHistogram::new();
    let mut write_latency: Option<LatencyHistogram> = None;
    let mut timeline = Timeline::new();
    let (mut ops, mut bytes) = (0u64, 0u64);
    let mut next_tick = TICK_INTERVAL;
    let start = Instant::now();
    loop {
        if control.cancelled() {
            return Err(DiskError::Interrupted);
        }
        let sample = workload.op(engine)?;
        let elapsed = start.elapsed();
        ops += 1;
        bytes += sample.bytes;
        latency.record(sample.latency);
        if let Some(w) = sample.write_latency {
            write_latency
                .get_or_insert_with(LatencyHistogram::new)
                .record(w);
        }
        timeline.record(elapsed, sample.latency);
        stalls.record(elapsed, sample.latency);
        if let Some(reason) = stopper.observe(ops, elapsed, sample.latency) {
            return Ok(Measured {
                ops,
                elapsed,
                bytes,
                latency,
                write_latency,
                stop_reason: reason,
                timeline: timeline.finish(elapsed),
                stalls: stalls.finish(),
            });
        }
        if elapsed >= next_tick {
            next_tick = elapsed + TICK_INTERVAL;
            if let Some(progress) = control.progress {
                progress(&Tick {
                    probe,
                    ops,
                    elapsed,
                    fraction: fraction_done(rule, ops, elapsed),
                });
            }
        }
    }
}

fn fraction_done(rule: StopRule, ops: u64, elapsed: Duration) -> f64 {
    let f = match rule {
        StopRule::Ops(n) => ops as f64 / n as f64,
        StopRule::Duration(d) => elapsed.as_secs_f64() / d.as_secs_f64(),
        StopRule::Adaptive(a) => elapsed.as_secs_f64() / a.time_cap.as_secs_f64(),
    };
    f.clamp(0.0, 1.0)
}

impl Measured {
    /// The contract's result for this measurement.
    pub fn into_result(
        self,
        probe: DiskProbeKind,
        engine: super::result::EngineKind,
        dir: &std::path::Path,
        block_size_bytes: u64,
    ) -> DiskResult {
        let secs = self.elapsed.as_secs_f64().max(f64::MIN_POSITIVE);
        DiskResult {
            probe,
            run: 0,
            engine,
            dir: dir.to_path_buf(),
            block_size_bytes,
            ops: self.ops,
            duration_s: round3(secs),
            iops: round3(self.ops as f64 / secs),
            throughput_mib_s: round3(self.bytes as f64 / secs / MIB as f64),
            latency_us: self.latency.summary(),
            write_latency_us: self.write_latency.map(|h| h.summary()),
            stop_reason: self.stop_reason,
            timeline: self.timeline,
            latency_histogram: self.latency.encode(),
            stalls: self.stalls,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fraction_is_clamped() {
        assert_eq!(fraction_done(StopRule::Ops(10), 20, Duration::ZERO), 1.0);
        assert_eq!(fraction_done(StopRule::Ops(10), 5, Duration::ZERO), 0.5);
    }
}
