//! Load rules: did a load run pass `etcdctl check perf`'s criteria and the
//! profile's percentiles, did the generator keep its schedule, and, when
//! the run fell short, which side was slow. The cause comes from the
//! cluster rules judging the run's window (WAL fdatasync and backend
//! commit per member: the disk; peer round trip per pair: the network),
//! from the TCP handshakes of the run's /metrics requests (the network
//! between the client and each member) and from the generator's own
//! lateness (the client).

use super::cluster::{self, ClusterThresholds};
use super::profile::Profile;
use crate::cluster::model::ClusterReport;
use crate::findings::emit::Emit;
use crate::findings::registry::ids;
use crate::findings::{Draft, Evidence, Finding, FindingId, Severity, Unit};
use crate::load::result::{LoadResult, MemberLoad};
use crate::rules::by;
use crate::units::Micros;

/// Builds the ids of this file's findings: all are `run::load`'s.
const EMIT: Emit<by::load> = Emit::new();

/// `check perf` fails when throughput / target is at or below this
/// (etcdctl/ctlv3/command/check.go: `if s.RPS/float64(cfg.limit) <= 0.9`).
pub const CHECK_PERF_MIN_THROUGHPUT_RATIO: f64 = 0.9;
/// `check perf` fails when the slowest request took longer, ms
/// (check.go: `if s.Slowest > 0.5 { // slowest request > 500ms`).
pub const CHECK_PERF_MAX_SLOWEST_MS: f64 = 500.0;
/// `check perf` fails when the latency standard deviation is higher, ms
/// (check.go: `if s.Stddev > 0.1 { // stddev > 100ms`).
pub const CHECK_PERF_MAX_STDDEV_MS: f64 = 100.0;
/// Observations a window histogram needs before the cause search reads
/// it. etcd probes each peer's round trip only every 4 s
/// (rafthttp/probing_status.go: `proberInterval = ConnReadTimeout - time.Second`),
/// two probers per peer, so a short run sees a handful.
pub const CAUSE_MIN_OBSERVATIONS: u64 = 3;

/// Share of the scheduled requests the generator may leave unsent by the
/// end of the run, percent. etcd-doctor's choice: 1 %, a tenth of the
/// throughput margin check perf allows.
pub const MAX_UNSENT_PCT: f64 = 1.0;

pub use super::profile::LoadThresholds;

/// Every load rule over `load`, with the cluster over the run's window.
pub fn evaluate(
    load: &LoadResult,
    cluster: Option<&ClusterReport>,
    profile: &Profile,
) -> Vec<Finding> {
    let t = &profile.load;
    let behind = generator_behind(load, t);
    let mut short: Vec<Finding> = check_perf(load)
        .into_iter()
        .chain(latency_slow(load, t))
        .collect();
    if !short.is_empty() {
        let side = slow_side(load, cluster, profile, behind.is_some());
        for f in &mut short {
            f.summary = format!("{}; the slow side: {side}", f.summary);
        }
    }
    short.extend(behind);
    short
}

