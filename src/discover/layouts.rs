//! Known layouts, for a host where the etcd process is not visible (another
//! PID namespace, not yet started, not root): each layout's files at the
//! paths its project writes them, read under a root (`/` in use; a temp
//! root in tests). The first layout whose files exist wins; the others
//! found are noted. Every path below is cited from the project's source.

use std::path::{Path, PathBuf};

use super::model::{Discovery, LogPlace, Settings, Source, TlsFiles};
use super::parse::{self, Flags};
use super::read::{read_bounded, read_config, K3S_DATA_DIR, POD_LOGS};
use super::settings::{from_settings, settings_of};
use crate::cluster::kubeadm;
use crate::logs::source::etcd_pod_logs;

/// RKE2's data dir: rke2 `pkg/cli/cmds/server.go` line 19
/// (`rke2Path = "/var/lib/rancher/rke2"`).
pub const RKE2_DATA_DIR: &str = "/var/lib/rancher/rke2";

/// Where etcd's config file sits under a k3s/RKE2 data dir: k3s
/// `pkg/etcd/etcd.go` (`DBDir`: `<data>/server/db/etcd`; the server data
/// dir is `<data>/server`) and `pkg/daemons/executor/executor.go`
/// (`ToConfigFile`: `filepath.Join(e.DataDir, "config")`). RKE2 runs etcd
/// as a static pod with `--config-file=` that file (rke2
/// `pkg/executor/staticpod/staticpod.go` line 419).
const ETCD_CONFIG_UNDER_DATA: &str = "server/db/etcd/config";

/// The client pair k3s and RKE2 make for etcd clients: k3s
/// `pkg/daemons/control/server.go` (`runtime.ClientETCDCert =
/// <data>/tls/etcd/client.crt`, `ClientETCDKey`, `ETCDServerCA =
/// server-ca.crt`), found beside the CA by [`super::settings::client_tls`].
const K3S_TLS_DIR: &str = "server/tls/etcd";

/// OpenShift's etcd static pod, cluster-etcd-operator
/// `bindata/etcd/pod.gotpl.yaml`: host `/etc/kubernetes/static-pod-resources/etcd-certs`
/// is the pod's `/etc/kubernetes/static-pod-certs` (line 407), data at
/// `/var/lib/etcd` (lines 152, 410), clients on `https://<listen>:2379`
/// (line 184). The CA is `configmaps/etcd-all-bundles/server-ca-bundle.crt`
/// (line 177) and etcdctl's pair the peer pair
/// `secrets/etcd-all-certs/etcd-peer-<node>.crt` (`pkg/etcdenvvar/etcd_env.go`
/// line 131 and its test, `ETCDCTL_CERT`).
const OPENSHIFT_CERTS: &str = "etc/kubernetes/static-pod-resources/etcd-certs";

/// Debian's etcd-server package (3.4, as installed here):
/// `/lib/systemd/system/etcd.service` has `Environment=ETCD_DATA_DIR=/var/lib/etcd/default`,
/// `EnvironmentFile=-/etc/default/%p` and `ExecStart=/usr/bin/etcd $DAEMON_ARGS`.
const DEBIAN_DEFAULT: &str = "etc/default/etcd";
const DEBIAN_DATA_DIR: &str = "/var/lib/etcd/default";

/// Common hand-made systemd layouts. UNVERIFIED against a package's source
/// (Fedora/RHEL's etcd package is said to use `/etc/etcd/etcd.conf` as an
/// `EnvironmentFile`; `etcd.conf.yml` follows etcd's own
/// `etcd.conf.yml.sample`): read only when present, and the table says
/// which file was read.
const ETC_ETCD_ENV: &str = "etc/etcd/etcd.conf";
const ETC_ETCD_YAML: &str = "etc/etcd/etcd.conf.yml";

/// Largest environment file read.
const MAX_ENV_FILE: u64 = 256 * 1024;

