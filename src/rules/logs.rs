//! Log rules: what etcd's own log lines say about the recent past. Each
//! rule counts one kind of catalogued message in the window read (see
//! [`crate::logs::catalogue`]) against [`LogThresholds`], and its evidence
//! names the line count and the worst example. `cluster.heartbeat-late`
//! makes the differential diagnosis the FAQ describes: late heartbeats
//! with slow fdatasync mean the disk; without them, with unreachable peers
//! or dropped raft messages, the network.

use serde::{Deserialize, Serialize};

use crate::cluster::model::ClusterReport;
use crate::findings::emit::{Checked, Emit};
use crate::findings::registry::ids;
use crate::findings::{Draft, Evidence, Finding, FindingId, Severity, Unit};
use crate::logs::time::format_timestamp;
use crate::logs::timeline::max_in_window;
use crate::logs::{EventKind, KindSummary, LogsReport};
use crate::rules::bounds::{positive, BadKey};
use crate::rules::by;

/// Builds the ids of this file's findings: all are `run::logs`'s.
const EMIT: Emit<by::logs> = Emit::new();

const HOUR_MS: i64 = 3_600_000;

/// Thresholds of the log rules, in lines (or elections) within the window
/// read. `Default` matches `profiles/etcd-default.toml`; each field names
/// its source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogThresholds {
    /// Elections within any hour that warn. etcd-mixin
    /// etcdHighNumberOfLeaderChanges fires at 4 leader changes within
    /// 15 minutes; a healthy cluster elects once at start.
    pub elections_warn_per_hour: f64,
    /// Elections within any hour that fail: the mixin's rate (4 per
    /// 15 minutes) held for a whole hour.
    pub elections_fail_per_hour: f64,
    /// `slow fdatasync` lines that warn: each is one fdatasync over etcd's
    /// warnSyncDuration, 1 s (server/wal/wal.go), 100x the 10 ms p99 target.
    pub slow_fdatasync_warn_lines: f64,
    /// `slow fdatasync` lines that fail: stalls that repeat.
    pub slow_fdatasync_fail_lines: f64,
    /// `apply request took too long` lines that warn (each is an apply over
    /// --experimental-warning-apply-duration, 100 ms, embed/config.go); a
    /// few come with any large range or compaction.
    pub apply_slow_warn_lines: f64,
    /// `apply request took too long` lines that fail.
    pub apply_slow_fail_lines: f64,
    /// Late-heartbeat lines that warn: each is a heartbeat later than twice
    /// --heartbeat-interval (server/etcdserver/raft.go), half-way to an
    /// election timeout.
    pub heartbeat_late_warn_lines: f64,
    /// Late-heartbeat lines that fail.
    pub heartbeat_late_fail_lines: f64,
    /// Prober-unhealthy and lost-stream lines that warn: the prober logs
    /// every 5 s while a peer is unreachable (rafthttp/probing_status.go
    /// statusErrorInterval).
    pub peer_unhealthy_warn_lines: f64,
    /// Lines that fail: a peer unreachable for about a minute (12 x 5 s).
    pub peer_unhealthy_fail_lines: f64,
    /// Dropped-raft-message lines that warn (rafthttp/peer.go: the
    /// sending buffer of 4096 messages is full).
    pub raft_buffer_full_warn_lines: f64,
    /// Clock-drift lines that warn (rafthttp/probing_status.go: over 1 s).
    pub clock_drift_warn_lines: f64,
}

impl Default for LogThresholds {
    fn default() -> Self {
        LogThresholds {
            elections_warn_per_hour: 4.0,
            elections_fail_per_hour: 16.0,
            slow_fdatasync_warn_lines: 1.0,
            slow_fdatasync_fail_lines: 10.0,
            apply_slow_warn_lines: 10.0,
            apply_slow_fail_lines: 100.0,
            heartbeat_late_warn_lines: 1.0,
            heartbeat_late_fail_lines: 10.0,
            peer_unhealthy_warn_lines: 1.0,
            peer_unhealthy_fail_lines: 12.0,
            raft_buffer_full_warn_lines: 1.0,
            clock_drift_warn_lines: 1.0,
        }
    }
}

