//! Test certificates made with openssl, laid out like kubeadm's
//! /etc/kubernetes/pki/etcd: ca.crt, server.{crt,key} (SAN 127.0.0.1),
//! peer.{crt,key}, healthcheck-client.{crt,key} (RSA, PKCS#1 like
//! kubeadm's), plus a foreign CA and an expired client certificate for the
//! error paths. Removed with their temp dir.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A generated PKI.
#[derive(Debug)]
pub struct Pki {
    dir: tempfile::TempDir,
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("openssl missing: run scripts/install-test-deps");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

const EC: [&str; 4] = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"];

/// A self-signed CA `name`.{crt,key}.
fn ca(dir: &Path, name: &str) {
    let (crt, key) = (format!("{name}.crt"), format!("{name}.key"));
    let mut args = vec!["req", "-x509", "-nodes", "-days", "2", "-subj"];
    let subj = format!("/CN={name}");
    args.extend([subj.as_str(), "-keyout", &key, "-out", &crt]);
    args.extend(EC);
    openssl(dir, &args);
}

/// `name`.{crt,key} signed by `ca`, valid for `days` (negative: expired).
fn leaf(dir: &Path, ca: &str, name: &str, days: &str, rsa: bool) {
    let (crt, key, csr) = (
        format!("{name}.crt"),
        format!("{name}.key"),
        format!("{name}.csr"),
    );
    if rsa {
        openssl(dir, &["genrsa", "-traditional", "-out", &key, "2048"]);
        openssl(
            dir,
            &[
                "req",
                "-new",
                "-key",
                &key,
                "-subj",
                &format!("/CN={name}"),
                "-out",
                &csr,
            ],
        );
    } else {
        let mut args = vec!["req", "-new", "-nodes", "-keyout", &key, "-out", &csr];
        let subj = format!("/CN={name}");
        args.extend(["-subj", subj.as_str()]);
        args.extend(EC);
        openssl(dir, &args);
    }
    let ext = dir.join(format!("{name}.ext"));
    std::fs::write(
        &ext,
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth,clientAuth\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            &csr,
            "-CA",
            &format!("{ca}.crt"),
            "-CAkey",
            &format!("{ca}.key"),
            "-CAcreateserial",
            "-days",
            days,
            "-extfile",
            ext.to_str().unwrap(),
            "-out",
            &crt,
        ],
    );
}

impl Pki {
    /// Generates every file.
    pub fn generate() -> Pki {
        let dir = tempfile::Builder::new()
            .prefix("etcd-doctor-pki-")
            .tempdir()
            .unwrap();
        let d = dir.path();
        ca(d, "ca");
        ca(d, "other-ca");
        leaf(d, "ca", "server", "2", false);
        leaf(d, "ca", "peer", "2", false);
        leaf(d, "ca", "healthcheck-client", "2", true);
        leaf(d, "ca", "expired-client", "-1", false);
        Pki { dir }
    }

    /// Adds a client pair `name`.{crt,key} (CN=`name`: with client
    /// certificate auth, etcd's user name) signed by `ca`.
    pub fn client(&self, name: &str) {
        leaf(self.dir.path(), "ca", name, "2", false);
    }

    /// Adds a client pair `name`.{crt,key} signed by `other-ca`, a CA the
    /// cluster does not trust.
    pub fn untrusted_client(&self, name: &str) {
        leaf(self.dir.path(), "other-ca", name, "2", false);
    }

    /// The directory (kubeadm's /etc/kubernetes/pki/etcd).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// A file in the directory, e.g. `ca.crt`.
    pub fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }
}