/// `check perf`'s four criteria, one finding with the ones that failed.
pub fn check_perf(load: &LoadResult) -> Option<Finding> {
    let all = &load.all;
    let ratio = load.achieved_ops_s / load.target_ops_s;
    let slowest_ms = all.latency_us.max_ms();
    let stddev_ms = Micros(all.stddev_us).as_ms();
    let errors = load.error_count() as f64;
    let mut failed = Vec::new();
    if errors > 0.0 {
        failed.push(Evidence::new(
            "failed requests",
            errors,
            0.0,
            Unit::Requests,
        ));
    }
    if ratio <= CHECK_PERF_MIN_THROUGHPUT_RATIO {
        failed.push(Evidence::new(
            "achieved / target throughput",
            ratio * 100.0,
            CHECK_PERF_MIN_THROUGHPUT_RATIO * 100.0,
            Unit::Percent,
        ));
    }
    if slowest_ms > CHECK_PERF_MAX_SLOWEST_MS {
        failed.push(Evidence::new(
            "slowest request",
            slowest_ms,
            CHECK_PERF_MAX_SLOWEST_MS,
            Unit::Ms,
        ));
    }
    if stddev_ms > CHECK_PERF_MAX_STDDEV_MS {
        failed.push(Evidence::new(
            "latency standard deviation",
            stddev_ms,
            CHECK_PERF_MAX_STDDEV_MS,
            Unit::Ms,
        ));
    }
    if failed.is_empty() {
        return None;
    }
    Some(EMIT.finding(ids::LoadCheckPerfFail, Draft {
        severity: Severity::Fail,
        summary: format!(
            "the run fails etcdctl check perf's criteria: {:.0} of {:.0} requests/s, slowest {:.0} ms, stddev {:.1} ms, {} errors",
            load.achieved_ops_s, load.target_ops_s, slowest_ms, stddev_ms, errors
        ),
        evidence: failed,
        recommendation: "The cluster cannot serve this load within check perf's bounds \
            (throughput above 90 % of the target, no request slower than 500 ms, standard deviation \
            under 100 ms, no errors). Fix the slow side named above, or size the cluster for a \
            smaller load (--load s/m/l/xl)."
            .to_string(),
        commands: Vec::new(),
    }))
}

/// Each operation kind whose p99 passes the profile's levels.
pub fn latency_slow(load: &LoadResult, t: &LoadThresholds) -> Vec<Finding> {
    load.ops
        .iter()
        .filter(|o| o.ok > 0)
        .filter_map(|o| {
            let p99_ms = o.latency_us.p99_ms();
            let severity = if p99_ms >= t.request_p99_fail_ms {
                Severity::Fail
            } else if p99_ms > t.request_p99_warn_ms {
                Severity::Warn
            } else {
                return None;
            };
            Some(EMIT.finding(ids::LoadLatencySlow, Draft {
                severity,
                summary: format!("{} latency p99 {p99_ms:.1} ms over {} requests", o.name, o.ok),
                evidence: vec![Evidence::new(format!("{} p99 from the scheduled send", o.name), p99_ms, t.request_p99_warn_ms, Unit::Ms)],
                recommendation: "Requests wait for the slowest of disk (WAL fdatasync, backend \
                    commit), peer network and CPU on a quorum of members; the slow side named above \
                    is where to look first."
                    .to_string(),
                commands: Vec::new(),
            }))
        })
        .collect()
}

/// The generator could not keep its schedule: the client, not the cluster.
pub fn generator_behind(load: &LoadResult, t: &LoadThresholds) -> Option<Finding> {
    let s = &load.schedule;
    let late_ms = s.wake_late_us.p99_ms();
    // Requests left unsent while every client was busy are the cluster's shortfall.
    let unsent = (s.scheduled.saturating_sub(s.sent) as f64
        - s.client_wait_total_s * load.target_ops_s)
        .max(0.0);
    let unsent_pct = 100.0 * unsent / (s.scheduled.max(1) as f64);
    if load.interrupted.is_some()
        || (late_ms <= t.generator_late_p99_warn_ms && unsent_pct < MAX_UNSENT_PCT)
    {
        return None;
    }
    Some(EMIT.finding(ids::LoadGeneratorBehind, Draft {
        severity: Severity::Warn,
        summary: format!(
            "the load generator fell behind its own schedule: it woke {late_ms:.1} ms late (p99) and left {unsent_pct:.1} % of the requests unsent while clients were free, using {:.2} client cores",
            s.client_cpu_cores
        ),
        evidence: vec![
            Evidence::new("generator wake-up lateness p99", late_ms, t.generator_late_p99_warn_ms, Unit::Ms),
            Evidence::new("scheduled requests never sent, beyond waits for a client", unsent_pct, MAX_UNSENT_PCT, Unit::Percent),
        ],
        recommendation: "The client host, not the cluster, limited this run: its CPU was busy or \
            descheduled. Run etcd-doctor load from a host with idle cores, or lower --rate."
            .to_string(),
        commands: Vec::new(),
    }))
}

