//! The client side of a test connection: connect, send the request, read
//! the agent's reply, all within the plan's timeout, and the error type
//! every probe reports a failed peer with (one line, what and why).

use std::future::Future;
use std::io;
use std::time::Duration;

use thiserror::Error;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::time::Instant;

use super::plan::{Peer, Token};
use super::proto::{self, Budget, ReplyError, Request, Status, REPLY_BYTES};

/// Why a probe failed against one peer.
#[derive(Debug, Error)]
pub enum PeerError {
    /// TCP connect failed (refused, unreachable, no such host).
    #[error("cannot connect: {0}")]
    Connect(io::Error),
    /// No connection, or no reply to the request, within the timeout.
    #[error("no answer within {}s (unreachable or not an agent?)", .0.as_secs_f64())]
    NoAnswer(Duration),
    /// The agent refused the request.
    #[error("agent refused: {0}")]
    Refused(Status),
    /// The reply is not the protocol.
    #[error(transparent)]
    BadReply(#[from] ReplyError),
    /// The agent granted less than the probe needs.
    #[error("agent caps {what} at {granted}, the probe needs {needed}; lower --duration")]
    Grant {
        /// Which budget.
        what: &'static str,
        /// What the agent granted.
        granted: u64,
        /// What the probe needs.
        needed: u64,
    },
    /// The peer stopped answering mid-test.
    #[error("peer stalled: no progress in {during} for {}s", .after.as_secs_f64())]
    Stalled {
        /// What the probe was doing.
        during: &'static str,
        /// How long it waited.
        after: Duration,
    },
    /// The connection broke mid-test.
    #[error("connection lost during {during}: {source}")]
    Lost {
        /// What the probe was doing.
        during: &'static str,
        /// The OS error.
        source: io::Error,
    },
    /// The agent sent something the protocol does not allow.
    #[error("protocol violation: {0}")]
    Protocol(String),
    /// loaded-rtt's load flow stopped before the loaded phase ended.
    #[error(
        "the load flow ended after {0} bytes (its byte budget or the agent's cap) before the \
         loaded phase did, so RTT was partly measured unloaded"
    )]
    FlowEnded(u64),
    /// A probe step that did not finish within its overall bound.
    #[error("did not finish within its time bound of {}s", .0.as_secs_f64())]
    TimeBound(Duration),
}

impl PeerError {
    /// True when the peer could not be reached or refused us: probing it
    /// again in the same run would fail the same way.
    pub fn is_unreachable(&self) -> bool {
        matches!(
            self,
            PeerError::Connect(_)
                | PeerError::NoAnswer(_)
                | PeerError::Refused(Status::BadToken | Status::UnsupportedVersion)
                | PeerError::BadReply(_)
        )
    }
}

/// Connects to `peer`, sends `request` and returns the stream and the
/// agent's grant once the agent said ok, all within `timeout`.
pub async fn open(
    peer: &Peer,
    token: &Token,
    request: &Request,
    timeout: Duration,
) -> Result<(TcpStream, Budget), PeerError> {
    let deadline = Instant::now() + timeout;
    let mut stream =
        tokio::time::timeout_at(deadline, TcpStream::connect((peer.host(), peer.port())))
            .await
            .map_err(|_| PeerError::NoAnswer(timeout))?
            .map_err(PeerError::Connect)?;
    stream.set_nodelay(true).map_err(PeerError::Connect)?;
    let mut reply = [0u8; REPLY_BYTES];
    let exchange = async {
        stream
            .write_all(&proto::encode_request(request, token.as_bytes()))
            .await?;
        stream.read_exact(&mut reply).await
    };
    match tokio::time::timeout_at(deadline, exchange).await {
        Err(_) => return Err(PeerError::NoAnswer(timeout)),
        Ok(Err(e)) if e.kind() == io::ErrorKind::UnexpectedEof => {
            return Err(PeerError::Protocol(
                "the peer closed the connection instead of replying (not an agent?)".into(),
            ))
        }
        Ok(Err(source)) => {
            return Err(PeerError::Lost {
                during: "handshake",
                source,
            })
        }
        Ok(Ok(_)) => {}
    }
    let reply = proto::decode_reply(&reply)?;
    if reply.status != Status::Ok {
        return Err(PeerError::Refused(reply.status));
    }
    Ok((stream, reply.granted))
}

/// Checks that the agent granted at least `needed` of a budget.
pub fn require(what: &'static str, granted: u64, needed: u64) -> Result<(), PeerError> {
    if granted < needed {
        return Err(PeerError::Grant {
            what,
            granted,
            needed,
        });
    }
    Ok(())
}

/// Runs one IO step of a test that must make progress within `timeout`.
pub async fn step<T>(
    timeout: Duration,
    during: &'static str,
    io: impl Future<Output = io::Result<T>>,
) -> Result<T, PeerError> {
    match tokio::time::timeout(timeout, io).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(source)) => Err(PeerError::Lost { during, source }),
        Err(_) => Err(PeerError::Stalled {
            during,
            after: timeout,
        }),
    }
}

/// Milliseconds of `d`, saturated to the protocol's 32-bit field.
pub fn millis(d: Duration) -> u32 {
    u32::try_from(d.as_millis()).unwrap_or(u32::MAX)
}
