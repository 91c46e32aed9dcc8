//! Where the probes' work runs, so the measurement is of the network and
//! not of our own scheduling.
//!
//! Ping-pong runs on a thread of its own with a single-threaded runtime
//! ([`pinger`]): the echo wakes the very thread that timestamps it, one
//! wake-up per message as with sockperf, instead of passing from a reactor
//! thread to a worker thread (on a 2-CPU VM each hand-off added tens of
//! microseconds to a 50 µs veth RTT). The agent runs single-threaded for
//! the same reason.
//!
//! Bulk transfers run on threads of their own at the lowest CPU priority
//! (nice 19, [`bulk`]), on both the agent and the client, for two reasons:
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

use std::future::Future;
use std::io;
use std::net::TcpStream as StdStream;

use tokio::net::TcpStream;
use tokio::sync::oneshot;

/// The nice value bulk threads run at (the lowest priority).
pub const BULK_NICE: libc::c_int = 19;

/// Runs blocking `work` on a new thread at [`BULK_NICE`] and awaits its
/// result; `None` if the thread could not start or panicked.
pub async fn bulk<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> Option<T> {
    on_new_thread("etcd-doctor-bulk", move || {
        lower_priority();
        work()
    })
    .await
}

/// Runs the future `make` returns on a new thread with a single-threaded
/// runtime of its own and awaits its result; `None` if the thread or its
/// runtime could not start, or it panicked.
pub async fn pinger<F>(make: impl FnOnce() -> F + Send + 'static) -> Option<F::Output>
where
    F: Future,
    F::Output: Send + 'static,
{
    on_new_thread("etcd-doctor-ping", move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .ok()?;
        Some(runtime.block_on(make()))
    })
    .await
    .flatten()
}

async fn on_new_thread<T: Send + 'static>(
    name: &str,
    work: impl FnOnce() -> T + Send + 'static,
) -> Option<T> {
    let (tx, rx) = oneshot::channel();
    std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
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
    async fn bulk_work_runs_at_the_lowest_priority() {
        let nice = bulk(|| {
            // SAFETY: getpriority takes plain integers.
            unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) }
        })
        .await;
        assert_eq!(nice, Some(BULK_NICE));
        // SAFETY: as above, for the calling (test) thread.
        let mine = unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) };
        assert_ne!(mine, BULK_NICE, "only the bulk thread is lowered");
    }

    #[tokio::test]
    async fn pingers_run_their_future_on_a_runtime_of_their_own() {
        let caller = std::thread::current().id();
        let (thread, flavor) = pinger(|| async {
            let flavor = tokio::runtime::Handle::current().runtime_flavor();
            (std::thread::current().id(), flavor)
        })
        .await
        .unwrap();
        assert_ne!(thread, caller);
        assert_eq!(flavor, tokio::runtime::RuntimeFlavor::CurrentThread);
    }
}
