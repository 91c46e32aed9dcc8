//! disk.fsync-stall: the disk is fast on average but now and then stops.
//!
//! A stall longer than etcd's heartbeat interval makes the leader's
//! heartbeats late (they wait for the WAL sync of the same raft round);
//! one longer than half the election timeout brings followers halfway to
//! starting an election. Percentile rules miss them: a 300 ms hang every
//! two seconds is far below p99 of a flat-out probe. This rule reads each
//! probe's stall ledger ([`crate::probe::disk::StallSummary`]).

use crate::probe::disk::{DiskResult, StallSummary};

use super::disk::DiskThresholds;
use crate::findings::emit::Emit;
use crate::findings::registry::ids;
use crate::findings::{Draft, Evidence, Finding, Severity, Unit};
use crate::rules::by;

/// Builds the ids of this file's findings: all are `run::disk_fsync_stall`'s.
const EMIT: Emit<by::disk_fsync_stall> = Emit::new();

/// Stall events of `s` longer than `warn_ms`: the kept events over it,
/// plus those past the ledger's cap (counted, over the probe's own level).
fn events_over(s: &StallSummary, warn_ms: f64) -> u64 {
    let kept = s.events.iter().filter(|e| e.longest_ms > warn_ms).count() as u64;
    kept + s.events_count.saturating_sub(s.events.len() as u64)
}

/// One probe's stall verdict: (severity, events over the warn level).
fn judge(s: &StallSummary, t: &DiskThresholds) -> Option<(Severity, u64)> {
    let events = events_over(s, t.stall_warn_ms);
    if s.longest_ms > t.stall_fail_ms {
        Some((Severity::Fail, events))
    } else if events >= t.stall_warn_min_events {
        Some((Severity::Warn, events))
    } else {
        None
    }
}

/// disk.fsync-stall: any probe with a stall beyond half the election
/// timeout fails; `stall_warn_min_events` stalls beyond the heartbeat
/// interval warn.
pub fn fsync_stall(results: &[DiskResult], t: &DiskThresholds) -> Option<Finding> {
    let judged: Vec<(&DiskResult, Severity, u64)> = results
        .iter()
        .filter_map(|r| judge(&r.stalls, t).map(|(s, n)| (r, s, n)))
        .collect();
    let severity = judged.iter().map(|(_, s, _)| *s).max()?;
    let (worst, _, events) = judged
        .iter()
        .max_by(|a, b| a.0.stalls.longest_ms.total_cmp(&b.0.stalls.longest_ms))?;
    let evidence = judged
        .iter()
        .flat_map(|(r, _, n)| evidence(r, *n, t))
        .collect();
    Some(EMIT.finding(ids::DiskFsyncStall, Draft {
        severity,
        summary: summary(worst, *events, t),
        evidence,
        recommendation: "The disk stops now and then, and etcd's heartbeats wait while it does. \
            Isolate etcd's IO: no IO-heavy service (backups, logging, image pulls, databases) on \
            the same host or volume; give the WAL a disk of its own (--wal-dir); use a \
            high-performance disk (local NVMe, cloud ESSD) rather than a burstable volume. To \
            find the cause, watch dirty page cache and writeback while the stalls happen \
            (/proc/meminfo Dirty and Writeback: periodic stalls that follow Writeback are the \
            kernel flushing; lower vm.dirty_background_ratio / vm.dirty_ratio, or use \
            vm.dirty_background_bytes, so it flushes little and often), and on a cloud volume \
            its burst-credit and throttling metrics (e.g. AWS EBS BurstBalance, volume IOPS \
            limit reached)."
            .into(),
        commands: vec![
            "grep -E '^(Dirty|Writeback):' /proc/meminfo".into(),
            "sysctl vm.dirty_ratio vm.dirty_background_ratio vm.dirty_expire_centisecs vm.dirty_writeback_centisecs".into(),
            "iostat -x 1".into(),
        ],
    }))
}

fn summary(r: &DiskResult, events: u64, t: &DiskThresholds) -> String {
    let s = &r.stalls;
    let period = match s.period_s {
        Some(p) => format!(", every {p:.2} s"),
        None => String::new(),
    };
    let level = if s.longest_ms > t.stall_fail_ms {
        format!(
            "half of etcd's election timeout ({:.0} ms)",
            t.stall_fail_ms
        )
    } else {
        format!("etcd's heartbeat interval ({:.0} ms)", t.stall_warn_ms)
    };
    format!(
        "the {} probe's writes stalled {events} time(s) beyond {:.0} ms in {:.1} s{period}, \
         the longest {:.0} ms ({:.1} s into the run), on {}: longer than {level}",
        r.probe.as_str(),
        t.stall_warn_ms,
        r.duration_s,
        s.longest_ms,
        s.longest_at_s,
        r.dir.display()
    )
}

