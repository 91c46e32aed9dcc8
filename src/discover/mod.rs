//! Finding the local etcd without flags: from the etcd process itself
//! (its flags, `ETCD_*` environment and `--config-file`, see [`parse`] and
//! [`process`]) or, when no process is visible, from a known layout's
//! files ([`layouts`]: kubeadm, RKE2, k3s, OpenShift, systemd/Debian).
//! What is found (endpoints, TLS file paths, data and WAL dirs, logs,
//! raft and keyspace settings) and from where is a fact of the report
//! ([`Discovery`]), printed as a table ([`render`]); explicit flags always
//! win over it. Key files are named, never read; variables of secret-like
//! names are never kept.

pub mod layouts;
pub mod listen;
pub mod names;
pub mod parse;
pub mod process;
pub mod render;

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use parse::Flags;

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
    #[error("--discover: no etcd process on this host and no known layout ({}); pass --endpoints URL (and --cacert/--cert/--key)", layouts::LAYOUT_NAMES)]
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

/// The local etcd: the one etcd process (or `plan.pid`), else the first
/// known layout; TLS files that are not small regular files are dropped
/// with a note. Two processes, or nothing at all, are errors: a run
/// against a guessed cluster would answer for the wrong one.
pub fn discover(plan: &DiscoverPlan) -> Result<Discovery, DiscoverError> {
    let mut found = match process::pick(&plan.proc, plan.pid, &plan.ports)? {
        Some(c) => process::read(&plan.proc, &c),
        None => layouts::find(&plan.root).ok_or(DiscoverError::NothingFound)?,
    };
    found.vet_tls();
    found.wal_shares_data_device = same_device(found.data_dir.as_deref(), found.wal_dir.as_deref());
    Ok(found)
}

/// Whether two existing paths are on one device.
fn same_device(a: Option<&Path>, b: Option<&Path>) -> Option<bool> {
    use std::os::unix::fs::MetadataExt;
    let dev = |p: &Path| std::fs::metadata(p).ok().map(|m| m.dev());
    Some(dev(a?)? == dev(b?)?)
}

/// What a set of etcd settings says, paths seen through `root` (a
/// container's root for a process in a pod, `/` otherwise).
pub(crate) fn from_settings(source: Source, s: &Flags, root: &Path) -> Discovery {
    let (settings, notes) = settings_of(s);
    let at = |key: &str| {
        s.get(key)
            .filter(|v| !v.is_empty())
            .map(|v| rooted(root, v))
    };
    let endpoints = client_endpoints(s);
    let tls = client_tls(s, root, &endpoints);
    let data_dir = at("data-dir");
    let wal_dir = at("wal-dir").filter(|w| Some(w) != data_dir.as_ref());
    let logs = settings
        .log_outputs
        .iter()
        .filter(|o| o.starts_with('/'))
        .map(|o| LogPlace::File(rooted(root, o)))
        .collect();
    Discovery {
        source,
        pid: None,
        read: Vec::new(),
        endpoints,
        tls,
        data_dir,
        wal_dir,
        wal_shares_data_device: None,
        logs,
        settings,
        notes,
    }
}

/// The settings the rules use, read under old and new flag names (see
/// [`names`]), and notes on old names and conflicts.
pub(crate) fn settings_of(s: &Flags) -> (Settings, Vec<String>) {
    let c = names::canonical(s.clone());
    let f = &c.flags;
    let num = |key: &str| f.get(key).and_then(|v| v.trim().parse::<u64>().ok());
    let ms = |key: &str| f.get(key).and_then(|v| go_duration_ms(v));
    let log_outputs = f
        .get("log-outputs")
        .map(|v| v.split(',').map(str::trim).map(str::to_string).collect())
        .unwrap_or_default();
    let mut notes: Vec<String> = c
        .deprecated
        .iter()
        .map(|old| {
            format!("{old} is an etcd 3.5 name: 3.6 still reads it, 3.7 refuses to start with it")
        })
        .collect();
    notes.extend(c.conflicts.iter().cloned());
    if !c.gates.unknown.is_empty() {
        notes.push(format!(
            "--feature-gates has entries etcd 3.6/3.7 do not know: {}",
            c.gates.unknown.join(", ")
        ));
    }
    let settings = Settings {
        name: f.get("name").cloned(),
        heartbeat_ms: num("heartbeat-interval"),
        election_ms: num("election-timeout"),
        quota_backend_bytes: num("quota-backend-bytes"),
        snapshot_count: num("snapshot-count"),
        auto_compaction_mode: f.get("auto-compaction-mode").cloned(),
        auto_compaction_retention: f.get("auto-compaction-retention").cloned(),
        log_outputs,
        feature_gates: c.gates,
        warning_apply_duration_ms: ms("warning-apply-duration"),
        warning_unary_request_duration_ms: ms("warning-unary-request-duration"),
        corrupt_check_time_ms: ms("corrupt-check-time"),
        compact_hash_check_time_ms: ms("compact-hash-check-time"),
        compaction_batch_limit: num("compaction-batch-limit"),
        watch_progress_notify_interval_ms: ms("watch-progress-notify-interval"),
        max_learners: num("max-learners"),
        deprecated_flags: c.deprecated,
    };
    (settings, notes)
}

