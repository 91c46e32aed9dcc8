//! TLS for the etcd connections, built once per run from `--cacert`,
//! `--cert`, `--key` and `--insecure-skip-tls-verify`. One rustls
//! configuration serves both the gRPC connections (ALPN `h2`) and the
//! /metrics scrapes (ALPN `http/1.1`), so a cluster that requires client
//! certificates is read the same way over both. Files are checked when the
//! plan is made, and each problem names its flag and file: an unreadable
//! CA, a certificate without its key, a key that does not match, a client
//! certificate that expired (kubeadm's certificates last a year).

use crate::files::{self, InputError};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{ring, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use thiserror::Error;

/// The TLS files and switches of a connection, as the user gave them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsRequest {
    /// `--cacert`: CA bundle that verifies the servers.
    pub cacert: Option<PathBuf>,
    /// `--cert`: client certificate.
    pub cert: Option<PathBuf>,
    /// `--key`: the client certificate's key.
    pub key: Option<PathBuf>,
    /// `--insecure-skip-tls-verify`: do not verify the servers' certificates.
    pub insecure_skip_verify: bool,
}

impl TlsRequest {
    /// True when any TLS flag was given (scheme-less endpoints then use TLS,
    /// as etcdctl does).
    pub fn any(&self) -> bool {
        self.cacert.is_some()
            || self.cert.is_some()
            || self.key.is_some()
            || self.insecure_skip_verify
    }
}

/// A TLS file or flag combination that cannot make a connection; each
/// names the flag and the file.
#[derive(Debug, Error)]
pub enum TlsError {
    /// The file cannot be read.
    #[error(transparent)]
    Unreadable(#[from] InputError),
    /// No PEM certificate in the file.
    #[error("{flag} {}: no PEM certificate in the file", path.display())]
    NoCertificate { flag: &'static str, path: PathBuf },
    /// The certificate cannot be parsed or used.
    #[error("{flag} {}: not a usable certificate: {reason}", path.display())]
    BadCertificate {
        flag: &'static str,
        path: PathBuf,
        reason: String,
    },
    /// The certificate's validity ended.
    #[error("{flag} {}: certificate expired on {not_after}", path.display())]
    Expired {
        flag: &'static str,
        path: PathBuf,
        not_after: String,
    },
    /// The certificate's validity has not begun.
    #[error("{flag} {}: certificate not valid before {not_before}", path.display())]
    NotYetValid {
        flag: &'static str,
        path: PathBuf,
        not_before: String,
    },
    /// No PEM private key in the key file.
    #[error("--key {}: no PEM private key in the file", path.display())]
    NoKey { path: PathBuf },
    /// `--cert` without `--key`.
    #[error("--cert {} given without --key", path.display())]
    CertWithoutKey { path: PathBuf },
    /// `--key` without `--cert`.
    #[error("--key {} given without --cert", path.display())]
    KeyWithoutCert { path: PathBuf },
    /// The key does not belong to the certificate.
    #[error("--cert {} and --key {} do not belong together: {reason}", cert.display(), key.display())]
    KeyMismatch {
        cert: PathBuf,
        key: PathBuf,
        reason: String,
    },
}

/// Client TLS configurations built from a [`TlsRequest`].
#[derive(Debug, Clone)]
pub struct TlsConfigs {
    /// For gRPC (ALPN `h2`).
    pub grpc: Arc<ClientConfig>,
    /// For HTTP/1.1 (the /metrics scrapes).
    pub http: Arc<ClientConfig>,
}

impl TlsConfigs {
    /// Reads and checks the files of `req` and builds both configurations.
    /// Without `--cacert` and without `--insecure-skip-tls-verify` no server
    /// can be verified: the caller refuses https endpoints in that case.
    pub fn load(req: &TlsRequest) -> Result<TlsConfigs, TlsError> {
        let provider = Arc::new(ring::default_provider());
        let builder = ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .expect("ring provides TLS 1.2 and 1.3");
        let builder = if req.insecure_skip_verify {
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(SkipServerVerification(provider)))
        } else {
            builder.with_root_certificates(roots(req.cacert.as_deref())?)
        };
        let mut config = match client_identity(req)? {
            Some((chain, key, cert_path, key_path)) => builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| TlsError::KeyMismatch {
                    cert: cert_path,
                    key: key_path,
                    reason: e.to_string(),
                })?,
            None => builder.with_no_client_auth(),
        };
        let mut http = config.clone();
        http.alpn_protocols = vec![b"http/1.1".to_vec()];
        config.alpn_protocols = vec![b"h2".to_vec()];
        Ok(TlsConfigs {
            grpc: Arc::new(config),
            http: Arc::new(http),
        })
    }
}

