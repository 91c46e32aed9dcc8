//! What a member's /metrics says, summarized: percentiles of the disk and
//! peer histograms (WAL fdatasync, backend commit, peer round trip) and the
//! raft counters (leader changes, failed proposals, slow applies), DB size
//! and quota. With two scrapes a short interval apart the percentiles come
//! from the bucket deltas and the counters become rates, so they describe
//! what etcd does now rather than since it booted; each histogram says
//! which ([`Span`]). Percentiles interpolate linearly within buckets, as
//! PromQL's `histogram_quantile` does, so they match a Grafana panel.

use std::collections::BTreeMap;

use super::exposition::{self, Sample, Scrape, Value};

use super::error::RequestError;
use super::views::{Alarm, HistogramPercentiles, MemberMetrics, MethodRate, PeerRtt, Span};
use crate::member::{AlarmKind, MemberId};

/// etcd's WAL fdatasync latency histogram.
pub const WAL_FSYNC: &str = "etcd_disk_wal_fsync_duration_seconds";
/// etcd's backend (bbolt) commit latency histogram.
pub const BACKEND_COMMIT: &str = "etcd_disk_backend_commit_duration_seconds";
/// etcd's peer round-trip time histogram (label `To`: the peer's id).
pub const PEER_RTT: &str = "etcd_network_peer_round_trip_time_seconds";

/// etcd 3.6's range latency (server/etcdserver/txn/metrics.go, label
/// `success`): txn.Range's own work, without the read-index wait.
pub const RANGE_DURATION: &str = "etcd_server_range_duration_seconds";
/// gRPC calls finished (go-grpc-prometheus in 3.5, go-grpc-middleware's
/// prometheus provider in 3.6; labels grpc_method, grpc_type, grpc_code).
pub const GRPC_HANDLED: &str = "grpc_server_handled_total";
/// Bytes sent to gRPC clients (server/etcdserver/api/v3rpc/metrics.go).
pub const CLIENT_SENT_BYTES: &str = "etcd_network_client_grpc_sent_bytes_total";
/// etcd's apply duration histogram (etcd 3.5 and later).
pub const APPLY_DURATION: &str = "etcd_server_apply_duration_seconds";
/// The Prometheus process collector's CPU counter.
pub const PROCESS_CPU: &str = "process_cpu_seconds_total";
/// The Prometheus process collector's start time, Unix seconds.
pub const PROCESS_START: &str = "process_start_time_seconds";
/// etcd's in-flight proposals gauge.
pub const PROPOSALS_PENDING: &str = "etcd_server_proposals_pending";
/// etcd's failed proposals counter.
pub const PROPOSALS_FAILED: &str = "etcd_server_proposals_failed_total";
/// etcd's leader changes counter.
pub const LEADER_CHANGES: &str = "etcd_server_leader_changes_seen_total";
/// 1 when the member has a leader.
pub const HAS_LEADER: &str = "etcd_server_has_leader";
/// Applies that took longer than expected.
pub const SLOW_APPLIES: &str = "etcd_server_slow_apply_total";
/// The backend's file size.
pub const DB_SIZE: &str = "etcd_mvcc_db_total_size_in_bytes";
/// The backend quota.
pub const QUOTA: &str = "etcd_server_quota_backend_bytes";
/// Most gRPC methods kept per member (etcd serves about 40).
const MAX_METHODS: usize = 64;
/// Most lines of the families read taken from one page: memory is bounded
/// by a count, not only by the page's bytes (16 MiB of short lines would
/// be a million samples). An etcd page holds a few hundred of them: a
/// histogram's buckets per peer, the non-zero call counters.
pub const MAX_READ_LINES: usize = 100_000;

/// Every metric family this crate reads from a page (each reader checks
/// in debug builds that its name is here). [`parse`] hands only their
/// lines to the text-format parser, whose per-line regexes would otherwise
/// spend most of a `cluster metrics` run on the ~1500 lines of Go runtime,
/// gRPC and other families an etcd page holds and nobody reads.
pub const READ: [&str; 17] = [
    WAL_FSYNC,
    BACKEND_COMMIT,
    PEER_RTT,
    RANGE_DURATION,
    GRPC_HANDLED,
    CLIENT_SENT_BYTES,
    ALARMS,
    APPLY_DURATION,
    PROCESS_CPU,
    PROCESS_START,
    PROPOSALS_PENDING,
    PROPOSALS_FAILED,
    LEADER_CHANGES,
    HAS_LEADER,
    SLOW_APPLIES,
    DB_SIZE,
    QUOTA,
];

