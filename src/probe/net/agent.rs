//! The agent `etcd-doctor net` measures against: a small tokio TCP server
//! run on each peer host. It exists so RTT and throughput can be measured
//! between the real hosts, over the real NICs, without installing iperf3
//! or sockperf on production control-plane nodes.
//!
//! It is built to be left running on a production host:
//! - it listens only where told (there is no default address);
//! - every test needs the shared token, compared in constant time (SHA-256
//!   digests compared with `subtle`, so neither content nor length leaks);
//! - every test is capped in bytes and seconds by the agent, whatever the
//!   client asks ([`AgentLimits`]);
//! - it never sends more than the client asked for: echo returns exactly
//!   what arrived, source sends at most the granted byte budget, replies are
//!   shorter than requests;
//! - concurrent tests are capped (more clients get `busy`), and so are
//!   connections still in their handshake (more are closed at once);
//! - a client that sends garbage, goes silent (half-open), or disconnects
//!   mid-test only ends its own connection.
//!
//! The wire format is in [`super::proto`]. What happens to each connection
//! is reported through a callback ([`Event`]); the agent never prints.

use std::future::Future;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream as StdStream};
use std::sync::Arc;
use std::time::Duration;

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::time::Instant;

use super::plan::{Token, MAX_MESSAGE_BYTES};
use super::proto::{
    decode_header, encode_loss_trailer, encode_reply, encode_trailer, Budget, Header, LossTrailer,
    Reply, Request, Status, TestKind, Trailer, MIN_MESSAGE_BYTES, REPLY_BYTES,
    REQUEST_HEADER_BYTES, VERSION,
};
use super::{tcpinfo, threads};

/// Size of the agent's bulk read and write buffers.
const CHUNK_BYTES: usize = 256 * 1024;
/// Pause before answering a wrong token, to slow down guessing.
const BAD_TOKEN_DELAY: Duration = Duration::from_millis(100);
/// Pause after a failed `accept` (out of file descriptors) before retrying.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(50);

/// What the agent allows. The defaults suit a production host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentLimits {
    /// Tests served at once; further clients are answered `busy`.
    pub max_clients: usize,
    /// Longest one test may last.
    pub max_test_duration: Duration,
    /// Most bytes one test may echo, accept or send.
    pub max_test_bytes: u64,
    /// Largest echo message, bytes.
    pub max_message_bytes: u32,
    /// How long a new connection has to deliver its whole request.
    pub handshake_timeout: Duration,
    /// How long a test may make no progress before the agent ends it.
    pub idle_timeout: Duration,
}

impl Default for AgentLimits {
    /// 4 clients, 60 s and 64 GiB per test, 1 MiB messages, 5 s to
    /// complete a handshake, 10 s without progress.
    fn default() -> Self {
        AgentLimits {
            max_clients: 4,
            max_test_duration: Duration::from_secs(60),
            max_test_bytes: 64 << 30,
            max_message_bytes: MAX_MESSAGE_BYTES,
            handshake_timeout: Duration::from_secs(5),
            idle_timeout: Duration::from_secs(10),
        }
    }
}

impl AgentLimits {
    /// Connections allowed at once, tests and handshakes together.
    pub fn max_connections(&self) -> usize {
        self.max_clients * 4 + 4
    }

    /// What the agent grants for `request`; `None` when it cannot be served.
    fn grant(&self, request: &Request) -> Option<Budget> {
        let asked = request.budget;
        let message_bytes = match request.test {
            TestKind::Echo | TestKind::EchoLoss => {
                let size = asked.message_bytes;
                if !(MIN_MESSAGE_BYTES..=self.max_message_bytes).contains(&size) {
                    return None;
                }
                size
            }
            TestKind::Sink | TestKind::Source => 0,
        };
        let cap_ms = u32::try_from(self.max_test_duration.as_millis()).unwrap_or(u32::MAX);
        let granted = Budget {
            message_bytes,
            max_bytes: asked.max_bytes.min(self.max_test_bytes),
            max_duration_ms: asked.max_duration_ms.min(cap_ms),
        };
        (granted.max_bytes > 0 && granted.max_duration_ms > 0).then_some(granted)
    }
}

