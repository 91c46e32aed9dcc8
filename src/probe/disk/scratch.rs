//! The only place a disk run writes: a fresh directory it creates under
//! `--dir` and removes, with everything in it, when dropped (on success,
//! on error and after SIGINT/SIGTERM, which the runner turns into an early
//! return). Files are only ever created new (`O_CREAT|O_EXCL`), so an
//! existing file is never opened for writing.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use super::error::DiskError;
use crate::measure::MIB;

/// Bytes always left free on the filesystem beyond what the run needs.
pub const HEADROOM_BYTES: u64 = 64 * 1024 * 1024;

/// Prefix of the scratch directory's name.
pub const SCRATCH_PREFIX: &str = ".etcd-doctor-disk-";

/// A scratch directory, removed on drop.
#[derive(Debug)]
pub struct Scratch {
    path: PathBuf,
}

impl Scratch {
    /// Checks `dir` (exists, is a directory, has room for `need_bytes` plus
    /// [`HEADROOM_BYTES`]) and creates a fresh scratch directory in it.
    pub fn create(dir: &Path, need_bytes: u64) -> Result<Scratch, DiskError> {
        let meta = fs::metadata(dir).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => DiskError::MissingDir(dir.to_path_buf()),
            _ => DiskError::io(dir, "stat", e),
        })?;
        if !meta.is_dir() {
            return Err(DiskError::NotADirectory(dir.to_path_buf()));
        }
        check_free_space(dir, need_bytes)?;
        let path = dir.join(format!(
            "{SCRATCH_PREFIX}{}-{:08x}",
            std::process::id(),
            fastrand::u32(..)
        ));
        // create_dir fails if the name exists: the directory is ours alone.
        fs::create_dir(&path).map_err(|e| DiskError::io(dir, "mkdir", e))?;
        Ok(Scratch { path })
    }

    /// The scratch directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Creates a new file `name` in the scratch directory, for reading and
    /// writing; fails rather than open a file that exists.
    pub fn create_file(&self, name: &str) -> Result<(File, PathBuf), DiskError> {
        let path = self.path.join(name);
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)
            .map_err(|e| DiskError::io(&path, "create", e))?;
        Ok((file, path))
    }

    /// Removes a file this scratch directory holds.
    pub fn remove_file(&self, path: &Path) -> Result<(), DiskError> {
        debug_assert!(path.starts_with(&self.path));
        fs::remove_file(path).map_err(|e| DiskError::io(path, "unlink", e))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        // Best effort: nothing useful can be done with an error in drop.
        let _ = fs::remove_dir_all(&self.path);
    }
}

/// Refuses to start when the run could fill the filesystem.
fn check_free_space(dir: &Path, need_bytes: u64) -> Result<(), DiskError> {
    let st = nix::sys::statvfs::statvfs(dir)
        .map_err(|e| DiskError::io(dir, "statvfs", io::Error::from(e)))?;
    let free = st.blocks_available() as u64 * st.fragment_size() as u64;
    if free < need_bytes.saturating_add(HEADROOM_BYTES) {
        return Err(DiskError::InsufficientSpace {
            path: dir.to_path_buf(),
            free_mib: free / MIB,
            need_mib: need_bytes.div_ceil(MIB),
            headroom_mib: HEADROOM_BYTES / MIB,
        });
    }
    Ok(())
}

/// Allocates `len` bytes for `file` (mode 0: the file size grows to `len`,
/// as etcd's WAL and fio do); a filesystem without fallocate is reported as
/// an unsupported feature.
pub fn preallocate(file: &File, path: &Path, len: u64) -> Result<(), DiskError> {
    let len = libc::off_t::try_from(len)
        .map_err(|_| DiskError::io(path, "fallocate", io::Error::from_raw_os_error(libc::EFBIG)))?;
    // SAFETY: plain syscall on a file descriptor we own.
    let rc = unsafe { libc::fallocate(file.as_raw_fd(), 0, 0, len) };
    if rc != 0 {
        return Err(DiskError::io(path, "fallocate", io::Error::last_os_error()));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scratch_is_fresh_and_removed_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let scratch = Scratch::create(dir.path(), 0).unwrap();
        let (_f, p) = scratch.create_file("a").unwrap();
        assert!(p.exists());
        assert!(matches!(
            scratch.create_file("a"),
            Err(DiskError::Io { .. })
        ));
        let path = scratch.path().to_path_buf();
        drop(scratch);
        assert!(!path.exists());
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn preflight_names_the_problem() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope");
        assert!(
            matches!(Scratch::create(&missing, 0), Err(DiskError::MissingDir(p)) if p == missing)
        );
        let file = dir.path().join("f");
        fs::write(&file, b"x").unwrap();
        assert!(matches!(
            Scratch::create(&file, 0),
            Err(DiskError::NotADirectory(_))
        ));
        assert!(matches!(
            Scratch::create(dir.path(), u64::MAX / 2),
            Err(DiskError::InsufficientSpace { .. })
        ));
    }
}