/// Whether samples named `name` belong to a family in [`READ`] (a
/// histogram's `_bucket`, `_sum` and `_count` series included).
fn is_read(name: &str) -> bool {
    let base = ["_bucket", "_sum", "_count"]
        .iter()
        .find_map(|suffix| name.strip_suffix(suffix));
    READ.contains(&name) || base.is_some_and(|b| READ.contains(&b))
}

/// Whether the parser could make anything read of `line`: a HELP or TYPE
/// line or a sample of a [`READ`] family. The parser ([`exposition`], as
/// prometheus-parse did) trims the line, takes `# TYPE <\w+>` and
/// `<\w+>[{...}] <value>` and ignores every other line; the name taken
/// here is the longest run of letters, digits and `_`, which equals the
/// parser's name whenever that is a [`READ`] name (those are ASCII), so no
/// line it would read is dropped (a few it ignores may be kept; it ignores
/// them again).
fn may_be_read(line: &str) -> bool {
    let line = line.trim();
    let named = match line.strip_prefix('#') {
        Some(comment) => {
            let mut words = comment.split_whitespace();
            match words.next() {
                Some("HELP" | "TYPE") => words.next().unwrap_or(""),
                _ => return false,
            }
        }
        None => line,
    };
    let end = named
        .find(|c: char| !(c.is_alphanumeric() || c == '_'))
        .unwrap_or(named.len());
    let name = &named[..end];
    // A 3.5 page holds ~700 call counters (every method x code), nearly
    // all 0: one adds nothing to a sum or a rate (a method missing from
    // the first scrape counts from 0), and was a third of the parse.
    let zero_calls = name == GRPC_HANDLED && named.len() > end && line.ends_with(" 0");
    is_read(name) && !zero_calls
}

/// Parses the [`READ`] families of a /metrics page (Prometheus text
/// format); the other lines are skipped unparsed. A page with none of them
/// is an error, not an empty row: every etcd member serves
/// `etcd_server_has_leader` and the process collector's families, so such
/// a page is another program's (a wrong port, a proxy's HTML page).
pub fn parse(text: &str) -> Result<Scrape, RequestError> {
    let mut read = 0usize;
    let lines = text
        .lines()
        .filter(|l| may_be_read(l))
        .inspect(|_| read += 1)
        .take(MAX_READ_LINES + 1);
    let scrape = exposition::parse(lines);
    if read > MAX_READ_LINES {
        return Err(RequestError::TooManyLines(MAX_READ_LINES));
    }
    if !scrape.samples.is_empty() {
        return Ok(scrape);
    }
    let lines = text.lines().count();
    Err(match exposition::holds_samples(text.lines()) {
        true => RequestError::NoEtcdMetrics(lines),
        false => RequestError::NotPrometheus(format!("no sample in {lines} lines")),
    })
}

/// One scrape and when it was taken, Unix seconds.
#[derive(Debug, Clone, Copy)]
pub struct Taken<'a> {
    /// The parsed page.
    pub scrape: &'a Scrape,
    /// Wall-clock time of the scrape, Unix seconds.
    pub at_unix_s: f64,
}

/// PromQL's `histogram_quantile(q, buckets)` for cumulative `buckets` of
/// (upper bound, count) sorted by upper bound and ending with +Inf. `None`
/// where PromQL gives NaN (no observations, no +Inf bucket).
pub fn histogram_quantile(q: f64, buckets: &[(f64, f64)]) -> Option<f64> {
    let (&(last_bound, total), _) = buckets.split_last()?;
    if buckets.len() < 2 || last_bound != f64::INFINITY || total <= 0.0 {
        return None;
    }
    let rank = q * total;
    let b = buckets.iter().position(|&(_, count)| count >= rank)?;
    if b == buckets.len() - 1 {
        return Some(buckets[b - 1].0);
    }
    let (end, count) = buckets[b];
    if b == 0 && end <= 0.0 {
        return Some(end);
    }
    let (start, below) = if b == 0 { (0.0, 0.0) } else { buckets[b - 1] };
    Some(start + (end - start) * ((rank - below) / (count - below)))
}

/// The lower bound of the bucket holding the observation of `rank` (1 is
/// the fastest) in cumulative `buckets`: that observation took longer.
fn floor_at_rank(rank: f64, buckets: &[(f64, f64)]) -> f64 {
    let b = buckets.iter().position(|&(_, count)| count >= rank);
    match b {
        Some(0) | None => 0.0,
        Some(b) => buckets[b - 1].0,
    }
}

