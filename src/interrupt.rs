//! SIGINT, SIGTERM and SIGHUP for every command, so that each stops
//! promptly, leaves nothing behind and exits 2 ("could not run") with one
//! line on stderr.
//!
//! The handler does one of two things, chosen at the moment the signal
//! arrives:
//! - by default, when nothing of ours would be left behind (network
//!   probes, cluster reads, file checks), it writes the line and ends the
//!   process at once (`_exit(2)`): no loop has to poll for it;
//! - inside a [`Cooperate`] section (the disk probe's scratch files, a
//!   snapshot being streamed into a temporary file), it only sets the flag,
//!   which the section checks between operations; the section removes what
//!   it created and returns an "interrupted" error, which exits 2.
//!
//! Both paths only touch atomics and async-signal-safe calls (`write`,
//! `_exit`). Handlers that tokio installs later for the same signals run
//! after ours (signal-hook chains to the previous handler first), so a
//! tokio signal stream sees the signal only in a cooperative section.

use std::sync::atomic::{AtomicBool, AtomicI32, AtomicUsize, Ordering};
use std::time::Duration;

use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};

/// The signals that stop a command.
pub const SIGNALS: [Signal; 3] = [Signal::SIGINT, Signal::SIGTERM, Signal::SIGHUP];

/// The line written when the process ends inside the handler (the same
/// as an "interrupted" error through main).
const MESSAGE: &[u8] = b"etcd-doctor: error: interrupted\n";

/// Exit code of an interrupted command: 2, "the tool could not run".
pub const EXIT_CODE: i32 = 2;

/// How often [`wait`] looks at the flag.
const POLL: Duration = Duration::from_millis(20);

static INTERRUPTED: AtomicBool = AtomicBool::new(false);
/// Set by [`reload_on_hangup`]: SIGHUP then asks for a reload, not a stop.
static HANGUP_RELOADS: AtomicBool = AtomicBool::new(false);
static HANGUP: AtomicBool = AtomicBool::new(false);
static SIGNAL: AtomicI32 = AtomicI32::new(0);
static COOPERATING: AtomicUsize = AtomicUsize::new(0);

extern "C" fn on_signal(sig: libc::c_int) {
    if sig == libc::SIGHUP && HANGUP_RELOADS.load(Ordering::SeqCst) {
        HANGUP.store(true, Ordering::SeqCst);
        return;
    }
    SIGNAL.store(sig, Ordering::SeqCst);
    INTERRUPTED.store(true, Ordering::SeqCst);
    if COOPERATING.load(Ordering::SeqCst) == 0 {
        // SAFETY: write(2) and _exit(2) are async-signal-safe; the buffer
        // is a static.
        unsafe {
            libc::write(2, MESSAGE.as_ptr().cast(), MESSAGE.len());
            libc::_exit(EXIT_CODE);
        }
    }
}

/// Installs the handler for [`SIGNALS`] and returns the flag it sets
/// (pass it to [`crate::probe::disk::Control::cancel_on`]). Idempotent.
pub fn install() -> std::io::Result<&'static AtomicBool> {
    let action = SigAction::new(
        SigHandler::Handler(on_signal),
        SaFlags::SA_RESTART,
        SigSet::empty(),
    );
    for sig in SIGNALS {
        // SAFETY: the handler only touches atomics and async-signal-safe
        // calls.
        unsafe { sigaction(sig, &action) }.map_err(std::io::Error::from)?;
    }
    Ok(&INTERRUPTED)
}

/// From now on SIGHUP asks for a reload ([`take_hangup`]) instead of a
/// stop: `watch` re-reads its configuration on it, as daemons do.
pub fn reload_on_hangup() {
    HANGUP_RELOADS.store(true, Ordering::SeqCst);
}

/// True once per SIGHUP received since [`reload_on_hangup`] (several
/// before a call count as one).
pub fn take_hangup() -> bool {
    HANGUP.swap(false, Ordering::SeqCst)
}

/// Resolves once a SIGHUP is waiting to be taken; it looks every 20 ms.
pub async fn hangup() {
    while !HANGUP.load(Ordering::SeqCst) {
        tokio::time::sleep(POLL).await;
    }
}

/// True once a signal has arrived.
pub fn interrupted() -> bool {
    INTERRUPTED.load(Ordering::SeqCst)
}

/// The name of the signal that interrupted, e.g. `SIGINT`.
pub fn signal_name() -> &'static str {
    Signal::try_from(SIGNAL.load(Ordering::SeqCst)).map_or("a signal", Signal::as_str)
}

/// Resolves once a signal has arrived (for `select!` in a cooperative
/// section); it looks at the flag every 20 ms.
pub async fn wait() {
    while !interrupted() {
        tokio::time::sleep(POLL).await;
    }
}

/// While alive, a signal only sets the flag: the holder cleans up and
/// returns an error itself. Dropping it restores the immediate exit; a
/// signal that came after the holder's last check still fails the command
/// ([`crate::app::run`] checks the flag at the end).
#[must_use = "the section cooperates only while the guard lives"]
pub struct Cooperate(());

impl Cooperate {
    /// Enters a cooperative section.
    pub fn enter() -> Cooperate {
        COOPERATING.fetch_add(1, Ordering::SeqCst);
        Cooperate(())
    }
}

impl Drop for Cooperate {
    fn drop(&mut self) {
        COOPERATING.fetch_sub(1, Ordering::SeqCst);
    }
}
