//! Typed findings: what a rule concluded, how sure (severity), the evidence
//! (observed vs threshold) and the fix, with commands where there are some.
//! Finding ids are stable: CI users allow-list them.

use serde::{Deserialize, Serialize};

/// Stable identifier of a finding (see DESIGN.md).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum FindingId {
    #[serde(rename = "disk.fsync-slow")]
    DiskFsyncSlow,
    #[serde(rename = "disk.io-contention")]
    DiskIoContention,
    #[serde(rename = "disk.rotational")]
    DiskRotational,
    #[serde(rename = "net.peer-rtt-high")]
    NetPeerRttHigh,
    #[serde(rename = "net.nic-saturated")]
    NetNicSaturated,
    #[serde(rename = "net.errors")]
    NetErrors,
    #[serde(rename = "host.cpu-steal")]
    HostCpuSteal,
    #[serde(rename = "cluster.member-unreachable")]
    ClusterMemberUnreachable,
    #[serde(rename = "cluster.stale-member")]
    ClusterStaleMember,
    #[serde(rename = "cluster.raft-lag")]
    ClusterRaftLag,
    #[serde(rename = "cluster.leader-churn")]
    ClusterLeaderChurn,
    #[serde(rename = "cluster.db-fragmented")]
    ClusterDbFragmented,
    #[serde(rename = "cluster.db-near-quota")]
    ClusterDbNearQuota,
    #[serde(rename = "cluster.alarm-active")]
    ClusterAlarmActive,
    #[serde(rename = "cluster.metrics-wal-fsync-slow")]
    ClusterMetricsWalFsyncSlow,
    #[serde(rename = "cluster.metrics-backend-commit-slow")]
    ClusterMetricsBackendCommitSlow,
    #[serde(rename = "cluster.metrics-peer-rtt-high")]
    ClusterMetricsPeerRttHigh,
    #[serde(rename = "disk.fsync-stall")]
    DiskFsyncStall,
    #[serde(rename = "cluster.keyspace-hotspot")]
    ClusterKeyspaceHotspot,
    #[serde(rename = "cluster.history-unbounded")]
    ClusterHistoryUnbounded,
    #[serde(rename = "cluster.key-churn")]
    ClusterKeyChurn,
    #[serde(rename = "cluster.large-values")]
    ClusterLargeValues,
    #[serde(rename = "cluster.apply-slow")]
    ClusterApplySlow,
    #[serde(rename = "cluster.heartbeat-late")]
    ClusterHeartbeatLate,
    #[serde(rename = "net.peer-unhealthy")]
    NetPeerUnhealthy,
    #[serde(rename = "net.clock-drift")]
    NetClockDrift,
    #[serde(rename = "net.raft-buffer-full")]
    NetRaftBufferFull,
    #[serde(rename = "cluster.data-inconsistent")]
    ClusterDataInconsistent,
    #[serde(rename = "cluster.version-skew")]
    ClusterVersionSkew,
    #[serde(rename = "cluster.learner-stuck")]
    ClusterLearnerStuck,
    #[serde(rename = "cluster.proposals-pending")]
    ClusterProposalsPending,
    #[serde(rename = "load.check-perf-fail")]
    LoadCheckPerfFail,
    #[serde(rename = "load.latency-slow")]
    LoadLatencySlow,
    #[serde(rename = "load.generator-behind")]
    LoadGeneratorBehind,
    #[serde(rename = "fleet.disk-outlier")]
    FleetDiskOutlier,
    #[serde(rename = "fleet.path-outlier")]
    FleetPathOutlier,
}