/// Cumulative buckets of histogram `name`, summed over the label sets that
/// `keep` accepts (PromQL's `sum by (le)`); `None` when there are none.
fn buckets(scrape: &Scrape, name: &str, keep: impl Fn(&Sample) -> bool) -> Option<Vec<(f64, f64)>> {
    debug_assert!(is_read(name), "{name} is read but not listed in READ");
    let mut sum: BTreeMap<u64, (f64, f64)> = BTreeMap::new();
    for sample in scrape
        .samples
        .iter()
        .filter(|s| s.metric == name && keep(s))
    {
        if let Value::Histogram(counts) = &sample.value {
            for c in counts {
                // f64 bounds >= 0 order like their bit patterns.
                let entry = sum
                    .entry(c.less_than.to_bits())
                    .or_insert((c.less_than, 0.0));
                entry.1 += c.count;
            }
        }
    }
    (!sum.is_empty()).then(|| sum.into_values().collect())
}

/// Bucket deltas `last - first`; `None` when the bounds differ or a count
/// went down (the member restarted between the scrapes).
fn delta(first: &[(f64, f64)], last: &[(f64, f64)]) -> Option<Vec<(f64, f64)>> {
    if first.len() != last.len() {
        return None;
    }
    first
        .iter()
        .zip(last)
        .map(|(&(b0, c0), &(b1, c1))| (b0 == b1 && c1 >= c0).then_some((b1, c1 - c0)))
        .collect()
}

/// Percentiles of histogram `name` (label sets filtered by `keep`): over
/// the window when it saw observations, else since the member started.
pub fn percentiles(
    first: Option<&Scrape>,
    last: &Scrape,
    name: &str,
    keep: impl Fn(&Sample) -> bool + Copy,
) -> Option<HistogramPercentiles> {
    let total = buckets(last, name, keep)?;
    let window = first
        .and_then(|f| buckets(f, name, keep))
        .and_then(|f| delta(&f, &total))
        .filter(|d| d.last().is_some_and(|&(_, n)| n > 0.0));
    let (span, b) = match window {
        Some(d) => (Span::Window, d),
        None => (Span::SinceStart, total),
    };
    let ms = |q| histogram_quantile(q, &b).map(|s| s * 1000.0);
    let count = b.last().map(|&(_, n)| n as u64).unwrap_or(0);
    Some(HistogramPercentiles {
        count,
        span,
        p50_ms: ms(0.50)?,
        p90_ms: ms(0.90)?,
        p99_ms: ms(0.99)?,
        second_slowest_over_ms: (count >= 2)
            .then(|| floor_at_rank((count - 1) as f64, &b))
            .map(|s| s * 1000.0),
    })
}

/// Sum of the plain samples named `name` (counters, gauges, untyped).
pub fn value(scrape: &Scrape, name: &str) -> Option<f64> {
    debug_assert!(is_read(name), "{name} is read but not listed in READ");
    let values: Vec<f64> = scrape
        .samples
        .iter()
        .filter(|s| s.metric == name)
        .filter_map(|s| match s.value {
            Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => Some(v),
            _ => None,
        })
        .collect();
    (!values.is_empty()).then(|| values.iter().sum())
}

/// Increase of counter `name` between the scrapes (`None` on a reset).
pub fn increase(first: Option<&Scrape>, last: &Scrape, name: &str) -> Option<f64> {
    let d = value(last, name)? - value(first?, name)?;
    (d >= 0.0).then_some(d)
}

/// Unary calls per method in `scrape`, summed over codes and services.
fn calls(scrape: &Scrape) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for s in scrape.samples.iter().filter(|s| s.metric == GRPC_HANDLED) {
        let (Some(method), Value::Counter(v) | Value::Untyped(v)) =
            (s.labels.get("grpc_method"), &s.value)
        else {
            continue;
        };
        if s.labels.get("grpc_type").is_some_and(|t| t != "unary") {
            continue;
        }
        if out.len() < MAX_METHODS || out.contains_key(method) {
            *out.entry(method.to_string()).or_insert(0.0) += v;
        }
    }
    out
}

/// Unary calls per second by method between the scrapes, most first
/// (methods with none left out; empty on a reset or without a window).
fn call_rates(first: Option<&Scrape>, last: &Scrape, window_s: f64) -> Vec<MethodRate> {
    let Some(first) = first.filter(|_| window_s > 0.0) else {
        return Vec::new();
    };
    let before = calls(first);
    let mut out: Vec<MethodRate> = calls(last)
        .into_iter()
        .filter_map(|(method, n)| {
            let d = n - before.get(&method).copied().unwrap_or(0.0);
            (d > 0.0).then(|| MethodRate {
                method,
                per_s: d / window_s,
            })
        })
        .collect();
    out.sort_by(|a, b| b.per_s.total_cmp(&a.per_s));
    out
}

/// The peers a member measures round trips to (the `To` label).
fn peers(scrape: &Scrape) -> Vec<String> {
    let mut ids: Vec<String> = scrape
        .samples
        .iter()
        .filter(|s| s.metric == PEER_RTT)
        .filter_map(|s| s.labels.get("To").map(str::to_string))
        .collect();
    ids.sort();
    ids.dedup();
    ids
}