/// A member (or member pair) the cluster rules flag, and how far its
/// worst histogram is past its threshold.
struct Suspect {
    side: &'static str,
    who: String,
    what: Vec<String>,
    excess: f64,
}

/// The disks and links the cluster rules flag over the run's window, one
/// entry per member (or pair).
fn suspects(cluster: &ClusterReport, ct: &ClusterThresholds) -> Vec<Suspect> {
    let t = ClusterThresholds {
        min_histogram_count: ct.min_histogram_count.min(CAUSE_MIN_OBSERVATIONS),
        ..ct.clone()
    };
    let mut out: Vec<Suspect> = Vec::new();
    // Since-start histograms (info) hold faults from before the run.
    for f in cluster::evaluate(cluster, &t)
        .into_iter()
        .filter(|f| f.severity >= Severity::Warn)
    {
        let side = match f.id {
            FindingId::ClusterMetricsWalFsyncSlow | FindingId::ClusterMetricsBackendCommitSlow => {
                "the disk of member"
            }
            FindingId::ClusterMetricsPeerRttHigh => "the network from member",
            _ => continue,
        };
        // Cluster findings say `WHO: METRIC p99 ...`; their first evidence is that p99.
        let who = f
            .summary
            .split_once(": ")
            .map_or(f.summary.as_str(), |(who, _)| who);
        let Some(e) = f.evidence.first() else {
            continue;
        };
        let what = format!("{}: {} {:.1} {}", f.id, e.metric, e.observed, e.unit);
        let excess = e.observed / e.threshold;
        match out.iter_mut().find(|s| s.side == side && s.who == who) {
            Some(s) => {
                s.what.push(what);
                s.excess = s.excess.max(excess);
            }
            None => out.push(Suspect {
                side,
                who: who.to_string(),
                what: vec![what],
                excess,
            }),
        }
    }
    out
}

/// The suspects within [`DOMINANT_FACTOR`] of the worst excess, worst first.
fn dominant(mut found: Vec<Suspect>) -> Vec<Suspect> {
    let worst = found.iter().map(|s| s.excess).fold(0.0, f64::max);
    found.retain(|s| s.excess * DOMINANT_FACTOR >= worst);
    found.sort_by(|a, b| b.excess.total_cmp(&a.excess));
    found
}

/// A member's link is named when its median TCP handshake from this client
/// is at least this many times the fastest other member's. etcd-doctor's
/// choice: handshakes to members on one network agree within a few times;
/// a queue behind a saturated link adds hundreds of round trips.
pub const HANDSHAKE_OUTLIER_FACTOR: f64 = 10.0;

/// The links from this client the TCP handshakes of the /metrics requests
/// flag: handshakes over `slow_ms` (the request p99's warn level: every
/// request through that link waits at least one round trip) to a member
/// far slower than the fastest other member (its network), or to every
/// member (the client's network).
/// The kernel answers a handshake, so a busy etcd process does not
/// lengthen it, and the client measures it whether or not etcd's own
/// round-trip histogram (observed only every 5 to 30 s) saw the fault.
fn slow_handshakes(
    load: &LoadResult,
    cluster: Option<&ClusterReport>,
    slow_ms: f64,
) -> Vec<Suspect> {
    let measured: Vec<(String, f64, usize)> = load
        .server
        .iter()
        .filter_map(|m| {
            let who = server_label(cluster, m);
            Some((who, m.tcp_handshake_ms_median?, m.tcp_handshakes))
        })
        .collect();
    let fastest_other = |who: &str| {
        measured
            .iter()
            .filter(|o| o.0 != who)
            .map(|o| o.1)
            .min_by(f64::total_cmp)
    };
    let members: Vec<Suspect> = measured
        .iter()
        .filter_map(|(who, ms, n)| {
            let other = fastest_other(who);
            let outlier =
                *ms > slow_ms && other.is_none_or(|o| *ms >= HANDSHAKE_OUTLIER_FACTOR * o);
            outlier.then(|| {
                let than = other
                    .map(|o| format!(", the fastest other member's {o:.1} ms"))
                    .unwrap_or_default();
                Suspect {
                    side: "the network between this client and member",
                    who: who.clone(),
                    what: vec![format!(
                        "TCP handshake median {ms:.1} ms over {n} /metrics requests{than}"
                    )],
                    excess: ms / slow_ms,
                }
            })
        })
        .collect();
    let fastest = measured.iter().map(|m| m.1).min_by(f64::total_cmp);
    match fastest {
        Some(least) if members.is_empty() && measured.len() > 1 && least > slow_ms => {
            vec![Suspect {
                side: "the network from this client",
                who: "to every member".into(),
                what: vec![format!("TCP handshake medians {least:.1} ms and over")],
                excess: least / slow_ms,
            }]
        }
        _ => members,
    }
}

