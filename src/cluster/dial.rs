//! Dialing members: TCP, then TLS with the plan's configuration, all within
//! the dial timeout; etcd-client gRPC clients over that connection, and
//! plain HTTP/1.1 GETs (hyper) for the /metrics scrapes. Every failure
//! becomes one line in the operator's terms: refused, timed out, the CA does
//! not match the server, the server refused the client certificate.

use std::error::Error as StdError;
use std::future::Future;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use etcd_client::Client;
use http_body_util::{BodyExt, Empty, Limited};
use hyper::body::Bytes;
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use rustls::{CertificateError, ClientConfig};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio::time::Instant;
use tokio_rustls::TlsConnector;

use super::conn::{ConnPlan, Target};
pub use super::error::DialError;
use super::error::{AtEndpoint, NoneAnswered, RequestError};

/// Largest /metrics body read (etcd's is a few hundred KiB).
pub const MAX_METRICS_BYTES: usize = 16 * 1024 * 1024;

/// A byte stream to a member: plain TCP or TLS over TCP.
pub trait Io: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}

/// The protocol a connection will speak (its TLS ALPN).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Protocol {
    Grpc,
    Http1,
}

/// A connection (or why there is none) and how long its TCP handshake
/// took: the dial timeout when none came, `None` when TCP failed at once.
struct Dialed {
    tcp_handshake: Option<Duration>,
    io: Result<Box<dyn Io>, DialError>,
}

/// Everything needed to open one connection, owned so that tonic can
/// reconnect with it.
#[derive(Debug, Clone)]
struct Dialer {
    target: Target,
    tls: Option<Arc<ClientConfig>>,
    cacert: Option<PathBuf>,
    timeout: Duration,
}

impl Dialer {
    fn new(plan: &ConnPlan, target: &Target, protocol: Protocol) -> Dialer {
        let tls = plan.tls.as_ref().map(|t| match protocol {
            Protocol::Grpc => t.grpc.clone(),
            Protocol::Http1 => t.http.clone(),
        });
        Dialer {
            target: target.clone(),
            tls,
            cacert: plan.tls_request.cacert.clone(),
            timeout: plan.dial_timeout,
        }
    }

    /// TCP (and TLS) to the target within the dial timeout, and how long
    /// the TCP handshake took.
    async fn open(self) -> Dialed {
        let t = &self.target;
        let deadline = Instant::now() + self.timeout;
        let started = Instant::now();
        let connect = TcpStream::connect((t.host.as_str(), t.port));
        let (tcp_handshake, tcp) = match tokio::time::timeout_at(deadline, connect).await {
            Err(_) => (Some(self.timeout), Err(DialError::Timeout(self.timeout))),
            Ok(tcp) => (
                tcp.is_ok().then(|| started.elapsed()),
                tcp.map_err(|e| DialError::Connect(e.to_string())),
            ),
        };
        let io = match tcp {
            Ok(tcp) => self.secure(tcp, deadline).await,
            Err(e) => Err(e),
        };
        Dialed { tcp_handshake, io }
    }

    /// TLS over `tcp` when the target asks for it, by `deadline`.
    async fn secure(&self, tcp: TcpStream, deadline: Instant) -> Result<Box<dyn Io>, DialError> {
        tcp.set_nodelay(true)
            .map_err(|e| DialError::Connect(e.to_string()))?;
        if !self.target.tls {
            return Ok(Box::new(tcp));
        }
        tokio::time::timeout_at(deadline, self.tls(tcp))
            .await
            .unwrap_or(Err(DialError::TlsTimeout(self.timeout)))
    }

    async fn tls(&self, tcp: TcpStream) -> Result<Box<dyn Io>, DialError> {
        let t = &self.target;
        let config = self
            .tls
            .clone()
            .ok_or_else(|| DialError::Tls("https endpoint without TLS settings".into()))?;
        let name = ServerName::try_from(t.host.clone())
            .map_err(|e| DialError::Tls(format!("{}: {e}", t.host)))?;
        let stream = TlsConnector::from(config)
            .connect(name, tcp)
            .await
            .map_err(|e| DialError::Tls(self.explain_tls(&e)))?;
        Ok(Box::new(stream))
    }

