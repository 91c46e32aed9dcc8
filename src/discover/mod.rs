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

mod model;
mod read;
mod settings;

use std::path::Path;

pub use model::*;

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

#[cfg(test)]
pub(crate) mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::discover::parse::Flags;
    use crate::discover::settings::*;

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