/// Where and how an agent serves: built from `etcd-doctor agent` flags.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentPlan {
    /// The exact address to bind.
    pub listen: SocketAddr,
    /// The shared secret clients must present.
    pub token: Token,
    /// The agent's caps.
    pub limits: AgentLimits,
}

/// How one connection ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Not the protocol, or no whole request in time: closed without reply.
    Dropped(&'static str),
    /// Too many connections open: closed at once.
    Overloaded,
    /// Answered with a refusal.
    Refused(Status),
    /// A test ran.
    Served {
        /// Which test.
        test: TestKind,
        /// Bytes echoed, received or sent.
        bytes: u64,
        /// How long it ran.
        elapsed: Duration,
        /// Why it ended.
        end: End,
    },
}

/// Why a test ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// The client closed (the normal end).
    ClientClosed,
    /// The granted byte budget was used up.
    ByteBudget,
    /// The granted time budget ran out.
    TimeBudget,
    /// No progress for the idle timeout.
    Idle,
    /// The connection failed (reset, broken pipe).
    Io(io::ErrorKind),
}

impl std::fmt::Display for End {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            End::ClientClosed => f.write_str("client closed"),
            End::ByteBudget => f.write_str("byte budget reached"),
            End::TimeBudget => f.write_str("time budget reached"),
            End::Idle => f.write_str("client idle"),
            End::Io(kind) => write!(f, "connection failed: {kind}"),
        }
    }
}

/// One connection's fate, reported when it closes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Event {
    /// The client's address.
    pub peer: SocketAddr,
    /// What happened.
    pub outcome: Outcome,
}

/// Receives an [`Event`] per connection.
pub type EventSink = Arc<dyn Fn(Event) + Send + Sync>;

/// A bound agent, ready to serve.
#[derive(Debug)]
pub struct Agent {
    listener: TcpListener,
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    token_digest: [u8; 32],
    limits: AgentLimits,
    tests: Arc<Semaphore>,
    connections: Arc<Semaphore>,
}

impl Agent {
    /// Binds the plan's address (exactly that: the agent has no default).
    pub async fn bind(plan: &AgentPlan) -> io::Result<Agent> {
        let listener = TcpListener::bind(plan.listen).await?;
        let limits = plan.limits.clone();
        let shared = Shared {
            token_digest: Sha256::digest(plan.token.as_bytes()).into(),
            tests: Arc::new(Semaphore::new(limits.max_clients)),
            connections: Arc::new(Semaphore::new(limits.max_connections())),
            limits,
        };
        Ok(Agent {
            listener,
            shared: Arc::new(shared),
        })
    }

    /// The address actually bound (the port, when asked for port 0).
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.listener.local_addr()
    }

    /// Serves connections until `shutdown` completes. Failed accepts (out
    /// of file descriptors) are retried; nothing a client does stops it.
    pub async fn serve(self, shutdown: impl Future<Output = ()>, events: EventSink) {
        tokio::pin!(shutdown);
        loop {
            let accepted = tokio::select! {
                _ = &mut shutdown => return,
                accepted = self.listener.accept() => accepted,
            };
            let Ok((stream, peer)) = accepted else {
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            };
            let Ok(permit) = self.shared.connections.clone().try_acquire_owned() else {
                drop(stream);
                events(Event {
                    peer,
                    outcome: Outcome::Overloaded,
                });
                continue;
            };
            let shared = self.shared.clone();
            let events = events.clone();
            tokio::spawn(async move {
                let outcome = handle(stream, &shared).await;
                drop(permit);
                events(Event { peer, outcome });
            });
        }
    }
}

