//! The fsync probe: fio's etcd test (`--rw=write --ioengine=sync
//! --fdatasync=1 --size=22m --bs=2300`). Sequential 2300-byte writes, each
//! followed by fdatasync, into a fresh 22 MiB file preallocated like fio
//! does; a run that needs more writes continues in a fresh file. The
//! measured latency is the fdatasync (what etcd's
//! `wal_fsync_duration_seconds` sees); the write call is reported apart.

use std::fs::File;
use std::path::PathBuf;

use super::engine::{Engine, WriteAt};
use super::error::DiskError;
use super::plan::{FSYNC_BLOCK_BYTES, FSYNC_FILE_BYTES};
use super::runner::{OpSample, Workload};
use super::scratch::{preallocate, Scratch};

/// The fsync workload.
pub struct FsyncWorkload<'s> {
    scratch: &'s Scratch,
    file: File,
    path: PathBuf,
    files: u32,
    offset: u64,
    block: Vec<u8>,
}

impl<'s> FsyncWorkload<'s> {
    /// Creates the first file in `scratch`.
    pub fn new(scratch: &'s Scratch) -> Result<FsyncWorkload<'s>, DiskError> {
        let (file, path) = new_file(scratch, 0)?;
        let mut block = vec![0u8; FSYNC_BLOCK_BYTES];
        fastrand::fill(&mut block);
        Ok(FsyncWorkload {
            scratch,
            file,
            path,
            files: 1,
            offset: 0,
            block,
        })
    }

    /// The file being written.
    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    fn roll_over(&mut self) -> Result<(), DiskError> {
        self.scratch.remove_file(&self.path)?;
        let (file, path) = new_file(self.scratch, self.files)?;
        self.file = file;
        self.path = path;
        self.files += 1;
        self.offset = 0;
        Ok(())
    }
}

/// A fresh, preallocated fsync file. fio falls back to plain writes where
/// fallocate is unsupported, and so does this probe.
fn new_file(scratch: &Scratch, n: u32) -> Result<(File, PathBuf), DiskError> {
    let (file, path) = scratch.create_file(&format!("fsync.{n}"))?;
    match preallocate(&file, &path, FSYNC_FILE_BYTES) {
        Ok(()) | Err(DiskError::Unsupported { .. }) => Ok((file, path)),
        Err(e) => Err(e),
    }
}

impl Workload for FsyncWorkload<'_> {
    fn op(&mut self, engine: &mut dyn Engine) -> Result<OpSample, DiskError> {
        if self.offset + FSYNC_BLOCK_BYTES as u64 > FSYNC_FILE_BYTES {
            self.roll_over()?;
        }
        let sample = append_synced(engine, (&self.file, &self.path), &self.block, self.offset)?;
        self.offset += FSYNC_BLOCK_BYTES as u64;
        Ok(sample)
    }
}

/// One `block` written at `offset` of `file` (at `path`), then fdatasync:
/// the fdatasync is the latency etcd waits on, the write reported apart.
pub(super) fn append_synced(
    engine: &mut dyn Engine,
    (file, path): (&File, &std::path::Path),
    block: &[u8],
    offset: u64,
) -> Result<OpSample, DiskError> {
    let write = WriteAt { buf: block, offset };
    let t = engine
        .write_then_sync(file, &[write])
        .map_err(|f| DiskError::io(path, f.op, f.source))?;
    Ok(OpSample {
        latency: t.sync,
        write_latency: Some(t.write),
        bytes: block.len() as u64,
    })
}
