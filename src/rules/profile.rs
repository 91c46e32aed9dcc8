//! Profiles: the thresholds rules compare facts with, per deployment class.
//!
//! A profile is a TOML file (`profiles/*.toml`, shipped inside the binary,
//! or any file given to `--profile`). Every section and key is optional: a
//! profile states what it changes and the rest comes from `etcd-default`.
//! Unknown keys, wrong types and inconsistent levels (warn above fail) are
//! errors naming the key, so a typo never silently falls back to a default.

use std::path::Path;

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::bounds::{check_keys, levels, positive, BadKey, Bound};
use super::cluster::ClusterThresholds;
use super::consistency::ConsistencyThresholds;
use super::disk::DiskThresholds;
use super::host::HostThresholds;
use super::keyspace::KeyspaceThresholds;
use super::logs::LogThresholds;
use super::net::NetThresholds;
use super::requests::RequestThresholds;

/// Profiles shipped with etcd-doctor: name and TOML text.
pub const BUILTIN: [(&str, &str); 3] = [
    (
        "etcd-default",
        include_str!("../../profiles/etcd-default.toml"),
    ),
    (
        "kubernetes-large",
        include_str!("../../profiles/kubernetes-large.toml"),
    ),
    ("cloud-essd", include_str!("../../profiles/cloud-essd.toml")),
];

/// The profile used when none is named.
pub const DEFAULT_PROFILE: &str = "etcd-default";

/// The `description` of `profiles/etcd-default.toml`.
const DEFAULT_DESCRIPTION: &str =
    "etcd's own guidance: WAL fdatasync p99 < 10 ms, backend commit p99 < 25 ms";

/// A set of thresholds for every rule.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Profile {
    /// Profile name, shown in reports (the file name when a file leaves it out).
    #[serde(default)]
    pub name: String,
    /// What deployment class the profile is for.
    #[serde(default)]
    pub description: String,
    /// Disk probe thresholds.
    #[serde(default)]
    pub disk: DiskThresholds,
    /// Host context thresholds (CPU steal, IO contention).
    #[serde(default)]
    pub host: HostThresholds,
    /// Network probe thresholds (peer RTT, NIC saturation, errors).
    #[serde(default)]
    pub net: NetThresholds,
    /// Live cluster thresholds (raft lag, fragmentation, quota, metrics).
    #[serde(default)]
    pub cluster: ClusterThresholds,
    /// Keyspace thresholds (hotspots, history, churn, value sizes).
    #[serde(default)]
    pub keyspace: KeyspaceThresholds,
    /// Log thresholds (elections per hour, slow fdatasync lines, ...).
    #[serde(default)]
    pub logs: LogThresholds,
    /// Data consistency, learner and proposal-queue thresholds.
    #[serde(default)]
    pub consistency: ConsistencyThresholds,
    /// Live load run thresholds (`etcd-doctor load`).
    #[serde(default)]
    pub load: LoadThresholds,
    /// Fleet outlier thresholds (`merge`).
    #[serde(default)]
    pub fleet: FleetThresholds,
    /// Expensive-request thresholds (wide reads in the logs, 3.6's range latency).
    #[serde(default)]
    pub requests: RequestThresholds,
}

impl Default for Profile {
    /// etcd's own guidance (the same numbers as `profiles/etcd-default.toml`).
    fn default() -> Self {
        Profile {
            name: DEFAULT_PROFILE.to_string(),
            description: String::new(),
            disk: DiskThresholds::default(),
            host: HostThresholds::default(),
            net: NetThresholds::default(),
            cluster: ClusterThresholds::default(),
            keyspace: KeyspaceThresholds::default(),
            logs: LogThresholds::default(),
            consistency: ConsistencyThresholds::default(),
            load: LoadThresholds::default(),
            fleet: FleetThresholds::default(),
            requests: RequestThresholds::default(),
        }
    }
}

