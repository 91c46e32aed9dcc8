//! Input files read through a memory mapping (snapshots and db files of
//! up to etcd's 8 GiB quota, walked without copying them), and what
//! happens when such a file shrinks while it is mapped.
//!
//! Why: a page of a mapping that lies past the file's end after another
//! process truncated it (or that the disk cannot return) is not an error
//! a read can report: the kernel sends SIGBUS, whose default action kills
//! the process with no word. [`map`] registers each mapping's address
//! range; a SIGBUS handler installed on the first one checks the faulting
//! address, and for an address inside a registered mapping writes one
//! line naming the file and exits 2 ("could not run"), as a bad input
//! does. A fault anywhere else gets the default action back and repeats,
//! so it still ends the process as before.
//!
//! The handler touches only atomics and async-signal-safe calls (`write`,
//! `_exit`). Nothing of ours is left behind by that exit: the commands that
//! map files (`snapshot analyze`, `verify`, `inspect-db`) create no scratch
//! files while they read one.

use std::ops::Deref;
use std::path::Path;
use std::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};
use std::sync::Once;

use memmap2::Mmap;
use nix::sys::signal::{sigaction, SaFlags, SigAction, SigHandler, SigSet, Signal};

use super::{open_input, InputError};

/// Most files mapped at once (a command maps one or two).
pub const MAX_MAPPED: usize = 8;

/// One registered mapping: its address range and the line to write.
struct Slot {
    start: AtomicUsize,
    len: AtomicUsize,
    message: AtomicPtr<u8>,
    message_len: AtomicUsize,
}

#[allow(clippy::declare_interior_mutable_const)]
const EMPTY: Slot = Slot {
    start: AtomicUsize::new(0),
    len: AtomicUsize::new(0),
    message: AtomicPtr::new(std::ptr::null_mut()),
    message_len: AtomicUsize::new(0),
};

static SLOTS: [Slot; MAX_MAPPED] = [EMPTY; MAX_MAPPED];
static INSTALL: Once = Once::new();

/// Exit code when a mapped file could not be read: 2, "could not run".
pub const EXIT_CODE: i32 = 2;

/// A read-only mapping of a whole input file, registered with the SIGBUS
/// handler while it lives.
pub struct Mapped {
    map: Mmap,
    slot: usize,
    /// The line the handler writes; freed only after the slot is cleared.
    _message: Box<[u8]>,
}

