//! Flag names across etcd versions. etcd 3.6 renamed its non-boolean
//! `--experimental-*` flags (`--experimental-warning-apply-duration` is
//! now `--warning-apply-duration`) and turned the boolean ones into
//! feature gates (`--feature-gates=InitialCorruptCheck=true`); 3.6 still
//! reads the old names (with a deprecation warning), 3.7 refuses them
//! ("flag provided but not defined"). A kubeadm manifest or a process may
//! use either form, so discovery reads both into one typed form: the new
//! name, and the gates as [`FeatureGates`]. The old names in use are kept
//! (`Settings::deprecated_flags`), since upgrading to 3.7 breaks them.
//!
//! The lists are etcd's: v3.6.14 `server/embed/config.go`
//! `experimentalFlagMigrationMap` (line 150), `server/etcdmain/config.go`
//! (line 389, `--experimental-warning-unary-request-duration`), the YAML
//! spelling `experimental-snapshot-catch-up-entries` (embed/config.go line
//! 1017) and `server/features/etcd_features.go`
//! (`ExperimentalFlagToFeatureMap`, line 92; the gates of v3.7.1's
//! `DefaultEtcdServerFeatureGates`). v3.7.1 defines no `experimental-` flag.

use serde::{Deserialize, Serialize};

use super::parse::Flags;

/// Old non-boolean name -> the name etcd 3.6 reads it as.
pub const RENAMED: &[(&str, &str)] = &[
    (
        "experimental-compact-hash-check-time",
        "compact-hash-check-time",
    ),
    ("experimental-corrupt-check-time", "corrupt-check-time"),
    (
        "experimental-compaction-batch-limit",
        "compaction-batch-limit",
    ),
    (
        "experimental-watch-progress-notify-interval",
        "watch-progress-notify-interval",
    ),
    (
        "experimental-warning-apply-duration",
        "warning-apply-duration",
    ),
    (
        "experimental-warning-unary-request-duration",
        "warning-unary-request-duration",
    ),
    (
        "experimental-bootstrap-defrag-threshold-megabytes",
        "bootstrap-defrag-threshold-megabytes",
    ),
    ("experimental-memory-mlock", "memory-mlock"),
    (
        "experimental-snapshot-catchup-entries",
        "snapshot-catchup-entries",
    ),
    (
        "experimental-snapshot-catch-up-entries",
        "snapshot-catchup-entries",
    ),
    (
        "experimental-compaction-sleep-interval",
        "compaction-sleep-interval",
    ),
    ("experimental-downgrade-check-time", "downgrade-check-time"),
    (
        "experimental-peer-skip-client-san-verification",
        "peer-skip-client-san-verification",
    ),
    (
        "experimental-enable-distributed-tracing",
        "enable-distributed-tracing",
    ),
    (
        "experimental-distributed-tracing-address",
        "distributed-tracing-address",
    ),
    (
        "experimental-distributed-tracing-service-name",
        "distributed-tracing-service-name",
    ),
    (
        "experimental-distributed-tracing-instance-id",
        "distributed-tracing-instance-id",
    ),
    (
        "experimental-distributed-tracing-sampling-rate",
        "distributed-tracing-sampling-rate",
    ),
];

pub use super::parse::FEATURE_GATES;

/// Most `Name=bool` entries read from `--feature-gates` (etcd 3.7 has 9 gates).
pub const MAX_GATES: usize = 64;

/// etcd's server feature gates (3.6 and 3.7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gate {
    StopGrpcServiceOnDefrag,
    InitialCorruptCheck,
    CompactHashCheck,
    TxnModeWriteWithSharedBuffer,
    LeaseCheckpoint,
    LeaseCheckpointPersist,
    SetMemberLocalAddr,
    FastLeaseKeepAlive,
    PriorityRequest,
}

impl Gate {
    /// Every gate, with its name in `--feature-gates` and the 3.5 boolean
    /// flag it replaces, if any.
    pub const ALL: [(Gate, &'static str, Option<&'static str>); 9] = [
        (
            Gate::StopGrpcServiceOnDefrag,
            "StopGRPCServiceOnDefrag",
            Some("experimental-stop-grpc-service-on-defrag"),
        ),
        (
            Gate::InitialCorruptCheck,
            "InitialCorruptCheck",
            Some("experimental-initial-corrupt-check"),
        ),
        (
            Gate::CompactHashCheck,
            "CompactHashCheck",
            Some("experimental-compact-hash-check-enabled"),
        ),
        (
            Gate::TxnModeWriteWithSharedBuffer,
            "TxnModeWriteWithSharedBuffer",
            Some("experimental-txn-mode-write-with-shared-buffer"),
        ),
        (
            Gate::LeaseCheckpoint,
            "LeaseCheckpoint",
            Some("experimental-enable-lease-checkpoint"),
        ),
        (
            Gate::LeaseCheckpointPersist,
            "LeaseCheckpointPersist",
            Some("experimental-enable-lease-checkpoint-persist"),
        ),
        (Gate::SetMemberLocalAddr, "SetMemberLocalAddr", None),
        (Gate::FastLeaseKeepAlive, "FastLeaseKeepAlive", None),
        (Gate::PriorityRequest, "PriorityRequest", None),
    ];

