//! kubeadm discovery: on a control-plane node the etcd static pod manifest
//! (/etc/kubernetes/manifests/etcd.yaml) already says where etcd listens,
//! where its data lives and which certificates it trusts, so an operator in
//! an incident types no flags. The client certificate is kubeadm's
//! healthcheck-client pair beside the CA when present (made for exactly
//! this), else the peer pair, else the server pair.

use std::path::{Path, PathBuf};

use serde::Deserialize;
use thiserror::Error;

use crate::files;

/// Where kubeadm writes the etcd static pod manifest.
pub const DEFAULT_MANIFEST: &str = "/etc/kubernetes/manifests/etcd.yaml";

/// Largest manifest read: kubeadm writes about 3 KiB.
pub const MAX_MANIFEST_BYTES: u64 = 1 << 20;

/// Deepest flow nesting (`[`, `{`) accepted; kubeadm writes none.
pub const MAX_FLOW_DEPTH: usize = 64;

/// Widest block indentation (spaces and `- `/`? ` indicators before a
/// line's content) accepted; kubeadm indents at most 8 columns.
pub const MAX_INDENT: usize = 256;

/// What the manifest says about the local etcd member.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KubeadmEtcd {
    /// The manifest read.
    pub manifest: PathBuf,
    /// `--name`.
    pub name: Option<String>,
    /// Client URLs to dial: `--advertise-client-urls`, else
    /// `--listen-client-urls` with wildcard addresses as 127.0.0.1.
    pub client_urls: Vec<String>,
    /// `--data-dir` (the disk `diagnose` probes sits under it).
    pub data_dir: Option<PathBuf>,
    /// `--trusted-ca-file`: the CA that signs clients, and in kubeadm the
    /// servers too.
    pub cacert: Option<PathBuf>,
    /// Client certificate chosen (healthcheck-client, peer or server).
    pub cert: Option<PathBuf>,
    /// Its key.
    pub key: Option<PathBuf>,
    /// `--listen-metrics-urls` (kubeadm: http://127.0.0.1:2381, plain http).
    pub metrics_urls: Vec<String>,
    /// etcd's whole command line (command then args), for the settings
    /// discovery reads from it.
    pub argv: Vec<String>,
}

/// A manifest that cannot be used.
#[derive(Debug, Error)]
pub enum KubeadmError {
    /// The manifest cannot be read (or is not a regular file).
    #[error(transparent)]
    Unreadable(files::InputError),
    /// Larger than [`MAX_MANIFEST_BYTES`].
    #[error("--manifest {}: larger than {MAX_MANIFEST_BYTES} bytes, not a pod manifest", path.display())]
    TooLarge { path: PathBuf },
    /// Nested deeper than [`MAX_FLOW_DEPTH`] or [`MAX_INDENT`] (refused
    /// before parsing, in one pass).
    #[error("--manifest {}: line {line} nests deeper than any pod manifest", path.display())]
    TooDeep { path: PathBuf, line: usize },
    /// Not YAML of a pod.
    #[error("--manifest {}: not a pod manifest", path.display())]
    Yaml {
        path: PathBuf,
        source: yaml_serde::Error,
    },
    /// No container runs etcd.
    #[error("--manifest {}: no container runs etcd", path.display())]
    NoEtcd { path: PathBuf },
    /// etcd's command line has no client URL.
    #[error("--manifest {}: etcd has neither --advertise-client-urls nor --listen-client-urls", path.display())]
    NoClientUrls { path: PathBuf },
}

#[derive(Debug, Deserialize)]
struct Pod {
    spec: PodSpec,
}

#[derive(Debug, Deserialize)]
struct PodSpec {
    #[serde(default)]
    containers: Vec<Container>,
}

#[derive(Debug, Deserialize)]
struct Container {
    #[serde(default)]
    name: String,
    #[serde(default)]
    command: Vec<String>,
    #[serde(default)]
    args: Vec<String>,
}