/// The first known layout found under `root`, with notes naming the
/// others that were also present.
pub fn find(root: &Path) -> Option<Discovery> {
    let tries: [fn(&Path) -> Option<Discovery>; 5] =
        [kubeadm_layout, rke2, k3s, openshift, systemd];
    let mut found: Vec<Discovery> = tries.iter().filter_map(|f| f(root)).collect();
    if found.is_empty() {
        return None;
    }
    let mut first = found.remove(0);
    for other in &found {
        first.notes.push(format!(
            "the {} layout is here too ({}); pass --endpoints to use it",
            other.source.name(),
            other.read.join(", ")
        ));
    }
    Some(first)
}

fn under(root: &Path, rel: &str) -> PathBuf {
    root.join(rel.trim_start_matches('/'))
}

/// kubeadm: the static pod manifest (see [`kubeadm::discover`]) and its
/// pod logs, when the manifest is there.
fn kubeadm_layout(root: &Path) -> Option<Discovery> {
    let manifest = under(root, kubeadm::DEFAULT_MANIFEST);
    if !manifest.is_file() {
        return None;
    }
    Some(kubeadm_manifest(&manifest, root).unwrap_or_else(|e| {
        let mut d = empty(Source::Kubeadm, &manifest);
        d.notes.push(e.to_string());
        d
    }))
}

/// What kubeadm's manifest says (`--kubeadm`, `--manifest`): endpoints,
/// TLS (kubeadm's own choice of pair), data dir, and the static pod's logs
/// under `root`'s /var/log/pods.
pub fn kubeadm_manifest(manifest: &Path, root: &Path) -> Result<Discovery, kubeadm::KubeadmError> {
    let k = kubeadm::discover(manifest)?;
    let mut d = empty(Source::Kubeadm, manifest);
    let at = |p: Option<PathBuf>| p.map(|p| under(root, &p.to_string_lossy()));
    d.endpoints = k.client_urls;
    d.data_dir = at(k.data_dir);
    d.tls = TlsFiles {
        cacert: at(k.cacert),
        cert: at(k.cert),
        key: at(k.key),
        chosen: Some("kubeadm: healthcheck-client, else peer, else server pair".to_string()),
    };
    let pods = under(root, POD_LOGS);
    match crate::logs::source::kubeadm_pod_logs(manifest, &pods) {
        Ok(files) => d.logs = files.into_iter().map(LogPlace::File).collect(),
        Err(e) => d.notes.push(e.to_string()),
    }
    let (settings, notes) = settings_of(&parse::parse_argv(&k.argv));
    d.settings = Settings {
        name: k.name,
        ..settings
    };
    d.notes.extend(notes);
    Ok(d)
}

/// RKE2: etcd's config file under its data dir; logs of the etcd static pod.
fn rke2(root: &Path) -> Option<Discovery> {
    let mut d = config_layout(Source::Rke2, root, RKE2_DATA_DIR)?;
    d.logs.extend(pod_logs(root, "kube-system_etcd-"));
    Some(d)
}

/// k3s: etcd's config file under its data dir; etcd logs into the k3s
/// server's journal (k3s `install.sh`: `SYSTEM_NAME=k3s` for a server).
fn k3s(root: &Path) -> Option<Discovery> {
    let mut d = config_layout(Source::K3s, root, K3S_DATA_DIR)?;
    if d.logs.is_empty() {
        d.logs.push(LogPlace::Journal("k3s.service".to_string()));
    }
    Some(d)
}

/// A k3s-style layout: the config file the project writes for etcd.
fn config_layout(source: Source, root: &Path, data: &str) -> Option<Discovery> {
    let file = under(root, &format!("{data}/{ETCD_CONFIG_UNDER_DATA}"));
    if !file.is_file() {
        return None;
    }
    let settings = read_config(&file);
    let mut d = match &settings {
        Ok(s) => from_settings(source, s, root),
        Err(_) => empty(source, &file),
    };
    d.read = vec![file.display().to_string()];
    if let Err(why) = settings {
        d.notes.push(format!("{}: {why}", file.display()));
        d.tls.cacert = Some(under(root, &format!("{data}/{K3S_TLS_DIR}/server-ca.crt")));
        d.tls.cert = Some(under(root, &format!("{data}/{K3S_TLS_DIR}/client.crt")));
        d.tls.key = Some(under(root, &format!("{data}/{K3S_TLS_DIR}/client.key")));
    }
    Some(d)
}