/// How a finding names the member a /metrics URL belongs to: as the
/// member list knows it when there is one, else by id or URL.
fn server_label(cluster: Option<&ClusterReport>, m: &MemberLoad) -> String {
    match cluster {
        Some(c) => c.member_label(m.member_id.as_deref(), &m.url),
        None => m.member_id.as_deref().unwrap_or(&m.url).to_string(),
    }
}

/// A suspect is named when its worst p99 / threshold is at least the
/// worst suspect's divided by this. etcd-doctor's choice: members sharing
/// a device or a journal with the slow one are slowed too, by far less.
pub const DOMINANT_FACTOR: f64 = 4.0;

/// Which side was slow: the client, the disks and links the cluster rules
/// flag in the run's window, or, when none, what is left.
fn slow_side(
    load: &LoadResult,
    cluster: Option<&ClusterReport>,
    profile: &Profile,
    behind: bool,
) -> String {
    let mut sides = Vec::new();
    if behind {
        sides.push("the client (the generator could not keep its schedule)".to_string());
    }
    let mut found = cluster
        .map(|c| suspects(c, &profile.cluster))
        .unwrap_or_default();
    found.extend(slow_handshakes(
        load,
        cluster,
        profile.load.request_p99_warn_ms,
    ));
    for s in dominant(found) {
        sides.push(format!("{} {} ({})", s.side, s.who, s.what.join(", ")));
    }
    if sides.is_empty() {
        let busiest = load
            .server
            .iter()
            .filter_map(|m| Some((m, m.cpu_cores?)))
            .max_by(|a, b| a.1.total_cmp(&b.1))
            .map(|(m, cores)| {
                format!(
                    " (busiest: {} at {cores:.2} cores)",
                    server_label(cluster, m)
                )
            })
            .unwrap_or_default();
        sides.push(format!(
            "no disk, network or client cause in the run's metrics: the members' CPU{busiest} or the client's network"
        ));
    }
    sides.join("; ")
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::cluster::model::{HistogramPercentiles, MemberMetrics, PeerRtt, Span};
    use crate::load::generator::Recorded;
    use crate::load::plan::{LoadPlan, LoadRequest, Preset};
    use crate::load::result::MemberLoad;

    /// A run at 150/s for 10 s whose puts took `ms` each, `ok` of them.
    fn run(ms: u64, ok: u64) -> LoadResult {
        let plan = LoadPlan::new(LoadRequest {
            preset: Preset::S,
            rate: None,
            clients: None,
            conns: None,
            duration: Some(Duration::from_secs(10)),
            key_size: None,
            value_size: None,
            mix: None,
            key_space: None,
            max_duration: Duration::from_secs(600),
            prefix: "/p/".into(),
            scrape_interval: Duration::from_secs(5),
        })
        .unwrap();
        let mut rec = Recorded::default();
        for _ in 0..ok {
            rec.all.latency.record(Duration::from_millis(ms));
            rec.by_kind[0].latency.record(Duration::from_millis(ms));
        }
        rec.elapsed = Duration::from_secs(10);
        (rec.scheduled, rec.sent) = (1500, 1500);
        crate::load::summarize(&plan, &rec, &[], 0.1)
    }

    fn wal(member: &str, p99_ms: f64) -> MemberMetrics {
        MemberMetrics {
            url: format!("http://{member}/metrics"),
            member_id: Some(member.into()),
            wal_fsync: Some(HistogramPercentiles {
                count: 500,
                span: Span::Window,
                p50_ms: 1.0,
                p90_ms: 2.0,
                p99_ms,
                second_slowest_over_ms: None,
            }),
            ..MemberMetrics::default()
        }
    }

    fn cluster(metrics: Vec<MemberMetrics>) -> ClusterReport {
        ClusterReport {
            metrics,
            answered: true,
            ..ClusterReport::default()
        }
    }

    fn ids(f: &[Finding]) -> Vec<FindingId> {
        f.iter().map(|f| f.id).collect()
    }

    #[test]
    fn a_fast_full_run_passes() {
        let healthy = cluster(vec![wal("a", 3.0), wal("b", 4.0)]);
        assert!(evaluate(&run(5, 1500), Some(&healthy), &Profile::default()).is_empty());
    }

    #[test]
    fn check_perfs_criteria_fail_at_its_bounds() {
        // 90 % of the target is a failure (check.go: `<= 0.9`).
        let f = check_perf(&run(5, 1350)).unwrap();
        assert_eq!(f.evidence[0].metric, "achieved / target throughput");
        assert!(check_perf(&run(5, 1360)).is_none());
        // A 600 ms request is slower than 500 ms.
        let f = check_perf(&run(600, 1500)).unwrap();
        assert!(f.evidence.iter().any(|e| e.metric == "slowest request"));
    }

    #[test]
    fn the_dominant_slow_disk_is_named_and_not_the_others() {
        let slow = cluster(vec![wal("a", 900.0), wal("b", 40.0), wal("c", 5.0)]);
        let f = evaluate(&run(600, 1500), Some(&slow), &Profile::default());
        assert_eq!(
            ids(&f),
            [FindingId::LoadCheckPerfFail, FindingId::LoadLatencySlow]
        );
        let summary = &f[0].summary;
        assert!(
            summary.contains("the slow side: the disk of member a (cluster.metrics-wal-fsync-slow"),
            "{summary}"
        );
        assert!(!summary.contains("member b"), "{summary}");
    }

    #[test]
    fn without_a_server_cause_the_cpu_or_client_network_is_left() {
        let f = evaluate(
            &run(60, 1500),
            Some(&cluster(vec![wal("a", 2.0)])),
            &Profile::default(),
        );
        assert_eq!(ids(&f), [FindingId::LoadLatencySlow]);
        assert!(
            f[0].summary.contains("no disk, network or client cause"),
            "{}",
            f[0].summary
        );
    }

    /// `run`, its members' median TCP handshakes from the client in ms.
    fn with_handshakes(mut l: LoadResult, medians: &[(&str, f64)]) -> LoadResult {
        l.server = medians
            .iter()
            .map(|&(member, ms)| MemberLoad {
                url: format!("http://{member}/metrics"),
                member_id: Some(member.into()),
                apply: None,
                cpu_cores: Some(0.05),
                proposals_pending_max: None,
                wal_fsync_p99_ms_over_time: Vec::new(),
                tcp_handshake_ms_median: Some(ms),
                tcp_handshakes: 5,
            })
            .collect();
        l
    }

    fn slow_side_of(l: &LoadResult, c: &ClusterReport) -> String {
        let f = evaluate(l, Some(c), &Profile::default());
        let summary = &f.first().expect("a failing run").summary;
        summary.split_once("the slow side: ").unwrap().1.to_string()
    }

    #[test]
    fn a_member_slow_to_handshake_is_named_when_etcds_round_trips_saw_nothing() {
        let quiet = cluster(vec![wal("a", 2.0), wal("b", 2.0), wal("c", 2.0)]);
        // c's handshakes queue behind a saturated link (the CI run: etcd's
        // prober had too few round trips in the window to flag it).
        let l = with_handshakes(run(600, 600), &[("a", 0.2), ("b", 0.3), ("c", 260.0)]);
        let side = slow_side_of(&l, &quiet);
        assert!(
            side.starts_with("the network between this client and member c (TCP handshake median 260.0 ms over 5 /metrics requests, the fastest other member's 0.2 ms)"),
            "{side}"
        );
        // Two members behind one slow link are both named.
        let l = with_handshakes(run(600, 600), &[("a", 0.2), ("b", 400.0), ("c", 260.0)]);
        let side = slow_side_of(&l, &quiet);
        assert!(
            side.starts_with("the network between this client and member b"),
            "{side}"
        );
        assert!(side.contains("member c"), "{side}");
    }

    #[test]
    fn handshakes_slow_to_every_member_name_the_clients_network() {
        let quiet = cluster(vec![wal("a", 2.0), wal("b", 2.0)]);
        let l = with_handshakes(run(600, 600), &[("a", 210.0), ("b", 90.0)]);
        assert_eq!(
            slow_side_of(&l, &quiet),
            "the network from this client to every member (TCP handshake medians 90.0 ms and over)"
        );
    }

    #[test]
    fn handshakes_under_the_request_warn_level_name_nothing() {
        let quiet = cluster(vec![wal("a", 2.0), wal("b", 2.0)]);
        // 40x the other member, but under the 50 ms a request may take.
        let l = with_handshakes(run(600, 600), &[("a", 1.2), ("b", 48.0)]);
        assert!(slow_side_of(&l, &quiet).starts_with("no disk, network or client cause"));
        // A slow disk far past its threshold outranks a link just past its own.
        let slow_disk = cluster(vec![wal("a", 900.0), wal("b", 2.0)]);
        let l = with_handshakes(run(600, 600), &[("a", 1.2), ("b", 60.0)]);
        let side = slow_side_of(&l, &slow_disk);
        assert!(side.starts_with("the disk of member a"), "{side}");
        assert!(!side.contains("member b"), "{side}");
    }

    #[test]
    fn round_trips_from_before_the_run_are_not_its_cause() {
        // No round trip in the window: the histogram falls back to since
        // start, which holds an earlier fault (the rules mark it info).
        let mut a = wal("a", 2.0);
        a.peer_rtt_by_peer = vec![PeerRtt {
            peer_id: "b".into(),
            rtt: HistogramPercentiles {
                count: 6,
                span: Span::SinceStart,
                p50_ms: 300.0,
                p90_ms: 700.0,
                p99_ms: 800.0,
                second_slowest_over_ms: None,
            },
        }];
        let l = with_handshakes(run(600, 600), &[("a", 0.2), ("b", 0.3)]);
        let side = slow_side_of(&l, &cluster(vec![a]));
        assert!(
            side.starts_with("no disk, network or client cause"),
            "{side}"
        );
    }

    #[test]
    fn a_generator_that_left_requests_unsent_is_behind() {
        let mut l = run(5, 1500);
        l.schedule.sent = 1400;
        let f = generator_behind(&l, &LoadThresholds::default()).unwrap();
        assert_eq!(f.evidence[1].observed.round(), 7.0);
        // A second spent waiting for busy clients explains 150 of them.
        l.schedule.client_wait_total_s = 1.0;
        assert!(generator_behind(&l, &LoadThresholds::default()).is_none());
        l.schedule.client_wait_total_s = 0.0;
        l.interrupted = Some("SIGINT".into());
        assert!(generator_behind(&l, &LoadThresholds::default()).is_none());
    }
}
