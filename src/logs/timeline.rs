//! The timeline: catalogued events summed per kind (count, first and last,
//! the worst duration with its time and line, peers) and per minute, plus
//! the elections by term. Memory grows with the minutes, peers and terms
//! seen, never with the lines read, and each of those is bounded
//! ([`MAX_MINUTES`], [`MAX_PEERS_PER_KIND`], [`MAX_TERMS`]).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::catalogue::EventKind;
use super::model::{Election, RawEvent};
use super::request::{RequestTally, RequestsReport};
use super::time::UnixMs;

/// Longest example line kept in a summary.
const EXAMPLE_CHARS: usize = 400;

/// Most distinct peers kept per kind of event (a cluster has at most a
/// few members, replaced ones included): the lowest ids; lines naming
/// others are counted in [`KindSummary::other_peer_lines`].
pub const MAX_PEERS_PER_KIND: usize = 64;

/// Most distinct (kind, minute) counts kept, the latest: ten weeks of
/// minutes. Events in older ones still count in their kind's totals.
pub const MAX_MINUTES: usize = 100_000;

/// Most distinct election terms kept, the latest.
pub const MAX_TERMS: usize = 100_000;

/// What the logs said of one kind of event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct KindSummary {
    /// The kind of event.
    pub kind: EventKind,
    /// Lines of this kind in the window.
    pub count: u64,
    /// Time of the first one.
    pub first_unix_ms: i64,
    /// Time of the last one.
    pub last_unix_ms: i64,
    /// The longest duration the lines reported, in ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worst_ms: Option<f64>,
    /// When the worst one was logged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worst_at_unix_ms: Option<i64>,
    /// The worst line (or the first, when lines carry no duration), cut to 400 characters.
    pub example: String,
    /// Peers the lines named, with how often.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub peers: Vec<PeerCount>,
    /// Lines per minute, for minutes that had any.
    pub per_minute: Vec<MinuteCount>,
    /// Lines naming a peer not kept (past the lowest [`MAX_PEERS_PER_KIND`] ids).
    #[serde(default, skip_serializing_if = "crate::measure::is_zero")]
    pub other_peer_lines: u64,
}

/// How often a peer was named.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PeerCount {
    /// The peer's member id as the log wrote it.
    pub peer: String,
    /// Lines naming it.
    pub count: u64,
}

/// Lines in one minute.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct MinuteCount {
    /// Start of the minute.
    pub minute_unix_ms: i64,
    /// Lines in it.
    pub count: u64,
}

/// Accumulates events into summaries. What is kept past a bound does not
/// depend on the order events arrive in, so a source read in chunks on
/// several threads and merged gives what reading it line by line gives:
/// the lowest [`MAX_PEERS_PER_KIND`] peer ids per kind, the latest
/// [`MAX_MINUTES`] (minute, kind) counts, the latest [`MAX_TERMS`]
/// terms and the least request groups (see [`RequestTally`]). A kept
/// entry's count is exact: it was never evicted, since
/// whatever would have pushed it out is still there at the end.
#[derive(Debug, Default)]
pub struct Timeline {
    kinds: BTreeMap<EventKind, KindSummary>,
    /// Keyed by minute first, so the oldest minute is the first key.
    minutes: BTreeMap<(i64, EventKind), u64>,
    peers: BTreeMap<EventKind, BTreeMap<String, u64>>,
    terms: BTreeMap<u64, UnixMs>,
    requests: RequestTally,
}

/// A finished timeline: the kinds in catalogue order, the elections in
/// term order, and the slow requests by what they asked for.
pub type Finished = (Vec<KindSummary>, Vec<Election>, Option<RequestsReport>);

impl Timeline {
    /// Adds one event logged at `at_ms` in `line`.
    pub fn add(&mut self, at_ms: UnixMs, mut event: RawEvent, line: &str) {
        let kind = event.kind;
        if let Some(r) = event.request.take() {
            self.requests.add(r, event.duration_ms.unwrap_or(0.0));
        }
        let s = self.kinds.entry(kind).or_insert_with(|| KindSummary {
            kind,
            count: 0,
            first_unix_ms: at_ms,
            last_unix_ms: at_ms,
            worst_ms: None,
            worst_at_unix_ms: None,
            example: cut(line),
            peers: Vec::new(),
            per_minute: Vec::new(),
            other_peer_lines: 0,
        });
        s.count += 1;
        s.first_unix_ms = s.first_unix_ms.min(at_ms);
        s.last_unix_ms = s.last_unix_ms.max(at_ms);
        if let Some(d) = event.duration_ms.filter(|d| d.is_finite()) {
            if s.worst_ms.is_none_or(|w| d > w) {
                s.worst_ms = Some(d);
                s.worst_at_unix_ms = Some(at_ms);
                s.example = cut(line);
            }
        }
        if let Some(peer) = event.peer {
            count_peer(self.peers.entry(kind).or_default(), s, peer, 1);
        }
        count_minute(
            &mut self.minutes,
            (at_ms.div_euclid(60_000) * 60_000, kind),
            1,
        );
        if let Some(term) = event.term.filter(|_| kind.is_election()) {
            note_term(&mut self.terms, term, at_ms);
        }
    }

