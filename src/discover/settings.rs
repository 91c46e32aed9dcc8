//! From etcd's flags to what discovery reports: settings under old and
//! new names, endpoints made dialable, the client TLS pair, paths seen
//! through a container's root.

use std::path::{Path, PathBuf};

use super::model::{Discovery, LogPlace, Settings, Source, TlsFiles};
use super::names;
use super::parse::Flags;

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
pub(crate) fn go_duration_ms(v: &str) -> Option<u64> {
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
