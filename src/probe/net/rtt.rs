//! Paced ping-pong RTT over one TCP connection (TCP_NODELAY), the way etcd
//! peers exchange heartbeats and appends: pings leave on a fixed schedule
//! whether or not earlier ones were answered (open loop), each carrying its
//! sequence number, and the agent echoes them back.
//!
//! Latency is counted from a ping's *scheduled* send time, so a stall is
//! never hidden (no coordinated omission): if the path stalls for 200 ms,
//! every ping scheduled in those 200 ms is counted with the wait it had. A
//! closed-loop ping-pong would send one ping, wait 200 ms, and record one
//! slow sample where the path delayed twenty.
//!
//! One refinement keeps the harness out of the numbers: when the writer
//! was idle at a ping's scheduled time and merely woke up late (the timer
//! has millisecond granularity), the lateness is ours, not the network's,
//! and the clock starts when the writer woke. When the writer was still
//! blocked writing an earlier ping at the scheduled time, the path held it
//! up, and the clock starts at the scheduled time ([`crate::probe::pace::clock_start`]).

use crate::probe::pace::clock_start;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;
use tokio::time::Instant;

use super::client::{self, PeerError};
use super::plan::{Peer, Token};
use super::proto::{self, Budget, Request, Status, TestKind, LOSS_TRAILER_BYTES};
use super::result::{PathLoss, SocketLoss};
use super::{tcpinfo, threads};
use crate::measure::LatencyHistogram;
use crate::probe::timeline::{Timeline, TimelinePoint};

/// The RTTs of one rtt measurement.
#[derive(Debug, Clone)]
pub struct Pings {
    /// Every ping's RTT.
    pub latency: LatencyHistogram,
    /// RTT per interval, by when each ping's clock started.
    pub timeline: Vec<TimelinePoint>,
    /// What the connection lost each way; `None` when the kernel gave no
    /// account of this host's socket.
    pub loss: Option<PathLoss>,
}

/// A fixed-rate send schedule.
#[derive(Debug, Clone, Copy)]
pub struct Pacer {
    start: Instant,
    interval_ns: u64,
}

impl Pacer {
    /// A schedule of `rate_hz` sends per second starting at `start`.
    pub fn new(start: Instant, rate_hz: u32) -> Pacer {
        Pacer {
            start,
            interval_ns: 1_000_000_000 / u64::from(rate_hz.max(1)),
        }
    }

    /// When send `i` (from 0) is scheduled.
    pub fn scheduled(&self, i: u64) -> Instant {
        self.start + Duration::from_nanos(self.interval_ns.saturating_mul(i))
    }

    /// Sends that fit in `duration` (at least one).
    pub fn count(duration: Duration, rate_hz: u32) -> u64 {
        ((duration.as_secs_f64() * f64::from(rate_hz)).floor() as u64).max(1)
    }
}

/// One rtt measurement.
#[derive(Debug, Clone, Copy)]
pub struct RttParams {
    /// Bytes per ping (at least 8).
    pub message_bytes: u32,
    /// Pings per second.
    pub rate_hz: u32,
    /// How long pings are sent.
    pub duration: Duration,
    /// Longest a ping may go unanswered, and a connect may take.
    pub timeout: Duration,
}

/// Pings `peer` on schedule for the duration and returns the RTT of every
/// ping. Fails if any ping is unanswered for longer than the timeout. Runs
/// on a thread and runtime of its own ([`threads::pinger`]).
pub async fn measure(peer: &Peer, token: &Token, p: &RttParams) -> Result<Pings, PeerError> {
    let (peer, token, p) = (peer.clone(), token.clone(), *p);
    threads::pinger(move || async move { ping_pong(&peer, &token, &p).await })
        .await
        .unwrap_or_else(|| Err(PeerError::Protocol("the ping thread failed".into())))
}

/// Asks for echo+loss; an agent of an earlier build refuses it as
/// malformed, and is asked for plain echo instead.
async fn open_echo(
    peer: &Peer,
    token: &Token,
    p: &RttParams,
    n: u64,
) -> Result<(tokio::net::TcpStream, Budget, Request), PeerError> {
    let mut request = Request {
        test: TestKind::EchoLoss,
        budget: Budget {
            message_bytes: p.message_bytes,
            max_bytes: n * u64::from(p.message_bytes),
            max_duration_ms: client::millis(p.duration + 2 * p.timeout),
        },
    };
    match client::open(peer, token, &request, p.timeout).await {
        Err(PeerError::Refused(Status::Malformed)) => {
            request.test = TestKind::Echo;
            let (stream, granted) = client::open(peer, token, &request, p.timeout).await?;
            Ok((stream, granted, request))
        }
        opened => opened.map(|(stream, granted)| (stream, granted, request)),
    }
}