impl FindingId {
    /// Every finding id, in DESIGN.md's order.
    pub const ALL: [FindingId; 36] = [
        FindingId::DiskFsyncSlow,
        FindingId::DiskIoContention,
        FindingId::DiskRotational,
        FindingId::NetPeerRttHigh,
        FindingId::NetNicSaturated,
        FindingId::NetErrors,
        FindingId::HostCpuSteal,
        FindingId::ClusterMemberUnreachable,
        FindingId::ClusterStaleMember,
        FindingId::ClusterRaftLag,
        FindingId::ClusterLeaderChurn,
        FindingId::ClusterDbFragmented,
        FindingId::ClusterDbNearQuota,
        FindingId::ClusterAlarmActive,
        FindingId::ClusterMetricsWalFsyncSlow,
        FindingId::ClusterMetricsBackendCommitSlow,
        FindingId::ClusterMetricsPeerRttHigh,
        FindingId::DiskFsyncStall,
        FindingId::ClusterKeyspaceHotspot,
        FindingId::ClusterHistoryUnbounded,
        FindingId::ClusterKeyChurn,
        FindingId::ClusterLargeValues,
        FindingId::ClusterApplySlow,
        FindingId::ClusterHeartbeatLate,
        FindingId::NetPeerUnhealthy,
        FindingId::NetClockDrift,
        FindingId::NetRaftBufferFull,
        FindingId::ClusterDataInconsistent,
        FindingId::ClusterVersionSkew,
        FindingId::ClusterLearnerStuck,
        FindingId::ClusterProposalsPending,
        FindingId::LoadCheckPerfFail,
        FindingId::LoadLatencySlow,
        FindingId::LoadGeneratorBehind,
        FindingId::FleetDiskOutlier,
        FindingId::FleetPathOutlier,
    ];

    /// The area an id belongs to: `disk`, `net`, `host`, `cluster` or `load`.
    pub fn area(self) -> &'static str {
        self.as_str().split('.').next().unwrap_or_default()
    }

    /// The id as written in reports, e.g. `disk.fsync-slow`.
    pub fn as_str(self) -> &'static str {
        match self {
            FindingId::DiskFsyncSlow => "disk.fsync-slow",
            FindingId::DiskIoContention => "disk.io-contention",
            FindingId::DiskRotational => "disk.rotational",
            FindingId::NetPeerRttHigh => "net.peer-rtt-high",
            FindingId::NetNicSaturated => "net.nic-saturated",
            FindingId::NetErrors => "net.errors",
            FindingId::HostCpuSteal => "host.cpu-steal",
            FindingId::ClusterMemberUnreachable => "cluster.member-unreachable",
            FindingId::ClusterStaleMember => "cluster.stale-member",
            FindingId::ClusterRaftLag => "cluster.raft-lag",
            FindingId::ClusterLeaderChurn => "cluster.leader-churn",
            FindingId::ClusterDbFragmented => "cluster.db-fragmented",
            FindingId::ClusterDbNearQuota => "cluster.db-near-quota",
            FindingId::ClusterAlarmActive => "cluster.alarm-active",
            FindingId::ClusterMetricsWalFsyncSlow => "cluster.metrics-wal-fsync-slow",
            FindingId::ClusterMetricsBackendCommitSlow => "cluster.metrics-backend-commit-slow",
            FindingId::ClusterMetricsPeerRttHigh => "cluster.metrics-peer-rtt-high",
            FindingId::DiskFsyncStall => "disk.fsync-stall",
            FindingId::ClusterKeyspaceHotspot => "cluster.keyspace-hotspot",
            FindingId::ClusterHistoryUnbounded => "cluster.history-unbounded",
            FindingId::ClusterKeyChurn => "cluster.key-churn",
            FindingId::ClusterLargeValues => "cluster.large-values",
            FindingId::ClusterApplySlow => "cluster.apply-slow",
            FindingId::ClusterHeartbeatLate => "cluster.heartbeat-late",
            FindingId::NetPeerUnhealthy => "net.peer-unhealthy",
            FindingId::NetClockDrift => "net.clock-drift",
            FindingId::NetRaftBufferFull => "net.raft-buffer-full",
            FindingId::ClusterDataInconsistent => "cluster.data-inconsistent",
            FindingId::ClusterVersionSkew => "cluster.version-skew",
            FindingId::ClusterLearnerStuck => "cluster.learner-stuck",
            FindingId::ClusterProposalsPending => "cluster.proposals-pending",
            FindingId::LoadCheckPerfFail => "load.check-perf-fail",
            FindingId::LoadLatencySlow => "load.latency-slow",
            FindingId::LoadGeneratorBehind => "load.generator-behind",
            FindingId::FleetDiskOutlier => "fleet.disk-outlier",
            FindingId::FleetPathOutlier => "fleet.path-outlier",
        }
    }
}

