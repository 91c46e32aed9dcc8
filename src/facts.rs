//! The collected facts of one command and what the rules made of them:
//! [`Report`], the JSON contract. Probes and collectors fill it, rules
//! read it (and add findings), renderers print it; it depends on the
//! facts' own types and the findings only.

use serde::{Deserialize, Serialize};

use crate::cluster::ClusterReport;
use crate::findings::{Finding, FindingId, Verdict};
use crate::host::HostFacts;
use crate::keyspace::KeyspaceReport;
use crate::load::result::LoadResult;
use crate::probe::disk::DiskResult;
use crate::probe::net::NetResult;

/// Version of the JSON report schema; bumped on incompatible changes.
/// 2: a report may hold several runs of a probe (`run`, from `--repeat`),
/// net rtt results carry a timeline, timeline points p90 and p99.9.
/// `compare` still reads 1.
pub const SCHEMA_VERSION: u32 = 2;

/// Everything one command produced. Sections a command did not fill stay
/// empty and are left out of every format.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Report {
    /// JSON schema version ([`SCHEMA_VERSION`]).
    pub schema_version: u32,
    /// etcd-doctor version that wrote the report.
    pub tool_version: String,
    /// The subcommand that produced the report, e.g. `disk`.
    pub command: String,
    /// Facts about the host the command ran on.
    pub host: HostFacts,
    /// Disk probe results.
    #[serde(default)]
    pub disk: Vec<DiskResult>,
    /// Network probe results.
    #[serde(default)]
    pub net: Vec<NetResult>,
    /// What the live cluster reported.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<ClusterReport>,
    /// What fills the database, by key prefix (`snapshot analyze`, `cluster keyspace`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keyspace: Option<KeyspaceReport>,
    /// The local etcd as discovery found it (`--discover`, the default
    /// without connection flags): source, endpoints, TLS file paths, data
    /// and WAL dirs, logs, settings.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discovery: Option<crate::discover::Discovery>,
    /// What etcd's own logs said (`logs`, `diagnose`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logs: Option<crate::logs::LogsReport>,
    /// What a load run measured (`etcd-doctor load`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load: Option<LoadResult>,
    /// The profile the rules used, when rules ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// Every rule that had its facts and was checked (found or not).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules_checked: Vec<FindingId>,
    /// Rule findings, most severe first.
    #[serde(default)]
    pub findings: Vec<Finding>,
    /// Overall verdict.
    pub verdict: Verdict,
}

impl Report {
    /// An empty report for `command`, stamped with this tool's version and
    /// this host's facts.
    pub fn new(command: &str, host: HostFacts) -> Report {
        Report {
            schema_version: SCHEMA_VERSION,
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
            command: command.to_string(),
            host,
            disk: Vec::new(),
            net: Vec::new(),
            cluster: None,
            keyspace: None,
            discovery: None,
            logs: None,
            load: None,
            profile: None,
            rules_checked: Vec::new(),
            findings: Vec::new(),
            verdict: Verdict::Pass,
        }
    }
}
