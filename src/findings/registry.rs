//! The one list of rules. Each finding id is written once, in the
//! [`registry!`] macro below, with the severities its rule can give, the
//! rule functions that give it with the facts each needs, and a line
//! saying what it judges; the [`FindingId`] enum (and its JSON spelling),
//! [`FindingId::ALL`], the JUnit test cases, the "rules checked" of a
//! report and the table `crate::rules::evaluate` runs all derive from it. Ids are stable: CI users
//! allow-list them (see docs/contract.md); docs/findings.md lists them
//! as [`catalogue`] writes them.

use serde::{Deserialize, Serialize};

/// How serious a finding is. Ordered: `Info < Warn < Fail`.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
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

/// A kind of collected fact a rule judges; a rule is checked when a run
/// collected any of the facts it needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Fact {
    /// Disk probe results (`disk`, `qualify`, `diagnose`).
    DiskProbes,
    /// The data directory's block device (rotational flag, model).
    BlockDevice,
    /// What the host did during the run: other writers, device IO.
    HostActivity,
    /// CPU accounting of the run (steal, iowait).
    HostCpu,
    /// etcd's own processes on this host over the run (CPU, memory).
    EtcdProcess,
    /// etcd's own WAL fsync histogram over the scrape window.
    EtcdWalFsync,
    /// Network probe results.
    NetProbes,
    /// Member list and endpoint status of a live cluster.
    ClusterStatus,
    /// etcd's metrics scraped from the members.
    ClusterMetrics,
    /// The members' HashKV and learner progress.
    Consistency,
    /// Key counts by prefix (live or from a snapshot).
    Keyspace,
    /// Revision history and value sizes, only in a snapshot.
    KeyspaceHistory,
    /// etcd's own logs.
    Logs,
    /// A load run.
    Load,
    /// Reports of several hosts (`merge`).
    Fleet,
    /// The local etcd's own settings, found by discovery.
    EtcdSettings,
}

/// One rule of the registry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Rule {
    /// The finding id it gives.
    pub id: FindingId,
    /// The severities its findings can carry.
    pub severities: &'static [Severity],
    /// The facts it judges: it is checked when any of them was collected
    /// (those of all the rule functions that give it).
    pub needs: &'static [Fact],
    /// What it judges, in one line.
    pub doc: &'static str,
}

/// Writes the ids from the registry's lines, in the order the ids were
/// shipped (which is also the enum's order, used to break ties when
/// findings are sorted). The rule functions are `crate::rules`' business.
macro_rules! rules {
    ($($variant:ident $id:literal [$($sev:ident),+] { $($by:ident [$($need:ident),+]),+ }
        $doc:literal;)+) => {
        /// Stable identifier of a finding (see docs/findings.md).
        #[derive(
            Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema)]
        pub enum FindingId {
            $(
                #[doc = $doc]
                #[serde(rename = $id)]
                $variant,
            )+
        }

        /// Every rule, in the order the ids were shipped.
        pub const RULES: [Rule; [$($id),+].len()] = [$(
            Rule {
                id: FindingId::$variant,
                severities: &[$(Severity::$sev),+],
                needs: &[$($(Fact::$need),+),+],
                doc: $doc,
            },
        )+];

        /// One zero-sized token type per finding id, named as its
        /// [`FindingId`] variant: a rule builds a finding through
        /// `crate::findings::emit::Emit`, which takes the token and accepts
        /// only the ids its rule function's registry line lists.
        pub mod ids {
            use super::FindingId;

            /// A finding id's token type: [`Token::ID`] is its id.
            pub trait Token: Copy {
                /// The id this token stands for.
                const ID: FindingId;
            }
            $(
                #[doc = $doc]
                #[derive(Debug, Clone, Copy, PartialEq, Eq)]
                pub struct $variant;

                impl Token for $variant {
                    const ID: FindingId = FindingId::$variant;
                }

                impl From<$variant> for FindingId {
                    fn from(_: $variant) -> FindingId {
                        FindingId::$variant
                    }
                }
            )+
        }

        impl FindingId {
            /// The id as written in reports, e.g. `disk.fsync-slow`.
            pub fn as_str(self) -> &'static str {
                match self {
                    $(FindingId::$variant => $id,)+
                }
            }
        }
    };
}

