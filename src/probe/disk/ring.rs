//! The canary's one reused file: a preallocated segment the size of
//! etcd's WAL segment (64 MiB), written front to back by 2300-byte appends
//! with fdatasync, pass after pass, in a scratch directory that lives as
//! long as the canary.
//!
//! Overwriting written blocks would be cheaper than what etcd pays: an
//! fdatasync of a written block flushes the data alone, while etcd's WAL
//! appends land in a segment preallocated with `fallocate` (mode 0), where
//! each append turns an unwritten extent into a written one and its
//! fdatasync waits for a journal commit. So before each pass the file's
//! blocks are handed back (`FALLOC_FL_PUNCH_HOLE|FALLOC_FL_KEEP_SIZE`) and
//! allocated again as unwritten extents (`fallocate` mode 0): every pass
//! pays the journal as the first one did. Measured on ext4 (docs/watch.md):
//! 200 fdatasyncs commit 200 jbd2 transactions in a fresh segment and in a
//! punched-and-reallocated one, none when overwriting written blocks.
//!
//! Where the filesystem has no fallocate, the file is truncated to zero
//! before each pass and appended to: appends that grow the file also make
//! fdatasync commit metadata, and the file stays bounded by the segment
//! size. [`Reuse`] says which way the file is reused.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use super::engine::Engine;
use super::error::DiskError;
use super::fsync::append_synced;
use super::plan::FSYNC_BLOCK_BYTES;
use super::runner::{OpSample, Workload};
use super::scratch::{preallocate, Scratch};

/// How the segment is made fresh before each pass.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reuse {
    /// Blocks punched out and preallocated again as unwritten extents.
    Unwritten,
    /// No fallocate on this filesystem: truncated to zero and appended to.
    Truncate,
}

/// A preallocated segment reused in a ring, in its own scratch directory
/// (removed on drop).
pub struct RingSegment {
    file: File,
    path: PathBuf,
    bytes: u64,
    offset: u64,
    reuse: Reuse,
    passes: u64,
    block: Vec<u8>,
    // Dropped last: the directory goes after the file is closed.
    _scratch: Scratch,
}

impl RingSegment {
    /// Creates a scratch directory under `dir` holding one segment of
    /// `bytes` (at least one write's worth).
    pub fn create(dir: &Path, bytes: u64) -> Result<RingSegment, DiskError> {
        let bytes = bytes.max(FSYNC_BLOCK_BYTES as u64);
        let scratch = Scratch::create(dir, bytes)?;
        let (file, path) = scratch.create_file("canary.wal")?;
        let reuse = match preallocate(&file, &path, bytes) {
            Ok(()) => Reuse::Unwritten,
            Err(DiskError::Unsupported { .. }) => Reuse::Truncate,
            Err(e) => return Err(e),
        };
        let mut block = vec![0u8; FSYNC_BLOCK_BYTES];
        fastrand::fill(&mut block);
        Ok(RingSegment {
            file,
            path,
            bytes,
            offset: 0,
            reuse,
            passes: 1,
            block,
            _scratch: scratch,
        })
    }

    /// How the segment is reused.
    pub fn reuse(&self) -> Reuse {
        self.reuse
    }

    /// The segment file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Passes begun over the segment (1 after [`RingSegment::create`]).
    pub fn passes(&self) -> u64 {
        self.passes
    }

    /// Starts a new pass now unless `writes` more appends fit in this one:
    /// called between segments, so a pass rarely turns over mid-measure.
    pub fn make_room(&mut self, writes: u64) -> Result<(), DiskError> {
        let need = writes.saturating_mul(FSYNC_BLOCK_BYTES as u64);
        if self.offset > 0 && self.offset.saturating_add(need) > self.bytes {
            self.rewind()?;
        }
        Ok(())
    }

    /// Returns the blocks to unwritten extents (or truncates) and starts
    /// writing at the front again.
    fn rewind(&mut self) -> Result<(), DiskError> {
        match self.reuse {
            Reuse::Unwritten => {
                self.fallocate(libc::FALLOC_FL_PUNCH_HOLE | libc::FALLOC_FL_KEEP_SIZE)?;
                preallocate(&self.file, &self.path, self.bytes)?;
            }
            Reuse::Truncate => self
                .file
                .set_len(0)
                .map_err(|e| DiskError::io(&self.path, "truncate", e))?,
        }
        self.offset = 0;
        self.passes += 1;
        Ok(())
    }