async fn handle(mut stream: TcpStream, shared: &Shared) -> Outcome {
    let _ = stream.set_nodelay(true);
    let limits = &shared.limits;
    let deadline = Instant::now() + limits.handshake_timeout;
    let mut header = [0u8; REQUEST_HEADER_BYTES];
    if let Err(why) = read_by(deadline, &mut stream, &mut header).await {
        return Outcome::Dropped(why);
    }
    let (request, token_bytes) = match decode_header(&header) {
        Err(_) => return Outcome::Dropped("not the agent protocol"),
        Ok(Header::UnsupportedVersion(_)) => {
            return refuse(&mut stream, Status::UnsupportedVersion, limits).await
        }
        Ok(Header::Malformed) => return refuse(&mut stream, Status::Malformed, limits).await,
        Ok(Header::Valid {
            request,
            token_bytes,
        }) => (request, token_bytes),
    };
    let mut token = vec![0u8; token_bytes];
    if let Err(why) = read_by(deadline, &mut stream, &mut token).await {
        return Outcome::Dropped(why);
    }
    let digest: [u8; 32] = Sha256::digest(&token).into();
    if !bool::from(digest.ct_eq(&shared.token_digest)) {
        tokio::time::sleep(BAD_TOKEN_DELAY).await;
        return refuse(&mut stream, Status::BadToken, limits).await;
    }
    let Ok(_test) = shared.tests.clone().try_acquire_owned() else {
        return refuse(&mut stream, Status::Busy, limits).await;
    };
    let Some(granted) = limits.grant(&request) else {
        return refuse(&mut stream, Status::OutOfRange, limits).await;
    };
    let start = Instant::now();
    let reply = encode_reply(&Reply {
        version: VERSION,
        status: Status::Ok,
        granted,
    });
    if let Err(end) = bounded(
        start + limits.idle_timeout,
        limits.idle_timeout,
        stream.write_all(&reply),
    )
    .await
    {
        return served(request.test, 0, start, end);
    }
    let test = Test {
        granted,
        start: start.into_std(),
        deadline: (start + Duration::from_millis(granted.max_duration_ms.into())).into_std(),
        idle: limits.idle_timeout,
    };
    let (bytes, end) = match request.test {
        TestKind::Echo => test.echo(&mut stream).await,
        TestKind::EchoLoss => test.echo_loss(&mut stream).await,
        TestKind::Sink | TestKind::Source => test.bulk(stream, request.test).await,
    };
    served(request.test, bytes, start, end)
}

fn served(test: TestKind, bytes: u64, start: Instant, end: End) -> Outcome {
    Outcome::Served {
        test,
        bytes,
        elapsed: start.elapsed(),
        end,
    }
}

/// Reads exactly `buf` before `deadline`; the error says why not.
async fn read_by(
    deadline: Instant,
    stream: &mut TcpStream,
    buf: &mut [u8],
) -> Result<(), &'static str> {
    match tokio::time::timeout_at(deadline, stream.read_exact(buf)).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(_)) => Err("closed before a whole request"),
        Err(_) => Err("no whole request in time"),
    }
}

async fn refuse(stream: &mut TcpStream, status: Status, limits: &AgentLimits) -> Outcome {
    let reply = encode_reply(&Reply {
        version: VERSION,
        status,
        granted: Budget {
            message_bytes: 0,
            max_bytes: 0,
            max_duration_ms: 0,
        },
    });
    let _ = tokio::time::timeout(limits.idle_timeout, stream.write_all(&reply)).await;
    Outcome::Refused(status)
}

/// Runs `io` until the earlier of `deadline` and `idle` from now, mapping
/// every way it can stop to an [`End`].
async fn bounded<T>(
    deadline: Instant,
    idle: Duration,
    io: impl Future<Output = io::Result<T>>,
) -> Result<T, End> {
    let until = deadline.min(Instant::now() + idle);
    match tokio::time::timeout_at(until, io).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) if e.kind() == io::ErrorKind::UnexpectedEof => Err(End::ClientClosed),
        Ok(Err(e)) => Err(End::Io(e.kind())),
        Err(_) if Instant::now() >= deadline => Err(End::TimeBudget),
        Err(_) => Err(End::Idle),
    }
}