/// Why a profile could not be loaded; each names the profile and the key.
#[derive(Debug, Error)]
pub enum ProfileError {
    /// `--profile NAME` that is neither built in nor an existing file.
    #[error("--profile {name}: no such profile (built in: {known}) and no such file")]
    Unknown {
        /// What was asked for.
        name: String,
        /// The built-in names.
        known: String,
    },
    /// The file exists but cannot be read, is not a regular file or is
    /// larger than [`MAX_PROFILE_BYTES`].
    #[error(transparent)]
    Read(#[from] crate::files::InputError),
    /// TOML syntax error, unknown key or wrong type.
    #[error("profile {origin}: {at}: {message}")]
    Malformed {
        /// Profile name or file.
        origin: String,
        /// Where: ``key `disk.wal_fsync_p99_fail_ms` `` or `line 3` for a
        /// syntax error.
        at: String,
        /// What is wrong with it.
        message: String,
    },
}

/// Largest profile read: the shipped ones are about 4 KiB.
pub const MAX_PROFILE_BYTES: usize = 1 << 20;

/// Top-level keys that are values rather than sections.
const PROFILE_VALUES: [&str; 2] = ["name", "description"];

/// The first section given as a value (`disk = [20.0, 10.0]`), which serde
/// would otherwise map position by position onto the section's keys.
fn non_table_section(text: &str) -> Option<String> {
    let table: toml::Table = text.parse().ok()?;
    table
        .iter()
        .find(|(key, value)| !PROFILE_VALUES.contains(&key.as_str()) && !value.is_table())
        .map(|(key, _)| key.clone())
}

impl Profile {
    /// Takes the local etcd's own `--heartbeat-interval` and
    /// `--election-timeout` (found by discovery) in place of the profile's
    /// assumed ones: the network rules judge RTT against the real
    /// heartbeat, the stall rules against the real heartbeat and half the
    /// real election timeout, the cluster's peer round-trip metric fails at
    /// the real election timeout (`diagnose`, `qualify`, `cluster`, `load`
    /// and `watch` all adopt them). Values etcd itself would refuse (0, or past
    /// its 50 s election limit) are ignored.
    pub fn adopt(&mut self, s: &crate::discover::Settings) {
        let ok = |v: Option<u64>| {
            v.map(|v| v as f64)
                .filter(|&v| v > 0.0 && v <= super::net::MAX_ELECTION_TIMEOUT_MS)
        };
        if let Some(hb) = ok(s.heartbeat_ms) {
            self.net.heartbeat_interval_ms = hb;
            self.disk.stall_warn_ms = hb;
        }
        if let Some(election) = ok(s.election_ms) {
            self.disk.stall_fail_ms = (election / 2.0).max(self.disk.stall_warn_ms);
            // A peer round trip as long as the election timeout starts
            // elections: the fail level is etcd's default timeout only
            // because that is what most run with.
            self.cluster.peer_rtt_p99_fail_ms = election.max(self.cluster.peer_rtt_p99_warn_ms);
        }
    }

    /// Loads `--profile NAME|FILE`: a built-in name, else a TOML file.
    pub fn load(name_or_path: &str) -> Result<Profile, ProfileError> {
        if name_or_path == DEFAULT_PROFILE {
            // Its numbers are `Profile::default()`'s (a test holds the file
            // to them): parsing the 300-line TOML was 7 % of the CPU of a
            // short `cluster` command (perf), paid by every command.
            return Ok(Profile {
                description: DEFAULT_DESCRIPTION.to_string(),
                ..Profile::default()
            });
        }
        if let Some((_, text)) = BUILTIN.iter().find(|(n, _)| *n == name_or_path) {
            return Profile::parse(text, name_or_path);
        }
        let path = Path::new(name_or_path);
        if !path.exists() {
            return Err(ProfileError::Unknown {
                name: name_or_path.to_string(),
                known: BUILTIN.map(|(n, _)| n).join(", "),
            });
        }
        let text = crate::files::read_input_text("--profile", path, MAX_PROFILE_BYTES as u64)?;
        Profile::parse(&text, &path.display().to_string())
    }