fn evidence(r: &DiskResult, events: u64, t: &DiskThresholds) -> [Evidence; 2] {
    let s = &r.stalls;
    let probe = r.probe.as_str();
    let longest_level = if s.longest_ms > t.stall_fail_ms {
        t.stall_fail_ms
    } else {
        t.stall_warn_ms
    };
    [
        Evidence {
            metric: format!("{probe} longest stall"),
            observed: s.longest_ms,
            threshold: longest_level,
            unit: Unit::Ms,
        },
        Evidence {
            metric: format!(
                "{probe} stalls over {:.0} ms in {:.1} s",
                t.stall_warn_ms, r.duration_s
            ),
            observed: events as f64,
            threshold: t.stall_warn_min_events as f64,
            unit: Unit::None,
        },
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::findings::FindingId;
    use crate::probe::disk::{DiskProbeKind, StallEvent};
    use crate::rules::disk::tests::result;

    /// A result whose ledger has `events` stalls of `ms` every 2 s.
    fn stalled(probe: DiskProbeKind, events: u64, ms: f64) -> DiskResult {
        let mut r = result(probe, 1.0);
        r.duration_s = 30.0;
        r.stalls = StallSummary {
            heartbeat_ms: 100.0,
            half_election_ms: 500.0,
            ops_over_heartbeat: events * 20,
            events_count: events,
            longest_ms: ms,
            longest_at_s: 2.0,
            period_s: (events >= 4).then_some(2.0),
            events: (1..=events)
                .map(|i| StallEvent {
                    at_s: 2.0 * i as f64,
                    longest_ms: ms,
                    ops: 20,
                })
                .collect(),
            ..StallSummary::default()
        };
        r
    }

    #[test]
    fn no_or_one_short_stall_is_no_finding() {
        let t = DiskThresholds::default();
        assert_eq!(fsync_stall(&[result(DiskProbeKind::Paced, 1.0)], &t), None);
        assert_eq!(
            fsync_stall(&[stalled(DiskProbeKind::Paced, 1, 300.0)], &t),
            None
        );
    }

    #[test]
    fn a_few_heartbeat_long_stalls_warn_with_their_period() {
        let t = DiskThresholds::default();
        let f = fsync_stall(&[stalled(DiskProbeKind::Paced, 5, 300.0)], &t).unwrap();
        assert_eq!(f.id, FindingId::DiskFsyncStall);
        assert_eq!(f.severity, Severity::Warn);
        assert!(f.summary.contains("every 2.00 s"), "{}", f.summary);
        assert!(f.summary.contains("heartbeat interval"), "{}", f.summary);
        assert_eq!(f.evidence[0].observed, 300.0);
        assert_eq!(f.evidence[1].observed, 5.0);
        assert!(f.recommendation.contains("--wal-dir"));
        assert!(f.recommendation.contains("ESSD"));
        assert!(f.recommendation.contains("Writeback"));
        assert!(f.commands[1].contains("vm.dirty_ratio"));
    }

    #[test]
    fn one_stall_beyond_half_the_election_timeout_fails() {
        let t = DiskThresholds::default();
        let results = [
            stalled(DiskProbeKind::Fsync, 2, 150.0),
            stalled(DiskProbeKind::Paced, 1, 700.0),
        ];
        let f = fsync_stall(&results, &t).unwrap();
        assert_eq!(f.severity, Severity::Fail);
        assert!(f.summary.starts_with("the paced probe"), "{}", f.summary);
        assert!(f.summary.contains("election timeout"), "{}", f.summary);
        assert_eq!(f.evidence.len(), 4);
        assert_eq!(f.evidence[2].threshold, 500.0);
    }

    #[test]
    fn the_profile_levels_apply_to_the_kept_events() {
        // Stalls of 150 ms: stalls at etcd's 100 ms heartbeat, not at 200.
        let t = DiskThresholds {
            stall_warn_ms: 200.0,
            ..DiskThresholds::default()
        };
        assert_eq!(
            fsync_stall(&[stalled(DiskProbeKind::Wal, 5, 150.0)], &t),
            None
        );
    }

    #[test]
    fn bad_stall_keys_are_named() {
        let mut t = DiskThresholds {
            stall_warn_min_events: 0,
            ..DiskThresholds::default()
        };
        assert_eq!(t.validate().unwrap_err().key, "disk.stall_warn_min_events");
        t.stall_warn_min_events = 1;
        t.stall_warn_ms = 600.0;
        assert_eq!(t.validate().unwrap_err().key, "disk.stall_warn_ms");
    }
}