/// A Go duration flag (`100ms`, `1m30s`, `0`) in whole ms; the whole value
/// must parse, and a day or more is not a setting of these flags.
fn go_duration_ms(v: &str) -> Option<u64> {
    let v = v.trim();
    if v == "0" {
        return Some(0);
    }
    let (ms, used) = crate::logs::time::parse_go_duration_prefix(v)?;
    (used == v.len() && ms < 86_400_000.0).then(|| ms.round() as u64)
}

/// `path` as seen from here when it is a path inside `root`.
pub(crate) fn rooted(root: &Path, path: &str) -> PathBuf {
    match path.strip_prefix('/') {
        Some(rel) if root != Path::new("/") => root.join(rel),
        _ => PathBuf::from(path),
    }
}

/// Where to dial: `--listen-client-urls` (the process listens there on
/// this host; wildcards become 127.0.0.1), else `--advertise-client-urls`,
/// else etcd's default. Unix sockets are left out.
pub(crate) fn client_endpoints(s: &Flags) -> Vec<String> {
    let list = |key: &str| -> Vec<String> {
        s.get(key)
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|u| !u.is_empty() && !u.starts_with("unix"))
                    .take(64)
                    .map(dialable)
                    .collect()
            })
            .unwrap_or_default()
    };
    let mut urls = list("listen-client-urls");
    if urls.is_empty() {
        urls = list("advertise-client-urls");
    }
    if urls.is_empty() {
        // etcd v3.5.0 server/embed/config.go: DefaultListenClientURLs.
        urls.push("http://localhost:2379".to_string());
    }
    urls.dedup();
    urls
}

/// A listen URL made dialable: `0.0.0.0` and `[::]` become 127.0.0.1.
pub(crate) fn dialable(url: &str) -> String {
    for wild in ["0.0.0.0", "[::]", "[0:0:0:0:0:0:0:0]"] {
        if let Some((scheme, rest)) = url.split_once("://") {
            if let Some(port) = rest.strip_prefix(wild) {
                return format!("{scheme}://127.0.0.1{port}");
            }
        }
    }
    url.to_string()
}