/// Reads `manifest` and returns what it says about etcd.
pub fn discover(manifest: &Path) -> Result<KubeadmEtcd, KubeadmError> {
    from_text(manifest, &read_bounded(manifest)?)
}

/// What the manifest text `text` (read from `manifest`) says.
pub fn from_text(manifest: &Path, text: &str) -> Result<KubeadmEtcd, KubeadmError> {
    if let Some(line) = too_deep(text) {
        return Err(KubeadmError::TooDeep {
            path: manifest.to_path_buf(),
            line,
        });
    }
    let pod: Pod = yaml_serde::from_str(text).map_err(|source| KubeadmError::Yaml {
        path: manifest.to_path_buf(),
        source,
    })?;
    let container = pod
        .spec
        .containers
        .into_iter()
        .find(|c| c.name == "etcd" || c.command.first().is_some_and(|c| c.ends_with("etcd")))
        .ok_or_else(|| KubeadmError::NoEtcd {
            path: manifest.to_path_buf(),
        })?;
    let argv: Vec<String> = container
        .command
        .into_iter()
        .chain(container.args)
        .collect();
    let flags = Flags(&argv);
    let client_urls = match flags.list("advertise-client-urls") {
        urls if !urls.is_empty() => urls,
        _ => flags
            .list("listen-client-urls")
            .into_iter()
            .map(|u| dialable(&u))
            .collect(),
    };
    if client_urls.is_empty() {
        return Err(KubeadmError::NoClientUrls {
            path: manifest.to_path_buf(),
        });
    }
    let cacert = flags.path("trusted-ca-file");
    let (cert, key) = client_pair(&flags, cacert.as_deref());
    Ok(KubeadmEtcd {
        manifest: manifest.to_path_buf(),
        name: flags.get("name").map(str::to_string),
        client_urls,
        data_dir: flags.path("data-dir"),
        cacert,
        cert,
        key,
        metrics_urls: flags.list("listen-metrics-urls"),
        argv,
    })
}

/// The manifest's text, a regular file refused past
/// [`MAX_MANIFEST_BYTES`] before more is read.
fn read_bounded(manifest: &Path) -> Result<String, KubeadmError> {
    files::read_input_text("--manifest", manifest, MAX_MANIFEST_BYTES).map_err(|e| match e {
        files::InputError::TooLarge { .. } => KubeadmError::TooLarge {
            path: manifest.to_path_buf(),
        },
        other => KubeadmError::Unreadable(other),
    })
}

/// The first line (1-based) where `yaml` nests deeper than a pod manifest
/// can: flow brackets past [`MAX_FLOW_DEPTH`] or block indentation past
/// [`MAX_INDENT`]. One pass; quoted scalars and comments are skipped, so a
/// `[` inside a string does not count.
fn too_deep(yaml: &str) -> Option<usize> {
    let mut flow = 0usize;
    let mut quote: Option<u8> = None;
    for (n, line) in yaml.lines().enumerate() {
        let indent = line.bytes().take_while(|b| b" -?".contains(b)).count();
        if quote.is_none() && indent > MAX_INDENT {
            return Some(n + 1);
        }
        let mut prev = b' ';
        let mut escaped = false;
        for b in line.bytes() {
            match quote {
                Some(b'"') if escaped => escaped = false,
                Some(b'"') if b == b'\\' => escaped = true,
                Some(q) if b == q => quote = None,
                Some(_) => {}
                None if b == b'#' && prev.is_ascii_whitespace() => break,
                None if (b == b'"' || b == b'\'') && b" \t[{,".contains(&prev) => quote = Some(b),
                None if b == b'[' || b == b'{' => {
                    flow += 1;
                    if flow > MAX_FLOW_DEPTH {
                        return Some(n + 1);
                    }
                }
                None if b == b']' || b == b'}' => flow = flow.saturating_sub(1),
                None => {}
            }
            prev = b;
        }
    }
    None
}

