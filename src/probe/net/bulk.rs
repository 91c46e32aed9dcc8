//! Bulk transfers over one TCP connection: upload (this host -> agent,
//! counted by the receiving agent) and download (agent -> this host,
//! counted here), like a single iperf3 stream. The upload also serves as
//! loaded-rtt's load flow, stopped by a flag instead of a timer. After the
//! async handshake the transfer runs on a low-priority thread of its own
//! ([`threads`]).

use std::io::{self, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::client::{self, PeerError};
use super::plan::{Peer, Token};
use super::proto::{self, Budget, Request, TestKind, TRAILER_BYTES};
use super::threads;

/// Bytes per write or read: large enough that syscalls cost nothing next
/// to the wire.
const CHUNK_BYTES: usize = 256 * 1024;

/// One finished transfer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Transfer {
    /// Bytes the receiver got.
    pub bytes: u64,
    /// From the agent's reply to the last byte received.
    pub elapsed: Duration,
    /// The sender stopped because it was told to (load flow), not because
    /// its time or byte budget ran out.
    pub stopped: bool,
}

impl Transfer {
    /// Rate in Mbit/s (0 for an empty transfer).
    pub fn mbit_s(&self) -> f64 {
        let secs = self.elapsed.as_secs_f64();
        if secs <= 0.0 {
            return 0.0;
        }
        crate::measure::round3(self.bytes as f64 * 8.0 / 1e6 / secs)
    }
}

/// Limits of one transfer.
#[derive(Debug, Clone, Copy)]
pub struct BulkParams {
    /// Longest the sender sends.
    pub duration: Duration,
    /// Most bytes sent.
    pub max_bytes: u64,
    /// Longest any wait may last without progress.
    pub timeout: Duration,
}

/// Sends to the agent until `stop` is set, the duration ends or the byte
/// budget is spent, then waits for the agent's count.
pub async fn upload(
    peer: &Peer,
    token: &Token,
    p: &BulkParams,
    stop: Arc<AtomicBool>,
) -> Result<Transfer, PeerError> {
    let request = Request {
        test: TestKind::Sink,
        budget: Budget {
            message_bytes: 0,
            max_bytes: p.max_bytes,
            max_duration_ms: client::millis(p.duration + 3 * p.timeout),
        },
    };
    let (stream, granted) = client::open(peer, token, &request, p.timeout).await?;
    // The send queue needs time to drain after the sending phase.
    client::require(
        "test milliseconds",
        granted.max_duration_ms.into(),
        client::millis(p.duration + p.timeout).into(),
    )?;
    let stream = threads::into_blocking(stream).map_err(|e| lost("upload", e))?;
    let p = *p;
    threads::bulk(move || send(stream, granted.max_bytes, &p, &stop))
        .await
        .unwrap_or_else(|| Err(thread_failed()))
}

fn send(
    mut s: TcpStream,
    budget: u64,
    p: &BulkParams,
    stop: &AtomicBool,
) -> Result<Transfer, PeerError> {
    s.set_write_timeout(Some(p.timeout))
        .map_err(|e| lost("upload", e))?;
    let buf = vec![0u8; CHUNK_BYTES];
    let end = Instant::now() + p.duration;
    let mut sent = 0u64;
    let mut stopped = false;
    while sent < budget && Instant::now() < end {
        if stop.load(Ordering::Relaxed) {
            stopped = true;
            break;
        }
        let room = (budget - sent).min(CHUNK_BYTES as u64) as usize;
        sent += s.write(&buf[..room]).map_err(|e| failed("upload", e, p))? as u64;
    }
    s.shutdown(Shutdown::Write).map_err(|e| lost("upload", e))?;
    let trailer = read_trailer(&mut s, p)?;
    if trailer.bytes > sent {
        return Err(PeerError::Protocol(format!(
            "agent counted {} bytes, {sent} were sent",
            trailer.bytes
        )));
    }
    Ok(Transfer {
        bytes: trailer.bytes,
        elapsed: Duration::from_micros(trailer.elapsed_us),
        stopped,
    })
}

