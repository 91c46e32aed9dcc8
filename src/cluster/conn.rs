//! The typed connection plan: which endpoints, which TLS files, which
//! timeouts. The command line (etcdctl's flags and ETCDCTL_* variables) and
//! kubeadm discovery both end here; everything that talks to etcd takes a
//! [`ConnPlan`] and never sees a flag. Bad endpoints and bad TLS files are
//! refused when the plan is made, with the flag and file named.

use std::time::Duration;

use thiserror::Error;

use super::tls::{TlsConfigs, TlsError, TlsRequest};
use super::views::Connection;

/// Endpoint used when neither `--endpoints`, ETCDCTL_ENDPOINTS nor kubeadm
/// discovery gives one (etcdctl's default).
pub const DEFAULT_ENDPOINT: &str = "127.0.0.1:2379";
/// etcdctl's default `--dial-timeout`.
pub const DEFAULT_DIAL_TIMEOUT: Duration = Duration::from_secs(2);
/// etcdctl's default `--command-timeout`.
pub const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_secs(5);

/// What the user asked for, before any check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConnRequest {
    /// Endpoints as given: `https://10.0.0.1:2379` or `10.0.0.1:2379`.
    pub endpoints: Vec<String>,
    /// TLS files and switches.
    pub tls: TlsRequest,
    /// Longest wait for a connection (TCP and TLS handshake).
    pub dial_timeout: Duration,
    /// Longest wait for one request.
    pub command_timeout: Duration,
}

/// A connection request that cannot make a plan.
#[derive(Debug, Error)]
pub enum ConnError {
    /// A TLS flag or file problem.
    #[error(transparent)]
    Tls(#[from] TlsError),
    /// No endpoint at all.
    #[error("--endpoints is empty")]
    NoEndpoints,
    /// More endpoints than [`MAX_ENDPOINTS`].
    #[error("--endpoints lists {0} endpoints, more than the {MAX_ENDPOINTS} accepted")]
    TooManyEndpoints(usize),
    /// An endpoint that is not `[scheme://]host:port`.
    #[error("--endpoints: {0:?} is not an endpoint like https://10.0.0.1:2379 or 10.0.0.1:2379")]
    BadEndpoint(String),
    /// An https endpoint with nothing to verify the server with.
    #[error("--endpoints {0}: https needs --cacert FILE to verify the server (or --insecure-skip-tls-verify)")]
    HttpsWithoutCa(String),
    /// A zero timeout.
    #[error("{0} must be more than 0")]
    ZeroTimeout(&'static str),
}

/// Most endpoints asked at once: etcd clusters have 3 to 7 members.
pub const MAX_ENDPOINTS: usize = 64;

/// One endpoint to dial.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The endpoint as given or listed, shown in report rows.
    pub endpoint: String,
    /// `scheme://host:port`.
    pub url: String,
    /// Host name or address, without IPv6 brackets (the TLS server name).
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Whether the connection uses TLS.
    pub tls: bool,
}

/// Where and how to reach the cluster.
#[derive(Debug, Clone)]
pub struct ConnPlan {
    /// Endpoints to ask, in the order given.
    pub endpoints: Vec<Target>,
    /// The TLS files and switches as given (for etcdctl commands in findings).
    pub tls_request: TlsRequest,
    /// Built TLS configurations, when any TLS flag was given.
    pub tls: Option<TlsConfigs>,
    /// Longest wait for a connection.
    pub dial_timeout: Duration,
    /// Longest wait for one request.
    pub command_timeout: Duration,
}

impl ConnPlan {
    /// Checks `req` (endpoints, timeouts, TLS files) and builds the plan.
    pub fn new(req: ConnRequest) -> Result<ConnPlan, ConnError> {
        if req.dial_timeout.is_zero() {
            return Err(ConnError::ZeroTimeout("--dial-timeout"));
        }
        if req.command_timeout.is_zero() {
            return Err(ConnError::ZeroTimeout("--command-timeout"));
        }
        if req.endpoints.is_empty() {
            return Err(ConnError::NoEndpoints);
        }
        if req.endpoints.len() > MAX_ENDPOINTS {
            return Err(ConnError::TooManyEndpoints(req.endpoints.len()));
        }
        let tls = if req.tls.any() {
            Some(TlsConfigs::load(&req.tls)?)
        } else {
            None
        };
        let mut plan = ConnPlan {
            endpoints: Vec::new(),
            tls_request: req.tls,
            tls,
            dial_timeout: req.dial_timeout,
            command_timeout: req.command_timeout,
        };
        plan.endpoints = req
            .endpoints
            .iter()
            .map(|e| plan.target(e))
            .collect::<Result<_, _>>()?;
        Ok(plan)
    }