/// The registry itself, one line a finding id: `Variant "id" [severities]
/// { rule_fn [facts], ... } "doc";`. `rule_fn` names the function of
/// `crate::rules::run` that gives the id when one of its facts was
/// collected; an id two rules give (etcd's logs and the probes both find
/// a slow disk) names both, in the order their findings are listed. The
/// lines are handed to the macro `$then`: [`rules!`] here writes the ids
/// and their catalogue, `crate::rules` the table of rule functions, so
/// both come from this one list.
macro_rules! registry {
    ($then:ident) => {
        $then! {
            DiskFsyncSlow "disk.fsync-slow" [Warn, Fail] { disk_fsync_slow [DiskProbes], logs [Logs] }
                "fdatasync p99 of the flat-out disk probes, or etcd's slow-fdatasync log lines";
            DiskIoContention "disk.io-contention" [Info, Warn, Fail] { io_contention [HostActivity, EtcdWalFsync] }
                "slow fdatasync while others write to the data device, or etcd slow on a fast device";
            DiskRotational "disk.rotational" [Info, Warn, Fail] { disk_rotational [BlockDevice] }
                "the data directory on a spinning disk";
            NetPeerRttHigh "net.peer-rtt-high" [Info, Warn, Fail] { net [NetProbes] }
                "round trip to a peer against the heartbeat interval";
            NetNicSaturated "net.nic-saturated" [Info, Warn, Fail] { net [NetProbes] }
                "heartbeats queued behind bulk traffic on the link";
            NetErrors "net.errors" [Info, Warn, Fail] { net [NetProbes] }
                "lost or failed network probes";
            HostCpuSteal "host.cpu-steal" [Warn, Fail] { cpu_steal [HostCpu] }
                "CPU time the hypervisor took from this VM";
            ClusterMemberUnreachable "cluster.member-unreachable" [Fail] { cluster [ClusterStatus] }
                "a member that does not answer";
            ClusterStaleMember "cluster.stale-member" [Fail] { cluster [ClusterStatus], stale_from_logs [Logs] }
                "a member in the list that no longer takes part, or whose own log shows its raft log lost";
            ClusterRaftLag "cluster.raft-lag" [Warn, Fail] { cluster [ClusterStatus] }
                "members behind the leader's raft index";
            ClusterLeaderChurn "cluster.leader-churn" [Warn, Fail] { cluster [ClusterMetrics], logs [Logs] }
                "leader elections per hour";
            ClusterDbFragmented "cluster.db-fragmented" [Warn] { cluster [ClusterStatus] }
                "space a defragmentation would return";
            ClusterDbNearQuota "cluster.db-near-quota" [Warn, Fail] { cluster [ClusterStatus] }
                "database size against the backend quota";
            ClusterAlarmActive "cluster.alarm-active" [Warn, Fail] { cluster [ClusterStatus], logs [Logs] }
                "an active alarm (NOSPACE, CORRUPT)";
            ClusterMetricsWalFsyncSlow "cluster.metrics-wal-fsync-slow" [Info, Warn, Fail]
                { cluster [ClusterMetrics] }
                "etcd's WAL fsync p99 from its metrics";
            ClusterMetricsBackendCommitSlow "cluster.metrics-backend-commit-slow" [Info, Warn, Fail]
                { cluster [ClusterMetrics] }
                "etcd's backend commit p99 from its metrics";
            ClusterMetricsPeerRttHigh "cluster.metrics-peer-rtt-high" [Info, Warn, Fail]
                { cluster [ClusterMetrics] }
                "etcd's peer round trip p99 from its metrics";
            DiskFsyncStall "disk.fsync-stall" [Warn, Fail] { disk_fsync_stall [DiskProbes] }
                "hangs of the disk longer than the heartbeat interval";
            ClusterKeyspaceHotspot "cluster.keyspace-hotspot" [Warn] { keyspace [Keyspace] }
                "one resource filling most of the database";
            ClusterHistoryUnbounded "cluster.history-unbounded" [Warn] { keyspace [KeyspaceHistory] }
                "uncompacted history far beyond the live data";
            ClusterKeyChurn "cluster.key-churn" [Warn] { keyspace [KeyspaceHistory] }
                "a key rewritten thousands of times";
            ClusterLargeValues "cluster.large-values" [Warn, Fail] { keyspace [KeyspaceHistory] }
                "values near the request size limit";
            ClusterApplySlow "cluster.apply-slow" [Info, Warn, Fail] { logs [Logs] }
                "etcd's slow-apply log lines";
            ClusterHeartbeatLate "cluster.heartbeat-late" [Info, Warn, Fail] { logs [Logs] }
                "etcd's late-heartbeat log lines";
            NetPeerUnhealthy "net.peer-unhealthy" [Info, Warn, Fail] { logs [Logs] }
                "etcd's prober finding a peer unhealthy";
            NetClockDrift "net.clock-drift" [Warn, Fail] { logs [Logs] }
                "etcd's prober finding members' clocks apart";
            NetRaftBufferFull "net.raft-buffer-full" [Warn, Fail] { logs [Logs] }
                "raft messages dropped for a full sending buffer";
            ClusterDataInconsistent "cluster.data-inconsistent" [Fail] { consistency [Consistency] }
                "a member whose HashKV differs";
            ClusterVersionSkew "cluster.version-skew" [Info, Warn] { consistency [ClusterStatus] }
                "members running different etcd or storage versions";
            ClusterLearnerStuck "cluster.learner-stuck" [Warn] { consistency [Consistency] }
                "a learner not closing the gap to promotion";
            ClusterProposalsPending "cluster.proposals-pending" [Warn, Fail] { consistency [ClusterMetrics] }
                "proposals queued and not yet committed";
            LoadCheckPerfFail "load.check-perf-fail" [Fail] { load [Load] }
                "a load run failing etcdctl check perf's criteria";
            LoadLatencySlow "load.latency-slow" [Warn, Fail] { load [Load] }
                "a load run's request latency p99";
            LoadGeneratorBehind "load.generator-behind" [Warn] { load [Load] }
                "the load generator unable to keep its schedule";
            FleetDiskOutlier "fleet.disk-outlier" [Warn] { fleet [Fleet] }
                "a host whose disk is slower than the fleet's";
            FleetPathOutlier "fleet.path-outlier" [Warn] { fleet [Fleet] }
                "a network path slower than the fleet's";
            DiskWalOnDataDevice "disk.wal-on-data-device" [Info] { wal_on_data_device [EtcdSettings] }
                "a dedicated --wal-dir on the same device as --data-dir";
            ClusterSnapshotCountHigh "cluster.snapshot-count-high" [Info, Warn] { snapshot_count_high [EtcdSettings] }
                "a --snapshot-count above both etcd defaults, holding raft entries in memory";
            HostCpuStarved "host.cpu-starved" [Warn, Fail] { cpu_starved [EtcdProcess] }
                "etcd throttled by its CPU quota, waiting on a full run queue, or its writes on a saturated host";
            HostMemoryPressure "host.memory-pressure" [Warn, Fail] { memory_pressure [EtcdProcess] }
                "etcd's pages read back from disk or swap, or its db larger than its memory";
            // Issue 25, network (branch i25n).
            NetLossyLink "net.lossy-link" [Warn, Fail] { net [NetProbes], etcd_peer_loss [EtcdProcess] }
                "a peer path losing packets (the rtt probe's, or etcd's own on its peer sockets) while the link is not full";
            // Issue 25, cluster causes (i25c).
            ClusterExpensiveRequests "cluster.expensive-requests" [Info, Warn, Fail] { requests [Logs, ClusterMetrics] }
                "reads that walk a whole prefix (no limit, count-only, keys-only, large responses) or etcd 3.6's range latency";
        }
    };
}
pub(crate) use registry;