/// The CA bundle as a root store (empty without `--cacert`).
fn roots(cacert: Option<&Path>) -> Result<RootCertStore, TlsError> {
    let mut store = RootCertStore::empty();
    let Some(path) = cacert else {
        return Ok(store);
    };
    for cert in certificates("--cacert", path)? {
        store.add(cert).map_err(|e| TlsError::BadCertificate {
            flag: "--cacert",
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
    }
    Ok(store)
}

type Identity = (
    Vec<CertificateDer<'static>>,
    PrivateKeyDer<'static>,
    PathBuf,
    PathBuf,
);

/// The client certificate chain and key, when both are given.
fn client_identity(req: &TlsRequest) -> Result<Option<Identity>, TlsError> {
    match (&req.cert, &req.key) {
        (None, None) => Ok(None),
        (Some(cert), None) => Err(TlsError::CertWithoutKey { path: cert.clone() }),
        (None, Some(key)) => Err(TlsError::KeyWithoutCert { path: key.clone() }),
        (Some(cert), Some(key)) => {
            let chain = certificates("--cert", cert)?;
            let bytes = read("--key", key)?;
            let private = PrivateKeyDer::from_pem_slice(&bytes)
                .map_err(|_| TlsError::NoKey { path: key.clone() })?;
            Ok(Some((chain, private, cert.clone(), key.clone())))
        }
    }
}

/// Largest certificate, key or CA file read: a full system CA bundle is
/// about 200 KiB.
pub const MAX_PEM_BYTES: u64 = 1 << 20;

/// A PEM file of `flag` (or its ETCDCTL_* variable): a regular file of at
/// most [`MAX_PEM_BYTES`].
fn read(flag: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    Ok(files::read_input(flag, path, MAX_PEM_BYTES)?)
}

/// The PEM certificates of a file, each checked to be within its validity.
fn certificates(flag: &'static str, path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bytes = read(flag, path)?;
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<_, _>>()
        .map_err(|e| TlsError::BadCertificate {
            flag,
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
    if certs.is_empty() {
        return Err(TlsError::NoCertificate {
            flag,
            path: path.to_path_buf(),
        });
    }
    for cert in &certs {
        check_validity(flag, path, cert)?;
    }
    Ok(certs)
}

/// Fails when `cert` is expired or not yet valid: the server would refuse
/// it with no more than "bad certificate".
fn check_validity(
    flag: &'static str,
    path: &Path,
    cert: &CertificateDer<'_>,
) -> Result<(), TlsError> {
    let (_, parsed) =
        x509_parser::parse_x509_certificate(cert).map_err(|e| TlsError::BadCertificate {
            flag,
            path: path.to_path_buf(),
            reason: e.to_string(),
        })?;
    let validity = parsed.validity();
    let now = x509_parser::time::ASN1Time::now();
    if now > validity.not_after {
        return Err(TlsError::Expired {
            flag,
            path: path.to_path_buf(),
            not_after: validity.not_after.to_string(),
        });
    }
    if now < validity.not_before {
        return Err(TlsError::NotYetValid {
            flag,
            path: path.to_path_buf(),
            not_before: validity.not_before.to_string(),
        });
    }
    Ok(())
}

/// `--insecure-skip-tls-verify`: accepts any server certificate, but still
/// checks that the server holds its key (the handshake signatures).
#[derive(Debug)]
struct SkipServerVerification(Arc<CryptoProvider>);

impl ServerCertVerifier for SkipServerVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn req(cacert: Option<&str>, cert: Option<&str>, key: Option<&str>) -> TlsRequest {
        TlsRequest {
            cacert: cacert.map(PathBuf::from),
            cert: cert.map(PathBuf::from),
            key: key.map(PathBuf::from),
            insecure_skip_verify: false,
        }
    }

    #[test]
    fn cert_without_key_names_the_flag() {
        let e = TlsConfigs::load(&req(None, Some("/x/client.crt"), None)).unwrap_err();
        assert_eq!(e.to_string(), "--cert /x/client.crt given without --key");
        let e = TlsConfigs::load(&req(None, None, Some("/x/client.key"))).unwrap_err();
        assert_eq!(e.to_string(), "--key /x/client.key given without --cert");
    }

    #[test]
    fn missing_ca_names_flag_and_file() {
        let e = TlsConfigs::load(&req(Some("/nonexistent/ca.crt"), None, None)).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("--cacert /nonexistent/ca.crt: cannot read the file"),
            "{e}"
        );
    }

    /// A device, a directory or a FIFO given for a certificate flag is
    /// refused at once (never read whole), naming the flag.
    #[test]
    fn pem_files_must_be_regular_files() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("fifo");
        nix::unistd::mkfifo(&fifo, nix::sys::stat::Mode::S_IRWXU).unwrap();
        let good = dir.path().join("ok.pem");
        std::fs::write(&good, "x").unwrap();
        let dir_s = dir.path().to_str().unwrap();
        let (fifo_s, good_s) = (fifo.to_str().unwrap(), good.to_str().unwrap());
        for bad in ["/dev/zero", "/dev/urandom", dir_s, fifo_s] {
            for (flag, r) in [
                ("--cacert", req(Some(bad), None, None)),
                ("--cert", req(None, Some(bad), Some(good_s))),
            ] {
                let e = TlsConfigs::load(&r).unwrap_err().to_string();
                assert!(e.starts_with(&format!("{flag} {bad}: ")), "{e}");
                assert!(e.contains("not a regular file"), "{e}");
            }
        }
    }

    #[test]
    fn a_file_without_pem_is_no_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ca.crt");
        std::fs::write(&path, "not a certificate\n").unwrap();
        let e = TlsConfigs::load(&req(path.to_str(), None, None)).unwrap_err();
        assert!(
            matches!(
                e,
                TlsError::NoCertificate {
                    flag: "--cacert",
                    ..
                }
            ),
            "{e}"
        );
    }

    #[test]
    fn no_flags_is_no_tls() {
        assert!(!TlsRequest::default().any());
        let insecure = TlsRequest {
            insecure_skip_verify: true,
            ..TlsRequest::default()
        };
        assert!(insecure.any());
        let configs = TlsConfigs::load(&insecure).unwrap();
        assert_eq!(configs.grpc.alpn_protocols, vec![b"h2".to_vec()]);
        assert_eq!(configs.http.alpn_protocols, vec![b"http/1.1".to_vec()]);
    }
}
