//! The sync engine: `pwrite` then `fdatasync`, the syscalls etcd's Go
//! runtime issues for the WAL and bbolt.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::time::Instant;

use super::batch::{BatchTiming, Engine, EngineFailure, WriteAt};

/// Plain blocking syscalls.
#[derive(Debug, Default)]
pub struct SyncEngine;

impl Engine for SyncEngine {
    fn write_then_sync(
        &mut self,
        file: &File,
        writes: &[WriteAt<'_>],
    ) -> Result<BatchTiming, EngineFailure> {
        let start = Instant::now();
        for w in writes {
            file.write_all_at(w.buf, w.offset)
                .map_err(|source| EngineFailure {
                    op: "write",
                    source,
                })?;
        }
        let written = Instant::now();
        // std's sync_data is fdatasync(2) on Linux.
        file.sync_data().map_err(|source| EngineFailure {
            op: "fdatasync",
            source,
        })?;
        let synced = Instant::now();
        Ok(BatchTiming {
            write: written - start,
            sync: synced - written,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_land_at_their_offsets() {
        let dir = tempfile::tempdir().unwrap();
        let file = File::create_new(dir.path().join("f")).unwrap();
        let t = SyncEngine
            .write_then_sync(
                &file,
                &[
                    WriteAt {
                        buf: b"abc",
                        offset: 0,
                    },
                    WriteAt {
                        buf: b"xyz",
                        offset: 8,
                    },
                ],
            )
            .unwrap();
        assert!(t.write + t.sync > std::time::Duration::ZERO);
        let bytes = std::fs::read(dir.path().join("f")).unwrap();
        assert_eq!(&bytes, b"abc\0\0\0\0\0xyz");
    }
}