    /// A failed handshake, in the operator's terms.
    fn explain_tls(&self, err: &std::io::Error) -> String {
        match find::<rustls::Error>(err) {
            Some(e) => explain_rustls(e, &self.target.host, self.cacert.as_ref()),
            None => err.to_string(),
        }
    }
}

/// A rustls error, in the operator's terms.
fn explain_rustls(err: &rustls::Error, host: &str, cacert: Option<&PathBuf>) -> String {
    let ca = cacert
        .map(|p| format!("--cacert {}", p.display()))
        .unwrap_or_else(|| "--cacert".into());
    match err {
        rustls::Error::InvalidCertificate(cert) => match cert {
            CertificateError::UnknownIssuer | CertificateError::BadSignature => {
                format!("the server's certificate is not signed by the CA in {ca} ({err})")
            }
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                format!("the server's certificate has expired ({err})")
            }
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                format!("the server's certificate is not valid for {host} ({err})")
            }
            _ => format!("the server's certificate was refused ({err})"),
        },
        rustls::Error::AlertReceived(alert) => format!(
            "the server refused the handshake ({alert:?}): check --cert and --key against the server's --trusted-ca-file"
        ),
        rustls::Error::InvalidMessage(_) => {
            format!("the server did not answer TLS; is it serving plain http? ({err})")
        }
        _ => err.to_string(),
    }
}

/// The first error of type `E` in `err`'s source chain (io::Error payloads
/// included).
fn find<'a, E: StdError + 'static>(err: &'a (dyn StdError + 'static)) -> Option<&'a E> {
    let mut next = Some(err);
    while let Some(e) = next {
        if let Some(found) = e.downcast_ref::<E>() {
            return Some(found);
        }
        if let Some(inner) = e
            .downcast_ref::<std::io::Error>()
            .and_then(|io| io.get_ref())
            .and_then(|inner| inner.downcast_ref::<E>())
        {
            return Some(inner);
        }
        next = e.source();
    }
    None
}

