//! The backend probe: what a bbolt commit does. Dirty 4 KiB pages are
//! written at random page offsets of a preallocated database file (sorted
//! by page id, as bbolt writes them), then fdatasync; then one meta page
//! (alternating between pages 0 and 1) and a second fdatasync. The
//! measured latency is the whole commit, what etcd's
//! `backend_commit_duration_seconds` sees.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::time::Duration;

use super::engine::{Engine, WriteAt};
use super::error::DiskError;
use super::plan::{BackendParams, BACKEND_PAGE_BYTES};
use super::runner::{OpSample, Workload};
use super::scratch::{preallocate, Scratch};

/// Page ids 0 and 1 hold the meta pages.
const META_PAGES: u64 = 2;

/// The backend workload.
pub struct BackendWorkload {
    file: File,
    path: PathBuf,
    params: BackendParams,
    data_pages: Vec<u8>,
    meta_page: Vec<u8>,
    page_ids: Vec<u64>,
    txid: u64,
    rng: fastrand::Rng,
}

impl BackendWorkload {
    /// Creates and preallocates the database file in `scratch`.
    pub fn new(scratch: &Scratch, params: BackendParams) -> Result<BackendWorkload, DiskError> {
        let (file, path) = scratch.create_file("db")?;
        preallocate(&file, &path, params.file_bytes)?;
        let mut data_pages = vec![0u8; params.pages_per_commit * BACKEND_PAGE_BYTES];
        fastrand::fill(&mut data_pages);
        Ok(BackendWorkload {
            file,
            path,
            params,
            data_pages,
            meta_page: vec![0u8; BACKEND_PAGE_BYTES],
            page_ids: Vec::with_capacity(params.pages_per_commit),
            txid: 0,
            rng: fastrand::Rng::with_seed(0x0062_626f_6c74),
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn pick_pages(&mut self) {
        let pages = self.params.file_bytes / BACKEND_PAGE_BYTES as u64;
        self.page_ids.clear();
        for _ in 0..self.params.pages_per_commit {
            self.page_ids.push(self.rng.u64(META_PAGES..pages));
        }
        self.page_ids.sort_unstable();
    }

    fn sync_batch(
        &self,
        engine: &mut dyn Engine,
        writes: &[WriteAt<'_>],
    ) -> Result<Duration, DiskError> {
        let t = engine
            .write_then_sync(&self.file, writes)
            .map_err(|f| DiskError::io(&self.path, f.op, f.source))?;
        Ok(t.write + t.sync)
    }
}

impl Workload for BackendWorkload {
    fn op(&mut self, engine: &mut dyn Engine) -> Result<OpSample, DiskError> {
        self.pick_pages();
        let writes: Vec<WriteAt<'_>> = self
            .page_ids
            .iter()
            .zip(self.data_pages.chunks_exact(BACKEND_PAGE_BYTES))
            .map(|(&id, buf)| WriteAt {
                buf,
                offset: id * BACKEND_PAGE_BYTES as u64,
            })
            .collect();
        let data = self.sync_batch(engine, &writes)?;
        self.txid += 1;
        self.meta_page[..8].copy_from_slice(&self.txid.to_le_bytes());
        let meta = WriteAt {
            buf: &self.meta_page,
            offset: (self.txid % META_PAGES) * BACKEND_PAGE_BYTES as u64,
        };
        let meta_time = self.sync_batch(engine, &[meta])?;
        Ok(OpSample {
            latency: data + meta_time,
            write_latency: None,
            bytes: ((self.params.pages_per_commit + 1) * BACKEND_PAGE_BYTES) as u64,
        })
    }
}