/// Waits for the sink's trailer while the send queue drains. The wait is
/// bounded by progress: it fails only when a whole timeout passes with
/// the queue not shrinking (a slow link may take long to drain a large
/// send buffer; a dead one does not drain at all).
fn read_trailer(s: &mut TcpStream, p: &BulkParams) -> Result<proto::Trailer, PeerError> {
    s.set_read_timeout(Some(p.timeout))
        .map_err(|e| lost("upload", e))?;
    let mut buf = [0u8; TRAILER_BYTES];
    let mut got = 0;
    let mut queued = unsent_bytes(s);
    while got < TRAILER_BYTES {
        match s.read(&mut buf[got..]) {
            Ok(0) => {
                return Err(PeerError::Protocol(
                    "agent closed before sending its count".into(),
                ))
            }
            Ok(n) => got += n,
            Err(e) if threads::is_timeout(&e) => {
                let now = unsent_bytes(s);
                if now >= queued {
                    return Err(failed("upload", e, p));
                }
                queued = now;
            }
            Err(e) => return Err(lost("upload", e)),
        }
    }
    Ok(proto::decode_trailer(&buf))
}

/// Bytes in the socket's send queue, not yet acknowledged (`SIOCOUTQ`);
/// 0 when the kernel does not say.
fn unsent_bytes(s: &TcpStream) -> u64 {
    let mut queued: libc::c_int = 0;
    // SAFETY: TIOCOUTQ writes one c_int through the pointer, which points
    // to a live local; the descriptor is owned by `s` for the call.
    let rc = unsafe { libc::ioctl(s.as_raw_fd(), libc::TIOCOUTQ, &mut queued) };
    if rc == 0 {
        u64::try_from(queued).unwrap_or(0)
    } else {
        0
    }
}

/// Receives from the agent until it closes (at its duration or the byte
/// budget) and counts what arrived.
pub async fn download(peer: &Peer, token: &Token, p: &BulkParams) -> Result<Transfer, PeerError> {
    let request = Request {
        test: TestKind::Source,
        budget: Budget {
            message_bytes: 0,
            max_bytes: p.max_bytes,
            max_duration_ms: client::millis(p.duration),
        },
    };
    let (stream, granted) = client::open(peer, token, &request, p.timeout).await?;
    let start = Instant::now();
    let stream = threads::into_blocking(stream).map_err(|e| lost("download", e))?;
    let p = *p;
    threads::bulk(move || receive(stream, granted.max_bytes, start, &p))
        .await
        .unwrap_or_else(|| Err(thread_failed()))
}

fn receive(
    mut s: TcpStream,
    budget: u64,
    start: Instant,
    p: &BulkParams,
) -> Result<Transfer, PeerError> {
    s.set_read_timeout(Some(p.timeout))
        .map_err(|e| lost("download", e))?;
    let mut buf = vec![0u8; CHUNK_BYTES];
    let mut got = 0u64;
    let mut last = start;
    loop {
        let n = s.read(&mut buf).map_err(|e| failed("download", e, p))?;
        if n == 0 {
            break;
        }
        got += n as u64;
        last = Instant::now();
        if got > budget {
            return Err(PeerError::Protocol(format!(
                "agent sent more than the {budget} bytes it granted"
            )));
        }
    }
    Ok(Transfer {
        bytes: got,
        elapsed: last - start,
        stopped: false,
    })
}

fn lost(during: &'static str, source: io::Error) -> PeerError {
    PeerError::Lost { during, source }
}

/// A blocking call's error: a timeout is a stalled peer.
fn failed(during: &'static str, e: io::Error, p: &BulkParams) -> PeerError {
    if threads::is_timeout(&e) {
        PeerError::Stalled {
            during,
            after: p.timeout,
        }
    } else {
        lost(during, e)
    }
}

fn thread_failed() -> PeerError {
    PeerError::Protocol("the transfer thread failed".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_megabits_per_second() {
        let t = Transfer {
            bytes: 2_500_000,
            elapsed: Duration::from_secs(1),
            stopped: false,
        };
        assert_eq!(t.mbit_s(), 20.0);
        let empty = Transfer {
            bytes: 0,
            elapsed: Duration::ZERO,
            stopped: false,
        };
        assert_eq!(empty.mbit_s(), 0.0);
    }
}
