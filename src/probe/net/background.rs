//! Bulk transfers run on threads of their own at the lowest CPU priority
//! (nice 19), on both the agent and the client, for two reasons:
//!
//! - fidelity: a bulk flow keeps a CPU busy copying bytes. On a small host
//!   the ping-pong tasks would then wait for a CPU, and loaded-rtt would
//!   report our own scheduling delay as network queueing. At nice 19 the
//!   flow yields the CPU to the pings at once, so what loaded-rtt measures
//!   is the queue on the path (with an unshaped veth pair and a bulk flow
//!   at full speed, tokio tasks at equal priority saw 15 ms RTT where
//!   `ping` saw 0.02 ms);
//! - manners: an agent on a production control-plane node must not take
//!   CPU from etcd to serve a throughput test.
//!
//! Blocking sockets with timeouts (`SO_RCVTIMEO`/`SO_SNDTIMEO`) bound every
//! wait, as the async code does with tokio timers.

use std::io;
use std::net::TcpStream as StdStream;

use tokio::net::TcpStream;
use tokio::sync::oneshot;

/// The nice value bulk threads run at (the lowest priority).
pub const BULK_NICE: libc::c_int = 19;

/// Runs `work` on a new thread at [`BULK_NICE`] and awaits its result;
/// `None` if the thread could not start or panicked.
pub async fn run<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    let (tx, rx) = oneshot::channel();
    std::thread::Builder::new()
        .name("etcd-doctor-bulk".into())
        .spawn(move || {
            lower_priority();
            let _ = tx.send(work());
        })
        .ok()?;
    rx.await.ok()
}

/// Sets the calling thread's nice value to [`BULK_NICE`] (Linux nice
/// values are per thread). Best effort: a failure leaves it at its nice
/// value, which only costs fidelity.
fn lower_priority() {
    // SAFETY: setpriority takes plain integers; `who` 0 is this thread.
    unsafe {
        libc::setpriority(libc::PRIO_PROCESS, 0, BULK_NICE);
    }
}

/// Turns a tokio stream into a blocking std stream for a bulk thread.
pub fn into_blocking(stream: TcpStream) -> io::Result<StdStream> {
    let std = stream.into_std()?;
    std.set_nonblocking(false)?;
    Ok(std)
}

/// True for the errors a blocking socket returns when its timeout expires.
pub fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn work_runs_at_the_lowest_priority() {
        let nice = run(|| {
            // SAFETY: getpriority takes plain integers.
            unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) }
        })
        .await;
        assert_eq!(nice, Some(BULK_NICE));
        // SAFETY: as above, for the calling (test) thread.
        let mine = unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) };
        assert_ne!(mine, BULK_NICE, "only the bulk thread is lowered");
    }
}