/// A refusal for the user's role, when `err` is one: 3.6 sends gRPC
/// PermissionDenied "etcdserver: permission denied"; 3.5's maintenance
/// calls send auth's own "auth: permission denied". Status, Hash, HashKV,
/// Defragment, Snapshot and MoveLeader (3.6.0 to 3.6.11; from 3.6.12 all
/// but Status) need the root role.
pub fn permission_denied(err: &(dyn StdError + 'static)) -> Option<RequestError> {
    match err.downcast_ref::<etcd_client::Error>() {
        Some(etcd_client::Error::GRpcStatus(status))
            if status.code() == tonic::Code::PermissionDenied
                || status.message().ends_with("permission denied") =>
        {
            Some(RequestError::PermissionDenied(status.message().to_string()))
        }
        _ => None,
    }
}

/// An error met while talking to a member, in the operator's terms: our
/// dial error when the connection failed, the TLS cause when the server
/// refused us after the handshake, etcd's message for a gRPC status.
pub fn explain(err: &(dyn StdError + 'static), plan: &ConnPlan, host: &str) -> RequestError {
    if let Some(dial) = find::<DialError>(err) {
        return RequestError::Dial(dial.clone());
    }
    if let Some(tls) = find::<rustls::Error>(err) {
        return RequestError::Tls(explain_rustls(tls, host, plan.tls_request.cacert.as_ref()));
    }
    if let Some(etcd_client::Error::GRpcStatus(status)) = err.downcast_ref::<etcd_client::Error>() {
        // tonic's per-request timeout (the plan's command timeout).
        if status.code() == tonic::Code::Cancelled && status.message() == "Timeout expired" {
            return RequestError::NoAnswer(plan.command_timeout);
        }
        if let Some(denied) = permission_denied(err) {
            return denied;
        }
        if !status.message().is_empty() {
            return RequestError::Etcd(status.message().to_string());
        }
    }
    let mut line = err.to_string();
    let mut next = err.source();
    while let Some(e) = next {
        let s = e.to_string();
        if !line.contains(&s) {
            line = format!("{line}: {s}");
        }
        next = e.source();
    }
    RequestError::Transport(line)
}

/// A gRPC client for one member, connected within the dial timeout; each of
/// its requests is bounded by the command timeout.
pub async fn connect(plan: &ConnPlan, target: &Target) -> Result<Client, RequestError> {
    let dialer = Dialer::new(plan, target, Protocol::Grpc);
    let connector = tower::service_fn(move |_: http::Uri| {
        let dialer = dialer.clone();
        async move { dialer.open().await.io.map(TokioIo::new) }
    });
    let endpoint = tonic::transport::Endpoint::from_shared(target.url.clone())
        .map_err(|e| RequestError::BadUrl {
            url: target.url.clone(),
            reason: e.to_string(),
        })?
        .timeout(plan.command_timeout);
    let channel = tokio::time::timeout(
        plan.dial_timeout + Duration::from_millis(100),
        endpoint.connect_with_connector(connector),
    )
    .await
    .map_err(|_| DialError::Timeout(plan.dial_timeout))?
    .map_err(|e| explain(&e, plan, &target.host))?;
    Client::from_channel(etcd_client::Channel::Tonic(channel), None)
        .await
        .map_err(|e| explain(&e, plan, &target.host))
}

/// A client for the first endpoint of `plan` that accepts a connection,
/// with its TLS and timeouts (snapshot save, the runbook's member list,
/// the live keyspace count: reads one member serves).
pub async fn connect_first(plan: &ConnPlan) -> Result<Client, NoneAnswered> {
    let mut errors = Vec::new();
    for target in &plan.endpoints {
        match connect(plan, target).await {
            Ok(client) => return Ok(client),
            Err(error) => errors.push(AtEndpoint {
                endpoint: target.endpoint.clone(),
                error,
            }),
        }
    }
    Err(NoneAnswered(errors))
}

/// Runs one request against a member within the command timeout.
pub async fn request<T>(
    plan: &ConnPlan,
    target: &Target,
    call: impl Future<Output = Result<T, etcd_client::Error>>,
) -> Result<T, RequestError> {
    match tokio::time::timeout(plan.command_timeout, call).await {
        Err(_) => Err(RequestError::NoAnswer(plan.command_timeout)),
        Ok(result) => result.map_err(|e| explain(&e, plan, &target.host)),
    }
}

/// One GET's answer and how long its TCP handshake took.
#[derive(Debug)]
pub struct Got {
    /// The TCP handshake: one network round trip, answered by the server's
    /// kernel, so a busy or stalled server process does not lengthen it.
    /// The dial timeout when no handshake came in time; `None` when TCP
    /// failed at once (refused, unreachable) or the URL was bad.
    pub tcp_handshake: Option<Duration>,
    /// The body as text, or why there is none.
    pub body: Result<String, RequestError>,
}

/// `GET url` over HTTP/1.1 with the plan's TLS; the body as text, at most
/// [`MAX_METRICS_BYTES`]. Connecting is bounded by the dial timeout, the
/// request by the command timeout.
pub async fn get(plan: &ConnPlan, url: &str) -> Result<String, RequestError> {
    get_timed(plan, url).await.body
}

/// [`get`], with the time its TCP handshake took.
pub async fn get_timed(plan: &ConnPlan, url: &str) -> Got {
    let (uri, target) = match get_target(plan, url) {
        Ok(found) => found,
        Err(e) => {
            return Got {
                tcp_handshake: None,
                body: Err(e),
            }
        }
    };
    let dialed = Dialer::new(plan, &target, Protocol::Http1).open().await;
    let body = match dialed.io {
        Ok(io) => fetch(plan, &uri, &target, io).await,
        Err(e) => Err(e.into()),
    };
    Got {
        tcp_handshake: dialed.tcp_handshake,
        body,
    }
}

/// The URL to GET and the member it names, as the plan allows.
fn get_target(plan: &ConnPlan, url: &str) -> Result<(http::Uri, Target), RequestError> {
    let bad_url = |reason: String| RequestError::BadUrl {
        url: url.to_string(),
        reason,
    };
    let uri: http::Uri = url.parse().map_err(|e| bad_url(format!("{e}")))?;
    let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
        return Err(bad_url(
            "not a URL like https://10.0.0.1:2379/metrics".into(),
        ));
    };
    let target = plan
        .target(&format!("{scheme}://{authority}"))
        .map_err(|e| RequestError::Endpoint(e.to_string()))?;
    Ok((uri, target))
}

/// The GET over an open connection, within the command timeout.
async fn fetch(
    plan: &ConnPlan,
    uri: &http::Uri,
    target: &Target,
    stream: Box<dyn Io>,
) -> Result<String, RequestError> {
    let fetch = async {
        let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
            .await
            .map_err(|e| explain(&e, plan, &target.host))?;
        let driver = tokio::spawn(conn);
        let authority = uri.authority().map_or("", |a| a.as_str());
        let request = http::Request::get(uri.path())
            .header(http::header::HOST, authority)
            .body(Empty::<Bytes>::new())
            .map_err(|e| RequestError::Transport(e.to_string()))?;
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| explain(&e, plan, &target.host))?;
        if !response.status().is_success() {
            driver.abort();
            return Err(RequestError::Http(response.status()));
        }
        let body = Limited::new(response.into_body(), MAX_METRICS_BYTES)
            .collect()
            .await
            .map_err(|e| RequestError::Body(e.to_string()))?
            .to_bytes();
        driver.abort();
        String::from_utf8(body.to_vec()).map_err(|_| RequestError::NotUtf8)
    };
    tokio::time::timeout(plan.command_timeout, fetch)
        .await
        .map_err(|_| RequestError::NoAnswer(plan.command_timeout))?
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::conn::ConnRequest;
    use crate::cluster::tls::TlsRequest;

    fn plan(endpoint: &str, insecure_tls: bool) -> ConnPlan {
        ConnPlan::new(ConnRequest {
            endpoints: vec![endpoint.to_string()],
            tls: TlsRequest {
                insecure_skip_verify: insecure_tls,
                ..TlsRequest::default()
            },
            dial_timeout: Duration::from_millis(400),
            command_timeout: Duration::from_millis(400),
        })
        .unwrap()
    }

    /// A server whose kernel accepts connections but whose process never
    /// answers (a stalled etcd): its listener, kept open.
    async fn silent_server() -> (tokio::net::TcpListener, String) {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let at = l.local_addr().unwrap().to_string();
        (l, at)
    }

    /// `get_timed` of `scheme://at/metrics`, TLS unverified when asked.
    async fn get_metrics(scheme: &str, at: &str, insecure_tls: bool) -> Got {
        let plan = plan(&format!("{scheme}://{at}"), insecure_tls);
        get_timed(&plan, &format!("{scheme}://{at}/metrics")).await
    }

    #[tokio::test]
    async fn a_stalled_process_does_not_lengthen_the_tcp_handshake() {
        let (_listener, at) = silent_server().await;
        let got = get_metrics("http", &at, false).await;
        let handshake = got.tcp_handshake.expect("the kernel answered");
        assert!(handshake < Duration::from_millis(100), "{handshake:?}");
        assert!(
            matches!(got.body, Err(RequestError::NoAnswer(_))),
            "{:?}",
            got.body
        );
    }

    #[tokio::test]
    async fn a_server_silent_after_tcp_is_a_tls_timeout_not_a_connection_timeout() {
        let (_listener, at) = silent_server().await;
        let got = get_metrics("https", &at, true).await;
        assert!(got
            .tcp_handshake
            .is_some_and(|d| d < Duration::from_millis(100)));
        let err = got.body.unwrap_err().to_string();
        assert!(
            err.starts_with("TCP connected but no TLS handshake"),
            "{err}"
        );
    }

    #[tokio::test]
    async fn a_refused_connection_measures_no_handshake() {
        let (listener, at) = silent_server().await;
        drop(listener);
        let got = get_metrics("http", &at, false).await;
        assert_eq!(got.tcp_handshake, None);
        assert!(
            matches!(got.body, Err(RequestError::Dial(DialError::Connect(_)))),
            "{:?}",
            got.body
        );
    }

    #[test]
    fn permission_denied_names_the_role_in_both_wordings() {
        let plan = plan("http://127.0.0.1:2379", false);
        // 3.6: the gRPC code; 3.5's maintenance calls: auth's own text.
        for status in [
            tonic::Status::permission_denied("etcdserver: permission denied"),
            tonic::Status::unknown("auth: permission denied"),
        ] {
            let err = etcd_client::Error::GRpcStatus(status);
            let e = explain(&err, &plan, "127.0.0.1");
            assert!(matches!(e, RequestError::PermissionDenied(_)), "{e:?}");
            assert!(e.to_string().contains("lacks the root role"), "{e}");
        }
        let other =
            etcd_client::Error::GRpcStatus(tonic::Status::unavailable("etcdserver: no leader"));
        assert!(matches!(explain(&other, &plan, "h"), RequestError::Etcd(_)));
    }
}
