//! The one writer of standard output. A closed descriptor 1 is noticed
//! before the Rust runtime replaces it with /dev/null (a constructor in
//! `.init_array` runs before `main`'s set-up), a full or broken one
//! surfaces as an error: each is one line and exit 2, for every command
//! (a closed pipe included: `etcd-doctor ... | head` exits 2 with
//! "standard output closed early (broken pipe)"), never a panic or exit 0.

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};

use anyhow::Result;

use crate::text::Printable;

/// Descriptor 1 was closed when the process started.
static CLOSED_AT_START: AtomicBool = AtomicBool::new(false);

/// True when descriptor 1 is open.
fn open_now() -> bool {
    // SAFETY: fcntl(F_GETFD) only queries descriptor 1.
    unsafe { libc::fcntl(1, libc::F_GETFD) >= 0 }
}

extern "C" fn note_closed_stdout() {
    if !open_now() {
        CLOSED_AT_START.store(true, Ordering::Relaxed);
    }
}

/// Runs before the Rust runtime's start-up, which reopens a closed
/// descriptor 1 on /dev/null.
#[used]
#[link_section = ".init_array"]
static NOTE_CLOSED_STDOUT: extern "C" fn() = note_closed_stdout;

/// Runs `render` into standard output, control characters escaped when
/// `escape`. Every command writes its standard output here, so that a
/// closed, full or broken standard output is one error line and exit 2
/// (never a panic, never exit 0 with nothing delivered).
pub fn to_stdout(
    escape: bool,
    render: impl FnOnce(&mut dyn Write) -> io::Result<()>,
) -> Result<()> {
    if CLOSED_AT_START.load(Ordering::Relaxed) || !open_now() {
        anyhow::bail!("standard output is closed: nothing written");
    }
    let stdout = io::stdout();
    let mut lock = io::BufWriter::with_capacity(64 * 1024, stdout.lock());
    let written = if escape {
        let mut p = Printable::new(&mut lock);
        render(&mut p).and_then(|()| p.flush())
    } else {
        render(&mut lock)
    };
    written
        .and_then(|()| lock.flush())
        .map_err(|e| match e.kind() {
            io::ErrorKind::BrokenPipe => {
                anyhow::anyhow!("standard output closed early (broken pipe): output cut off")
            }
            _ => anyhow::Error::new(e).context("writing to standard output"),
        })
}