/// The client certificate pair: healthcheck-client beside the CA, else the
/// peer pair, else the server pair; the first whose files both exist.
fn client_pair(flags: &Flags, cacert: Option<&Path>) -> (Option<PathBuf>, Option<PathBuf>) {
    let healthcheck = cacert.and_then(Path::parent).map(|dir| {
        (
            Some(dir.join("healthcheck-client.crt")),
            Some(dir.join("healthcheck-client.key")),
        )
    });
    let candidates = healthcheck.into_iter().chain([
        (flags.path("peer-cert-file"), flags.path("peer-key-file")),
        (flags.path("cert-file"), flags.path("key-file")),
    ]);
    for (cert, key) in candidates {
        if let (Some(c), Some(k)) = (&cert, &key) {
            if c.is_file() && k.is_file() {
                return (cert, key);
            }
        }
    }
    (None, None)
}

/// A listen URL made dialable: a wildcard address becomes 127.0.0.1.
fn dialable(url: &str) -> String {
    url.replace("://0.0.0.0:", "://127.0.0.1:")
        .replace("://[::]:", "://127.0.0.1:")
}

/// etcd's command line, `--flag=value` or `--flag value`.
struct Flags<'a>(&'a [String]);

impl Flags<'_> {
    fn get(&self, name: &str) -> Option<&str> {
        let long = format!("--{name}");
        let prefix = format!("{long}=");
        self.0.iter().enumerate().find_map(|(i, arg)| {
            if let Some(value) = arg.strip_prefix(&prefix) {
                Some(value)
            } else if *arg == long {
                self.0.get(i + 1).map(String::as_str)
            } else {
                None
            }
        })
    }

    fn list(&self, name: &str) -> Vec<String> {
        self.get(name)
            .map(|v| {
                v.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    }

    fn path(&self, name: &str) -> Option<PathBuf> {
        self.get(name).map(PathBuf::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    const MANIFEST: &str = r#"
apiVersion: v1
kind: Pod
metadata:
  annotations:
    kubeadm.kubernetes.io/etcd.advertise-client-urls: https://10.0.0.5:2379
  name: etcd
  namespace: kube-system
spec:
  containers:
  - command:
    - etcd
    - --advertise-client-urls=https://10.0.0.5:2379
    - --cert-file=PKI/server.crt
    - --client-cert-auth=true
    - --data-dir=/var/lib/etcd
    - --initial-cluster=cp1=https://10.0.0.5:2380
    - --key-file=PKI/server.key
    - --listen-client-urls=https://127.0.0.1:2379,https://10.0.0.5:2379
    - --listen-metrics-urls=http://127.0.0.1:2381
    - --name=cp1
    - --peer-cert-file=PKI/peer.crt
    - --peer-key-file=PKI/peer.key
    - --trusted-ca-file=PKI/ca.crt
    image: registry.k8s.io/etcd:3.5.9-0
    name: etcd
"#;

    fn write(dir: &Path, files: &[&str]) -> PathBuf {
        for f in files {
            fs::write(dir.join(f), "x").unwrap();
        }
        let manifest = dir.join("etcd.yaml");
        let pki = dir.display().to_string();
        fs::write(&manifest, MANIFEST.replace("PKI", &pki)).unwrap();
        manifest
    }

    #[test]
    fn reads_urls_data_dir_and_prefers_the_healthcheck_client() {
        let dir = tempfile::tempdir().unwrap();
        let manifest = write(
            dir.path(),
            &[
                "healthcheck-client.crt",
                "healthcheck-client.key",
                "peer.crt",
                "peer.key",
            ],
        );
        let found = discover(&manifest).unwrap();
        assert_eq!(found.client_urls, vec!["https://10.0.0.5:2379"]);
        assert_eq!(found.data_dir, Some(PathBuf::from("/var/lib/etcd")));
        assert_eq!(found.name.as_deref(), Some("cp1"));
        assert_eq!(found.cacert, Some(dir.path().join("ca.crt")));
        assert_eq!(found.cert, Some(dir.path().join("healthcheck-client.crt")));
        assert_eq!(found.key, Some(dir.path().join("healthcheck-client.key")));
        assert_eq!(found.metrics_urls, vec!["http://127.0.0.1:2381"]);
    }

    #[test]
    fn falls_back_to_peer_then_server_certificates() {
        let dir = tempfile::tempdir().unwrap();
        let manifest = write(
            dir.path(),
            &["peer.crt", "peer.key", "server.crt", "server.key"],
        );
        assert_eq!(
            discover(&manifest).unwrap().cert,
            Some(dir.path().join("peer.crt"))
        );
        fs::remove_file(dir.path().join("peer.key")).unwrap();
        assert_eq!(
            discover(&manifest).unwrap().key,
            Some(dir.path().join("server.key"))
        );
    }

    #[test]
    fn listen_urls_stand_in_for_missing_advertise_urls() {
        let argv: Vec<String> = ["etcd", "--listen-client-urls", "http://0.0.0.0:2379"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        let flags = Flags(&argv);
        assert_eq!(
            flags.list("listen-client-urls"),
            vec!["http://0.0.0.0:2379"]
        );
        assert_eq!(dialable("http://0.0.0.0:2379"), "http://127.0.0.1:2379");
    }

    #[test]
    fn errors_name_the_manifest() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope.yaml");
        let e = discover(&missing).unwrap_err();
        assert!(e.to_string().starts_with("--manifest "), "{e}");
        let other = dir.path().join("other.yaml");
        fs::write(
            &other,
            "spec:\n  containers:\n  - name: apiserver\n    command: [kube-apiserver]\n",
        )
        .unwrap();
        assert!(matches!(
            discover(&other).unwrap_err(),
            KubeadmError::NoEtcd { .. }
        ));
    }

    #[test]
    fn oversized_and_deep_manifests_are_refused_before_parsing() {
        let dir = tempfile::tempdir().unwrap();
        let at = |name: &str, text: String| {
            let path = dir.path().join(name);
            fs::write(&path, text).unwrap();
            discover(&path).unwrap_err()
        };
        let big = at("big.yaml", "#".repeat(MAX_MANIFEST_BYTES as usize + 1));
        assert!(matches!(big, KubeadmError::TooLarge { .. }), "{big}");
        assert!(big.to_string().starts_with("--manifest "), "{big}");
        let started = std::time::Instant::now();
        let flow = at("flow.yaml", "[".repeat(100_000));
        assert!(
            matches!(flow, KubeadmError::TooDeep { line: 1, .. }),
            "{flow}"
        );
        let blocks: String = (0..400)
            .map(|i| format!("{}k{i}:\n", " ".repeat(i)))
            .collect();
        let block = at("block.yaml", blocks);
        assert!(
            matches!(block, KubeadmError::TooDeep { line: 258, .. }),
            "{block}"
        );
        let dashes = at("dashes.yaml", "- ".repeat(50_000));
        assert!(matches!(dashes, KubeadmError::TooDeep { .. }), "{dashes}");
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
    }

    #[test]
    fn brackets_in_strings_and_comments_do_not_count_as_nesting() {
        let deep = "[".repeat(MAX_FLOW_DEPTH + 1);
        assert_eq!(
            too_deep(&format!("a: \"{deep}\"\nb: '{deep}'\n# {deep}\n")),
            None
        );
        assert_eq!(
            too_deep("- --listen-client-urls=https://[::1]:2379\n"),
            None
        );
        assert_eq!(too_deep(&format!("a: [{deep}\n")), Some(1));
        assert_eq!(too_deep(&format!("a: x\nb: [-\"{deep}\n")), Some(2));
    }

    proptest::proptest! {
        #[test]
        fn the_shape_check_never_panics(s in "[\\[\\]{}\"' #:,\\\\a\n-]{0,400}") {
            let _ = too_deep(&s);
        }

        #[test]
        fn any_text_is_refused_or_read_without_panic(s in "\\PC{0,300}") {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("etcd.yaml");
            fs::write(&path, &s).unwrap();
            let _ = discover(&path);
        }
    }
}
