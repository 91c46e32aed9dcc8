//! The io_uring engine: each batch's writes and its fdatasync are linked in
//! the ring (`IOSQE_IO_LINK`), so the kernel runs them in order with one
//! submission. Completions are timestamped as they arrive, which splits the
//! batch into write time and fdatasync time like the sync engine.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::time::Instant;

use io_uring::{opcode, squeue, types, IoUring};

use super::batch::{BatchTiming, Engine, EngineFailure, WriteAt, MAX_WRITES_PER_BATCH};
use crate::probe::disk::error::DiskError;

/// An io_uring instance sized for the largest batch.
pub struct UringEngine {
    ring: IoUring,
}

impl std::fmt::Debug for UringEngine {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UringEngine").finish_non_exhaustive()
    }
}

/// `user_data` of the fdatasync entry; writes carry their index.
const SYNC_TAG: u64 = u64::MAX;

impl UringEngine {
    /// Sets up a ring; a kernel without io_uring, `kernel.io_uring_disabled`
    /// or a seccomp filter give [`DiskError::UringUnavailable`].
    pub fn new() -> Result<UringEngine, DiskError> {
        let entries = (MAX_WRITES_PER_BATCH + 1).next_power_of_two() as u32;
        let ring = IoUring::new(entries).map_err(|e| {
            DiskError::UringUnavailable(match e.raw_os_error() {
                Some(libc::ENOSYS) => "the kernel has no io_uring support".to_string(),
                Some(libc::EPERM) => {
                    "denied: kernel.io_uring_disabled or a seccomp filter forbids it".to_string()
                }
                _ => format!("io_uring_setup failed: {e}"),
            })
        })?;
        Ok(UringEngine { ring })
    }

    fn push_batch(&mut self, file: &File, writes: &[WriteAt<'_>]) -> io::Result<()> {
        let fd = types::Fd(file.as_raw_fd());
        let mut sq = self.ring.submission();
        for (i, w) in writes.iter().enumerate() {
            let len = u32::try_from(w.buf.len()).map_err(|_| io::ErrorKind::InvalidInput)?;
            let entry = opcode::Write::new(fd, w.buf.as_ptr(), len)
                .offset(w.offset)
                .build()
                .flags(squeue::Flags::IO_LINK)
                .user_data(i as u64);
            // SAFETY: the buffers outlive the batch: write_then_sync waits
            // for every completion before returning.
            unsafe { sq.push(&entry) }.map_err(|_| io::ErrorKind::OutOfMemory)?;
        }
        let sync = opcode::Fsync::new(fd)
            .flags(types::FsyncFlags::DATASYNC)
            .build()
            .user_data(SYNC_TAG);
        // SAFETY: the fsync entry references no memory.
        unsafe { sq.push(&sync) }.map_err(|_| io::ErrorKind::OutOfMemory)?;
        Ok(())
    }
}

impl Engine for UringEngine {
    fn write_then_sync(
        &mut self,
        file: &File,
        writes: &[WriteAt<'_>],
    ) -> Result<BatchTiming, EngineFailure> {
        let fail = |op, source| EngineFailure { op, source };
        let start = Instant::now();
        self.push_batch(file, writes)
            .map_err(|e| fail("write", e))?;
        let mut pending = writes.len() + 1;
        let (mut last_write, mut synced) = (start, start);
        let mut first_error: Option<EngineFailure> = None;
        while pending > 0 {
            match self.ring.submit_and_wait(1) {
                Ok(_) => {}
                Err(e) if e.raw_os_error() == Some(libc::EINTR) => continue,
                Err(e) => return Err(fail("io_uring_enter", e)),
            }
            let now = Instant::now();
            for cqe in self.ring.completion() {
                pending -= 1;
                let tag = cqe.user_data();
                let res = cqe.result();
                let (op, expected) = if tag == SYNC_TAG {
                    synced = now;
                    ("fdatasync", 0)
                } else {
                    last_write = now;
                    ("write", writes[tag as usize].buf.len() as i32)
                };
                if first_error.is_none() && res < 0 {
                    first_error = Some(fail(op, io::Error::from_raw_os_error(-res)));
                } else if first_error.is_none() && tag != SYNC_TAG && res != expected {
                    first_error = Some(fail(op, io::ErrorKind::WriteZero.into()));
                }
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(BatchTiming {
                write: last_write - start,
                sync: synced - last_write,
            }),
        }
    }
}
