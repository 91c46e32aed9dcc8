//! Why talking to a member failed, typed: a connection's error
//! ([`DialError`]), a request's error
//! ([`RequestError`]), the same at a named endpoint ([`AtEndpoint`]), and a
//! cluster-wide read that no member gave ([`ListError`]). Each prints as
//! the one line shown in the member's row, in the operator's terms.

use std::time::Duration;

use thiserror::Error;

/// Why a connection could not be made.
#[derive(Debug, Clone, Error)]
pub enum DialError {
    /// No TCP connection within the dial timeout.
    #[error("no connection within the dial timeout ({0:?})")]
    Timeout(Duration),
    /// TCP connected but the TLS handshake did not finish within the dial
    /// timeout: the server's process, not the network, did not answer.
    #[error("TCP connected but no TLS handshake within the dial timeout ({0:?})")]
    TlsTimeout(Duration),
    /// TCP failed (refused, unreachable).
    #[error("{0}")]
    Connect(String),
    /// The TLS handshake failed.
    #[error("TLS: {0}")]
    Tls(String),
}

/// Why one request to a member (gRPC or a /metrics GET) failed.
#[derive(Debug, Clone, Error)]
pub enum RequestError {
    /// No connection: TCP failed, the TLS handshake failed, or the dial
    /// timeout passed.
    #[error(transparent)]
    Dial(#[from] DialError),
    /// The server refused us after the TLS handshake.
    #[error("TLS: {0}")]
    Tls(String),
    /// etcd answered with an error (its gRPC status message).
    #[error("{0}")]
    Etcd(String),
    /// etcd refused the request for this user's roles (auth enabled): the
    /// member answered, it is not unhealthy. Status needs the root role on
    /// etcd 3.6.0 to 3.6.11; HashKV, Hash, Defragment, Snapshot and
    /// MoveLeader need it on 3.5 on (server/etcdserver/api/v3rpc/maintenance.go,
    /// authMaintenanceServer, at v3.5.21, v3.6.0 and v3.6.12).
    #[error("{0}: this user lacks the root role this request needs (etcd 3.6.0 to 3.6.11 ask it for Status too)")]
    PermissionDenied(String),
    /// The transport failed otherwise: its error chain, on one line.
    #[error("{0}")]
    Transport(String),
    /// No answer within the command timeout.
    #[error("no answer within the command timeout ({0:?})")]
    NoAnswer(Duration),
    /// The endpoint is not one the connection plan accepts.
    #[error("{0}")]
    Endpoint(String),
    /// A URL that cannot be requested.
    #[error("{url}: {reason}")]
    BadUrl {
        /// The URL as given or listed.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The /metrics endpoint answered with an HTTP error status.
    #[error("HTTP {0}")]
    Http(http::StatusCode),
    /// The /metrics body could not be read (or was over the limit).
    #[error("reading the body: {0}")]
    Body(String),
    /// The /metrics body is not text.
    #[error("the body is not UTF-8")]
    NotUtf8,
    /// The /metrics body is not in the Prometheus text format.
    #[error("not Prometheus text: {0}")]
    NotPrometheus(String),
    /// A Prometheus page with none of the etcd families read.
    #[error("no etcd metric in {0} lines of Prometheus text (not an etcd member's /metrics?)")]
    NoEtcdMetrics(usize),
    /// More lines of the families read than one page may give.
    #[error("more than {0} lines of the etcd families read (not an etcd member's /metrics?)")]
    TooManyLines(usize),
    /// No member reported a revision to hash at.
    #[error("no member reported a revision")]
    NoRevision,
    /// A revision beyond what etcd's API takes.
    #[error("revision {0} out of range")]
    Revision(u64),
}

/// A request error at the endpoint it came from.
#[derive(Debug, Clone, Error)]
#[error("{endpoint}: {error}")]
pub struct AtEndpoint {
    /// The endpoint as given or listed.
    pub endpoint: String,
    /// What went wrong there.
    pub error: RequestError,
}

/// No endpoint of a plan accepted a connection: each one's error, in order.
#[derive(Debug, Clone, Error)]
#[error("no endpoint answered: {}", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join("; "))]
pub struct NoneAnswered(pub Vec<AtEndpoint>);

/// Why a cluster-wide read (the member list, the alarms) got no answer.
#[derive(Debug, Clone, Error)]
pub enum ListError {
    /// There was no endpoint to ask.
    #[error("no endpoint answered")]
    NoneAnswered,
    /// The last endpoint asked failed so.
    #[error(transparent)]
    Failed(#[from] AtEndpoint),
}
