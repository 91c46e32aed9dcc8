//! The thresholds of the cluster rules (a profile's `[cluster]` section).

use serde::{Deserialize, Serialize};

use crate::measure::MIB;
use crate::rules::bounds::{levels, positive, within, BadKey, Bound};

/// Thresholds of the cluster rules. `Default` is etcd's own guidance; each
/// field names its unit and its source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ClusterThresholds {
    /// Raft entries a member may trail the leader before a warning.
    /// etcd-doctor's choice: a healthy follower is within a few in-flight
    /// entries; a thousand means it is not keeping up.
    pub raft_lag_warn_entries: u64,
    /// Raft entries behind the leader that fail: etcd's snapshot catch-up
    /// entries (5000); a follower further behind is sent a whole snapshot,
    /// and a member whose apply trails its commit by this many refuses
    /// requests ("too many requests").
    pub raft_lag_fail_entries: u64,
    /// Leader changes per 15 minutes that warn (etcd-mixin
    /// etcdHighNumberOfLeaderChanges: 4 within 15 minutes).
    pub leader_changes_warn_per_15m: f64,
    /// In-use share of the database file below which it counts as
    /// fragmented (etcd-mixin etcdDatabaseHighFragmentationRatio: < 0.5).
    pub db_in_use_warn_ratio: f64,
    /// Bytes in use below which fragmentation is not worth a defrag
    /// (etcd-mixin etcdDatabaseHighFragmentationRatio: over 100 MiB in use).
    pub db_fragmented_min_in_use_bytes: u64,
    /// Database size / quota that warns (the etcd-defrag tool's example
    /// rule: 80 % of the quota).
    pub db_quota_used_warn_ratio: f64,
    /// Database size / quota that fails (etcd-mixin
    /// etcdBackendQuotaLowSpace, critical: over 95 %).
    pub db_quota_used_fail_ratio: f64,
    /// WAL fdatasync p99 that warns, milliseconds (etcd docs: p99 of
    /// etcd_disk_wal_fsync_duration_seconds should stay under 10 ms).
    pub wal_fsync_p99_warn_ms: f64,
    /// WAL fdatasync p99 that fails, milliseconds (etcd-mixin
    /// etcdHighFsyncDurations, critical: over 1 s).
    pub wal_fsync_p99_fail_ms: f64,
    /// Backend commit p99 that warns, milliseconds (etcd docs: p99 of
    /// etcd_disk_backend_commit_duration_seconds should stay under 25 ms).
    pub backend_commit_p99_warn_ms: f64,
    /// Backend commit p99 that fails, milliseconds (etcd-mixin
    /// etcdHighCommitDurations: over 250 ms).
    pub backend_commit_p99_fail_ms: f64,
    /// Peer round-trip p99 that warns, milliseconds (etcd-mixin
    /// etcdMemberCommunicationSlow: over 150 ms).
    pub peer_rtt_p99_warn_ms: f64,
    /// Peer round-trip p99 that fails, milliseconds (etcd's default
    /// --election-timeout, 1000 ms: heartbeats that late start elections).
    pub peer_rtt_p99_fail_ms: f64,
    /// Observations a histogram needs before its p99 is judged. etcd-doctor's
    /// choice: with fewer, the p99 is a single sample.
    pub min_histogram_count: u64,
    /// Reclaimable bytes (file size minus in use) from which a database
    /// below `db_in_use_warn_ratio` is fragmented whatever is in use: a big
    /// file with little in use is where a defrag returns the most.
    /// etcd-doctor's choice: the mixin's 100 MiB, applied to what a defrag
    /// returns instead of what is in use.
    pub db_reclaimable_min_bytes: u64,
    /// Reclaimable bytes / quota from which the database is fragmented at
    /// any in-use ratio: free pages count against the quota. etcd-doctor's
    /// choice: a quarter of the quota, a third of the room before the
    /// etcd-defrag tool's 80 % rule.
    pub db_reclaimable_quota_warn_ratio: f64,
    /// `--snapshot-count` above which the local etcd holds more raft
    /// entries in memory than either default (etcd 3.5's 100,000, 3.6's
    /// 10,000): etcd docs, "Maintenance / Raft log retention": a higher
    /// count holds more entries in memory until the snapshot, "causing
    /// recurrent higher memory usage".
    pub snapshot_count_warn: u64,
}

impl Default for ClusterThresholds {
    fn default() -> Self {
        ClusterThresholds {
            raft_lag_warn_entries: 1000,
            raft_lag_fail_entries: 5000,
            leader_changes_warn_per_15m: 4.0,
            db_in_use_warn_ratio: 0.5,
            db_fragmented_min_in_use_bytes: 100 * MIB,
            db_quota_used_warn_ratio: 0.8,
            db_quota_used_fail_ratio: 0.95,
            wal_fsync_p99_warn_ms: 10.0,
            wal_fsync_p99_fail_ms: 1000.0,
            backend_commit_p99_warn_ms: 25.0,
            backend_commit_p99_fail_ms: 250.0,
            peer_rtt_p99_warn_ms: 150.0,
            peer_rtt_p99_fail_ms: 1000.0,
            min_histogram_count: 20,
            db_reclaimable_min_bytes: 100 * MIB,
            db_reclaimable_quota_warn_ratio: 0.25,
            snapshot_count_warn: 100_000,
        }
    }
}

impl ClusterThresholds {
    /// Checks the values of a profile's `[cluster]` section.
    pub fn validate(&self) -> Result<(), BadKey> {
        positive(
            "cluster",
            "snapshot_count_warn",
            self.snapshot_count_warn as f64,
        )?;
        levels(
            "cluster",
            ("raft_lag_warn_entries", self.raft_lag_warn_entries as f64),
            ("raft_lag_fail_entries", self.raft_lag_fail_entries as f64),
        )?;
        positive(
            "cluster",
            "leader_changes_warn_per_15m",
            self.leader_changes_warn_per_15m,
        )?;
        within(
            "cluster",
            "db_in_use_warn_ratio",
            self.db_in_use_warn_ratio,
            Bound::Fraction,
        )?;
        within(
            "cluster",
            "db_quota_used_warn_ratio",
            self.db_quota_used_warn_ratio,
            Bound::Fraction,
        )?;
        within(
            "cluster",
            "db_quota_used_fail_ratio",
            self.db_quota_used_fail_ratio,
            Bound::Fraction,
        )?;
        within(
            "cluster",
            "db_reclaimable_quota_warn_ratio",
            self.db_reclaimable_quota_warn_ratio,
            Bound::Fraction,
        )?;
        for pair in [
            (
                ("db_quota_used_warn_ratio", self.db_quota_used_warn_ratio),
                ("db_quota_used_fail_ratio", self.db_quota_used_fail_ratio),
            ),
            (
                ("wal_fsync_p99_warn_ms", self.wal_fsync_p99_warn_ms),
                ("wal_fsync_p99_fail_ms", self.wal_fsync_p99_fail_ms),
            ),
            (
                (
                    "backend_commit_p99_warn_ms",
                    self.backend_commit_p99_warn_ms,
                ),
                (
                    "backend_commit_p99_fail_ms",
                    self.backend_commit_p99_fail_ms,
                ),
            ),
            (
                ("peer_rtt_p99_warn_ms", self.peer_rtt_p99_warn_ms),
                ("peer_rtt_p99_fail_ms", self.peer_rtt_p99_fail_ms),
            ),
        ] {
            levels("cluster", pair.0, pair.1)?;
        }
        Ok(())
    }
}