/// OpenShift: the static pod's certificate directory on the host.
fn openshift(root: &Path) -> Option<Discovery> {
    let certs = under(root, OPENSHIFT_CERTS);
    if !certs.is_dir() {
        return None;
    }
    let mut d = empty(Source::Openshift, &certs);
    d.endpoints = vec!["https://127.0.0.1:2379".to_string()];
    d.data_dir = Some(under(root, "/var/lib/etcd"));
    let ca = certs.join("configmaps/etcd-all-bundles/server-ca-bundle.crt");
    let peer = std::fs::read_dir(certs.join("secrets/etcd-all-certs"))
        .into_iter()
        .flatten()
        .take(4096)
        .filter_map(Result::ok)
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("etcd-peer-") && n.ends_with(".crt"))
        });
    d.tls = TlsFiles {
        cacert: Some(ca),
        key: peer.as_ref().map(|p| p.with_extension("key")),
        cert: peer,
        chosen: Some("the peer pair (OpenShift's ETCDCTL_CERT)".to_string()),
    };
    d.logs = pod_logs(root, "openshift-etcd_etcd-");
    Some(d)
}

/// systemd: Debian's /etc/default/etcd, or /etc/etcd/etcd.conf(.yml).
fn systemd(root: &Path) -> Option<Discovery> {
    let yaml = under(root, ETC_ETCD_YAML);
    if yaml.is_file() {
        let mut d = match read_config(&yaml) {
            Ok(s) => from_settings(Source::Systemd, &s, root),
            Err(why) => {
                let mut d = empty(Source::Systemd, &yaml);
                d.notes.push(format!("{}: {why}", yaml.display()));
                d
            }
        };
        d.read = vec![yaml.display().to_string()];
        d.logs.push(LogPlace::Journal("etcd.service".to_string()));
        return Some(d);
    }
    let (file, debian) = [(DEBIAN_DEFAULT, true), (ETC_ETCD_ENV, false)]
        .into_iter()
        .map(|(f, debian)| (under(root, f), debian))
        .find(|(f, _)| f.is_file())?;
    let raw = read_bounded(&file, MAX_ENV_FILE).ok()?;
    let (env, daemon_args) = parse::parse_env_file(&String::from_utf8_lossy(&raw));
    let mut settings = Flags::new();
    if debian {
        settings.insert("data-dir".to_string(), DEBIAN_DATA_DIR.to_string());
    }
    settings.extend(env);
    if let Some(args) = daemon_args {
        let argv: Vec<String> = std::iter::once("etcd")
            .chain(args.split_whitespace())
            .map(str::to_string)
            .collect();
        settings.extend(parse::parse_argv(&argv));
    }
    let mut d = from_settings(Source::Systemd, &settings, root);
    d.read = vec![file.display().to_string()];
    d.logs.push(LogPlace::Journal("etcd.service".to_string()));
    Some(d)
}

/// A discovery of `source` with nothing found yet, having read `from`.
fn empty(source: Source, from: &Path) -> Discovery {
    let mut d = Discovery::empty(source);
    d.read = vec![from.display().to_string()];
    d
}