impl std::fmt::Display for FindingId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How serious a finding is. Ordered: `Info < Warn < Fail`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Info,
    Warn,
    Fail,
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Severity::Info => "INFO",
            Severity::Warn => "WARN",
            Severity::Fail => "FAIL",
        })
    }
}

/// One measured fact behind a finding: what was observed against which threshold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// What was measured, e.g. `fsync p99 (fio etcd test)`.
    pub metric: String,
    /// The observed value, in `unit`.
    pub observed: f64,
    /// The threshold it was compared with, in `unit`.
    pub threshold: f64,
    /// Unit of `observed` and `threshold`, e.g. `ms`, `%`, `bytes`.
    pub unit: String,
}

impl Evidence {
    /// `metric` observed at `observed` against `threshold`, both in `unit`.
    pub fn new(metric: impl Into<String>, observed: f64, threshold: f64, unit: &str) -> Evidence {
        Evidence {
            metric: metric.into(),
            observed,
            threshold,
            unit: unit.to_string(),
        }
    }
}

/// A rule's conclusion, carrying the fix.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// Stable id, e.g. `disk.fsync-slow`.
    pub id: FindingId,
    /// How serious it is.
    pub severity: Severity,
    /// One sentence: what is wrong, with the key number.
    pub summary: String,
    /// The measurements behind it.
    pub evidence: Vec<Evidence>,
    /// What to change, in the operator's terms.
    pub recommendation: String,
    /// Concrete commands to run, where there are some.
    #[serde(default)]
    pub commands: Vec<String>,
}

/// The overall verdict of a report: the most severe finding decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Verdict {
    Pass,
    Warn,
    Fail,
}

impl Verdict {
    /// The verdict implied by a set of findings (info findings do not count).
    pub fn from_findings(findings: &[Finding]) -> Verdict {
        match findings.iter().map(|f| f.severity).max() {
            Some(Severity::Fail) => Verdict::Fail,
            Some(Severity::Warn) => Verdict::Warn,
            Some(Severity::Info) | None => Verdict::Pass,
        }
    }
}

impl std::fmt::Display for Verdict {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Verdict::Pass => "PASS",
            Verdict::Warn => "WARN",
            Verdict::Fail => "FAIL",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn finding(severity: Severity) -> Finding {
        Finding {
            id: FindingId::DiskFsyncSlow,
            severity,
            summary: String::new(),
            evidence: vec![],
            recommendation: String::new(),
            commands: vec![],
        }
    }

    #[test]
    fn ids_serialize_as_documented() {
        let json = serde_json::to_string(&FindingId::ClusterMetricsPeerRttHigh).unwrap();
        assert_eq!(json, "\"cluster.metrics-peer-rtt-high\"");
        assert_eq!(
            FindingId::ClusterMetricsPeerRttHigh.as_str(),
            "cluster.metrics-peer-rtt-high"
        );
    }

    #[test]
    fn verdict_follows_most_severe_finding() {
        assert_eq!(Verdict::from_findings(&[]), Verdict::Pass);
        assert_eq!(
            Verdict::from_findings(&[finding(Severity::Info)]),
            Verdict::Pass
        );
        assert_eq!(
            Verdict::from_findings(&[finding(Severity::Info), finding(Severity::Warn)]),
            Verdict::Warn
        );
        assert_eq!(
            Verdict::from_findings(&[finding(Severity::Fail), finding(Severity::Warn)]),
            Verdict::Fail
        );
    }
}
