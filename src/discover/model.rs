//! What discovery finds and how it is asked: the report's `discovery`
//! types, the plan, the error, and the TLS file check. A leaf of the
//! folder: the readers (`process`, `layouts`, `settings`) fill these types.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::names;

/// The layouts in the order they are tried, for messages.
pub const LAYOUT_NAMES: &str = "kubeadm, rke2, k3s, openshift, systemd";

/// Largest TLS file accepted from discovery (a CA bundle of a large
/// OpenShift cluster is well under this).
pub const MAX_TLS_FILE_BYTES: u64 = 1 << 20;

/// How the local etcd was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Source {
    /// A running etcd process (flags, environment, config file).
    Process,
    /// A running k3s server whose etcd is embedded (its config file).
    K3sProcess,
    /// kubeadm's static pod manifest.
    Kubeadm,
    /// RKE2's etcd config file.
    Rke2,
    /// k3s's embedded etcd config file.
    K3s,
    /// OpenShift's etcd static pod resources.
    Openshift,
    /// A systemd etcd configured by an environment file or YAML.
    Systemd,
}

impl Source {
    /// The name in the table and the JSON.
    pub fn name(self) -> &'static str {
        match self {
            Source::Process => "process",
            Source::K3sProcess => "k3s process",
            Source::Kubeadm => "kubeadm",
            Source::Rke2 => "rke2",
            Source::K3s => "k3s",
            Source::Openshift => "openshift",
            Source::Systemd => "systemd",
        }
    }
}

/// The client TLS files to connect with (paths only).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct TlsFiles {
    /// CA that verifies the server (`--trusted-ca-file`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cacert: Option<PathBuf>,
    /// Client certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert: Option<PathBuf>,
    /// Its key (the path; the content is never read by discovery).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<PathBuf>,
    /// Which pair was chosen and why, e.g. `healthcheck-client beside the CA`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub chosen: Option<String>,
}

/// Where etcd's logs are.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case", tag = "kind", content = "at")]
pub enum LogPlace {
    /// A file (a `--log-outputs` path, or where stdout/stderr point).
    File(PathBuf),
    /// The journald unit owning the process.
    Journal(String),
}

/// Settings that feed the rules (etcd's defaults when not set are left
/// out: the rules then use the profile's).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Settings {
    /// `--name`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// `--heartbeat-interval`, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heartbeat_ms: Option<u64>,
    /// `--election-timeout`, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub election_ms: Option<u64>,
    /// `--quota-backend-bytes`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota_backend_bytes: Option<u64>,
    /// `--snapshot-count`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snapshot_count: Option<u64>,
    /// `--auto-compaction-mode` (periodic, revision).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_compaction_mode: Option<String>,
    /// `--auto-compaction-retention` as written (`1h`, `1000`, `0`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_compaction_retention: Option<String>,
    /// `--log-outputs`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub log_outputs: Vec<String>,
    /// Feature gates set (`--feature-gates`, or 3.5's boolean
    /// `--experimental-*` flags they replace).
    #[serde(default, skip_serializing_if = "names::FeatureGates::is_empty")]
    pub feature_gates: names::FeatureGates,
    /// `--warning-apply-duration` (3.5: `--experimental-warning-apply-duration`), ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warning_apply_duration_ms: Option<u64>,
    /// `--warning-unary-request-duration`, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warning_unary_request_duration_ms: Option<u64>,
    /// `--corrupt-check-time` (3.5: `--experimental-corrupt-check-time`), ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub corrupt_check_time_ms: Option<u64>,
    /// `--compact-hash-check-time`, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compact_hash_check_time_ms: Option<u64>,
    /// `--compaction-batch-limit`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub compaction_batch_limit: Option<u64>,
    /// `--watch-progress-notify-interval`, ms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub watch_progress_notify_interval_ms: Option<u64>,
    /// `--max-learners`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_learners: Option<u64>,
    /// Old `--experimental-*` names in use: etcd 3.6 reads them with a
    /// warning, 3.7 refuses to start with them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub deprecated_flags: Vec<String>,
}