/// The client certificate pair to connect with. etcd verifies a client
/// against `--trusted-ca-file` when `--client-cert-auth` is on, so any
/// pair that CA signed works; in order of preference: a pair made for
/// clients beside the CA (kubeadm's `healthcheck-client`, k3s/RKE2's
/// `client`), etcd's explicit `--client-cert-file`, the peer pair
/// (OpenShift's `ETCDCTL_CERT` is the peer certificate), else the server's
/// own pair (kubeadm, k3s and RKE2 server certificates carry client auth).
pub(crate) fn client_tls(s: &Flags, root: &Path, endpoints: &[String]) -> TlsFiles {
    let at = |key: &str| {
        s.get(key)
            .filter(|v| !v.is_empty())
            .map(|v| rooted(root, v))
    };
    let cacert = at("trusted-ca-file");
    if cacert.is_none() && !endpoints.iter().any(|e| e.starts_with("https")) {
        return TlsFiles::default();
    }
    let beside = cacert.as_deref().and_then(Path::parent).and_then(|dir| {
        [
            ("healthcheck-client", "kubeadm healthcheck-client"),
            ("client", "client pair"),
        ]
        .into_iter()
        .map(|(stem, why)| {
            (
                dir.join(format!("{stem}.crt")),
                dir.join(format!("{stem}.key")),
                why,
            )
        })
        .find(|(c, k, _)| c.is_file() && k.is_file())
    });
    let pairs = [
        (
            at("client-cert-file"),
            at("client-key-file"),
            "--client-cert-file",
        ),
        (at("peer-cert-file"), at("peer-key-file"), "the peer pair"),
        (at("cert-file"), at("key-file"), "the server pair"),
    ];
    let (cert, key, chosen) = match beside {
        Some((c, k, why)) => (Some(c), Some(k), Some(format!("{why} beside the CA"))),
        None => pairs
            .into_iter()
            .find(|(c, k, _)| c.is_some() && k.is_some())
            .map(|(c, k, why)| (c, k, Some(why.to_string())))
            .unwrap_or((None, None, None)),
    };
    TlsFiles {
        cacert,
        cert,
        key,
        chosen,
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

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn flags(pairs: &[(&str, &str)]) -> Flags {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn listen_wildcards_are_dialed_on_loopback() {
        let s = flags(&[(
            "listen-client-urls",
            "https://0.0.0.0:2379,unix://x,https://[::]:2380",
        )]);
        assert_eq!(
            client_endpoints(&s),
            ["https://127.0.0.1:2379", "https://127.0.0.1:2380"]
        );
        assert_eq!(client_endpoints(&Flags::new()), ["http://localhost:2379"]);
        let s = flags(&[("advertise-client-urls", "http://10.0.0.1:2379")]);
        assert_eq!(client_endpoints(&s), ["http://10.0.0.1:2379"]);
    }

    #[test]
    fn settings_and_paths_come_through_a_container_root() {
        let s = flags(&[
            ("data-dir", "/var/lib/etcd"),
            ("wal-dir", "/wal"),
            ("heartbeat-interval", "250"),
            ("election-timeout", "2500"),
            ("quota-backend-bytes", "8589934592"),
            ("snapshot-count", "10000"),
            ("auto-compaction-retention", "1h"),
            ("log-outputs", "stderr,/var/log/etcd.log"),
            ("trusted-ca-file", "/pki/ca.crt"),
            ("cert-file", "/pki/server.crt"),
            ("key-file", "/pki/server.key"),
        ]);
        let d = from_settings(Source::Process, &s, Path::new("/proc/7/root"));
        assert_eq!(d.data_dir, Some(PathBuf::from("/proc/7/root/var/lib/etcd")));
        assert_eq!(d.wal_dir, Some(PathBuf::from("/proc/7/root/wal")));
        assert_eq!(d.settings.heartbeat_ms, Some(250));
        assert_eq!(d.settings.election_ms, Some(2500));
        assert_eq!(d.settings.quota_backend_bytes, Some(8 << 30));
        assert_eq!(d.settings.snapshot_count, Some(10000));
        assert_eq!(
            d.logs,
            [LogPlace::File("/proc/7/root/var/log/etcd.log".into())]
        );
        assert_eq!(
            d.tls.cert,
            Some(PathBuf::from("/proc/7/root/pki/server.crt"))
        );
        assert_eq!(d.tls.chosen.as_deref(), Some("the server pair"));
    }

    #[test]
    fn a_pair_made_for_clients_beside_the_ca_wins() {
        let dir = tempfile::tempdir().unwrap();
        for f in ["ca.crt", "client.crt", "client.key"] {
            std::fs::write(dir.path().join(f), "x").unwrap();
        }
        let ca = dir.path().join("ca.crt");
        let s = flags(&[
            ("trusted-ca-file", ca.to_str().unwrap()),
            ("cert-file", "/s.crt"),
            ("key-file", "/s.key"),
        ]);
        let d = from_settings(Source::K3s, &s, Path::new("/"));
        assert_eq!(d.tls.cert, Some(dir.path().join("client.crt")));
        assert_eq!(d.tls.chosen.as_deref(), Some("client pair beside the CA"));
    }

    #[test]
    fn vetting_refuses_devices_and_missing_files() {
        let mut d = from_settings(Source::Process, &Flags::new(), Path::new("/"));
        d.tls.cacert = Some("/dev/zero".into());
        d.tls.cert = Some("/nonexistent/c.crt".into());
        d.tls.key = Some("/nonexistent/c.key".into());
        d.vet_tls();
        assert_eq!(d.tls, TlsFiles::default());
        assert!(d.notes[0].contains("not a regular file"), "{:?}", d.notes);
    }
}