/// The etcd pod logs under the root's /var/log/pods whose directory starts with `prefix`.
fn pod_logs(root: &Path, prefix: &str) -> Vec<LogPlace> {
    etcd_pod_logs(&under(root, POD_LOGS), |dir| dir.starts_with(prefix))
        .into_iter()
        .map(LogPlace::File)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(root: &Path, rel: &str, text: &str) -> PathBuf {
        let p = under(root, rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, text).unwrap();
        p
    }

    #[test]
    fn an_empty_root_has_no_layout() {
        let root = tempfile::tempdir().unwrap();
        assert_eq!(find(root.path()), None);
    }

    #[test]
    fn rke2_config_and_client_pair_are_found() {
        let root = tempfile::tempdir().unwrap();
        let real = "/var/lib/rancher/rke2/server/tls/etcd";
        let tls = under(root.path(), real);
        let cfg = format!(
            "name: n1\ndata-dir: /var/lib/rancher/rke2/server/db/etcd\nheartbeat-interval: 500\nelection-timeout: 5000\n\
             listen-client-urls: https://127.0.0.1:2379,https://10.0.0.5:2379\n\
             client-transport-security:\n  cert-file: {t}/server-client.crt\n  key-file: {t}/server-client.key\n  trusted-ca-file: {t}/server-ca.crt\n",
            t = real
        );
        write(
            root.path(),
            "/var/lib/rancher/rke2/server/db/etcd/config",
            &cfg,
        );
        for f in ["server-ca.crt", "client.crt", "client.key"] {
            write(&tls, f, "x");
        }
        write(
            root.path(),
            "/var/log/pods/kube-system_etcd-n1_u/etcd/0.log",
            "{}",
        );
        let d = find(root.path()).unwrap();
        assert_eq!(d.source, Source::Rke2);
        assert_eq!(
            d.endpoints,
            ["https://127.0.0.1:2379", "https://10.0.0.5:2379"]
        );
        assert_eq!(d.tls.cert, Some(tls.join("client.crt")));
        assert_eq!(d.settings.heartbeat_ms, Some(500));
        assert_eq!(d.logs.len(), 1);
    }

    #[test]
    fn k3s_logs_go_to_its_journal() {
        let root = tempfile::tempdir().unwrap();
        write(
            root.path(),
            "/var/lib/rancher/k3s/server/db/etcd/config",
            "data-dir: /var/lib/rancher/k3s/server/db/etcd\nlisten-client-urls: https://127.0.0.1:2379\n",
        );
        let d = find(root.path()).unwrap();
        assert_eq!(d.source, Source::K3s);
        assert_eq!(d.logs, [LogPlace::Journal("k3s.service".to_string())]);
    }

    #[test]
    fn debian_defaults_and_daemon_args_are_read() {
        let root = tempfile::tempdir().unwrap();
        write(
            root.path(),
            "/etc/default/etcd",
            "ETCD_LISTEN_CLIENT_URLS=\"http://0.0.0.0:2379\"\nDAEMON_ARGS=\"--snapshot-count 5000\"\n",
        );
        let d = find(root.path()).unwrap();
        assert_eq!(d.source, Source::Systemd);
        assert_eq!(d.endpoints, ["http://127.0.0.1:2379"]);
        assert_eq!(d.data_dir, Some(under(root.path(), DEBIAN_DATA_DIR)));
        assert_eq!(d.settings.snapshot_count, Some(5000));
        assert_eq!(d.logs, [LogPlace::Journal("etcd.service".to_string())]);
    }

    #[test]
    fn openshift_takes_the_peer_pair_and_a_second_layout_is_noted() {
        let root = tempfile::tempdir().unwrap();
        let certs = under(root.path(), OPENSHIFT_CERTS);
        write(&certs, "secrets/etcd-all-certs/etcd-peer-m0.crt", "x");
        write(&certs, "secrets/etcd-all-certs/etcd-serving-m0.crt", "x");
        write(root.path(), "/etc/etcd/etcd.conf.yml", "name: x\n");
        let d = find(root.path()).unwrap();
        assert_eq!(d.source, Source::Openshift);
        assert_eq!(
            d.tls.cert,
            Some(certs.join("secrets/etcd-all-certs/etcd-peer-m0.crt"))
        );
        assert_eq!(
            d.tls.key,
            Some(certs.join("secrets/etcd-all-certs/etcd-peer-m0.key"))
        );
        assert!(
            d.notes.iter().any(|n| n.contains("systemd layout")),
            "{:?}",
            d.notes
        );
    }

    /// kubeadm's manifest for etcd 3.5 (kubeadm 1.33) and for 3.6 (1.34),
    /// in tests/fixtures/kubeadm/.
    pub(crate) fn kubeadm_fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/kubeadm")
            .join(name)
    }

    #[test]
    fn kubeadm_manifests_of_both_flag_forms_read_alike() {
        let root = Path::new("/");
        let old = kubeadm_manifest(&kubeadm_fixture("etcd-3.5-kubeadm-1.33.yaml"), root).unwrap();
        let new = kubeadm_manifest(&kubeadm_fixture("etcd-3.6-kubeadm-1.34.yaml"), root).unwrap();
        for d in [&old, &new] {
            assert_eq!(d.settings.snapshot_count, Some(10_000));
            assert_eq!(d.settings.feature_gates.initial_corrupt_check, Some(true));
            assert_eq!(d.settings.feature_gates.compact_hash_check, None);
            assert_eq!(d.settings.watch_progress_notify_interval_ms, Some(5_000));
            assert_eq!(d.settings.name.as_deref(), Some("cp1"));
        }
        assert_eq!(
            old.settings.deprecated_flags,
            [
                "--experimental-watch-progress-notify-interval",
                "--experimental-initial-corrupt-check"
            ]
        );
        assert!(new.settings.deprecated_flags.is_empty());
        assert!(
            old.notes.iter().any(|n| n.contains("3.7 refuses")),
            "{:?}",
            old.notes
        );
        let strip = |d: &Discovery| Settings {
            deprecated_flags: Vec::new(),
            ..d.settings.clone()
        };
        assert_eq!(strip(&old), strip(&new));
    }

    #[test]
    fn a_process_reads_old_and_new_names_and_repeated_gates() {
        let argv = |s: &str| -> Vec<String> { s.split_whitespace().map(str::to_string).collect() };
        let root = Path::new("/");
        let new = from_settings(
            Source::Process,
            &parse::parse_argv(&argv(
                "etcd --warning-apply-duration=250ms --corrupt-check-time 1m30s \
                 --feature-gates=InitialCorruptCheck=true --feature-gates=CompactHashCheck=true \
                 --compaction-batch-limit 500 --max-learners 2",
            )),
            root,
        );
        let old = from_settings(
            Source::Process,
            &parse::parse_argv(&argv(
                "etcd --experimental-warning-apply-duration=250ms --experimental-corrupt-check-time 1m30s \
                 --experimental-initial-corrupt-check --experimental-compact-hash-check-enabled \
                 --experimental-compaction-batch-limit 500 --max-learners 2",
            )),
            root,
        );
        for d in [&new, &old] {
            let s = &d.settings;
            assert_eq!(s.warning_apply_duration_ms, Some(250));
            assert_eq!(s.corrupt_check_time_ms, Some(90_000));
            assert_eq!(s.compaction_batch_limit, Some(500));
            assert_eq!(s.max_learners, Some(2));
            assert_eq!(s.feature_gates.initial_corrupt_check, Some(true));
            assert_eq!(s.feature_gates.compact_hash_check, Some(true));
        }
        assert_eq!(old.settings.deprecated_flags.len(), 5);
        let env = parse::parse_environ(b"ETCD_EXPERIMENTAL_WARNING_APPLY_DURATION=1s\0ETCD_FEATURE_GATES=StopGRPCServiceOnDefrag=true\0");
        let d = from_settings(Source::Process, &env, root);
        assert_eq!(d.settings.warning_apply_duration_ms, Some(1000));
        assert_eq!(
            d.settings.feature_gates.stop_grpc_service_on_defrag,
            Some(true)
        );
        let bad = from_settings(
            Source::Process,
            &parse::parse_argv(&argv(
                "etcd --warning-apply-duration=fast --feature-gates=Nope=true",
            )),
            root,
        );
        assert_eq!(bad.settings.warning_apply_duration_ms, None);
        assert!(
            bad.notes.iter().any(|n| n.contains("Nope=true")),
            "{:?}",
            bad.notes
        );
    }
}