registry!(rules);

impl FindingId {
    /// Every finding id, in the registry's order.
    pub const ALL: [FindingId; RULES.len()] = {
        let mut all = [FindingId::DiskFsyncSlow; RULES.len()];
        let mut i = 0;
        while i < RULES.len() {
            all[i] = RULES[i].id;
            i += 1;
        }
        all
    };

    /// The area an id belongs to: `disk`, `net`, `host`, `cluster`, `load`
    /// or `fleet`.
    pub fn area(self) -> &'static str {
        self.as_str().split('.').next().unwrap_or_default()
    }

    /// The registry entry of this id.
    pub fn rule(self) -> &'static Rule {
        &RULES[self as usize]
    }
}

impl std::fmt::Display for FindingId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The rules checked when the facts in `have` were collected, in the
/// registry's order.
pub fn checked(have: &[Fact]) -> Vec<FindingId> {
    RULES
        .iter()
        .filter(|r| r.needs.iter().any(|n| have.contains(n)))
        .map(|r| r.id)
        .collect()
}

/// First line of the catalogue's generated part.
pub const CATALOGUE_START: &str = "<!-- rules: written from src/findings/registry.rs -->";
/// Last line of the catalogue's generated part.
pub const CATALOGUE_END: &str = "<!-- end of rules -->";