    /// Adds what `later` (the events logged after this timeline's, in the
    /// same source) holds: the same as adding its events one by one here.
    pub fn merge(&mut self, later: Timeline) {
        for (kind, l) in later.kinds {
            match self.kinds.get_mut(&kind) {
                None => {
                    self.kinds.insert(kind, l);
                }
                Some(s) => {
                    s.count += l.count;
                    s.other_peer_lines += l.other_peer_lines;
                    s.first_unix_ms = s.first_unix_ms.min(l.first_unix_ms);
                    s.last_unix_ms = s.last_unix_ms.max(l.last_unix_ms);
                    // A later worst replaces only a strictly smaller one, as in `add`.
                    if l.worst_ms
                        .is_some_and(|w| s.worst_ms.is_none_or(|sw| w > sw))
                    {
                        s.worst_ms = l.worst_ms;
                        s.worst_at_unix_ms = l.worst_at_unix_ms;
                        s.example = l.example;
                    }
                }
            }
        }
        for (kind, peers) in later.peers {
            let (Some(s), kept) = (
                self.kinds.get_mut(&kind),
                self.peers.entry(kind).or_default(),
            ) else {
                continue;
            };
            for (peer, n) in peers {
                count_peer(kept, s, peer, n);
            }
        }
        for (key, n) in later.minutes {
            count_minute(&mut self.minutes, key, n);
        }
        for (term, at) in later.terms {
            note_term(&mut self.terms, term, at);
        }
        self.requests.merge(later.requests);
    }

    /// The summaries in catalogue order, the elections in term order and
    /// the slow requests.
    pub fn finish(self) -> Finished {
        let mut kinds = self.kinds;
        for ((minute_unix_ms, kind), count) in self.minutes {
            if let Some(s) = kinds.get_mut(&kind) {
                s.per_minute.push(MinuteCount {
                    minute_unix_ms,
                    count,
                });
            }
        }
        for (kind, peers) in self.peers {
            if let Some(s) = kinds.get_mut(&kind) {
                s.peers = peers
                    .into_iter()
                    .map(|(peer, count)| PeerCount { peer, count })
                    .collect();
            }
        }
        let elections = self
            .terms
            .into_iter()
            .map(|(term, at_unix_ms)| Election { term, at_unix_ms })
            .collect();
        (
            kinds.into_values().collect(),
            elections,
            self.requests.finish(),
        )
    }
}

/// Counts `n` lines of `peer` in `s`, keeping the lowest
/// [`MAX_PEERS_PER_KIND`] ids; the lines of one pushed out go to
/// `other_peer_lines`.
fn count_peer(kept: &mut BTreeMap<String, u64>, s: &mut KindSummary, peer: String, n: u64) {
    *kept.entry(peer).or_default() += n;
    if kept.len() > MAX_PEERS_PER_KIND {
        if let Some((_, lines)) = kept.pop_last() {
            s.other_peer_lines += lines;
        }
    }
}

/// Counts `n` lines in a (minute, kind), keeping the latest [`MAX_MINUTES`].
fn count_minute(minutes: &mut BTreeMap<(i64, EventKind), u64>, key: (i64, EventKind), n: u64) {
    *minutes.entry(key).or_default() += n;
    if minutes.len() > MAX_MINUTES {
        minutes.pop_first();
    }
}

/// Notes that `term` was logged at `at`, keeping the latest [`MAX_TERMS`].
fn note_term(terms: &mut BTreeMap<u64, UnixMs>, term: u64, at: UnixMs) {
    let first = terms.entry(term).or_insert(at);
    *first = (*first).min(at);
    if terms.len() > MAX_TERMS {
        terms.pop_first();
    }
}

fn cut(line: &str) -> String {
    line.chars().take(EXAMPLE_CHARS).collect()
}