async fn ping_pong(peer: &Peer, token: &Token, p: &RttParams) -> Result<Pings, PeerError> {
    let n = Pacer::count(p.duration, p.rate_hz);
    let size = p.message_bytes as usize;
    let (stream, granted, request) = open_echo(peer, token, p, n).await?;
    // What this end wrote: the request, then every ping.
    let written = proto::encode_request(&request, token.as_bytes()).len() as u64
        + n * u64::from(p.message_bytes);
    client::require(
        "message bytes",
        granted.message_bytes.into(),
        p.message_bytes.into(),
    )?;
    client::require("test bytes", granted.max_bytes, request.budget.max_bytes)?;
    // The last pings need up to a timeout after the sending phase.
    client::require(
        "test milliseconds",
        granted.max_duration_ms.into(),
        client::millis(p.duration + p.timeout).into(),
    )?;
    let (mut rd, mut wr) = stream.into_split();
    let (starts, mut started) = mpsc::unbounded_channel::<Instant>();
    let pacer = Pacer::new(Instant::now(), p.rate_hz);
    let writer = async {
        let mut msg = vec![0u8; size];
        for i in 0..n {
            let scheduled = pacer.scheduled(i);
            let free = Instant::now();
            if free < scheduled {
                tokio::time::sleep_until(scheduled).await;
            }
            let _ = starts.send(clock_start(scheduled, free, Instant::now()));
            msg[..8].copy_from_slice(&i.to_be_bytes());
            client::step(p.timeout, "ping", wr.write_all(&msg)).await?;
        }
        client::step(p.timeout, "ping", wr.shutdown()).await
    };
    let reader = async {
        let mut hist = LatencyHistogram::new();
        // (clock start, RTT) of every ping: the timeline is built after the
        // pings, so no per-interval summary runs while pings are in flight.
        let mut samples = Vec::with_capacity(usize::try_from(n).unwrap_or(0));
        let mut msg = vec![0u8; size];
        for i in 0..n {
            let start = started
                .recv()
                .await
                .ok_or_else(|| PeerError::Protocol("ping schedule ended early".into()))?;
            let echo = rd.read_exact(&mut msg);
            match tokio::time::timeout_at(start + p.timeout, echo).await {
                Ok(Ok(_)) => {}
                Ok(Err(source)) => {
                    return Err(PeerError::Lost {
                        during: "ping",
                        source,
                    })
                }
                Err(_) => {
                    return Err(PeerError::Stalled {
                        during: "ping",
                        after: p.timeout,
                    })
                }
            }
            let rtt = start.elapsed();
            hist.record(rtt);
            samples.push((start.saturating_duration_since(pacer.scheduled(0)), rtt));
            let seq = u64::from_be_bytes(msg[..8].try_into().expect("8 bytes"));
            if seq != i {
                return Err(PeerError::Protocol(format!(
                    "echo {seq} arrived where {i} was expected"
                )));
            }
        }
        // Every ping was echoed: this end's account is complete.
        let outbound = tcpinfo::read(rd.as_ref(), written);
        let inbound = match request.test {
            TestKind::EchoLoss => Some(loss_trailer(&mut rd, p.timeout).await?),
            _ => None,
        };
        let loss = outbound.map(|o| PathLoss {
            outbound: Some(o),
            inbound,
        });
        Ok((hist, samples, loss))
    };
    let ((), (latency, samples, loss)) = tokio::try_join!(writer, reader)?;
    let mut timeline = Timeline::new();
    for (at, rtt) in samples {
        timeline.record(at, rtt);
    }
    Ok(Pings {
        latency,
        timeline: timeline.finish(pacer.scheduled(n).duration_since(pacer.scheduled(0))),
        loss,
    })
}

/// The agent's account of the echoes, sent once it saw our half-close.
async fn loss_trailer(
    rd: &mut tokio::net::tcp::OwnedReadHalf,
    timeout: std::time::Duration,
) -> Result<SocketLoss, PeerError> {
    let mut buf = [0u8; LOSS_TRAILER_BYTES];
    client::step(timeout, "loss account", rd.read_exact(&mut buf)).await?;
    let t = proto::decode_loss_trailer(&buf);
    Ok(SocketLoss {
        bytes_sent: t.bytes_sent,
        resent_bytes: t.resent_bytes,
        retransmits: t.retransmits,
        spurious_retransmits: t.spurious_retransmits,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schedule_is_fixed_rate_from_the_start() {
        let t0 = Instant::now();
        let p = Pacer::new(t0, 200);
        assert_eq!(p.scheduled(0), t0);
        assert_eq!(p.scheduled(1), t0 + Duration::from_millis(5));
        assert_eq!(p.scheduled(1000), t0 + Duration::from_secs(5));
        assert_eq!(Pacer::count(Duration::from_secs(5), 200), 1000);
        assert_eq!(Pacer::count(Duration::from_millis(2), 200), 1);
        assert_eq!(Pacer::count(Duration::from_millis(1500), 3), 4);
    }

    #[test]
    fn a_late_writer_counts_from_the_schedule_a_late_timer_does_not() {
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        // Idle writer, timer fired 0.8 ms late: the lateness is ours.
        let woke = ms(10) + Duration::from_micros(800);
        assert_eq!(clock_start(ms(10), ms(3), woke), woke);
        // Writer blocked on the path until 40 ms, past the 10 ms slot:
        // the whole 30 ms wait counts.
        assert_eq!(clock_start(ms(10), ms(40), ms(40)), ms(10));
        // Free exactly on time.
        assert_eq!(clock_start(ms(10), ms(10), ms(10)), ms(10));
    }

    #[test]
    fn a_stall_shows_in_every_ping_it_delayed() {
        // A path that stalls once for 50 ms at 1 kHz: with the clock
        // started at each ping's slot, the 50 pings queued behind the stall
        // all carry part of it (a closed loop would have recorded one slow
        // sample and sent the others after the stall).
        let t0 = Instant::now();
        let pacer = Pacer::new(t0, 1000);
        let stall_end = t0 + Duration::from_millis(60);
        let mut hist = LatencyHistogram::new();
        for i in 0..100 {
            let slot = pacer.scheduled(i);
            let writer_free = if (10..60).contains(&i) {
                stall_end
            } else {
                slot
            };
            let start = clock_start(slot, writer_free, writer_free);
            let answered = writer_free.max(slot) + Duration::from_micros(100);
            hist.record(answered - start);
        }
        let s = hist.summary();
        assert!(s.p90 > 30_000.0, "p90 {} hides the stall", s.p90);
        assert!(s.max > 49_000.0, "max {}", s.max);
        assert_eq!(hist.len(), 100);
    }
}