/// Why a file could not be mapped.
#[derive(Debug, thiserror::Error)]
pub enum MapError {
    /// Opening or checking the file failed.
    #[error(transparent)]
    Input(#[from] InputError),
    /// The file is empty (nothing to map).
    #[error("{what} {path}: the file is empty")]
    Empty {
        /// The flag or role naming the file.
        what: String,
        /// The file.
        path: std::path::PathBuf,
    },
    /// `mmap` or `fstat` failed.
    #[error("{what} {path}: {source}")]
    Io {
        /// The flag or role naming the file.
        what: String,
        /// The file.
        path: std::path::PathBuf,
        /// The error.
        source: std::io::Error,
    },
    /// More than [`MAX_MAPPED`] files at once.
    #[error("{what} {path}: more than {MAX_MAPPED} files mapped at once")]
    TooMany {
        /// The flag or role naming the file.
        what: String,
        /// The file.
        path: std::path::PathBuf,
    },
}

/// Maps the regular file at `path` read-only (`what` names it in errors,
/// as for [`open_input`]); an empty file is an error.
pub fn map(what: &str, path: &Path) -> Result<Mapped, MapError> {
    let io = |source| MapError::Io {
        what: what.to_string(),
        path: path.to_path_buf(),
        source,
    };
    let file = open_input(what, path)?;
    if file.metadata().map_err(io)?.len() == 0 {
        return Err(MapError::Empty {
            what: what.to_string(),
            path: path.to_path_buf(),
        });
    }
    install().map_err(io)?;
    // SAFETY: a private read-only mapping. Another process changing the
    // file can only change the bytes seen (which every reader bounds-checks
    // as any input) or shrink it, which the registered handler turns into
    // one line and exit 2 instead of a silent SIGBUS death.
    let map = unsafe { Mmap::map(&file) }.map_err(io)?;
    let message = format!(
        "etcd-doctor: error: {what} {}: the file could not be read while mapped \
         (another process truncated it, or the disk returned an error); \
         nothing was reported\n",
        path.display()
    )
    .into_bytes()
    .into_boxed_slice();
    let slot = register(&map, &message).ok_or_else(|| MapError::TooMany {
        what: what.to_string(),
        path: path.to_path_buf(),
    })?;
    Ok(Mapped {
        map,
        slot,
        _message: message,
    })
}

impl Mapped {
    /// Asks the kernel for read-ahead (the readers go mostly front to
    /// back); only a hint, a refusal changes nothing.
    pub fn advise_sequential(&self) {
        let _ = self.map.advise(memmap2::Advice::Sequential);
    }
}

impl Deref for Mapped {
    type Target = [u8];
    fn deref(&self) -> &[u8] {
        &self.map
    }
}

impl Drop for Mapped {
    fn drop(&mut self) {
        let slot = &SLOTS[self.slot];
        slot.message.store(std::ptr::null_mut(), Ordering::SeqCst);
        slot.len.store(0, Ordering::SeqCst);
        // Frees the slot for the next mapping (start is the claim).
        slot.start.store(0, Ordering::SeqCst);
    }
}

/// Claims a free slot for `map`'s range; None when all are taken.
fn register(map: &Mmap, message: &[u8]) -> Option<usize> {
    let start = map.as_ptr() as usize;
    let index = SLOTS.iter().position(|slot| {
        slot.start
            .compare_exchange(0, start, Ordering::SeqCst, Ordering::SeqCst)
            .is_ok()
    })?;
    let slot = &SLOTS[index];
    slot.message_len.store(message.len(), Ordering::SeqCst);
    slot.message
        .store(message.as_ptr().cast_mut(), Ordering::SeqCst);
    slot.len.store(map.len(), Ordering::SeqCst);
    Some(index)
}

/// Installs the SIGBUS handler once.
fn install() -> std::io::Result<()> {
    let mut result = Ok(());
    INSTALL.call_once(|| {
        let action = SigAction::new(
            SigHandler::SigAction(on_sigbus),
            SaFlags::SA_SIGINFO,
            SigSet::empty(),
        );
        // SAFETY: the handler touches only atomics and async-signal-safe
        // calls.
        result = unsafe { sigaction(Signal::SIGBUS, &action) }
            .map(drop)
            .map_err(std::io::Error::from);
    });
    result
}

extern "C" fn on_sigbus(_sig: libc::c_int, info: *mut libc::siginfo_t, _: *mut libc::c_void) {
    // SAFETY: the kernel passes a valid siginfo for an SA_SIGINFO handler.
    let addr = unsafe { (*info).si_addr() } as usize;
    for slot in &SLOTS {
        let start = slot.start.load(Ordering::SeqCst);
        let len = slot.len.load(Ordering::SeqCst);
        let message = slot.message.load(Ordering::SeqCst);
        if start != 0 && !message.is_null() && addr >= start && addr - start < len {
            let message_len = slot.message_len.load(Ordering::SeqCst);
            // SAFETY: write(2) and _exit(2) are async-signal-safe; the
            // message lives as long as the mapping the fault was in, and
            // that mapping is being read by the faulting thread.
            unsafe {
                libc::write(2, message.cast(), message_len);
                libc::_exit(EXIT_CODE);
            }
        }
    }
    // Not ours: back to the default action, which the faulting access
    // meets again when the handler returns.
    // SAFETY: signal(2) is async-signal-safe.
    unsafe {
        libc::signal(libc::SIGBUS, libc::SIG_DFL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::process::Command;

    const CHILD: &str = "ETCD_DOCTOR_TEST_MAPPED_CHILD";

    #[test]
    fn a_file_that_shrinks_under_its_mapping_ends_with_one_line_and_exit_2() {
        if let Some(path) = std::env::var_os(CHILD) {
            // The child: map, truncate, touch the page that is gone.
            let path = std::path::PathBuf::from(path);
            let mapped = map("snapshot", &path).unwrap();
            std::fs::OpenOptions::new()
                .write(true)
                .open(&path)
                .unwrap()
                .set_len(0)
                .unwrap();
            let byte = unsafe { std::ptr::read_volatile(&mapped[40_000]) };
            panic!("read {byte} from a truncated mapping");
        }
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("shrinks.db");
        std::fs::File::create(&path)
            .unwrap()
            .write_all(&vec![7u8; 65_536])
            .unwrap();
        let out = Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "files::mapped::tests::a_file_that_shrinks_under_its_mapping_ends_with_one_line_and_exit_2",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD, &path)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(EXIT_CODE), "stderr: {stderr}");
        let line = format!(
            "etcd-doctor: error: snapshot {}: the file could not be read while mapped",
            path.display()
        );
        assert!(stderr.contains(&line), "stderr: {stderr}");
        assert!(!stderr.contains("panicked"), "stderr: {stderr}");
    }

    #[test]
    fn slots_are_freed_when_a_mapping_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("small.db");
        std::fs::write(&path, [1u8; 4096]).unwrap();
        // More than MAX_MAPPED maps one after the other, each dropped.
        for _ in 0..3 * MAX_MAPPED {
            let mapped = map("snapshot", &path).unwrap();
            assert_eq!(mapped[4095], 1);
        }
    }

    #[test]
    fn an_empty_file_is_refused_before_mapping() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("empty.db");
        std::fs::write(&path, []).unwrap();
        let error = map("snapshot", &path).err().unwrap();
        assert!(error.to_string().ends_with("the file is empty"), "{error}");
    }
}
