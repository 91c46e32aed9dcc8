//! What a disk run will do, as a typed plan: which probes, which engine,
//! when to stop, and the shape of the WAL and backend workloads. The CLI
//! (and `qualify`/`diagnose`) build a plan; probes only ever see the plan.

use std::path::PathBuf;
use std::time::Duration;

use thiserror::Error;

use super::framing::framed_len;
use super::result::{DiskProbeKind, EngineKind};
use super::stall::StallLevels;

/// Default writes per second. A 1000-node Kubernetes cluster renews 1000
/// node Leases every 10 s (kubelet: renew interval = 25 % of
/// `nodeLeaseDurationSeconds`, 40 s): 100 writes per second before any
/// other object changes, each a WAL append etcd fdatasyncs before it
/// answers. It is also ten writes per 100 ms heartbeat interval, so a
/// stall of one heartbeat delays ten of them.
pub const DEFAULT_RATE_PER_S: u32 = 100;
/// Highest `--rate` accepted (one write per 100 µs).
pub const MAX_RATE_PER_S: u32 = 10_000;

/// Bytes per write of the fsync probe (fio's etcd test: `--bs=2300`).
pub const FSYNC_BLOCK_BYTES: usize = 2300;
/// Size of one fsync-probe file (fio's etcd test: `--size=22m`). Runs that
/// need more writes continue in a fresh file.
pub const FSYNC_FILE_BYTES: u64 = 22 * 1024 * 1024;
/// Page size of the backend probe (bbolt's default page size on Linux).
pub const BACKEND_PAGE_BYTES: usize = 4096;
/// etcd's WAL segment size (`wal.SegmentSizeBytes`, 64 MiB).
pub const ETCD_SEGMENT_BYTES: u64 = 64 * 1024 * 1024;

/// When a probe stops.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum StopRule {
    /// After exactly this many operations (`--ops`).
    Ops(u64),
    /// After this much wall-clock time (`--duration`).
    Duration(Duration),
    /// When the p99 estimate is stable, or at the time cap.
    Adaptive(AdaptiveStop),
}

/// The adaptive stop rule: at checkpoints where the sample count doubles,
/// the p99 of the second half is compared with the p99 of the first half;
/// the run stops when they agree within `tolerance`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AdaptiveStop {
    /// Samples before the first comparison (the first checkpoint).
    pub min_samples: u64,
    /// Largest relative difference of the two halves' p99 that counts as
    /// stable (0.05 = 5 %).
    pub tolerance: f64,
    /// Longest a probe may run whether or not p99 is stable.
    pub time_cap: Duration,
    /// Shortest a probe runs however stable p99 is: what is left of the
    /// run's minimum span ([`DiskPlan::min_span`]) when the probe starts.
    pub min_span: Duration,
}

/// Default adaptive stop: first comparison after 1000 samples, halves within
/// 5 %, at most 6 s per probe, so three probes stay under 20 s even on a
/// 100-IOPS disk. 1000 samples hold the 10 above the p99 that `compare`
/// needs of a one-run baseline (`compare::noise::MIN_TAIL_SAMPLES`): at
/// 500, a disk whose p99 looked stable by chance stopped after about a
/// second, and 4 of 20 such baselines of a 2 ms disk could not judge a 2x
/// slowdown (`benches/compare_noise.sh`, docs/figures.md).
pub const QUICK_STOP: AdaptiveStop = AdaptiveStop {
    min_samples: 1000,
    tolerance: 0.05,
    time_cap: Duration::from_secs(6),
    min_span: Duration::ZERO,
};

/// How long `qualify` observes the disk at least (`--min-span`): 30 s
/// cover a few rounds of what recurs every few seconds (ext4 commits
/// its journal every 5 s, the kernel flusher wakes every 5 s and writes
/// back what is older than 30 s: `vm.dirty_writeback_centisecs`,
/// `vm.dirty_expire_centisecs`).
pub const QUALIFY_MIN_SPAN: Duration = Duration::from_secs(30);
/// How long `diagnose` observes the disk at etcd's pace: short, since a
/// live cluster's own metrics tell the history.
pub const DIAGNOSE_MIN_SPAN: Duration = Duration::from_secs(3);
/// How long `disk --probe paced` runs without `--min-span`.
pub const PACED_DEFAULT_SPAN: Duration = Duration::from_secs(10);
/// Longest `--min-span` accepted.
pub const MAX_MIN_SPAN: Duration = Duration::from_secs(3600);