impl LogThresholds {
    /// Checks every pair is positive and ordered.
    pub fn validate(&self) -> Result<(), BadKey> {
        use crate::rules::bounds::levels;
        let s = "logs";
        levels(
            s,
            ("elections_warn_per_hour", self.elections_warn_per_hour),
            ("elections_fail_per_hour", self.elections_fail_per_hour),
        )?;
        levels(
            s,
            ("slow_fdatasync_warn_lines", self.slow_fdatasync_warn_lines),
            ("slow_fdatasync_fail_lines", self.slow_fdatasync_fail_lines),
        )?;
        levels(
            s,
            ("apply_slow_warn_lines", self.apply_slow_warn_lines),
            ("apply_slow_fail_lines", self.apply_slow_fail_lines),
        )?;
        levels(
            s,
            ("heartbeat_late_warn_lines", self.heartbeat_late_warn_lines),
            ("heartbeat_late_fail_lines", self.heartbeat_late_fail_lines),
        )?;
        levels(
            s,
            ("peer_unhealthy_warn_lines", self.peer_unhealthy_warn_lines),
            ("peer_unhealthy_fail_lines", self.peer_unhealthy_fail_lines),
        )?;
        positive(
            s,
            "raft_buffer_full_warn_lines",
            self.raft_buffer_full_warn_lines,
        )?;
        positive(s, "clock_drift_warn_lines", self.clock_drift_warn_lines)
    }
}