    fn named(name: &str) -> Option<Gate> {
        Gate::ALL
            .iter()
            .find(|(_, n, _)| *n == name)
            .map(|(g, _, _)| *g)
    }
}

/// The feature gates set explicitly (by `--feature-gates` or by a 3.5
/// boolean flag); a gate left unset has etcd's default.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct FeatureGates {
    /// `InitialCorruptCheck`: compare hashes with peers before serving.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_corrupt_check: Option<bool>,
    /// `CompactHashCheck`: the leader checks followers' hashes after compactions.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compact_hash_check: Option<bool>,
    /// `StopGRPCServiceOnDefrag`: health fails while defragmenting.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_grpc_service_on_defrag: Option<bool>,
    /// `TxnModeWriteWithSharedBuffer`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub txn_mode_write_with_shared_buffer: Option<bool>,
    /// `LeaseCheckpoint`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_checkpoint: Option<bool>,
    /// `LeaseCheckpointPersist`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_checkpoint_persist: Option<bool>,
    /// `SetMemberLocalAddr`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub set_member_local_addr: Option<bool>,
    /// `FastLeaseKeepAlive` (3.7).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fast_lease_keep_alive: Option<bool>,
    /// `PriorityRequest` (3.7).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub priority_request: Option<bool>,
    /// Entries that are no gate of etcd 3.6/3.7, or not `Name=bool`, as
    /// written (etcd refuses to start with them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unknown: Vec<String>,
}

impl FeatureGates {
    /// Whether nothing was set.
    pub fn is_empty(&self) -> bool {
        *self == FeatureGates::default()
    }

    /// The gates set, as `--feature-gates` would write them.
    pub fn written(&self) -> String {
        let mut g = self.clone();
        Gate::ALL
            .iter()
            .filter_map(|(gate, name, _)| g.slot(*gate).map(|on| format!("{name}={on}")))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The slot of `gate`.
    pub fn slot(&mut self, gate: Gate) -> &mut Option<bool> {
        match gate {
            Gate::StopGrpcServiceOnDefrag => &mut self.stop_grpc_service_on_defrag,
            Gate::InitialCorruptCheck => &mut self.initial_corrupt_check,
            Gate::CompactHashCheck => &mut self.compact_hash_check,
            Gate::TxnModeWriteWithSharedBuffer => &mut self.txn_mode_write_with_shared_buffer,
            Gate::LeaseCheckpoint => &mut self.lease_checkpoint,
            Gate::LeaseCheckpointPersist => &mut self.lease_checkpoint_persist,
            Gate::SetMemberLocalAddr => &mut self.set_member_local_addr,
            Gate::FastLeaseKeepAlive => &mut self.fast_lease_keep_alive,
            Gate::PriorityRequest => &mut self.priority_request,
        }
    }

    /// `--feature-gates` text: comma-separated `Name=bool`, later entries
    /// over earlier ones (Kubernetes' featuregate `Set`, which etcd uses).
    pub fn parse(text: &str) -> FeatureGates {
        let mut gates = FeatureGates::default();
        for entry in text
            .split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty())
            .take(MAX_GATES)
        {
            let parsed = entry
                .split_once('=')
                .and_then(|(k, v)| Some((Gate::named(k.trim())?, go_bool(v.trim())?)));
            match parsed {
                Some((gate, on)) => *gates.slot(gate) = Some(on),
                None if entry.len() <= 128 => gates.unknown.push(entry.to_string()),
                None => gates
                    .unknown
                    .push(entry.chars().take(128).chain(['…']).collect()),
            }
        }
        gates
    }
}

/// Go's `strconv.ParseBool`.
pub fn go_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
        _ => None,
    }
}

/// Flags under one spelling: the new names, the gates typed, and what was
/// read under an old name.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Canonical {
    /// The flags, old names moved to the new ones (a new name set too wins).
    pub flags: Flags,
    /// The feature gates, from `--feature-gates` and the old boolean flags.
    pub gates: FeatureGates,
    /// The old names in use, as `--name` (etcd 3.7 refuses them).
    pub deprecated: Vec<String>,
    /// Conflicts etcd 3.6 refuses to start with (old and new both set).
    pub conflicts: Vec<String>,
}