/// What discovery found and from where: the report's `discovery`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Discovery {
    /// How it was found.
    pub source: Source,
    /// The process, when one was read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
    /// The inputs read, e.g. `/proc/42/cmdline`, `/etc/default/etcd`.
    pub read: Vec<String>,
    /// Client URLs to dial (wildcard listen addresses as 127.0.0.1).
    pub endpoints: Vec<String>,
    /// Client TLS files.
    pub tls: TlsFiles,
    /// `--data-dir`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_dir: Option<PathBuf>,
    /// `--wal-dir`, when set apart from the data dir.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wal_dir: Option<PathBuf>,
    /// Whether `wal_dir` and `data_dir` are on one device (same `st_dev`),
    /// when both are set and exist here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wal_shares_data_device: Option<bool>,
    /// Where the logs are.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub logs: Vec<LogPlace>,
    /// Settings the rules use.
    pub settings: Settings,
    /// What could not be read, e.g. an environment without root.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
}

/// Why discovery could not name one etcd.
#[derive(Debug, Error)]
pub enum DiscoverError {
    /// More than one etcd process.
    #[error("--discover: {} etcd processes on this host ({}); pass --discover-pid PID or --endpoints URL", .0.len(), .0.join(", "))]
    Ambiguous(Vec<String>),
    /// Nothing found.
    #[error("--discover: no etcd process on this host and no known layout ({}); pass --endpoints URL (and --cacert/--cert/--key)", LAYOUT_NAMES)]
    NothingFound,
    /// `--discover-pid` is not an etcd process.
    #[error("--discover-pid {pid}: {why}")]
    Pid { pid: u32, why: String },
}

/// How to look for the local etcd.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiscoverPlan {
    /// The /proc to scan (`/proc`).
    pub proc: PathBuf,
    /// The root the known layouts are read under (`/`).
    pub root: PathBuf,
    /// `--discover-pid`: this process, when several run etcd.
    pub pid: Option<u32>,
    /// Client ports asked for (`--endpoints` with `--discover`): the etcd
    /// listening there is the one, among several.
    pub ports: Vec<u16>,
}

impl Default for DiscoverPlan {
    fn default() -> Self {
        DiscoverPlan {
            proc: PathBuf::from("/proc"),
            root: PathBuf::from("/"),
            pid: None,
            ports: Vec::new(),
        }
    }
}

/// Refuses a discovered TLS file that is not a regular file under
/// [`MAX_TLS_FILE_BYTES`] (a device or FIFO would hang the reader).
pub fn check_tls_file(path: &Path) -> Result<(), String> {
    match std::fs::metadata(path) {
        Ok(m) if !m.is_file() => Err(format!("{} is not a regular file", path.display())),
        Ok(m) if m.len() > MAX_TLS_FILE_BYTES => Err(format!(
            "{} is larger than {MAX_TLS_FILE_BYTES} bytes, not a certificate",
            path.display()
        )),
        Ok(_) => Ok(()),
        Err(e) => Err(format!("{}: {e}", path.display())),
    }
}

impl Discovery {
    /// A discovery of `source` that found nothing yet.
    pub fn empty(source: Source) -> Discovery {
        Discovery {
            source,
            pid: None,
            read: Vec::new(),
            endpoints: Vec::new(),
            tls: TlsFiles::default(),
            data_dir: None,
            wal_dir: None,
            wal_shares_data_device: None,
            logs: Vec::new(),
            settings: Settings::default(),
            notes: Vec::new(),
        }
    }

    /// Drops discovered TLS files that fail [`check_tls_file`], with a note each.
    pub fn vet_tls(&mut self) {
        for slot in [&mut self.tls.cacert, &mut self.tls.cert, &mut self.tls.key] {
            if let Some(p) = slot.as_deref() {
                if let Err(why) = check_tls_file(p) {
                    self.notes.push(format!("TLS file refused: {why}"));
                    *slot = None;
                }
            }
        }
        if self.tls.cert.is_none() != self.tls.key.is_none() {
            self.tls.cert = None;
            self.tls.key = None;
        }
    }
}