    /// Parses one endpoint the way this plan dials: a scheme-less endpoint
    /// uses TLS when any TLS flag was given, as etcdctl does.
    pub fn target(&self, endpoint: &str) -> Result<Target, ConnError> {
        let bad = || ConnError::BadEndpoint(endpoint.to_string());
        let (scheme, rest) = match endpoint.split_once("://") {
            Some(parts) => parts,
            None if self.tls.is_some() => ("https", endpoint),
            None => ("http", endpoint),
        };
        let tls = match scheme {
            "https" => true,
            "http" => false,
            _ => return Err(bad()),
        };
        let authority: http::uri::Authority = rest
            .strip_suffix('/')
            .unwrap_or(rest)
            .parse()
            .map_err(|_| bad())?;
        let port = authority.port_u16().filter(|p| *p > 0).ok_or_else(bad)?;
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']');
        if host.is_empty() {
            return Err(bad());
        }
        let verifiable = self.tls_request.cacert.is_some() || self.tls_request.insecure_skip_verify;
        if tls && !verifiable {
            return Err(ConnError::HttpsWithoutCa(endpoint.to_string()));
        }
        Ok(Target {
            endpoint: endpoint.to_string(),
            url: format!("{scheme}://{authority}"),
            host: host.to_string(),
            port,
            tls,
        })
    }

    /// The connection as recorded in a report, for `endpoints`.
    pub fn connection(&self, endpoints: Vec<String>) -> Connection {
        let path = |p: &Option<std::path::PathBuf>| p.as_ref().map(|p| p.display().to_string());
        Connection {
            endpoints,
            cacert: path(&self.tls_request.cacert),
            cert: path(&self.tls_request.cert),
            key: path(&self.tls_request.key),
            insecure_skip_tls_verify: self.tls_request.insecure_skip_verify,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(endpoints: &[&str], tls: TlsRequest) -> ConnRequest {
        ConnRequest {
            endpoints: endpoints.iter().map(|e| e.to_string()).collect(),
            tls,
            dial_timeout: DEFAULT_DIAL_TIMEOUT,
            command_timeout: DEFAULT_COMMAND_TIMEOUT,
        }
    }

    #[test]
    fn endpoints_parse_like_etcdctl() {
        let plan = ConnPlan::new(request(
            &["127.0.0.1:2379", "http://[::1]:12379/"],
            TlsRequest::default(),
        ))
        .unwrap();
        assert_eq!(plan.endpoints[0].url, "http://127.0.0.1:2379");
        assert_eq!(plan.endpoints[0].endpoint, "127.0.0.1:2379");
        assert!(!plan.endpoints[0].tls);
        assert_eq!(plan.endpoints[1].host, "::1");
        assert_eq!(plan.endpoints[1].port, 12379);
    }

    #[test]
    fn scheme_less_endpoints_use_tls_when_a_tls_flag_is_given() {
        let tls = TlsRequest {
            insecure_skip_verify: true,
            ..TlsRequest::default()
        };
        let plan = ConnPlan::new(request(&["10.0.0.1:2379"], tls)).unwrap();
        assert_eq!(plan.endpoints[0].url, "https://10.0.0.1:2379");
        assert!(plan.endpoints[0].tls);
    }

    #[test]
    fn bad_endpoints_name_the_flag() {
        for bad in ["10.0.0.1", "ftp://10.0.0.1:2379", "http://:2379", "a b:1"] {
            let e = ConnPlan::new(request(&[bad], TlsRequest::default())).unwrap_err();
            assert!(e.to_string().starts_with("--endpoints"), "{bad}: {e}");
        }
        let e =
            ConnPlan::new(request(&["https://10.0.0.1:2379"], TlsRequest::default())).unwrap_err();
        assert!(matches!(e, ConnError::HttpsWithoutCa(_)), "{e}");
        let e = ConnPlan::new(request(&[], TlsRequest::default())).unwrap_err();
        assert_eq!(e.to_string(), "--endpoints is empty");
    }

    #[test]
    fn zero_timeouts_are_refused() {
        let mut req = request(&["127.0.0.1:2379"], TlsRequest::default());
        req.dial_timeout = Duration::ZERO;
        let e = ConnPlan::new(req).unwrap_err();
        assert_eq!(e.to_string(), "--dial-timeout must be more than 0");
    }

    #[test]
    fn connection_carries_the_tls_flags() {
        let plan = ConnPlan::new(request(&["127.0.0.1:2379"], TlsRequest::default())).unwrap();
        let c = plan.connection(vec!["http://127.0.0.1:2379".into()]);
        assert_eq!(
            c.etcdctl_flags(&c.endpoints),
            "--endpoints=http://127.0.0.1:2379"
        );
    }

    proptest::proptest! {
        #[test]
        fn any_endpoint_parses_or_is_refused_without_panic(e in "\\PC{0,80}") {
            let plan = ConnPlan::new(request(&["127.0.0.1:2379"], TlsRequest::default())).unwrap();
            if let Ok(t) = plan.target(&e) {
                proptest::prop_assert!(t.port > 0 && !t.host.is_empty());
            }
        }

        #[test]
        fn url_shaped_endpoints_keep_their_port(
            host in "[a-z0-9.-]{1,20}|\\[[0-9a-f:]{2,20}\\]", port in 0u32..70_000,
        ) {
            let plan = ConnPlan::new(request(&["127.0.0.1:2379"], TlsRequest::default())).unwrap();
            if let Ok(t) = plan.target(&format!("http://{host}:{port}")) {
                proptest::prop_assert_eq!(u32::from(t.port), port);
            }
        }
    }

    #[test]
    fn port_zero_is_not_an_endpoint() {
        let plan = ConnPlan::new(request(&["127.0.0.1:2379"], TlsRequest::default())).unwrap();
        assert!(matches!(
            plan.target("127.0.0.1:0"),
            Err(ConnError::BadEndpoint(_))
        ));
    }
}