/// One accepted test's budget, as instants and timeouts.
#[derive(Debug, Clone, Copy)]
struct Test {
    granted: Budget,
    start: std::time::Instant,
    deadline: std::time::Instant,
    idle: Duration,
}

impl Test {
    /// Echoes whole messages back until the client closes or a budget
    /// ends; a message beyond the byte budget is read but not echoed.
    async fn echo(self, stream: &mut TcpStream) -> (u64, End) {
        let size = self.granted.message_bytes as usize;
        let deadline = Instant::from_std(self.deadline);
        let mut buf = vec![0u8; size];
        let mut echoed = 0u64;
        loop {
            let read = stream.read_exact(&mut buf);
            if let Err(end) = bounded(deadline, self.idle, read).await {
                return (echoed, end);
            }
            if echoed + size as u64 > self.granted.max_bytes {
                return (echoed, End::ByteBudget);
            }
            let write = stream.write_all(&buf);
            if let Err(end) = bounded(deadline, self.idle, write).await {
                return (echoed, end);
            }
            echoed += size as u64;
        }
    }

    /// Echoes, then, when the client half-closed, sends what this end's
    /// socket sent and sent again (the reply and the echoes were written).
    async fn echo_loss(self, stream: &mut TcpStream) -> (u64, End) {
        let (echoed, end) = self.echo(stream).await;
        if end != End::ClientClosed {
            return (echoed, end);
        }
        let written = REPLY_BYTES as u64 + echoed;
        let loss = tcpinfo::read(stream, written).unwrap_or_default();
        let trailer = encode_loss_trailer(&LossTrailer {
            bytes_sent: loss.bytes_sent,
            resent_bytes: loss.resent_bytes,
            retransmits: loss.retransmits,
            spurious_retransmits: loss.spurious_retransmits,
        });
        let deadline = Instant::from_std(self.deadline);
        match bounded(deadline, self.idle, stream.write_all(&trailer)).await {
            Ok(()) => (echoed, End::ClientClosed),
            Err(end) => (echoed, end),
        }
    }

    /// Runs a sink or source test on a low-priority thread of its own
    /// (see [`threads`]).
    async fn bulk(self, stream: TcpStream, kind: TestKind) -> (u64, End) {
        let stream = match threads::into_blocking(stream) {
            Ok(s) => s,
            Err(e) => return (0, End::Io(e.kind())),
        };
        let work = move || match kind {
            TestKind::Sink => self.sink(stream),
            _ => self.source(stream),
        };
        threads::bulk(work)
            .await
            .unwrap_or((0, End::Io(io::ErrorKind::Other)))
    }

    /// The timeout for the next blocking call: until the time budget ends
    /// or the client has made no progress for the idle timeout (since
    /// `progress`), whichever is sooner.
    fn wait(&self, progress: std::time::Instant) -> Result<Duration, End> {
        let now = std::time::Instant::now();
        let left = self.deadline.saturating_duration_since(now);
        if left.is_zero() {
            return Err(End::TimeBudget);
        }
        let idle_left = (progress + self.idle).saturating_duration_since(now);
        if idle_left.is_zero() {
            return Err(End::Idle);
        }
        Ok(left.min(idle_left))
    }

    /// Bytes the next bulk read or write may move, `done` bytes in.
    fn room(&self, done: u64) -> usize {
        (self.granted.max_bytes - done).min(CHUNK_BYTES as u64) as usize
    }

    fn classify(&self, e: io::Error) -> End {
        if threads::is_timeout(&e) {
            if std::time::Instant::now() >= self.deadline {
                End::TimeBudget
            } else {
                End::Idle
            }
        } else {
            End::Io(e.kind())
        }
    }

