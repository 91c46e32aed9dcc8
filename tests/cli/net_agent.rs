//! The agent under abuse: garbage, half-open connections, clients that
//! vanish mid-transfer, wrong tokens, too many clients, requests beyond its
//! caps. Each test runs a real agent (in this process, on loopback, with
//! short timeouts) and checks what the client sees, what the agent says
//! happened, and that it keeps serving.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use etcd_doctor::probe::net::agent::{Agent, AgentLimits, AgentPlan, End, Event, Outcome};
use etcd_doctor::probe::net::proto::{
    self, Budget, Reply, Request, Status, TestKind, REPLY_BYTES, TRAILER_BYTES,
};
use etcd_doctor::probe::net::rtt::{self, RttParams};
use etcd_doctor::probe::net::{Peer, PeerError, Token};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::oneshot;

const TOKEN: &str = "agent-test-token";
const MIB: u64 = 1 << 20;

/// Small caps and short timeouts, so every limit is reached quickly.
fn limits() -> AgentLimits {
    AgentLimits {
        max_clients: 2,
        max_test_duration: Duration::from_secs(2),
        max_test_bytes: MIB,
        max_message_bytes: 64 * 1024,
        handshake_timeout: Duration::from_millis(300),
        idle_timeout: Duration::from_millis(500),
    }
}

/// A running agent, shut down on drop.
struct TestAgent {
    addr: SocketAddr,
    events: Arc<Mutex<Vec<Event>>>,
    _shutdown: oneshot::Sender<()>,
}

impl TestAgent {
    async fn start(limits: AgentLimits) -> TestAgent {
        let plan = AgentPlan {
            listen: "127.0.0.1:0".parse().unwrap(),
            token: Token::new(TOKEN).unwrap(),
            limits,
        };
        let agent = Agent::bind(&plan).await.unwrap();
        let addr = agent.local_addr().unwrap();
        let events = Arc::new(Mutex::new(Vec::new()));
        let sink = events.clone();
        let (shutdown, stop) = oneshot::channel::<()>();
        tokio::spawn(agent.serve(
            async {
                let _ = stop.await;
            },
            Arc::new(move |e| sink.lock().unwrap().push(e)),
        ));
        TestAgent {
            addr,
            events,
            _shutdown: shutdown,
        }
    }

    fn peer(&self) -> Peer {
        Peer::parse(&self.addr.to_string()).unwrap()
    }