/// The generated part of docs/findings.md: every id with its severities
/// and doc line, between [`CATALOGUE_START`] and [`CATALOGUE_END`].
pub fn catalogue() -> String {
    let mut out = format!("{CATALOGUE_START}\n");
    for r in &RULES {
        let levels: Vec<String> = r
            .severities
            .iter()
            .map(|s| s.to_string().to_lowercase())
            .collect();
        out += &format!("- `{}` ({}): {}\n", r.id, levels.join(", "), r.doc);
    }
    out + CATALOGUE_END + "\n"
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn every_rule_is_found_by_its_id_and_round_trips() {
        assert_eq!(RULES.len(), 42);
        for (i, r) in RULES.iter().enumerate() {
            assert_eq!(r.id.rule(), r);
            assert_eq!(FindingId::ALL[i], r.id);
            let json = serde_json::to_string(&r.id).unwrap();
            assert_eq!(json, format!("\"{}\"", r.id.as_str()));
            assert_eq!(serde_json::from_str::<FindingId>(&json).unwrap(), r.id);
            assert!(r.id.area().len() > 2 && !r.doc.is_empty());
        }
    }

    #[test]
    fn the_findings_catalogue_lists_every_rule_as_the_registry_does() {
        let doc = include_str!("../../docs/findings.md");
        let list = catalogue();
        assert!(
            doc.contains(&list),
            "docs/findings.md is not the registry's list; run `cargo run --example write-docs`. \
             It should hold:\n{list}"
        );
    }

    #[test]
    fn checked_follows_the_facts() {
        assert!(checked(&[]).is_empty());
        assert_eq!(
            checked(&[Fact::Load]),
            [
                FindingId::LoadCheckPerfFail,
                FindingId::LoadLatencySlow,
                FindingId::LoadGeneratorBehind
            ]
        );
        let logs = checked(&[Fact::Logs]);
        assert_eq!(logs.len(), 10);
        assert!(logs.contains(&FindingId::ClusterStaleMember));
        assert!(logs.contains(&FindingId::DiskFsyncSlow));
    }
}