    /// Parses and validates profile TOML; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Profile, ProfileError> {
        let malformed = |at: String, message: &str| ProfileError::Malformed {
            origin: origin.to_string(),
            at,
            message: message.trim().replace('\n', " "),
        };
        if text.len() > MAX_PROFILE_BYTES {
            let message = format!("larger than {MAX_PROFILE_BYTES} bytes");
            return Err(malformed("file".into(), &message));
        }
        if let Some(key) = non_table_section(text) {
            let message = format!("must be a table ([{key}]), not a value");
            return Err(malformed(format!("key `{key}`"), &message));
        }
        let de = toml::Deserializer::new(text);
        let profile: Profile = serde_path_to_error::deserialize(de).map_err(|e| {
            let key = e.path().to_string();
            let inner = e.into_inner();
            let at = match inner.span() {
                Some(span) if key == "." => {
                    format!("line {}", text[..span.start].matches('\n').count() + 1)
                }
                _ => format!("key `{key}`"),
            };
            malformed(at, inner.message())
        })?;
        let profile = Profile {
            name: if profile.name.is_empty() {
                origin.to_string()
            } else {
                profile.name
            },
            ..profile
        };
        profile
            .validate()
            .map_err(|b| malformed(format!("key `{}`", b.key), &b.message))?;
        Ok(profile)
    }

    /// Checks every section's values.
    pub fn validate(&self) -> Result<(), BadKey> {
        self.disk.validate()?;
        self.host.validate()?;
        self.net.validate()?;
        self.cluster.validate()?;
        self.keyspace.validate()?;
        self.logs.validate()?;
        self.consistency.validate()?;
        self.load.validate()?;
        self.requests.validate()?;
        self.fleet.validate()
    }
}

// The thresholds of the two rule sets that read several sections of a
// profile (the load rules read the cluster's, the fleet rules the disk's
// and the network's) live here, beside the profile those rules take.
/// Thresholds of the load rules (the profile's `[load]` section).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LoadThresholds {
    /// Request latency p99 (from the scheduled send) that warns, ms.
    /// etcd-doctor's choice: a write waits for a quorum's WAL fdatasync
    /// (p99 < 10 ms, etcd docs), a peer round trip and a backend commit
    /// (p99 < 25 ms, etcd docs); 50 ms leaves room for both.
    pub request_p99_warn_ms: f64,
    /// Request latency p99 that fails, ms: `check perf`'s bound for the
    /// slowest request (500 ms), applied to the 99th percentile.
    pub request_p99_fail_ms: f64,
    /// How late the generator may wake for a scheduled send (p99) before
    /// it counts as behind its schedule, ms. etcd-doctor's choice: 10 ms,
    /// ten timer ticks, is beyond scheduling jitter.
    pub generator_late_p99_warn_ms: f64,
}

impl Default for LoadThresholds {
    fn default() -> Self {
        LoadThresholds {
            request_p99_warn_ms: 50.0,
            request_p99_fail_ms: 500.0,
            generator_late_p99_warn_ms: 10.0,
        }
    }
}

impl LoadThresholds {
    /// Checks the values of a profile's `[load]` section.
    pub fn validate(&self) -> Result<(), BadKey> {
        levels(
            "load",
            ("request_p99_warn_ms", self.request_p99_warn_ms),
            ("request_p99_fail_ms", self.request_p99_fail_ms),
        )?;
        positive(
            "load",
            "generator_late_p99_warn_ms",
            self.generator_late_p99_warn_ms,
        )
    }
}