/// Runs every log rule over `logs`; peers are named as `members` (the
/// cluster read, when there is one) knows them.
pub fn evaluate(
    logs: &LogsReport,
    t: &LogThresholds,
    members: Option<&ClusterReport>,
) -> Vec<Finding> {
    [
        leader_churn(logs, t),
        fsync_slow(logs, t),
        apply_slow(logs, t),
        heartbeat_late(logs, t),
        peer_unhealthy(logs, t, members),
        counted(
            logs,
            EventKind::ClockDrift,
            t.clock_drift_warn_lines,
            f64::INFINITY,
            &CLOCK_DRIFT,
        ),
        counted(
            logs,
            EventKind::RaftBufferFull,
            t.raft_buffer_full_warn_lines,
            f64::INFINITY,
            &RAFT_BUFFER_FULL,
        ),
        counted(logs, EventKind::SpaceExceeded, 1.0, 1.0, &SPACE_EXCEEDED),
        counted(logs, EventKind::HashMismatch, 1.0, 1.0, &HASH_MISMATCH),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// The fixed text of a count rule.
struct Text {
    id: Checked<by::logs>,
    what: &'static str,
    recommendation: &'static str,
    commands: &'static [&'static str],
}

const CLOCK_DRIFT: Text = Text {
    id: EMIT.id(ids::NetClockDrift),
    what: "prober found high clock drift (over 1 s against a peer)",
    recommendation:
        "Members' clocks differ by over a second: leases and logs go wrong. Run chrony or \
                     systemd-timesyncd against the same time source on every member.",
    commands: &["chronyc tracking", "timedatectl status"],
};

const RAFT_BUFFER_FULL: Text = Text {
    id: EMIT.id(ids::NetRaftBufferFull),
    what: "dropped raft messages: the peer's sending buffer was full (overloaded network)",
    recommendation:
        "Raft messages queue faster than the network to a peer carries them: give etcd's \
                     peer traffic a NIC (or VLAN) of its own, isolate bulk traffic at the access \
                     switch, and check the peer's disk (a slow follower also fills the buffer).",
    commands: &[],
};

const SPACE_EXCEEDED: Text = Text {
    id: EMIT.id(ids::ClusterAlarmActive),
    what: "the database exceeded its quota (NOSPACE alarm raised)",
    recommendation: "The database reached its quota: the cluster accepted only reads and deletes. \
                     Compact, defragment every member, then disarm the alarm; raise \
                     --quota-backend-bytes if the live data needs the room.",
    commands: &[
        "etcdctl endpoint status -w json   # the header's revision is REV",
        "etcdctl compaction REV",
        "etcdctl defrag --cluster",
        "etcdctl alarm disarm",
    ],
};

const HASH_MISMATCH: Text = Text {
    id: EMIT.id(ids::ClusterAlarmActive),
    what: "a corruption check found members' data apart at one revision (CORRUPT alarm raised where a quorum agrees)",
    recommendation: "A member's data diverged from the others. Do not disarm: find the member \
                     whose hash differs, remove it and rejoin it with an empty data dir (it \
                     catches up from the leader); `etcd-doctor cluster consistency` names it and \
                     `etcd-doctor snapshot rejoin-plan --member NAME` prints the runbook.",
    commands: &[
        "etcdctl alarm list",
        "etcdctl endpoint hashkv --cluster -w table",
    ],
};

/// Severity of `observed` against a warn/fail pair.
fn level(observed: f64, warn: f64, fail: f64) -> Option<Severity> {
    if observed >= fail {
        Some(Severity::Fail)
    } else if observed >= warn {
        Some(Severity::Warn)
    } else {
        None
    }
}

fn evidence(metric: &str, observed: f64, threshold: f64, unit: Unit) -> Evidence {
    Evidence::new(metric, observed, threshold, unit)
}

/// `N lines from T1 to T2, worst D at T: <line>`.
fn describe(k: &KindSummary) -> String {
    let worst = match (k.worst_ms, k.worst_at_unix_ms) {
        (Some(ms), Some(at)) => format!(", worst {ms:.1} ms at {}", format_timestamp(at)),
        _ => String::new(),
    };
    format!(
        "{} line(s) from {} to {}{worst}; e.g. {}",
        k.count,
        format_timestamp(k.first_unix_ms),
        format_timestamp(k.last_unix_ms),
        k.example.chars().take(240).collect::<String>()
    )
}

/// Count evidence of one kind, and its worst duration against the
/// threshold over which etcd logs it.
fn kind_evidence(k: &KindSummary, warn: f64) -> Vec<Evidence> {
    let mut ev = vec![evidence(
        &format!("{} lines in logs", k.kind.as_str()),
        k.count as f64,
        warn,
        Unit::Lines,
    )];
    if let Some(ms) = k.worst_ms {
        let etcd_threshold_ms = k.kind.entry().map_or(0.0, |e| e.etcd_threshold_ms);
        ev.push(evidence(
            &format!("worst {} in logs", k.kind.as_str()),
            ms,
            etcd_threshold_ms,
            Unit::Ms,
        ));
    }
    ev
}

fn counted(
    logs: &LogsReport,
    kind: EventKind,
    warn: f64,
    fail: f64,
    text: &Text,
) -> Option<Finding> {
    let k = logs.kind(kind)?;
    let severity = level(k.count as f64, warn, fail)?;
    Some(text.id.finding(Draft {
        severity,
        summary: format!("etcd logged: {}: {}", text.what, describe(k)),
        evidence: kind_evidence(k, warn),
        recommendation: text.recommendation.to_string(),
        commands: text.commands.iter().map(|c| c.to_string()).collect(),
    }))
}

fn leader_churn(logs: &LogsReport, t: &LogThresholds) -> Option<Finding> {
    let worst_hour = max_in_window(&logs.elections, HOUR_MS) as f64;
    let severity = level(
        worst_hour,
        t.elections_warn_per_hour,
        t.elections_fail_per_hour,
    )?;
    // Elections are in term order; their times need not be (members'
    // logs merged, clocks apart), so the span is the earliest to the latest.
    let first = logs.elections.first()?;
    let last = logs.elections.last()?;
    let times = logs.elections.iter().map(|e| e.at_unix_ms);
    let (earliest, latest) = (times.clone().min()?, times.max()?);
    Some(EMIT.finding(ids::ClusterLeaderChurn, Draft {
        severity,
        summary: format!(
            "etcd's logs show {} elections (terms {} to {}, {} to {}), {worst_hour} within one hour",
            logs.elections.len(),
            first.term,
            last.term,
            format_timestamp(earliest),
            format_timestamp(latest),
        ),
        evidence: vec![
            evidence("elections within one hour (logs)", worst_hour, t.elections_warn_per_hour, Unit::Elections),
            evidence("elections in the logs", logs.elections.len() as f64, t.elections_warn_per_hour, Unit::Elections),
        ],
        recommendation: "Leadership moves too often: every election stalls writes for an election \
                         timeout. Look at the findings beside this one for the cause (slow disk, \
                         late heartbeats, unreachable peers); if the peer RTT is high, raise \
                         --heartbeat-interval to about the RTT and --election-timeout to 10x it."
            .to_string(),
        commands: vec!["etcdctl endpoint status --cluster -w table".to_string()],
    }))
}

fn fsync_slow(logs: &LogsReport, t: &LogThresholds) -> Option<Finding> {
    let k = logs.kind(EventKind::SlowFdatasync)?;
    let severity = level(
        k.count as f64,
        t.slow_fdatasync_warn_lines,
        t.slow_fdatasync_fail_lines,
    )?;
    Some(EMIT.finding(ids::DiskFsyncSlow, Draft {
        severity,
        summary: format!("etcd logged slow fdatasync (over 1 s): {}", describe(k)),
        evidence: kind_evidence(k, t.slow_fdatasync_warn_lines),
        recommendation: "The WAL's fdatasync stalled for over a second: writes and heartbeats wait \
                         on it. Move the data dir (or --wal-dir) to a high-performance disk (NVMe, \
                         cloud ESSD) of its own and isolate IO-heavy services from the etcd host; \
                         `etcd-doctor qualify --dir` on the data disk tells a slow disk from a busy one."
            .to_string(),
        commands: vec!["etcd-doctor diagnose --kubeadm".to_string()],
    }))
}

fn apply_slow(logs: &LogsReport, t: &LogThresholds) -> Option<Finding> {
    let k = logs.kind(EventKind::ApplySlow)?;
    let severity = level(
        k.count as f64,
        t.apply_slow_warn_lines,
        t.apply_slow_fail_lines,
    )?;
    let disk = logs.count(EventKind::SlowFdatasync) > 0;
    Some(EMIT.finding(ids::ClusterApplySlow, Draft {
        severity,
        summary: format!("etcd logged applies over 100 ms: {}", describe(k)),
        evidence: kind_evidence(k, t.apply_slow_warn_lines),
        recommendation: if disk {
            "Applies wait on a disk that also logged slow fdatasync: fix the disk first (see disk.fsync-slow)."
        } else {
            "Applies are slow without disk warnings: look for expensive requests (large ranges \
             without limit, big transactions) in the example line, the member's CPU, and a \
             database that needs defragmenting."
        }
        .to_string(),
        commands: Vec::new(),
    }))
}

fn heartbeat_late(logs: &LogsReport, t: &LogThresholds) -> Option<Finding> {
    let k = logs.kind(EventKind::HeartbeatLate)?;
    let severity = level(
        k.count as f64,
        t.heartbeat_late_warn_lines,
        t.heartbeat_late_fail_lines,
    )?;
    let fsync = logs.count(EventKind::SlowFdatasync);
    let network = [
        EventKind::PeerUnhealthy,
        EventKind::RaftBufferFull,
        EventKind::StreamLost,
    ]
    .map(|kind| logs.count(kind))
    .iter()
    .sum::<u64>();
    let (cause, recommendation) = if fsync > 0 {
        (
            format!("with {fsync} slow fdatasync line(s): the disk"),
            "The leader's raft loop waited on the disk and sent heartbeats late: move etcd to a \
             high-performance disk of its own (NVMe, cloud ESSD) and isolate IO-heavy services.",
        )
    } else if network > 0 {
        (
            format!("without slow fdatasync, with {network} unreachable-peer / dropped-message line(s): the network"),
            "Heartbeats were late without disk stalls while peers were unreachable: the network. \
             Give etcd's peer traffic a NIC of its own, isolate bulk traffic at the access switch, \
             and set --heartbeat-interval to about the peer RTT (--election-timeout 10x).",
        )
    } else if logs.count(EventKind::ApplySlow) > 0 {
        (
            format!(
                "with {} slow apply line(s) and no network warnings: the disk under etcd's 1 s fdatasync warning, or the apply loop",
                logs.count(EventKind::ApplySlow)
            ),
            "Heartbeats were late while applies were slow, with no network warnings: the leader's \
             raft loop waited on its disk (fdatasync slow, yet under the 1 s at which etcd logs it) \
             or on a long apply. Check etcd's WAL fsync metric (`etcd-doctor cluster metrics`) and \
             the disk (`etcd-doctor qualify --dir` on the data disk); give etcd a disk of its own.",
        )
    } else if logs.count(EventKind::ExpensiveRead) > 0 {
        (
            format!(
                "with {} slow read line(s) and no disk or network warnings: expensive requests",
                logs.count(EventKind::ExpensiveRead)
            ),
            "Heartbeats were late while reads were slow, with no disk or network warnings:              expensive requests (large ranges) took the leader's CPU and store. See              cluster.expensive-requests for the prefixes and the fixes.",
        )
    } else {
        (
            "without slow fdatasync or network warnings: the leader's CPU or scheduling"
                .to_string(),
            "Heartbeats were late with neither disk nor network warnings: the leader was starved \
             of CPU (steal, throttling, a noisy neighbour). Give etcd dedicated cores and check \
             host.cpu-steal.",
        )
    };
    let mut ev = kind_evidence(k, t.heartbeat_late_warn_lines);
    ev.push(evidence(
        "slow fdatasync lines in logs",
        fsync as f64,
        1.0,
        Unit::Lines,
    ));
    ev.push(evidence(
        "unreachable-peer and dropped-message lines in logs",
        network as f64,
        1.0,
        Unit::Lines,
    ));
    Some(EMIT.finding(
        ids::ClusterHeartbeatLate,
        Draft {
            severity,
            summary: format!("the leader sent heartbeats late {cause}; {}", describe(k)),
            evidence: ev,
            recommendation: recommendation.to_string(),
            commands: Vec::new(),
        },
    ))
}

/// Lines of the prober-unhealthy and lost-stream kinds naming peers past
/// the timeline's per-kind bound.
fn other_unhealthy_peer_lines(logs: &LogsReport) -> u64 {
    [EventKind::PeerUnhealthy, EventKind::StreamLost]
        .iter()
        .filter_map(|kind| logs.kind(*kind))
        .map(|k| k.other_peer_lines)
        .sum()
}

/// The peers the prober-unhealthy and lost-stream lines named, sorted, once each.
fn unhealthy_peers(logs: &LogsReport) -> Vec<&str> {
    let mut peers: Vec<&str> = [EventKind::PeerUnhealthy, EventKind::StreamLost]
        .iter()
        .filter_map(|kind| logs.kind(*kind))
        .flat_map(|k| &k.peers)
        .map(|p| p.peer.as_str())
        .collect();
    peers.sort_unstable();
    peers.dedup();
    peers
}

/// When every peer the logs found unreachable is a member the cluster read
/// found down or its own log proves stale (`down`: member ids in hex), the
/// member's own finding
/// (`cluster.member-unreachable` or `cluster.stale-member`) names the
/// cause and the log lines are its symptom: `net.peer-unhealthy` drops to
/// info instead of sending the operator to the network.
pub fn explain_down_peers(findings: &mut [Finding], logs: &LogsReport, down: &[&str]) {
    let id = |hex: &str| u64::from_str_radix(hex, 16).ok();
    let down: Vec<u64> = down.iter().filter_map(|d| id(d)).collect();
    let peers = unhealthy_peers(logs);
    if peers.is_empty()
        || other_unhealthy_peer_lines(logs) > 0
        || !peers
            .iter()
            .all(|p| id(p).is_some_and(|p| down.contains(&p)))
    {
        return;
    }
    for f in findings
        .iter_mut()
        .filter(|f| f.id == FindingId::NetPeerUnhealthy)
    {
        f.severity = Severity::Info;
        f.summary = format!(
            "{}; explained: every peer named is a member that does not answer (see its \
             cluster.member-unreachable or cluster.stale-member finding)",
            f.summary
        );
    }
}

fn peer_unhealthy(
    logs: &LogsReport,
    t: &LogThresholds,
    members: Option<&ClusterReport>,
) -> Option<Finding> {
    let kinds: Vec<&KindSummary> = [EventKind::PeerUnhealthy, EventKind::StreamLost]
        .iter()
        .filter_map(|kind| logs.kind(*kind))
        .collect();
    let lines: u64 = kinds.iter().map(|k| k.count).sum();
    let severity = level(
        lines as f64,
        t.peer_unhealthy_warn_lines,
        t.peer_unhealthy_fail_lines,
    )?;
    let peers: Vec<String> = unhealthy_peers(logs)
        .into_iter()
        .map(|p| members.map_or_else(|| p.to_string(), |c| c.member_label(Some(p), p)))
        .collect();
    let first = kinds.first()?;
    Some(EMIT.finding(ids::NetPeerUnhealthy, Draft {
        severity,
        summary: format!(
            "etcd could not reach peer(s) {}: {lines} prober-unhealthy / lost-stream line(s); {}",
            match (peers.is_empty(), other_unhealthy_peer_lines(logs)) {
                (true, _) => "(unnamed)".to_string(),
                (false, 0) => peers.join(", "),
                (false, n) => format!("{} and others in {n} more line(s)", peers.join(", ")),
            },
            describe(first)
        ),
        evidence: kinds.iter().flat_map(|k| kind_evidence(k, t.peer_unhealthy_warn_lines)).collect(),
        recommendation: "A peer was down or unreachable: check that member (process, host, \
                         firewall on the peer port 2380) and the network path between them. A \
                         member gone for good is removed (`etcdctl member remove <ID>`) and re-added \
                         empty; `etcd-doctor snapshot rejoin-plan` prints the runbook."
            .to_string(),
        commands: vec!["etcdctl endpoint health --cluster".to_string(), "etcdctl member list -w table".to_string()],
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::logs::scan::{Scanner, Window};

    fn logs(lines: &[String]) -> LogsReport {
        let mut s = Scanner::new(Window::default());
        s.scan("t", &mut std::io::Cursor::new(lines.join("\n")));
        s.finish()
    }

    fn zap(sec: u32, msg: &str, extra: &str) -> String {
        format!(
            r#"{{"level":"warn","ts":"2024-03-01T12:{:02}:{:02}.000Z","msg":"{msg}"{extra}}}"#,
            sec / 60,
            sec % 60
        )
    }

    fn ids(f: &[Finding]) -> Vec<(FindingId, Severity)> {
        f.iter().map(|f| (f.id, f.severity)).collect()
    }

    #[test]
    fn late_heartbeats_with_slow_fdatasync_blame_the_disk() {
        let l = logs(&[
            zap(1, "slow fdatasync", r#","took":"1.2s""#),
            zap(2, "leader failed to send out heartbeat on time; took too long, leader is overloaded likely from slow disk", r#","exceeded-duration":"900ms""#),
        ]);
        let f = evaluate(&l, &LogThresholds::default(), None);
        assert_eq!(
            ids(&f),
            [
                (FindingId::DiskFsyncSlow, Severity::Warn),
                (FindingId::ClusterHeartbeatLate, Severity::Warn)
            ]
        );
        assert!(f[1].summary.contains("the disk"), "{}", f[1].summary);
    }

    #[test]
    fn late_heartbeats_with_unreachable_peers_blame_the_network() {
        let l = logs(&[
            zap(
                1,
                "prober detected unhealthy status",
                r#","remote-peer-id":"abc","rtt":"0s""#,
            ),
            zap(2, "leader failed to send out heartbeat on time", ""),
        ]);
        let f = evaluate(&l, &LogThresholds::default(), None);
        let hb = f
            .iter()
            .find(|f| f.id == FindingId::ClusterHeartbeatLate)
            .unwrap();
        assert!(hb.summary.contains("the network"), "{}", hb.summary);
        let peer = f
            .iter()
            .find(|f| f.id == FindingId::NetPeerUnhealthy)
            .unwrap();
        assert!(peer.summary.contains("abc"), "{}", peer.summary);
        // With the member list, the peer is named as operators know it.
        let members = ClusterReport {
            members: vec![crate::cluster::model::Member {
                id: "abc".into(),
                name: "m3".into(),
                peer_urls: vec!["https://10.0.0.3:2380".into()],
                ..Default::default()
            }],
            ..Default::default()
        };
        let f = evaluate(&l, &LogThresholds::default(), Some(&members));
        let peer = f
            .iter()
            .find(|f| f.id == FindingId::NetPeerUnhealthy)
            .unwrap();
        assert!(
            peer.summary.contains("m3 (abc) on 10.0.0.3"),
            "{}",
            peer.summary
        );
    }

    #[test]
    fn unhealthy_peers_that_are_down_members_are_explained_not_a_network_fault() {
        let unhealthy = |peer: &str| {
            zap(
                1,
                "prober detected unhealthy status",
                &format!(r#","remote-peer-id":"{peer}","rtt":"0s""#),
            )
        };
        let l = logs(&[unhealthy("abc"), unhealthy("abc"), unhealthy("abc")]);
        let severity = |down: &[&str]| {
            let mut f = evaluate(&l, &LogThresholds::default(), None);
            explain_down_peers(&mut f, &l, down);
            let peer = f
                .iter()
                .find(|f| f.id == FindingId::NetPeerUnhealthy)
                .unwrap();
            (peer.severity, peer.summary.contains("explained"))
        };
        let (alone, explained) = severity(&[]);
        assert_ne!(alone, Severity::Info);
        assert!(!explained);
        // The member id as the cluster read writes it: 16 hex digits.
        assert_eq!(severity(&["0000000000000abc"]), (Severity::Info, true));
        // Another member down does not explain this peer.
        assert_eq!(severity(&["def"]), (alone, false));
        let l = logs(&[unhealthy("abc"), unhealthy("def"), unhealthy("def")]);
        let mut f = evaluate(&l, &LogThresholds::default(), None);
        explain_down_peers(&mut f, &l, &["abc"]);
        assert!(f
            .iter()
            .any(|f| f.id == FindingId::NetPeerUnhealthy && f.severity != Severity::Info));
    }

    #[test]
    fn late_heartbeats_with_slow_applies_only_point_below_the_fsync_warning() {
        let mut lines: Vec<String> = (0..10)
            .map(|i| zap(i, "apply request took too long", r#","took":"300ms""#))
            .collect();
        lines.push(zap(20, "leader failed to send out heartbeat on time", ""));
        let f = evaluate(&logs(&lines), &LogThresholds::default(), None);
        assert_eq!(
            ids(&f),
            [
                (FindingId::ClusterApplySlow, Severity::Warn),
                (FindingId::ClusterHeartbeatLate, Severity::Warn)
            ]
        );
        assert!(f[1].summary.contains("slow apply"), "{}", f[1].summary);
    }

    #[test]
    fn elections_count_per_hour_and_quota_fails() {
        let mut lines: Vec<String> = (2..8)
            .map(|t| {
                zap(
                    t * 10,
                    &format!("raft.node: 1 elected leader 2 at term {t}"),
                    "",
                )
            })
            .collect();
        // A later term written earlier (another member's clock).
        lines.push(zap(5, "raft.node: 1 elected leader 2 at term 9", ""));
        lines.push(zap(100, "alarm raised", r#","alarm":"NOSPACE""#));
        let f = evaluate(&logs(&lines), &LogThresholds::default(), None);
        assert_eq!(
            ids(&f),
            [
                (FindingId::ClusterLeaderChurn, Severity::Warn),
                (FindingId::ClusterAlarmActive, Severity::Fail)
            ]
        );
        let span = "terms 2 to 9, 2024-03-01T12:00:05.000Z to 2024-03-01T12:01:10.000Z";
        assert!(f[0].summary.contains("7 elections"), "{}", f[0].summary);
        assert!(f[0].summary.contains(span), "{}", f[0].summary);
    }

    #[test]
    fn one_startup_election_is_healthy() {
        let l = logs(&[zap(1, "raft.node: 1 elected leader 1 at term 2", "")]);
        assert!(evaluate(&l, &LogThresholds::default(), None).is_empty());
    }
}
