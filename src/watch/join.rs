//! Joining the canary's segments into one result per window: the
//! histograms merge (HdrHistogram adds bucket by bucket), the counts add,
//! and the stall ledgers join on one clock (each event's time moved by its
//! segment's start), so a stall every five minutes shows as events five
//! minutes apart in the hour window and the period is stated.

use crate::measure::{round3, LatencyHistogram, MIB};
use crate::probe::disk::stall::{gap_statistics, MAX_EVENTS};
use crate::probe::disk::{DiskResult, StallSummary, StopReason};

/// One canary segment: its result and when it started, Unix seconds.
#[derive(Debug, Clone)]
pub struct Segment {
    /// Wall-clock start of the segment, Unix seconds.
    pub started_unix_s: f64,
    /// The paced probe's result over the segment.
    pub result: DiskResult,
}

/// The segments as one result; `None` for none. A single segment is
/// returned as it is (timeline included); joined ones carry no timeline.
pub fn join(segments: &[&Segment]) -> Option<DiskResult> {
    let (first, rest) = segments.split_first()?;
    if rest.is_empty() {
        return Some(first.result.clone());
    }
    let mut hist = LatencyHistogram::new();
    let (mut ops, mut duration_s, mut bytes) = (0u64, 0.0f64, 0.0f64);
    for s in segments {
        // Histograms were checked when written; one that does not decode
        // (never ours) is left out rather than failing the window.
        if let Ok(h) = s.result.latency_histogram.decode() {
            hist += &h;
        }
        ops += s.result.ops;
        duration_s += s.result.duration_s;
        bytes += s.result.throughput_mib_s * MIB as f64 * s.result.duration_s;
    }
    let per_s = |v: f64| {
        if duration_s > 0.0 {
            v / duration_s
        } else {
            0.0
        }
    };
    Some(DiskResult {
        ops,
        duration_s: round3(duration_s),
        iops: round3(per_s(ops as f64)),
        throughput_mib_s: round3(per_s(bytes) / MIB as f64),
        latency_us: hist.summary(),
        write_latency_us: None,
        stop_reason: StopReason::Duration,
        timeline: Vec::new(),
        latency_histogram: hist.encode(),
        stalls: join_stalls(first.started_unix_s, segments),
        ..first.result.clone()
    })
}

/// The stall ledgers of `segments` on the clock of the first's start.
fn join_stalls(t0: f64, segments: &[&Segment]) -> StallSummary {
    let mut out = StallSummary {
        heartbeat_ms: segments[0].result.stalls.heartbeat_ms,
        half_election_ms: segments[0].result.stalls.half_election_ms,
        ..StallSummary::default()
    };
    for seg in segments {
        let s = &seg.result.stalls;
        let offset = seg.started_unix_s - t0;
        out.ops_over_heartbeat += s.ops_over_heartbeat;
        out.ops_over_half_election += s.ops_over_half_election;
        out.events_count += s.events_count;
        if s.longest_ms > out.longest_ms {
            out.longest_ms = s.longest_ms;
            out.longest_at_s = round3(s.longest_at_s + offset);
        }
        for e in &s.events {
            if out.events.len() < MAX_EVENTS {
                let mut e = *e;
                e.at_s = round3(e.at_s + offset);
                out.events.push(e);
            }
        }
    }
    gap_statistics(&mut out);
    out
}

/// A paced canary result of `ops` writes of 1 ms, 100 ms apart; write
/// `i` takes `ms` instead when `stall` is `Some((i, ms))`.
#[cfg(test)]
pub(crate) fn paced(ops: u64, stall: Option<(u64, u64)>) -> DiskResult {
    use std::time::Duration;

    use crate::probe::disk::stall::{StallLevels, StallTracker};
    use crate::probe::disk::{DiskProbeKind, EngineKind};

    let mut hist = LatencyHistogram::new();
    let mut ledger = StallTracker::new(StallLevels::default());
    for i in 0..ops {
        let lat = match stall {
            Some((at, ms)) if i == at => Duration::from_millis(ms),
            _ => Duration::from_millis(1),
        };
        hist.record(lat);
        ledger.record(Duration::from_millis(i * 100) + lat, lat);
    }
    DiskResult {
        probe: DiskProbeKind::Paced,
        run: 0,
        engine: EngineKind::Sync,
        dir: "/var/lib".into(),
        block_size_bytes: 2300,
        ops,
        duration_s: ops as f64 / 10.0,
        iops: 10.0,
        throughput_mib_s: 0.022,
        latency_us: hist.summary(),
        write_latency_us: None,
        stop_reason: StopReason::Duration,
        timeline: Vec::new(),
        latency_histogram: hist.encode(),
        stalls: ledger.finish(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A one-minute segment of 600 writes of 1 ms, one of them `stall_ms`
    /// long at 30 s when given.
    fn segment(started: f64, stall_ms: Option<u64>) -> Segment {
        Segment {
            started_unix_s: started,
            result: paced(600, stall_ms.map(|ms| (300, ms))),
        }
    }

    #[test]
    fn a_stall_every_five_minutes_has_its_period_in_the_hour() {
        // 60 one-minute segments, a 300 ms stall in every fifth: alone
        // each segment has one event and no period; joined, twelve events
        // 300 s apart.
        let segs: Vec<Segment> = (0..60)
            .map(|i| segment(1000.0 + 60.0 * i as f64, (i % 5 == 0).then_some(300)))
            .collect();
        assert_eq!(segs[0].result.stalls.period_s, None);
        let refs: Vec<&Segment> = segs.iter().collect();
        let j = join(&refs).unwrap();
        assert_eq!(j.ops, 36_000);
        assert_eq!(j.stalls.events_count, 12);
        assert_eq!(j.stalls.events[1].at_s, 330.0);
        assert_eq!(j.stalls.period_s, Some(300.0));
        assert!(j.latency_us.max >= 299_000.0, "{}", j.latency_us.max);
        assert_eq!(j.latency_us.samples, 36_000);
        assert!((j.iops - 10.0).abs() < 1e-9);
        assert!(j.timeline.is_empty());
    }

    #[test]
    fn one_segment_is_itself_and_none_is_nothing() {
        let s = segment(0.0, None);
        assert_eq!(join(&[&s]).unwrap(), s.result);
        assert!(join(&[]).is_none());
    }
}