/// Shape of the WAL probe's workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WalParams {
    /// Payload bytes per record (before framing).
    pub record_bytes: usize,
    /// Records appended per proposal round, followed by one fdatasync.
    pub records_per_batch: usize,
    /// Segment size; a new preallocated segment is cut when one is full.
    pub segment_bytes: u64,
}

impl Default for WalParams {
    /// One KiB entries (a typical Kubernetes object update), 8 per raft
    /// Ready round, etcd's 64 MiB segments.
    fn default() -> Self {
        WalParams {
            record_bytes: 1024,
            records_per_batch: 8,
            segment_bytes: ETCD_SEGMENT_BYTES,
        }
    }
}

/// Shape of the backend probe's workload.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BackendParams {
    /// Dirty 4 KiB pages written per commit (before the meta page).
    pub pages_per_commit: usize,
    /// Size of the preallocated database file the pages land in.
    pub file_bytes: u64,
}

impl Default for BackendParams {
    /// Eight dirty pages per commit (leaf, branches and freelist of a small
    /// batched transaction) in a 64 MiB file.
    fn default() -> Self {
        BackendParams {
            pages_per_commit: 8,
            file_bytes: 64 * 1024 * 1024,
        }
    }
}

/// A complete disk run.
#[derive(Debug, Clone, PartialEq)]
pub struct DiskPlan {
    /// Directory under test; the run writes only in a fresh temporary
    /// directory it creates beneath it.
    pub dir: PathBuf,
    /// Probes to run, in order.
    pub probes: Vec<DiskProbeKind>,
    /// IO engine.
    pub engine: EngineKind,
    /// When each probe stops.
    pub stop: StopRule,
    /// WAL probe workload.
    pub wal: WalParams,
    /// Backend probe workload.
    pub backend: BackendParams,
    /// Writes per second of the paced probe.
    pub rate_per_s: u32,
    /// The least time the run observes the disk (`--min-span`): the paced
    /// probe runs this long, and without one the adaptive stop ends no
    /// probe before the run has observed the disk this long. `None`: the
    /// paced probe runs [`PACED_DEFAULT_SPAN`], no floor.
    pub min_span: Option<Duration>,
    /// The stall levels every probe counts operations against.
    pub stall: StallLevels,
}