    fn fallocate(&self, mode: libc::c_int) -> Result<(), DiskError> {
        let len = libc::off_t::try_from(self.bytes).map_err(|_| {
            DiskError::io(
                &self.path,
                "fallocate",
                io::Error::from_raw_os_error(libc::EFBIG),
            )
        })?;
        // SAFETY: plain syscall on a file descriptor we own.
        let rc = unsafe { libc::fallocate(self.file.as_raw_fd(), mode, 0, len) };
        if rc != 0 {
            return Err(DiskError::io(
                &self.path,
                "fallocate",
                io::Error::last_os_error(),
            ));
        }
        Ok(())
    }
}

impl Workload for RingSegment {
    fn op(&mut self, engine: &mut dyn Engine) -> Result<OpSample, DiskError> {
        if self.offset + FSYNC_BLOCK_BYTES as u64 > self.bytes {
            self.rewind()?;
        }
        let sample = append_synced(engine, (&self.file, &self.path), &self.block, self.offset)?;
        self.offset += FSYNC_BLOCK_BYTES as u64;
        Ok(sample)
    }
}

#[cfg(test)]
mod tests {
    use super::super::engine;
    use super::*;
    use crate::probe::disk::EngineKind;
    use std::os::unix::fs::MetadataExt;

    fn allocated(p: &Path) -> u64 {
        std::fs::metadata(p).unwrap().blocks() * 512
    }

    #[test]
    fn the_segment_is_bounded_reused_and_removed() {
        let dir = tempfile::tempdir().unwrap();
        let bytes = 10 * FSYNC_BLOCK_BYTES as u64;
        let mut ring = RingSegment::create(dir.path(), bytes).unwrap();
        let path = ring.path().to_path_buf();
        let mut e = engine::open(EngineKind::Sync).unwrap();
        for _ in 0..35 {
            ring.op(e.as_mut()).unwrap();
        }
        // 35 writes of a 10-write segment: the fourth pass, one file.
        assert_eq!(ring.passes(), 4);
        let meta = std::fs::metadata(&path).unwrap();
        match ring.reuse() {
            Reuse::Unwritten => assert_eq!(meta.len(), bytes),
            Reuse::Truncate => assert!(meta.len() <= bytes),
        }
        assert!(
            allocated(&path) <= bytes + 64 * 1024,
            "{}",
            allocated(&path)
        );
        // Room for 5 more: no new pass; for 6: a new one.
        ring.make_room(5).unwrap();
        assert_eq!(ring.passes(), 4);
        ring.make_room(6).unwrap();
        assert_eq!(ring.passes(), 5);
        drop(ring);
        assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none());
    }

    /// `filefrag -v` of `p`, or `None` (SKIP said) where it cannot map it.
    fn extents(p: &Path) -> Option<String> {
        let out = std::process::Command::new("filefrag")
            .arg("-v")
            .arg(p)
            .output();
        match out {
            Ok(o) if o.status.success() => Some(String::from_utf8_lossy(&o.stdout).into_owned()),
            other => {
                eprintln!("SKIP: filefrag -v {}: {other:?}", p.display());
                None
            }
        }
    }

    #[test]
    fn each_pass_writes_into_unwritten_extents_again() {
        let dir = tempfile::tempdir().unwrap();
        let mut ring = RingSegment::create(dir.path(), 64 * 1024).unwrap();
        if ring.reuse() == Reuse::Truncate {
            eprintln!("SKIP: {} has no fallocate", dir.path().display());
            return;
        }
        let mut e = engine::open(EngineKind::Sync).unwrap();
        let Some(fresh) = extents(ring.path()) else {
            return;
        };
        assert!(fresh.contains("unwritten"), "{fresh}");
        // A whole pass: every block written.
        while ring.passes() == 1 && ring.offset + (FSYNC_BLOCK_BYTES as u64) <= ring.bytes {
            ring.op(e.as_mut()).unwrap();
        }
        let Some(full) = extents(ring.path()) else {
            return;
        };
        assert!(!full.contains("unwritten"), "{full}");
        ring.make_room(1_000).unwrap();
        assert_eq!(ring.passes(), 2);
        let Some(again) = extents(ring.path()) else {
            return;
        };
        assert!(again.contains("unwritten"), "{again}");
    }
}