/// Thresholds of the fleet rules (`[fleet]` in a profile).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FleetThresholds {
    /// A host's (or path's) p99 over the fleet median above which it is an
    /// outlier. 3: well past the run-to-run spread of one healthy disk's
    /// or link's p99 (under 2x between our own repeated qualify runs), and
    /// the "3x the median" rule of thumb of fleet latency monitoring.
    pub outlier_ratio: f64,
    /// Fewest hosts (disk) or paths (net) a median is taken over before
    /// outliers are judged. 3: with two, neither is "the odd one out".
    pub min_members: u64,
    /// Faster over slower direction of a path's throughput from which it
    /// is called asymmetric. 2: a duplex mismatch or a one-sided shaper
    /// halves one direction; TCP noise does not.
    pub asymmetry_ratio: f64,
    /// Fleet median throughput over a path's (its slower direction) above
    /// which the path is an outlier. 10: healthy paths of one fleet carry
    /// rates within 2-3x of each other in our runs (veths on a shared,
    /// loaded 2-core box), while a link negotiated down or policed carries
    /// a hundredth (10 Mbit/s beside 1-10 Gbit/s).
    pub throughput_outlier_ratio: f64,
}

impl Default for FleetThresholds {
    fn default() -> Self {
        FleetThresholds {
            outlier_ratio: 3.0,
            min_members: 3,
            asymmetry_ratio: 2.0,
            throughput_outlier_ratio: 10.0,
        }
    }
}

impl FleetThresholds {
    /// Checks the values.
    pub fn validate(&self) -> Result<(), BadKey> {
        check_keys(
            "fleet",
            &[
                ("outlier_ratio", self.outlier_ratio, Bound::AtMost(1000.0)),
                ("min_members", self.min_members as f64, Bound::AtMost(1e6)),
                (
                    "asymmetry_ratio",
                    self.asymmetry_ratio,
                    Bound::AtMost(1000.0),
                ),
                (
                    "throughput_outlier_ratio",
                    self.throughput_outlier_ratio,
                    Bound::AtMost(1e6),
                ),
            ],
        )
    }
}

#[cfg(test)]
mod tests {
    use crate::discover::Settings;

    #[test]
    fn the_running_etcds_heartbeat_and_election_replace_the_profiles() {
        let mut p = Profile::default();
        p.adopt(&Settings {
            heartbeat_ms: Some(500),
            election_ms: Some(5000),
            ..Settings::default()
        });
        assert_eq!(p.net.heartbeat_interval_ms, 500.0);
        assert_eq!(p.disk.stall_warn_ms, 500.0);
        assert_eq!(p.disk.stall_fail_ms, 2500.0);
        assert_eq!(p.cluster.peer_rtt_p99_fail_ms, 5000.0);
        // Nothing found, or values etcd refuses: the profile's own stay.
        let mut p = Profile::default();
        p.adopt(&Settings {
            heartbeat_ms: Some(0),
            election_ms: Some(600_000),
            ..Settings::default()
        });
        assert_eq!(p, Profile::default());
    }

    use super::*;

    #[test]
    fn builtin_profiles_load_and_default_matches_etcd_default() {
        for (name, _) in BUILTIN {
            let p = Profile::load(name).unwrap();
            assert_eq!(p.name, name);
            assert!(!p.description.is_empty(), "{name} has no description");
        }
        // `load` gives the default profile without parsing its file: the
        // file must say the same, description and all.
        let (name, text) = BUILTIN[0];
        assert_eq!(name, DEFAULT_PROFILE);
        let file = Profile::parse(text, name).unwrap();
        assert_eq!(file, Profile::load(DEFAULT_PROFILE).unwrap());
        assert_eq!(file.description, DEFAULT_DESCRIPTION);
        assert_eq!(
            Profile {
                description: String::new(),
                ..file
            },
            Profile::default()
        );
    }

    #[test]
    fn a_profile_states_only_what_it_changes() {
        let p =
            Profile::parse("name = \"x\"\n[disk]\nwal_fsync_p99_fail_ms = 30.0\n", "x").unwrap();
        assert_eq!(p.disk.wal_fsync_p99_fail_ms, 30.0);
        assert_eq!(p.host, HostThresholds::default());
    }

