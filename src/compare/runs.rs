//! Which runs of which probes a report holds, as `compare` matches them:
//! one subject per disk probe and engine, network probe and peer, and
//! load operation kind.

use super::noise::{RunFacts, StallFacts};
use crate::facts::Report;

/// The runs of every probe in `reports`, grouped by subject in order of
/// first appearance.
pub(super) fn subjects(reports: &[Report]) -> Vec<(String, Vec<RunFacts<'_>>)> {
    let mut out: Vec<(String, Vec<RunFacts>)> = Vec::new();
    for report in reports {
        for (subject, facts) in runs(report) {
            match out.iter_mut().find(|(s, _)| *s == subject) {
                Some((_, v)) => v.push(facts),
                None => out.push((subject, vec![facts])),
            }
        }
    }
    out
}

pub(super) fn runs(report: &Report) -> impl Iterator<Item = (String, RunFacts<'_>)> {
    let disk = report.disk.iter().map(|r| {
        let subject = format!("disk {} ({})", r.probe.as_str(), r.engine.as_str());
        let facts = RunFacts {
            latency: Some(&r.latency_us),
            histogram: Some(&r.latency_histogram),
            rate: Some(("IOPS", "ops/s", r.iops)),
            timeline: &r.timeline,
            // A ledger written by a probe always has a positive level;
            // reports from before stalls were counted have none.
            stalls: (r.stalls.heartbeat_ms > 0.0).then_some(StallFacts {
                events: r.stalls.events_count,
                observed_s: r.duration_s,
                heartbeat_ms: r.stalls.heartbeat_ms,
            }),
        };
        (subject, facts)
    });
    let net = report.net.iter().filter(|r| r.error.is_none()).map(|r| {
        let size = r
            .message_size_bytes
            .map(|b| format!(" {b} B"))
            .unwrap_or_default();
        let subject = format!("net {} {}{size}", r.probe.as_str(), r.peer);
        let facts = RunFacts {
            latency: r.latency_us.as_ref(),
            histogram: r.latency_histogram.as_ref(),
            rate: r.throughput_mbit_s.map(|t| ("throughput", "Mbit/s", t)),
            timeline: &r.timeline,
            stalls: None,
        };
        (subject, facts)
    });
    // A load run: one subject per operation kind and one for all of them
    // (per-member rows are keyed by client URL, which changes between CI
    // clusters, so they are not matched). Only the run-wide timeline exists.
    let load = report.load.iter().flat_map(|l| {
        std::iter::once(&l.all).chain(&l.ops).map(|o| {
            let facts = RunFacts {
                latency: Some(&o.latency_us),
                histogram: Some(&o.latency_histogram),
                rate: Some(("throughput", "ops/s", o.achieved_ops_s)),
                timeline: if std::ptr::eq(o, &l.all) {
                    &l.timeline
                } else {
                    &[]
                },
                stalls: None,
            };
            (format!("load {}", o.name), facts)
        })
    });
    disk.chain(net).chain(load)
}
