//! The rolling windows: a ring of ticks (the canary's segments, the
//! cluster's views and pages, the log lines kept, the host's activity),
//! and each window's report built from the ticks it covers and judged by
//! the same rules as every other command. The disk results of a window
//! merge their histograms and join their stall ledgers; the cluster's
//! metrics are the deltas over the window; the logs are scanned over the
//! window's lines; the host facts and peer RTTs are the latest tick's.

use std::collections::VecDeque;
use std::io::Cursor;
use std::time::Duration;

use super::follow::Excerpt;
use super::join::{join, Segment};
use super::scrape::{self, ClusterTick, Scraped};
use crate::facts::Report;
use crate::host::HostFacts;
use crate::logs::scan::{Scanner, Window};
use crate::logs::LogsReport;
use crate::probe::net::NetResult;
use crate::rules::Profile;

/// Everything one tick gathered.
#[derive(Debug, Clone)]
pub struct Tick {
    /// End of the tick, Unix seconds.
    pub at_unix_s: f64,
    /// Canary segments that finished during the tick.
    pub segments: Vec<Segment>,
    /// Why the canary did not measure, when it did not.
    pub canary_error: Option<String>,
    /// The cluster, when one is watched.
    pub cluster: Option<ClusterTick>,
    /// RTT to the agent peers over the tick.
    pub net: Vec<NetResult>,
    /// Log lines kept, one excerpt per followed file.
    pub logs: Vec<Excerpt>,
    /// The host over the tick.
    pub host: HostFacts,
}

/// The last ticks, oldest first, at most `cap`.
#[derive(Debug)]
pub struct Ring {
    ticks: VecDeque<Tick>,
    cap: usize,
}

impl Ring {
    /// An empty ring of `cap` ticks (at least one).
    pub fn new(cap: usize) -> Ring {
        Ring {
            ticks: VecDeque::with_capacity(cap.max(1)),
            cap: cap.max(1),
        }
    }

    /// Adds the newest tick, dropping the oldest when full.
    pub fn push(&mut self, tick: Tick) {
        if self.ticks.len() == self.cap {
            self.ticks.pop_front();
        }
        // The canary's timeline is shown for the latest tick only.
        if let Some(prev) = self.ticks.back_mut() {
            for s in &mut prev.segments {
                s.result.timeline = Vec::new();
            }
        }
        self.ticks.push_back(tick);
    }

    /// The last `n` ticks, oldest first.
    pub fn last(&self, n: usize) -> Vec<&Tick> {
        let skip = self.ticks.len().saturating_sub(n);
        self.ticks.iter().skip(skip).collect()
    }

    /// Ticks held.
    pub fn len(&self) -> usize {
        self.ticks.len()
    }

    /// True before the first tick.
    pub fn is_empty(&self) -> bool {
        self.ticks.is_empty()
    }
}

/// The report of `ticks` (oldest first), judged with `profile`; `None`
/// without ticks. `span` is the window's nominal length, named in the
/// report's command (`watch 10m`).
pub fn report(ticks: &[&Tick], span: Duration, profile: &Profile) -> Option<Report> {
    let latest = ticks.last()?;
    let mut report = Report::new(
        &format!("watch {}", super::plan::window_name(span)),
        latest.host.clone(),
    );
    let segments: Vec<&Segment> = ticks.iter().flat_map(|t| &t.segments).collect();
    report.disk = join(&segments).into_iter().collect();
    // The latest tick's RTT runs (each a few seconds of pings).
    report.net = latest.net.clone();
    if let Some(c) = &latest.cluster {
        let pages: Vec<&[Scraped]> = ticks
            .iter()
            .filter_map(|t| t.cluster.as_ref().map(|c| c.scrapes.as_slice()))
            .collect();
        report.cluster = Some(scrape::with_metrics(
            &c.report,
            scrape::window_metrics(&pages),
        ));
    }
    if !latest.logs.is_empty() {
        report.logs = Some(logs(ticks));
    }
    report.judge(profile);
    Some(report)
}

/// The window's kept log lines scanned as one read of each source; a
/// source's error is the latest tick's.
fn logs(ticks: &[&Tick]) -> LogsReport {
    let latest = ticks.last().map_or(&[][..], |t| t.logs.as_slice());
    let mut scanner = Scanner::new(Window::default());
    for (i, source) in latest.iter().enumerate() {
        if let Some(e) = &source.error {
            scanner.failed(&source.source, e.clone());
            continue;
        }
        let text: String = ticks
            .iter()
            .filter_map(|t| t.logs.get(i).filter(|e| e.source == source.source))
            .map(|e| e.lines.as_str())
            .collect();
        scanner.scan(&source.source, &mut Cursor::new(text.as_bytes()));
    }
    scanner.finish()
}