/// etcd 3.6's alarm gauge: 1 per active alarm, labels `server_id` (the
/// member's id in hex without leading zeros) and `alarm_type`
/// (server/etcdserver/apply/metrics.go at v3.6.0).
pub const ALARMS: &str = "etcd_debugging_server_alarms";

/// The alarms [`ALARMS`] shows active, in label order.
fn alarms(scrape: &Scrape) -> Vec<Alarm> {
    let mut out: Vec<Alarm> = scrape
        .samples
        .iter()
        .filter(|s| s.metric == ALARMS)
        .filter(|s| matches!(s.value, Value::Gauge(v) | Value::Untyped(v) if v > 0.0))
        .filter_map(|s| {
            let id = u64::from_str_radix(s.labels.get("server_id")?, 16).ok()?;
            Some(Alarm {
                member_id: MemberId::from(id),
                alarm: AlarmKind::from(s.labels.get("alarm_type")?.to_string()),
            })
        })
        .collect();
    out.sort_by(|a, b| (&a.member_id, a.alarm.as_str()).cmp(&(&b.member_id, b.alarm.as_str())));
    out.dedup();
    out
}

/// Summarizes one member's metrics from one scrape, or two (`first` then
/// `last`), for `url`.
pub fn summarize(url: &str, first: Option<Taken<'_>>, last: Taken<'_>) -> MemberMetrics {
    let f = first.map(|t| t.scrape);
    let l = last.scrape;
    let window_s = first.map(|t| last.at_unix_s - t.at_unix_s).unwrap_or(0.0);
    let per_s = |name| {
        increase(f, l, name)
            .filter(|_| window_s > 0.0)
            .map(|d| d / window_s)
    };
    let all = |_: &Sample| true;
    MemberMetrics {
        url: url.to_string(),
        member_id: None,
        wal_fsync: percentiles(f, l, WAL_FSYNC, all),
        backend_commit: percentiles(f, l, BACKEND_COMMIT, all),
        peer_rtt: percentiles(f, l, PEER_RTT, all),
        peer_rtt_by_peer: peers(l)
            .into_iter()
            .filter_map(|peer| {
                let rtt = percentiles(f, l, PEER_RTT, |s: &Sample| {
                    s.labels.get("To") == Some(peer.as_str())
                })?;
                // The label is the id in hex without leading zeros.
                let peer_id = u64::from_str_radix(&peer, 16)
                    .map_or_else(|_| MemberId::from(peer), MemberId::from);
                Some(PeerRtt { peer_id, rtt })
            })
            .collect(),
        leader_changes_total: value(l, LEADER_CHANGES),
        leader_changes_in_window: increase(f, l, LEADER_CHANGES),
        has_leader: value(l, HAS_LEADER).map(|v| v > 0.0),
        uptime_s: value(l, PROCESS_START).map(|start| last.at_unix_s - start),
        proposals_failed_total: value(l, PROPOSALS_FAILED),
        proposals_failed_per_s: per_s(PROPOSALS_FAILED),
        proposals_pending: value(l, PROPOSALS_PENDING),
        slow_applies_total: value(l, SLOW_APPLIES),
        slow_applies_per_s: per_s(SLOW_APPLIES),
        db_size_bytes: value(l, DB_SIZE),
        quota_bytes: value(l, QUOTA),
        alarms: alarms(l),
        range_duration: percentiles(f, l, RANGE_DURATION, all),
        grpc_calls: call_rates(f, l, window_s),
        client_sent_bytes_per_s: per_s(CLIENT_SENT_BYTES),
        window_s,
        error: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: &str = "\
# HELP etcd_disk_wal_fsync_duration_seconds The latency distributions of fsync called by WAL.
# TYPE etcd_disk_wal_fsync_duration_seconds histogram
etcd_disk_wal_fsync_duration_seconds_bucket{le=\"0.001\"} 10
etcd_disk_wal_fsync_duration_seconds_bucket{le=\"0.002\"} 60
etcd_disk_wal_fsync_duration_seconds_bucket{le=\"0.004\"} 90
etcd_disk_wal_fsync_duration_seconds_bucket{le=\"0.008\"} 100
etcd_disk_wal_fsync_duration_seconds_bucket{le=\"+Inf\"} 100
etcd_disk_wal_fsync_duration_seconds_sum 0.2
etcd_disk_wal_fsync_duration_seconds_count 100
# TYPE etcd_network_peer_round_trip_time_seconds histogram
etcd_network_peer_round_trip_time_seconds_bucket{To=\"a\",le=\"0.0001\"} 0
etcd_network_peer_round_trip_time_seconds_bucket{To=\"a\",le=\"0.0002\"} 4
etcd_network_peer_round_trip_time_seconds_bucket{To=\"a\",le=\"+Inf\"} 4
etcd_network_peer_round_trip_time_seconds_bucket{To=\"b\",le=\"0.0001\"} 4
etcd_network_peer_round_trip_time_seconds_bucket{To=\"b\",le=\"0.0002\"} 4
etcd_network_peer_round_trip_time_seconds_bucket{To=\"b\",le=\"+Inf\"} 4
# TYPE etcd_server_leader_changes_seen_total counter
etcd_server_leader_changes_seen_total 2
# TYPE etcd_server_proposals_failed_total counter
etcd_server_proposals_failed_total 3
# TYPE etcd_server_has_leader gauge
etcd_server_has_leader 1
# TYPE process_start_time_seconds gauge
process_start_time_seconds 1000
";

    fn at(scrape: &Scrape, at_unix_s: f64) -> Taken<'_> {
        Taken { scrape, at_unix_s }
    }

    /// The samples of `scrape` in the READ families, timestamps left out
    /// (each parse stamps its own), in a stable order.
    fn read_samples(scrape: &Scrape) -> Vec<String> {
        let mut out: Vec<String> = scrape
            .samples
            .iter()
            .filter(|s| is_read(&s.metric))
            // Zero call counters are skipped: they add nothing.
            .filter(|s| {
                !(s.metric == GRPC_HANDLED
                    && matches!(s.value, Value::Counter(v) | Value::Untyped(v) if v == 0.0))
            })
            .map(|s| format!("{} {} {:?}", s.metric, s.labels, s.value))
            .collect();
        out.sort();
        out
    }

    #[test]
    fn skipping_unread_lines_reads_the_same_samples() {
        // PAGE, plus families nobody reads (a histogram, a summary, Go's
        // runtime, gRPC), and lines the parser ignores or reads oddly:
        // a form feed as separator, odd spacing in comments, a name that
        // only starts like a read one, a comment that is no HELP/TYPE.
        let extra = "# HELP go_gc_duration_seconds A summary of the pause duration.
# TYPE go_gc_duration_seconds summary
go_gc_duration_seconds{quantile=\"0.5\"} 3.1e-05
go_gc_duration_seconds_sum 0.01
go_gc_duration_seconds_count 12
# TYPE etcd_disk_backend_defrag_duration_seconds histogram
etcd_disk_backend_defrag_duration_seconds_bucket{le=\"0.1\"} 1
etcd_disk_backend_defrag_duration_seconds_bucket{le=\"+Inf\"} 1
grpc_server_handled_total{grpc_code=\"OK\",grpc_method=\"Range\",grpc_service=\"etcdserverpb.KV\",grpc_type=\"unary\"} 7
grpc_server_handled_total{grpc_code=\"OK\",grpc_method=\"Watch\",grpc_service=\"etcdserverpb.Watch\",grpc_type=\"bidi_stream\"} 2
grpc_server_handled_total{grpc_code=\"Aborted\",grpc_method=\"Range\",grpc_service=\"etcdserverpb.KV\",grpc_type=\"unary\"} 0
grpc_server_handled_total{grpc_code=\"OK\",grpc_method=\"Compact\",grpc_service=\"etcdserverpb.KV\",grpc_type=\"unary\"} 0
etcd_server_slow_apply_total\u{c}4
   etcd_server_proposals_pending   3   
#\tTYPE\t etcd_network_client_grpc_sent_bytes_total counter
etcd_network_client_grpc_sent_bytes_total 1e3 1700000000000
etcd_server_has_leader_extra 5
etcd_server_has_leader-x 5
# a comment that names etcd_server_has_leader
#HELP etcd_server_quota_backend_bytes no space after the hash
etcd_server_quota_backend_bytes 2.147483648e+09
etcd_debugging_server_alarms{alarm_type=\"NOSPACE\",server_id=\"8e9e05c52164694d\"} 1
";
        let page = format!("{PAGE}{extra}");
        let full = exposition::parse(page.lines());
        let kept = parse(&page).unwrap();
        assert_eq!(read_samples(&kept), read_samples(&full));
        assert!(kept.samples.len() < full.samples.len());
        assert_eq!(read_samples(&kept).len(), 16, "{:?}", read_samples(&kept));
        let (kept, full) = (at(&kept, 2000.0), at(&full, 2000.0));
        assert_eq!(
            summarize("u", Some(kept), kept),
            summarize("u", Some(full), full)
        );
        assert_eq!(summarize("u", None, kept), summarize("u", None, full));
    }

    #[test]
    fn only_lines_of_read_families_may_be_read() {
        for line in [
            "etcd_server_has_leader 1",
            "etcd_server_has_leader{a=\"b\"} 1",
            "  # TYPE etcd_disk_wal_fsync_duration_seconds histogram",
            "etcd_disk_wal_fsync_duration_seconds_count 3",
            "# TYPE grpc_server_handled_total counter",
            "grpc_server_handled_total{grpc_code=\"OK\",grpc_method=\"Put\"} 10",
        ] {
            assert!(may_be_read(line), "{line}");
        }
        for line in [
            "",
            "# comment etcd_server_has_leader",
            "# TYPE go_goroutines gauge",
            "go_goroutines 80",
            "etcd_server_has_leaders 1",
            "grpc_server_handled_total{grpc_code=\"OK\",grpc_method=\"Put\"} 0",
        ] {
            assert!(!may_be_read(line), "{line}");
        }
    }

    #[test]
    fn quantile_interpolates_like_promql() {
        let b = [
            (0.001, 10.0),
            (0.002, 60.0),
            (0.004, 90.0),
            (0.008, 100.0),
            (f64::INFINITY, 100.0),
        ];
        // rank 50 lies in (0.001, 0.002]: 0.001 + 0.001 * (50 - 10) / 50.
        assert!((histogram_quantile(0.5, &b).unwrap() - 0.0018).abs() < 1e-12);
        // rank 99 lies in (0.004, 0.008]: 0.004 + 0.004 * 9 / 10.
        assert!((histogram_quantile(0.99, &b).unwrap() - 0.0076).abs() < 1e-12);
        // rank 5 in the first bucket interpolates from 0.
        assert!((histogram_quantile(0.05, &b).unwrap() - 0.0005).abs() < 1e-12);
    }

    #[test]
    fn quantile_in_the_inf_bucket_is_the_last_finite_bound() {
        let b = [(0.5, 1.0), (1.0, 2.0), (f64::INFINITY, 10.0)];
        assert_eq!(histogram_quantile(0.9, &b), Some(1.0));
        assert_eq!(
            histogram_quantile(0.5, &[(1.0, 0.0), (f64::INFINITY, 0.0)]),
            None
        );
        assert_eq!(histogram_quantile(0.5, &[(1.0, 3.0)]), None);
    }

    #[test]
    fn one_scrape_gives_since_start_percentiles_and_totals() {
        let page = parse(PAGE).unwrap();
        let m = summarize("http://x/metrics", None, at(&page, 1600.0));
        let wal = m.wal_fsync.unwrap();
        assert_eq!(wal.span, Span::SinceStart);
        assert_eq!(wal.count, 100);
        assert!((wal.p50_ms - 1.8).abs() < 1e-9);
        let rtt = m.peer_rtt.unwrap();
        assert_eq!(rtt.count, 8);
        assert_eq!(m.peer_rtt_by_peer.len(), 2);
        assert_eq!(m.peer_rtt_by_peer[0].peer_id, "000000000000000a");
        assert!((m.peer_rtt_by_peer[0].rtt.p50_ms - 0.15).abs() < 1e-9);
        assert_eq!(m.leader_changes_total, Some(2.0));
        assert_eq!(m.leader_changes_in_window, None);
        assert_eq!(m.has_leader, Some(true));
        assert_eq!(m.uptime_s, Some(600.0));
        assert_eq!(m.window_s, 0.0);
    }

    #[test]
    fn two_scrapes_give_window_percentiles_and_rates() {
        let first = parse(PAGE).unwrap();
        let later = PAGE
            .replace("le=\"0.008\"} 100", "le=\"0.008\"} 110")
            .replace("le=\"+Inf\"} 100", "le=\"+Inf\"} 110")
            .replace("failed_total 3", "failed_total 7")
            .replace("seen_total 2", "seen_total 3");
        let last = parse(&later).unwrap();
        let m = summarize("u", Some(at(&first, 10.0)), at(&last, 12.0));
        let wal = m.wal_fsync.unwrap();
        assert_eq!(wal.span, Span::Window);
        assert_eq!(wal.count, 10);
        // All ten new observations are in (0.004, 0.008]: p50 = 6 ms.
        assert!((wal.p50_ms - 6.0).abs() < 1e-9);
        // No peer RTT observation in the window: falls back to since start.
        assert_eq!(m.peer_rtt.unwrap().span, Span::SinceStart);
        assert_eq!(m.proposals_failed_per_s, Some(2.0));
        assert_eq!(m.leader_changes_in_window, Some(1.0));
        assert_eq!(m.window_s, 2.0);
    }

    #[test]
    fn a_p99_one_slow_observation_makes_is_told_apart() {
        // 65 fsyncs under 8 ms and one of 16-32 ms in the window: the p99
        // is that one (21.4 ms), the second slowest is under 8 ms.
        let page = |fast: u64, slow: u64| {
            format!(
                "# TYPE etcd_disk_wal_fsync_duration_seconds histogram
etcd_disk_wal_fsync_duration_seconds_bucket{{le=\"0.004\"}} 0
etcd_disk_wal_fsync_duration_seconds_bucket{{le=\"0.008\"}} {fast}
etcd_disk_wal_fsync_duration_seconds_bucket{{le=\"0.016\"}} {fast}
etcd_disk_wal_fsync_duration_seconds_bucket{{le=\"0.032\"}} {}
etcd_disk_wal_fsync_duration_seconds_bucket{{le=\"+Inf\"}} {}
",
                fast + slow,
                fast + slow
            )
        };
        let window = |fast, slow| {
            let (first, last) = (
                parse(&page(0, 0)).unwrap(),
                parse(&page(fast, slow)).unwrap(),
            );
            summarize("u", Some(at(&first, 10.0)), at(&last, 16.0))
                .wal_fsync
                .unwrap()
        };
        let one = window(65, 1);
        assert_eq!(one.count, 66);
        assert!((one.p99_ms - 21.44).abs() < 1e-6, "{one:?}");
        // The second slowest is only known to have taken over 4 ms.
        assert_eq!(one.second_slowest_over_ms, Some(4.0), "{one:?}");
        assert!(one.p99_capped());
        assert_eq!(one.judged_p99_ms(), 4.0);
        // Two slow ones are a tail: both took over 16 ms.
        let two = window(64, 2);
        assert_eq!(two.second_slowest_over_ms, Some(16.0), "{two:?}");
        assert!(two.p99_ms > 16.0, "{two:?}");
        assert_eq!(two.judged_p99_ms(), 16.0);
        // From 200 observations on the p99 is judged as it reads.
        let many = window(198, 2);
        assert!(!many.p99_capped(), "{many:?}");
        assert_eq!(many.judged_p99_ms(), many.p99_ms);
    }

    #[test]
    fn grpc_calls_by_method_and_range_latency() {
        let page = |range: u64, put: u64, sent: u64, slow: u64| {
            format!(
                "{PAGE}# TYPE grpc_server_handled_total counter
grpc_server_handled_total{{grpc_code=\"OK\",grpc_method=\"Range\",grpc_service=\"etcdserverpb.KV\",grpc_type=\"unary\"}} {range}
grpc_server_handled_total{{grpc_code=\"Unavailable\",grpc_method=\"Range\",grpc_service=\"etcdserverpb.KV\",grpc_type=\"unary\"}} 1
grpc_server_handled_total{{grpc_code=\"OK\",grpc_method=\"Put\",grpc_service=\"etcdserverpb.KV\",grpc_type=\"unary\"}} {put}
grpc_server_handled_total{{grpc_code=\"OK\",grpc_method=\"Watch\",grpc_service=\"etcdserverpb.Watch\",grpc_type=\"bidi_stream\"}} {put}
# TYPE etcd_network_client_grpc_sent_bytes_total counter
etcd_network_client_grpc_sent_bytes_total {sent}
# TYPE etcd_server_range_duration_seconds histogram
etcd_server_range_duration_seconds_bucket{{success=\"true\",le=\"0.1\"}} 10
etcd_server_range_duration_seconds_bucket{{success=\"true\",le=\"0.2\"}} {}
etcd_server_range_duration_seconds_bucket{{success=\"true\",le=\"+Inf\"}} {}
etcd_server_range_duration_seconds_sum 1
etcd_server_range_duration_seconds_count {}
",
                10 + slow,
                10 + slow,
                10 + slow
            )
        };
        let first = parse(&page(100, 50, 1000, 0)).unwrap();
        let last = parse(&page(300, 60, 41_000, 20)).unwrap();
        let m = summarize("u", Some(at(&first, 0.0)), at(&last, 2.0));
        let calls: Vec<(&str, f64)> = m
            .grpc_calls
            .iter()
            .map(|c| (c.method.as_str(), c.per_s))
            .collect();
        assert_eq!(calls, [("Range", 100.0), ("Put", 5.0)]);
        assert_eq!(m.client_sent_bytes_per_s, Some(20_000.0));
        let range = m.range_duration.unwrap();
        assert_eq!((range.span, range.count), (Span::Window, 20));
        assert!(range.p99_ms > 100.0 && range.p99_ms <= 200.0);
        // One scrape: no rates.
        assert!(summarize("u", None, at(&last, 2.0)).grpc_calls.is_empty());
    }

    #[test]
    fn alarms_from_etcd_3_6s_gauge() {
        let page = format!(
            "{PAGE}# TYPE etcd_debugging_server_alarms gauge
etcd_debugging_server_alarms{{alarm_type=\"NOSPACE\",server_id=\"8e9e05c52164694d\"}} 1
etcd_debugging_server_alarms{{alarm_type=\"CORRUPT\",server_id=\"a\"}} 0
"
        );
        let m = summarize("u", None, at(&parse(&page).unwrap(), 1.0));
        assert_eq!(
            m.alarms,
            [Alarm {
                member_id: "8e9e05c52164694d".into(),
                alarm: "NOSPACE".into()
            }]
        );
        // 3.5 and 3.4 have no such gauge.
        let m = summarize("u", None, at(&parse(PAGE).unwrap(), 1.0));
        assert!(m.alarms.is_empty());
    }

    #[test]
    fn a_restart_between_scrapes_falls_back_to_since_start() {
        let first = parse(PAGE).unwrap();
        let restarted = parse(
            &PAGE
                .replace("} 100", "} 1")
                .replace("} 90", "} 1")
                .replace("} 60", "} 1")
                .replace("} 10\n", "} 1\n"),
        )
        .unwrap();
        let m = summarize("u", Some(at(&first, 0.0)), at(&restarted, 1.0));
        assert_eq!(m.wal_fsync.unwrap().span, Span::SinceStart);
        assert_eq!(m.wal_fsync.unwrap().count, 1);
    }

    #[test]
    fn a_page_without_etcd_families_is_a_row_error_not_an_empty_row() {
        let html = "<!doctype html>\n<html><body>Grafana</body></html>\n";
        let got = parse(html).unwrap_err();
        assert!(matches!(&got, RequestError::NotPrometheus(m) if m == "no sample in 2 lines"));
        assert!(matches!(parse(""), Err(RequestError::NotPrometheus(_))));
        let node = "# HELP node_load1 1m load average.\n# TYPE node_load1 gauge\nnode_load1 0.5\n";
        let got = parse(node).unwrap_err();
        assert!(matches!(got, RequestError::NoEtcdMetrics(3)), "{got}");
        assert!(got.to_string().contains("not an etcd member's /metrics"));
        // One etcd family is enough: an etcd page missing the rest is read.
        assert_eq!(
            parse("etcd_server_has_leader 1\n").unwrap().samples.len(),
            1
        );
    }

    #[test]
    fn a_page_of_more_lines_than_the_cap_is_refused_by_count() {
        let line = "etcd_server_has_leader 1\n";
        assert!(parse(&line.repeat(MAX_READ_LINES)).is_ok());
        let got = parse(&line.repeat(MAX_READ_LINES + 1)).unwrap_err();
        assert!(
            matches!(got, RequestError::TooManyLines(MAX_READ_LINES)),
            "{got}"
        );
        // The message counts what was counted: lines, comments included.
        assert!(got
            .to_string()
            .starts_with("more than 100000 lines of the etcd families"));
        let comment = "# TYPE etcd_server_has_leader gauge\n";
        let got = parse(&format!("{}{line}", comment.repeat(MAX_READ_LINES)));
        assert!(matches!(got, Err(RequestError::TooManyLines(_))), "{got:?}");
        // Lines of families not read do not count.
        let other = "go_goroutines 1\n".repeat(2 * MAX_READ_LINES);
        assert!(parse(&format!("{other}{line}")).is_ok());
    }

    proptest::proptest! {
        #[test]
        fn any_metrics_page_parses_or_is_refused_without_panic(
            page in "(# (TYPE|HELP) [a-z_]{1,12} [a-z ]{0,10}\n|[a-z_]{1,12}(\\{[a-z]{1,5}=\"[^\"\n]{0,8}\"(,[a-z]{1,5}=\"[0-9.+Inf]{0,5}\")?\\})? [-+0-9.eEInfNa]{0,10}( [0-9]{0,13})?\n|\\PC{0,20}\n){0,20}"
        ) {
            if let Ok(scrape) = parse(&page) {
                let _ = histogram_quantile(0.99, &[]);
                proptest::prop_assert!(scrape.samples.len() <= page.lines().count());
            }
        }

        #[test]
        fn typed_histograms_with_any_buckets_never_panic(
            kind in "histogram|summary|counter|gauge|untyped",
            lines in proptest::collection::vec(
                "m(_bucket|_sum|_count)?(\\{(le|quantile|To)=\"[-+0-9.eInf]{0,6}\"\\})? [-+0-9.eEInfNa]{1,8}",
                0..12,
            ),
        ) {
            let page = format!("# TYPE m {kind}\n{}\n", lines.join("\n"));
            if let Ok(scrape) = parse(&page) {
                let _ = scrape.samples.len();
            }
        }
    }
}
