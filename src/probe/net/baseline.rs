//! A remembered unloaded RTT: the idle RTT p99 per peer from an earlier
//! report (`net --rtt-baseline REPORT`, a `net` or `qualify` report of the
//! same path taken at a quiet time). When other traffic already fills the
//! link as `net` starts, loaded-rtt's own idle phase is queued too, so only
//! an earlier quiet measurement says how much the busy link costs.

use std::collections::BTreeMap;

use super::result::{NetProbeKind, NetResult};

/// The lowest idle RTT p99 per peer, microseconds, over `results`' rows
/// that succeeded: rtt rows pinged at `heartbeat_bytes`, and loaded-rtt
/// idle phases. The lowest, since a run that was itself queued says
/// nothing about the unloaded path.
pub fn idle_p99_by_peer(results: &[NetResult], heartbeat_bytes: u32) -> BTreeMap<String, f64> {
    let mut out: BTreeMap<String, f64> = BTreeMap::new();
    for r in results.iter().filter(|r| r.error.is_none()) {
        let idle = match r.probe {
            NetProbeKind::Rtt if r.message_size_bytes == Some(heartbeat_bytes.into()) => {
                r.latency_us.as_ref()
            }
            NetProbeKind::LoadedRtt => r.idle_latency_us.as_ref(),
            _ => None,
        };
        if let Some(p99) = idle.map(|l| l.p99).filter(|p| p.is_finite() && *p > 0.0) {
            let slot = out.entry(r.peer.clone()).or_insert(p99);
            *slot = slot.min(p99);
        }
    }
    out
}

/// Gives each loaded-rtt row of `results` its peer's baseline idle p99.
pub fn apply(results: &mut [NetResult], baseline: &BTreeMap<String, f64>) {
    for r in results
        .iter_mut()
        .filter(|r| r.probe == NetProbeKind::LoadedRtt)
    {
        r.baseline_idle_p99_us = baseline.get(&r.peer).copied();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::measure::LatencyHistogram;
    use crate::probe::net::Schedule;
    use std::time::Duration;

    fn row(probe: NetProbeKind, peer: &str, size: u64, p99_us: u64) -> NetResult {
        let mut r = NetResult::new(probe, peer, Schedule::Sequential);
        let mut h = LatencyHistogram::new();
        h.record(Duration::from_micros(p99_us));
        r.message_size_bytes = Some(size);
        match probe {
            NetProbeKind::LoadedRtt => r.idle_latency_us = Some(h.summary()),
            _ => r.latency_us = Some(h.summary()),
        }
        r
    }

    #[test]
    fn the_quietest_heartbeat_sized_idle_rtt_per_peer_is_remembered() {
        let mut failed = row(NetProbeKind::Rtt, "a:1", 100, 10);
        failed.error = Some("timeout".into());
        let earlier = [
            row(NetProbeKind::Rtt, "a:1", 100, 400),
            row(NetProbeKind::Rtt, "a:1", 4096, 200),
            row(NetProbeKind::LoadedRtt, "a:1", 100, 300),
            row(NetProbeKind::Rtt, "b:1", 100, 900),
            failed,
        ];
        let base = idle_p99_by_peer(&earlier, 100);
        assert_eq!(base.len(), 2);
        assert!((base["a:1"] - 300.0).abs() < 1.0, "{base:?}");
        let mut now = [
            row(NetProbeKind::LoadedRtt, "a:1", 100, 90_000),
            row(NetProbeKind::LoadedRtt, "c:1", 100, 90_000),
            row(NetProbeKind::Rtt, "a:1", 100, 90_000),
        ];
        apply(&mut now, &base);
        assert_eq!(now[0].baseline_idle_p99_us, Some(base["a:1"]));
        assert_eq!(now[1].baseline_idle_p99_us, None);
        assert_eq!(now[2].baseline_idle_p99_us, None);
    }
}