/// A plan whose parameters cannot run.
#[derive(Debug, Error, PartialEq)]
pub enum PlanError {
    /// No probe selected.
    #[error("no probe selected")]
    NoProbes,
    /// The same probe listed twice.
    #[error("probe {0} is listed twice")]
    DuplicateProbe(&'static str),
    /// A stop rule that can never stop or never start.
    #[error("stop rule: {0}")]
    Stop(&'static str),
    /// A WAL parameter out of range.
    #[error("wal: {0}")]
    Wal(&'static str),
    /// A backend parameter out of range.
    #[error("backend: {0}")]
    Backend(&'static str),
    /// A paced-probe parameter out of range.
    #[error("paced: {0}")]
    Paced(&'static str),
}

/// Most pages one backend commit may write (keeps one io_uring submission
/// within a small ring).
pub const MAX_PAGES_PER_COMMIT: usize = 256;

impl DiskPlan {
    /// What `qualify` and `diagnose` run by default: all three probes, the
    /// sync engine (what etcd does), the adaptive stop rule ([`QUICK_STOP`])
    /// and etcd-realistic workloads.
    pub fn quick(dir: PathBuf) -> DiskPlan {
        DiskPlan {
            dir,
            probes: vec![
                DiskProbeKind::Fsync,
                DiskProbeKind::Wal,
                DiskProbeKind::Backend,
            ],
            engine: EngineKind::Sync,
            stop: StopRule::Adaptive(QUICK_STOP),
            wal: WalParams::default(),
            backend: BackendParams::default(),
            rate_per_s: DEFAULT_RATE_PER_S,
            min_span: None,
            stall: StallLevels::default(),
        }
    }

    /// What `qualify` (`min_span` [`QUALIFY_MIN_SPAN`]) and `diagnose`
    /// ([`DIAGNOSE_MIN_SPAN`]) run: the quick plan's flat-out probes (the
    /// fio comparison), then the paced probe for `min_span`.
    pub fn observing(dir: PathBuf, min_span: Duration) -> DiskPlan {
        let mut plan = DiskPlan::quick(dir);
        plan.probes.push(DiskProbeKind::Paced);
        plan.min_span = Some(min_span);
        plan
    }

    /// The stop rule of `probe` when the run has already observed the
    /// disk for `observed`. An explicit `--ops`/`--duration` applies to
    /// every probe as given. Under the adaptive rule the paced probe runs
    /// the whole minimum span, and the other probes keep to the rest of it
    /// when no paced probe is in the plan.
    pub fn stop_for(&self, probe: DiskProbeKind, observed: Duration) -> StopRule {
        let StopRule::Adaptive(a) = self.stop else {
            return self.stop;
        };
        if probe == DiskProbeKind::Paced {
            return StopRule::Duration(self.min_span.unwrap_or(PACED_DEFAULT_SPAN));
        }
        match self.min_span {
            Some(span) if !self.probes.contains(&DiskProbeKind::Paced) => {
                let rest = span.saturating_sub(observed);
                StopRule::Adaptive(AdaptiveStop {
                    min_span: rest,
                    time_cap: a.time_cap.max(rest),
                    ..a
                })
            }
            _ => self.stop,
        }
    }

    /// Checks that every parameter can run.
    pub fn validate(&self) -> Result<(), PlanError> {
        if self.probes.is_empty() {
            return Err(PlanError::NoProbes);
        }
        for (i, p) in self.probes.iter().enumerate() {
            if self.probes[..i].contains(p) {
                return Err(PlanError::DuplicateProbe(p.as_str()));
            }
        }
        match self.stop {
            StopRule::Ops(0) => return Err(PlanError::Stop("op count must be at least 1")),
            StopRule::Duration(d) if d.is_zero() => {
                return Err(PlanError::Stop("duration must be positive"))
            }
            StopRule::Adaptive(a) if a.min_samples < 2 || a.time_cap.is_zero() => {
                return Err(PlanError::Stop(
                    "adaptive stop needs at least 2 samples and a time cap",
                ))
            }
            _ => {}
        }
        let w = &self.wal;
        if w.record_bytes == 0 || w.records_per_batch == 0 {
            return Err(PlanError::Wal(
                "record size and batch size must be positive",
            ));
        }
        if (wal_batch_bytes(w) as u64) * 2 > w.segment_bytes {
            return Err(PlanError::Wal("a batch must fit twice in a segment"));
        }
        if self.rate_per_s == 0 || self.rate_per_s > MAX_RATE_PER_S {
            return Err(PlanError::Paced("rate must be 1..=10000 writes per second"));
        }
        if self
            .min_span
            .is_some_and(|s| s.is_zero() || s > MAX_MIN_SPAN)
        {
            return Err(PlanError::Paced(
                "minimum span must be positive and at most an hour",
            ));
        }
        let b = &self.backend;
        if b.pages_per_commit == 0 || b.pages_per_commit > MAX_PAGES_PER_COMMIT {
            return Err(PlanError::Backend("pages per commit must be 1..=256"));
        }
        if b.file_bytes < (4 * b.pages_per_commit * BACKEND_PAGE_BYTES) as u64 {
            return Err(PlanError::Backend(
                "file must hold at least 4 commits of pages",
            ));
        }
        Ok(())
    }

    /// Most bytes the run keeps on disk at once (probes run one after
    /// another and each removes its files when done): what the free-space
    /// check compares against.
    pub fn footprint_bytes(&self) -> u64 {
        self.probes
            .iter()
            .map(|p| match p {
                DiskProbeKind::Fsync | DiskProbeKind::Paced => FSYNC_FILE_BYTES,
                // The full segment plus the freshly cut one.
                DiskProbeKind::Wal => 2 * self.wal.segment_bytes,
                DiskProbeKind::Backend => self.backend.file_bytes,
            })
            .max()
            .unwrap_or(0)
    }
}

/// Bytes one framed WAL batch takes on disk.
pub fn wal_batch_bytes(w: &WalParams) -> usize {
    w.records_per_batch * framed_len(w.record_bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> DiskPlan {
        DiskPlan::quick(PathBuf::from("/tmp"))
    }

    #[test]
    fn quick_plan_is_valid_and_runs_all_probes() {
        let p = plan();
        assert_eq!(p.validate(), Ok(()));
        assert_eq!(p.probes.len(), 3);
        assert_eq!(p.engine, EngineKind::Sync);
        assert!(matches!(p.stop, StopRule::Adaptive(a) if a.time_cap.as_secs() * 3 < 30));
    }

    #[test]
    fn bad_plans_are_refused() {
        let mut p = plan();
        p.probes.clear();
        assert_eq!(p.validate(), Err(PlanError::NoProbes));
        let mut p = plan();
        p.probes.push(DiskProbeKind::Wal);
        assert_eq!(p.validate(), Err(PlanError::DuplicateProbe("wal")));
        let mut p = plan();
        p.stop = StopRule::Ops(0);
        assert!(matches!(p.validate(), Err(PlanError::Stop(_))));
        let mut p = plan();
        p.stop = StopRule::Duration(Duration::ZERO);
        assert!(matches!(p.validate(), Err(PlanError::Stop(_))));
        let mut p = plan();
        p.wal.segment_bytes = 4096;
        assert!(matches!(p.validate(), Err(PlanError::Wal(_))));
        let mut p = plan();
        p.backend.pages_per_commit = 1000;
        assert!(matches!(p.validate(), Err(PlanError::Backend(_))));
    }

    #[test]
    fn footprint_is_the_largest_probe() {
        let mut p = plan();
        assert_eq!(p.footprint_bytes(), 2 * ETCD_SEGMENT_BYTES);
        p.probes = vec![DiskProbeKind::Fsync];
        assert_eq!(p.footprint_bytes(), FSYNC_FILE_BYTES);
    }

    #[test]
    fn the_paced_probe_carries_the_minimum_span() {
        let p = DiskPlan::observing(PathBuf::from("/tmp"), QUALIFY_MIN_SPAN);
        assert_eq!(p.validate(), Ok(()));
        assert_eq!(p.probes.last(), Some(&DiskProbeKind::Paced));
        let secs = Duration::from_secs;
        assert_eq!(
            p.stop_for(DiskProbeKind::Paced, secs(9)),
            StopRule::Duration(QUALIFY_MIN_SPAN)
        );
        // The paced probe observes the span; the flat-out ones stay quick.
        assert_eq!(
            p.stop_for(DiskProbeKind::Fsync, secs(0)),
            StopRule::Adaptive(QUICK_STOP)
        );
        assert_eq!(
            plan().stop_for(DiskProbeKind::Paced, secs(0)),
            StopRule::Duration(PACED_DEFAULT_SPAN)
        );
    }

    #[test]
    fn without_a_paced_probe_the_adaptive_stop_keeps_to_the_span() {
        let mut p = DiskPlan::observing(PathBuf::from("/tmp"), QUALIFY_MIN_SPAN);
        p.probes = vec![DiskProbeKind::Fsync, DiskProbeKind::Wal];
        let secs = Duration::from_secs;
        let StopRule::Adaptive(a) = p.stop_for(DiskProbeKind::Fsync, secs(0)) else {
            panic!("adaptive expected");
        };
        assert_eq!((a.min_span, a.time_cap), (secs(30), secs(30)));
        let StopRule::Adaptive(a) = p.stop_for(DiskProbeKind::Wal, secs(31)) else {
            panic!("adaptive expected");
        };
        assert_eq!(a, QUICK_STOP);
        p.stop = StopRule::Ops(5);
        assert_eq!(p.stop_for(DiskProbeKind::Paced, secs(0)), StopRule::Ops(5));
    }

    #[test]
    fn the_quick_stop_keeps_the_samples_compare_needs_for_p99() {
        let needed = crate::compare::noise::MIN_TAIL_SAMPLES / (1.0 - 0.99);
        assert!(QUICK_STOP.min_samples as f64 >= needed.round());
    }

    #[test]
    fn paced_parameters_are_bounded() {
        let mut p = plan();
        p.rate_per_s = 0;
        assert!(matches!(p.validate(), Err(PlanError::Paced(_))));
        let mut p = plan();
        p.min_span = Some(Duration::ZERO);
        assert!(matches!(p.validate(), Err(PlanError::Paced(_))));
        p.min_span = Some(MAX_MIN_SPAN + Duration::from_secs(1));
        assert!(matches!(p.validate(), Err(PlanError::Paced(_))));
    }
}