/// The most elections within any `window_ms` (sliding over election times).
pub fn max_in_window(elections: &[Election], window_ms: i64) -> usize {
    let mut times: Vec<i64> = elections.iter().map(|e| e.at_unix_ms).collect();
    times.sort_unstable();
    let mut best = 0;
    let mut start = 0;
    for end in 0..times.len() {
        while times[end] - times[start] >= window_ms {
            start += 1;
        }
        best = best.max(end - start + 1);
    }
    best
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(kind: EventKind, duration_ms: Option<f64>, term: Option<u64>) -> RawEvent {
        RawEvent {
            kind,
            duration_ms,
            peer: Some("p1".into()),
            term,
            request: None,
        }
    }

    #[test]
    fn worst_first_last_and_minutes() {
        let mut t = Timeline::default();
        t.add(
            120_000,
            event(EventKind::SlowFdatasync, Some(1200.0), None),
            "a",
        );
        t.add(
            61_000,
            event(EventKind::SlowFdatasync, Some(3000.0), None),
            "worst",
        );
        t.add(125_000, event(EventKind::SlowFdatasync, None, None), "c");
        let (kinds, elections, _) = t.finish();
        let s = &kinds[0];
        assert_eq!(
            (s.count, s.first_unix_ms, s.last_unix_ms),
            (3, 61_000, 125_000)
        );
        assert_eq!(
            (s.worst_ms, s.worst_at_unix_ms),
            (Some(3000.0), Some(61_000))
        );
        assert_eq!(s.example, "worst");
        let minutes: Vec<_> = s
            .per_minute
            .iter()
            .map(|m| (m.minute_unix_ms, m.count))
            .collect();
        assert_eq!(minutes, [(60_000, 1), (120_000, 2)]);
        assert_eq!(
            s.peers,
            [PeerCount {
                peer: "p1".into(),
                count: 3
            }]
        );
        assert!(elections.is_empty());
    }

    /// Ten thousand distinct peers keep 64 and count the other lines;
    /// counts always add up to the lines.
    #[test]
    fn distinct_peers_are_bounded() {
        let mut t = Timeline::default();
        for i in 0..10_000u64 {
            let mut e = event(EventKind::PeerUnhealthy, None, None);
            e.peer = Some(format!("{i:016x}"));
            t.add(i as i64 * 1000, e, "");
        }
        let (kinds, _, _) = t.finish();
        let s = &kinds[0];
        assert_eq!(s.peers.len(), MAX_PEERS_PER_KIND);
        let named: u64 = s.peers.iter().map(|p| p.count).sum();
        assert_eq!(named + s.other_peer_lines, 10_000);
        assert_eq!(s.count, 10_000);
    }

    /// `events` added to one timeline, or to one per part and merged.
    fn timeline_of(
        events: &[(i64, RawEvent)],
        cuts: &[usize],
    ) -> (Vec<KindSummary>, Vec<Election>) {
        let mut whole = Timeline::default();
        for range in crate::logs::chunk::parts(events.len(), cuts) {
            let mut part = Timeline::default();
            for (at, e) in &events[range] {
                part.add(*at, e.clone(), "l");
            }
            whole.merge(part);
        }
        let (kinds, elections, _) = whole.finish();
        (kinds, elections)
    }

    /// Past every bound, what is kept and counted does not depend on how
    /// the events were split into parts: the lowest peer ids, the latest
    /// minutes and terms (a 4.5 MB gzip with 300k peer ids read in chunks
    /// once kept 24,128 peers).
    #[test]
    fn parts_merged_keep_what_one_pass_keeps() {
        let events: Vec<(i64, RawEvent)> = (0..(MAX_MINUTES as i64 + 5_000))
            .map(|i| {
                let mut e = event(EventKind::PeerUnhealthy, None, None);
                e.peer = Some(format!("{:016x}", (i * 7919) % 1_000));
                (i * 60_000, e)
            })
            .collect();
        let one = timeline_of(&events, &[]);
        assert_eq!(one, timeline_of(&events, &[1, 50_000, 99_999, 104_000]));
        let s = &one.0[0];
        assert_eq!(s.peers.len(), MAX_PEERS_PER_KIND);
        assert_eq!(s.peers[0].peer, format!("{:016x}", 0));
        assert_eq!(s.per_minute.len(), MAX_MINUTES);
        assert_eq!(s.per_minute[0].minute_unix_ms, 5_000 * 60_000);
        let named: u64 = s.peers.iter().map(|p| p.count).sum();
        assert_eq!(named + s.other_peer_lines, s.count);
    }

    proptest::proptest! {
        #[test]
        fn any_split_merges_to_one_pass(
            raw in proptest::collection::vec((0i64..500, 0u64..200, 0u64..3), 0..600),
            cuts in proptest::collection::vec(0usize..600, 0..6),
        ) {
            let kinds = [EventKind::PeerUnhealthy, EventKind::LeaderElected, EventKind::SlowFdatasync];
            let events: Vec<(i64, RawEvent)> = raw
                .iter()
                .map(|&(at, p, k)| {
                    let kind = kinds[k as usize];
                    let mut e = event(kind, Some(p as f64), Some(p));
                    e.peer = Some(format!("{p:x}"));
                    (at * 1_000, e)
                })
                .collect();
            let one = timeline_of(&events, &[]);
            proptest::prop_assert_eq!(&one, &timeline_of(&events, &cuts));
            for s in &one.0 {
                proptest::prop_assert!(s.peers.len() <= MAX_PEERS_PER_KIND);
                let named: u64 = s.peers.iter().map(|p| p.count).sum();
                proptest::prop_assert_eq!(named + s.other_peer_lines, s.count);
            }
        }
    }

    #[test]
    fn elections_count_once_per_term() {
        let mut t = Timeline::default();
        for (at, term) in [(10, 2), (11, 2), (12, 2), (5_000, 3), (4_000_000, 4)] {
            t.add(at, event(EventKind::LeaderElected, None, Some(term)), "");
        }
        let (_, elections, _) = t.finish();
        assert_eq!(elections.len(), 3);
        assert_eq!(max_in_window(&elections, 3_600_000), 2);
        assert_eq!(max_in_window(&[], 3_600_000), 0);
    }
}