/// `flags` under 3.6's names. A boolean flag alone (`--experimental-initial-corrupt-check`)
/// reads as true, as etcd's Go flags do.
pub fn canonical(mut flags: Flags) -> Canonical {
    let mut out = Canonical::default();
    for (old, new) in RENAMED {
        let Some(value) = flags.remove(*old) else {
            continue;
        };
        out.deprecated.push(format!("--{old}"));
        if flags.contains_key(*new) {
            out.conflicts.push(format!(
                "--{old} and --{new} are both set (etcd 3.6 refuses to start)"
            ));
        } else {
            flags.insert(new.to_string(), value);
        }
    }
    out.gates = flags
        .get(FEATURE_GATES)
        .map(|g| FeatureGates::parse(g))
        .unwrap_or_default();
    for (gate, name, old) in Gate::ALL {
        let Some(old) = old else { continue };
        let Some(value) = flags.remove(old) else {
            continue;
        };
        out.deprecated.push(format!("--{old}"));
        let slot = out.gates.slot(gate);
        match (slot.is_some(), go_bool(value.trim())) {
            (true, _) => out.conflicts.push(format!(
                "--{old} and --feature-gates={name} are both set (etcd 3.6 refuses to start)"
            )),
            (false, Some(on)) => *slot = Some(on),
            (false, None) => out
                .conflicts
                .push(format!("--{old}={value} is not a boolean")),
        }
    }
    out.flags = flags;
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discover::tests::flags;
    use proptest::prelude::*;

    #[test]
    fn old_names_move_to_new_ones_and_are_remembered() {
        let c = canonical(flags(&[
            ("experimental-warning-apply-duration", "200ms"),
            ("experimental-initial-corrupt-check", "true"),
            ("experimental-compact-hash-check-enabled", "false"),
            ("snapshot-count", "10000"),
        ]));
        assert_eq!(c.flags["warning-apply-duration"], "200ms");
        assert_eq!(c.flags["snapshot-count"], "10000");
        assert!(!c.flags.contains_key("experimental-warning-apply-duration"));
        assert_eq!(c.gates.initial_corrupt_check, Some(true));
        assert_eq!(c.gates.compact_hash_check, Some(false));
        assert_eq!(c.gates.stop_grpc_service_on_defrag, None);
        assert_eq!(c.deprecated.len(), 3, "{:?}", c.deprecated);
        assert!(c.conflicts.is_empty());
    }

    #[test]
    fn new_names_and_gates_read_alike() {
        let new = canonical(flags(&[
            ("warning-apply-duration", "200ms"),
            (
                "feature-gates",
                "InitialCorruptCheck=true, CompactHashCheck=False",
            ),
        ]));
        let old = canonical(flags(&[
            ("experimental-warning-apply-duration", "200ms"),
            ("experimental-initial-corrupt-check", "true"),
            ("experimental-compact-hash-check-enabled", "F"),
        ]));
        assert_eq!(new.gates, old.gates);
        assert_eq!(
            new.gates.written(),
            "InitialCorruptCheck=true,CompactHashCheck=false"
        );
        assert_eq!(
            new.flags.get("warning-apply-duration"),
            old.flags.get("warning-apply-duration")
        );
        assert!(new.deprecated.is_empty());
    }

    #[test]
    fn both_spellings_are_a_conflict_and_the_new_one_wins() {
        let c = canonical(flags(&[
            ("experimental-corrupt-check-time", "1m"),
            ("corrupt-check-time", "5m"),
            ("experimental-initial-corrupt-check", "false"),
            ("feature-gates", "InitialCorruptCheck=true"),
        ]));
        assert_eq!(c.flags["corrupt-check-time"], "5m");
        assert_eq!(c.gates.initial_corrupt_check, Some(true));
        assert_eq!(c.conflicts.len(), 2, "{:?}", c.conflicts);
    }

    #[test]
    fn unknown_and_malformed_gates_are_kept_as_written() {
        let g = FeatureGates::parse(
            "Nope=true,CompactHashCheck,InitialCorruptCheck=maybe,,PriorityRequest=1",
        );
        assert_eq!(
            g.unknown,
            vec!["Nope=true", "CompactHashCheck", "InitialCorruptCheck=maybe"]
        );
        assert_eq!(g.priority_request, Some(true));
        assert_eq!(g.compact_hash_check, None);
    }

    proptest! {
        #[test]
        fn gate_parsing_is_total_and_bounded(s in "\\PC{0,2000}") {
            let g = FeatureGates::parse(&s);
            prop_assert!(g.unknown.len() <= MAX_GATES);
            prop_assert!(g.unknown.iter().all(|u| u.chars().count() <= 129));
        }
    }
}