    #[test]
    fn unknown_keys_and_bad_values_name_the_key() {
        let err = |text: &str| Profile::parse(text, "t.toml").unwrap_err().to_string();
        let e = err("name = \"x\"\n[disk]\nwal_fsync_p99_fial_ms = 3.0\n");
        assert!(
            e.contains("disk") && e.contains("wal_fsync_p99_fial_ms"),
            "{e}"
        );
        let e = err("name = \"x\"\n[disk]\nwal_fsync_p99_fail_ms = \"fast\"\n");
        assert!(e.contains("`disk.wal_fsync_p99_fail_ms`"), "{e}");
        let e = err("name = \"x\"\n[disk]\nwal_fsync_p99_warn_ms = 20.0\n");
        assert!(e.contains("`disk.wal_fsync_p99_warn_ms`"), "{e}");
        let e = err("name = \"x\"\n[host]\ncpu_steal_warn_pct = -1.0\n");
        assert!(e.contains("`host.cpu_steal_warn_pct`"), "{e}");
        let e = err("name = \"x\"\n[disk\n");
        assert!(e.starts_with("profile t.toml: line 2: "), "{e}");
        assert!(!e.contains('\n'), "one line: {e}");
    }

    #[test]
    fn unknown_names_list_the_builtin_ones() {
        let e = Profile::load("no-such-profile").unwrap_err().to_string();
        assert!(e.contains("--profile no-such-profile"), "{e}");
        assert!(
            e.contains("etcd-default, kubernetes-large, cloud-essd"),
            "{e}"
        );
    }

    #[test]
    fn sections_must_be_tables_and_thresholds_able_to_fire() {
        let err = |text: &str| Profile::parse(text, "t.toml").unwrap_err().to_string();
        let cases = [
            ("disk = [20.0, 10.0]\n", "`disk`"),
            ("net = 3\n", "`net`"),
            (
                "[net]\nrtt_warn_heartbeat_ratio = 1.5\n",
                "`net.rtt_warn_heartbeat_ratio`",
            ),
            (
                "[net]\nnic_saturated_ratio = 3.0\n",
                "`net.nic_saturated_ratio`",
            ),
            (
                "[net]\nheartbeat_interval_ms = 1e9\n",
                "`net.heartbeat_interval_ms`",
            ),
            ("[net]\ndrop_ratio = nan\n", "`net.drop_ratio`"),
            ("[net]\nretransmit_ratio = -0.1\n", "`net.retransmit_ratio`"),
            (
                "[host]\ncpu_steal_fail_pct = 1000.0\n",
                "`host.cpu_steal_fail_pct`",
            ),
            (
                "[host]\ndevice_util_warn_pct = inf\n",
                "`host.device_util_warn_pct`",
            ),
            (
                "[cluster]\ndb_quota_used_fail_ratio = 2.0\n",
                "`cluster.db_quota_used_fail_ratio`",
            ),
            (
                "[cluster]\nraft_lag_warn_entries = -5\n",
                "`cluster.raft_lag_warn_entries`",
            ),
        ];
        for (text, key) in cases {
            let e = err(text);
            assert!(e.contains(key), "{text:?}: {e}");
            assert!(!e.contains('\n'), "one line: {e}");
        }
        let big = format!("description = \"{}\"\n", "x".repeat(MAX_PROFILE_BYTES));
        assert!(err(&big).contains("larger than"));
    }

    #[test]
    fn deep_toml_is_refused_fast() {
        let started = std::time::Instant::now();
        let deep = format!(
            "description = {}{}\n",
            "[".repeat(100_000),
            "]".repeat(100_000)
        );
        assert!(Profile::parse(&deep, "t.toml").is_err());
        assert!(started.elapsed() < std::time::Duration::from_secs(2));
    }

    proptest::proptest! {
        #[test]
        fn any_profile_text_is_an_error_or_valid(s in "(\\[(disk|net|host|cluster)\\]\n|[a-z_]{1,30} = (-?[0-9.e]{1,8}|nan|inf|\\[[0-9., ]{0,10}\\]|\"[a-z]{0,5}\")\n){0,12}") {
            if let Ok(p) = Profile::parse(&s, "p.toml") {
                proptest::prop_assert!(p.validate().is_ok());
            }
        }

        #[test]
        fn arbitrary_text_never_panics(s in "\\PC{0,200}") {
            let _ = Profile::parse(&s, "p.toml");
        }
    }
}