    /// Reads and discards up to the byte budget, then sends the trailer.
    fn sink(self, mut s: StdStream) -> (u64, End) {
        let mut buf = vec![0u8; CHUNK_BYTES];
        let mut received = 0u64;
        let mut last = self.start;
        let end = loop {
            let room = self.room(received);
            if room == 0 {
                break End::ByteBudget;
            }
            let read = self
                .wait(last)
                .and_then(|w| s.set_read_timeout(Some(w)).map_err(|e| End::Io(e.kind())))
                .and_then(|()| s.read(&mut buf[..room]).map_err(|e| self.classify(e)));
            match read {
                Ok(0) => break End::ClientClosed,
                Ok(n) => {
                    received += n as u64;
                    last = std::time::Instant::now();
                }
                Err(end) => break end,
            }
        };
        let trailer = encode_trailer(&Trailer {
            bytes: received,
            elapsed_us: (last - self.start).as_micros() as u64,
        });
        if s.set_write_timeout(Some(self.idle)).is_ok() {
            let _ = s.write_all(&trailer);
        }
        (received, end)
    }

    /// Sends zeros up to the byte budget or the time budget, then closes
    /// its side and waits (bounded) for the client to close, so nothing
    /// still in flight is reset away. A write cut short by its timeout is
    /// not progress (the client is not reading; the bytes only filled the
    /// socket buffers), so a client that never reads is ended at the idle
    /// timeout and not waited for again.
    fn source(self, mut s: StdStream) -> (u64, End) {
        let buf = vec![0u8; CHUNK_BYTES];
        let mut sent = 0u64;
        let mut progress = self.start;
        let end = loop {
            let room = self.room(sent);
            if room == 0 {
                break End::ByteBudget;
            }
            let write = self
                .wait(progress)
                .and_then(|w| s.set_write_timeout(Some(w)).map_err(|e| End::Io(e.kind())))
                .and_then(|()| s.write(&buf[..room]).map_err(|e| self.classify(e)));
            match write {
                Ok(n) => {
                    sent += n as u64;
                    if n == room {
                        progress = std::time::Instant::now();
                    }
                }
                Err(end) => break end,
            }
        };
        if end == End::Idle {
            return (sent, end);
        }
        let linger = std::time::Instant::now() + self.idle;
        let _ = s.shutdown(std::net::Shutdown::Write);
        let mut sink = [0u8; 4096];
        while let Some(left) = Some(linger.saturating_duration_since(std::time::Instant::now()))
            .filter(|l| !l.is_zero())
        {
            if s.set_read_timeout(Some(left)).is_err()
                || !matches!(s.read(&mut sink), Ok(n) if n > 0)
            {
                break;
            }
        }
        (sent, end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(test: TestKind, message_bytes: u32, max_bytes: u64, ms: u32) -> Request {
        Request {
            test,
            budget: Budget {
                message_bytes,
                max_bytes,
                max_duration_ms: ms,
            },
        }
    }

    #[test]
    fn grants_never_exceed_the_caps_or_the_request() {
        let limits = AgentLimits::default();
        let g = limits
            .grant(&request(TestKind::Source, 7, u64::MAX, u32::MAX))
            .unwrap();
        assert_eq!(g.max_bytes, 64 << 30);
        assert_eq!(g.max_duration_ms, 60_000);
        assert_eq!(g.message_bytes, 0);
        let g = limits
            .grant(&request(TestKind::Echo, 100, 1_000, 2_000))
            .unwrap();
        assert_eq!(
            (g.message_bytes, g.max_bytes, g.max_duration_ms),
            (100, 1_000, 2_000)
        );
        assert_eq!(limits.grant(&request(TestKind::Echo, 4, 1_000, 1)), None);
        assert_eq!(limits.grant(&request(TestKind::Echo, 2 << 20, 1, 1)), None);
        assert_eq!(limits.grant(&request(TestKind::Sink, 0, 0, 1_000)), None);
        assert_eq!(limits.grant(&request(TestKind::Sink, 0, 10, 0)), None);
    }
}