    /// Waits up to 3 s for an event matching `want` and returns it.
    async fn event(&self, want: impl Fn(&Outcome) -> bool) -> Outcome {
        let deadline = Instant::now() + Duration::from_secs(3);
        loop {
            let found = self
                .events
                .lock()
                .unwrap()
                .iter()
                .find(|e| want(&e.outcome))
                .map(|e| e.outcome.clone());
            if let Some(o) = found {
                return o;
            }
            let all = self.events.lock().unwrap().clone();
            assert!(Instant::now() < deadline, "no such event in {all:#?}");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits for the end of a `test` connection and returns its outcome.
    async fn served(&self, test: TestKind) -> Outcome {
        self.event(|o| matches!(o, Outcome::Served { test: t, .. } if *t == test))
            .await
    }

    /// Pings the agent 20 times with the real rtt probe.
    async fn pings(&self, token: &str) -> Result<u64, PeerError> {
        let params = RttParams {
            message_bytes: 100,
            rate_hz: 100,
            duration: Duration::from_millis(200),
            timeout: Duration::from_secs(1),
        };
        let pings = rtt::measure(&self.peer(), &Token::new(token).unwrap(), &params).await?;
        Ok(pings.latency.len())
    }

    async fn serves(&self) -> bool {
        matches!(self.pings(TOKEN).await, Ok(20))
    }

    /// Connects, sends a request and reads the reply.
    async fn request(&self, test: TestKind, budget: Budget, token: &str) -> (TcpStream, Reply) {
        let mut s = TcpStream::connect(self.addr).await.unwrap();
        let bytes = proto::encode_request(&Request { test, budget }, token.as_bytes());
        s.write_all(&bytes).await.unwrap();
        let mut reply = [0u8; REPLY_BYTES];
        s.read_exact(&mut reply).await.unwrap();
        (s, proto::decode_reply(&reply).unwrap())
    }
}

fn budget(message_bytes: u32, max_bytes: u64, max_duration_ms: u32) -> Budget {
    Budget {
        message_bytes,
        max_bytes,
        max_duration_ms,
    }
}

/// Reads until EOF or an error; the bytes that arrived.
async fn drain(s: &mut TcpStream) -> u64 {
    let mut buf = vec![0u8; 64 * 1024];
    let mut total = 0;
    while let Ok(Ok(n)) = tokio::time::timeout(Duration::from_secs(5), s.read(&mut buf)).await {
        if n == 0 {
            break;
        }
        total += n as u64;
    }
    total
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_gets_no_reply_and_the_agent_serves_on() {
    let agent = TestAgent::start(limits()).await;
    let mut s = TcpStream::connect(agent.addr).await.unwrap();
    let mut garbage: Vec<u8> = (0..4096).map(|_| fastrand::u8(..)).collect();
    garbage[0] = b'X';
    s.write_all(&garbage).await.unwrap();
    assert_eq!(drain(&mut s).await, 0, "the agent answered garbage");
    assert_eq!(
        agent.event(|o| matches!(o, Outcome::Dropped(_))).await,
        Outcome::Dropped("not the agent protocol")
    );
    // Our magic, then nonsense: refused with a status, never more.
    let mut bad = proto::encode_request(
        &Request {
            test: TestKind::Echo,
            budget: budget(100, 1000, 1000),
        },
        TOKEN.as_bytes(),
    );
    bad[4] = 99;
    let mut s = TcpStream::connect(agent.addr).await.unwrap();
    s.write_all(&bad).await.unwrap();
    let mut reply = [0u8; REPLY_BYTES];
    s.read_exact(&mut reply).await.unwrap();
    let reply = proto::decode_reply(&reply).unwrap();
    assert_eq!(reply.status, Status::UnsupportedVersion);
    assert_eq!(reply.granted, budget(0, 0, 0));
    assert_eq!(drain(&mut s).await, 0);
    assert!(agent.serves().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn half_open_connections_time_out_without_blocking_others() {
    let l = limits();
    let agent = TestAgent::start(l.clone()).await;
    // A client that sends half a request and goes silent.
    let mut silent = TcpStream::connect(agent.addr).await.unwrap();
    silent.write_all(b"EDNP\x01").await.unwrap();
    assert!(agent.serves().await, "a silent client blocked the agent");
    let started = Instant::now();
    assert_eq!(drain(&mut silent).await, 0);
    assert!(started.elapsed() < Duration::from_secs(2));
    agent
        .event(|o| *o == Outcome::Dropped("no whole request in time"))
        .await;
    // A flood of silent connections fills the connection cap: the next
    // one is closed at once, and once they time out the agent serves again.
    let mut flood = Vec::new();
    for _ in 0..l.max_connections() {
        flood.push(TcpStream::connect(agent.addr).await.unwrap());
    }
    tokio::time::sleep(Duration::from_millis(50)).await;
    let mut extra = TcpStream::connect(agent.addr).await.unwrap();
    assert_eq!(drain(&mut extra).await, 0);
    agent.event(|o| *o == Outcome::Overloaded).await;
    tokio::time::sleep(l.handshake_timeout * 2).await;
    assert!(agent.serves().await);
    // A test whose client goes silent mid-message ends at the idle timeout
    // and frees its slot.
    let (mut s, reply) = agent
        .request(TestKind::Echo, budget(100, 10_000, 10_000), TOKEN)
        .await;
    assert_eq!(reply.status, Status::Ok);
    s.write_all(&[0u8; 50]).await.unwrap();
    agent
        .event(|o| matches!(o, Outcome::Served { end: End::Idle, .. }))
        .await;
    assert_eq!(drain(&mut s).await, 0);
    drop(flood);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_that_vanish_mid_transfer_end_only_their_test() {
    let mut l = limits();
    l.max_test_bytes = 64 * MIB;
    let agent = TestAgent::start(l).await;
    // Download: read a little, then disappear.
    let (mut s, reply) = agent
        .request(TestKind::Source, budget(0, 64 * MIB, 5_000), TOKEN)
        .await;
    assert_eq!(reply.status, Status::Ok);
    let mut buf = vec![0u8; 64 * 1024];
    s.read_exact(&mut buf).await.unwrap();
    drop(s);
    let o = agent.served(TestKind::Source).await;
    assert!(
        matches!(o, Outcome::Served { end: End::Io(_), bytes, .. } if bytes < 64 * MIB),
        "{o:?}"
    );
    // Upload: send some, then disappear without finishing.
    let (mut s, _) = agent
        .request(TestKind::Sink, budget(0, 64 * MIB, 5_000), TOKEN)
        .await;
    s.write_all(&vec![0u8; 100_000]).await.unwrap();
    drop(s);
    let o = agent.served(TestKind::Sink).await;
    assert!(
        matches!(
            o,
            Outcome::Served {
                bytes: 100_000,
                end: End::ClientClosed,
                ..
            }
        ),
        "{o:?}"
    );
    // Echo: half a message, then gone.
    let (mut s, _) = agent
        .request(TestKind::Echo, budget(1000, 10_000, 5_000), TOKEN)
        .await;
    s.write_all(&[7u8; 500]).await.unwrap();
    drop(s);
    let o = agent.served(TestKind::Echo).await;
    assert!(
        matches!(
            o,
            Outcome::Served {
                bytes: 0,
                end: End::ClientClosed,
                ..
            }
        ),
        "{o:?}"
    );
    assert!(agent.serves().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_token_is_refused() {
    let agent = TestAgent::start(limits()).await;
    let err = agent.pings("not-the-token").await.unwrap_err();
    assert!(
        matches!(err, PeerError::Refused(Status::BadToken)),
        "{err:?}"
    );
    assert_eq!(err.to_string(), "agent refused: wrong token");
    agent
        .event(|o| *o == Outcome::Refused(Status::BadToken))
        .await;
    // A token that is a prefix of the right one is just as wrong.
    let err = agent.pings(&TOKEN[..5]).await.unwrap_err();
    assert!(matches!(err, PeerError::Refused(Status::BadToken)));
    assert!(agent.serves().await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn clients_beyond_the_cap_are_told_busy() {
    let agent = TestAgent::start(limits()).await;
    let b = budget(100, 10_000, 2_000);
    let (first, r1) = agent.request(TestKind::Echo, b, TOKEN).await;
    let (_second, r2) = agent.request(TestKind::Echo, b, TOKEN).await;
    assert_eq!((r1.status, r2.status), (Status::Ok, Status::Ok));
    let (_, r3) = agent.request(TestKind::Echo, b, TOKEN).await;
    assert_eq!(r3.status, Status::Busy);
    let err = agent.pings(TOKEN).await.unwrap_err();
    assert_eq!(err.to_string(), "agent refused: busy: too many clients");
    // One leaves: there is room again.
    drop(first);
    agent
        .event(|o| {
            matches!(
                o,
                Outcome::Served {
                    end: End::ClientClosed,
                    ..
                }
            )
        })
        .await;
    let (_, r4) = agent.request(TestKind::Echo, b, TOKEN).await;
    assert_eq!(r4.status, Status::Ok);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_beyond_the_caps_are_cut_to_them() {
    let agent = TestAgent::start(limits()).await;
    // Ten times the byte cap: granted the cap, and exactly that arrives.
    let (mut s, reply) = agent
        .request(TestKind::Source, budget(0, 10 * MIB, 60_000), TOKEN)
        .await;
    assert_eq!(reply.granted, budget(0, MIB, 2_000));
    assert_eq!(drain(&mut s).await, MIB);
    // Less than the cap: exactly what was asked, never more.
    let (mut s, reply) = agent
        .request(TestKind::Source, budget(0, 12_345, 60_000), TOKEN)
        .await;
    assert_eq!(reply.granted.max_bytes, 12_345);
    assert_eq!(drain(&mut s).await, 12_345);
    // An hour: granted the 2 s cap, and the test ends there.
    let mut l = limits();
    l.max_test_bytes = u64::MAX;
    let slow = TestAgent::start(l).await;
    let started = Instant::now();
    let (mut s, reply) = slow
        .request(TestKind::Sink, budget(0, u64::MAX, 3_600_000), TOKEN)
        .await;
    assert_eq!(reply.granted.max_duration_ms, 2_000);
    let chunk = vec![0u8; 64 * 1024];
    while s.write_all(&chunk).await.is_ok() {
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "sink never ended"
        );
    }
    assert!(started.elapsed() >= Duration::from_secs(2));
    slow.event(|o| {
        matches!(
            o,
            Outcome::Served {
                end: End::TimeBudget,
                ..
            }
        )
    })
    .await;
    // Echo messages beyond the cap are refused; an echo budget of ten
    // messages echoes ten.
    let (_, reply) = agent
        .request(TestKind::Echo, budget(128 * 1024, MIB, 1_000), TOKEN)
        .await;
    assert_eq!(reply.status, Status::OutOfRange);
    let (mut s, _) = agent
        .request(TestKind::Echo, budget(100, 1_000, 2_000), TOKEN)
        .await;
    s.write_all(&[1u8; 1_100]).await.unwrap();
    assert_eq!(drain(&mut s).await, 1_000);
    // An upload past the budget: the agent counts the budget, no more.
    let (mut s, _) = agent
        .request(TestKind::Sink, budget(0, 100_000, 2_000), TOKEN)
        .await;
    s.write_all(&vec![0u8; 100_000]).await.unwrap();
    let mut trailer = [0u8; TRAILER_BYTES];
    s.read_exact(&mut trailer).await.unwrap();
    assert_eq!(proto::decode_trailer(&trailer).bytes, 100_000);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_download_client_that_never_reads_frees_its_slot_at_the_idle_limit() {
    let mut l = limits();
    l.max_test_bytes = 1 << 30;
    l.max_test_duration = Duration::from_secs(10);
    let idle = l.idle_timeout;
    let agent = TestAgent::start(l).await;
    for budget in [budget(0, 1 << 30, 10_000), budget(0, 512 * MIB, 8_000)] {
        let started = Instant::now();
        let (s, reply) = agent.request(TestKind::Source, budget, TOKEN).await;
        assert_eq!(reply.status, Status::Ok);
        let o = agent
            .event(|o| {
                matches!(
                    o,
                    Outcome::Served {
                        test: TestKind::Source,
                        end: End::Idle,
                        ..
                    }
                )
            })
            .await;
        // Before the fix a blocked write, a second timed-out write and the
        // linger each waited a whole idle timeout.
        assert!(
            started.elapsed() < idle * 2 + Duration::from_millis(300),
            "{o:?} after {:?}",
            started.elapsed()
        );
        agent.events.lock().unwrap().clear();
        drop(s);
    }
    assert!(agent.serves().await);
}
