//! Why a disk run could not run, as one line naming the path. Raw IO errors
//! are classified here (ENOSPC, EACCES, unsupported features) so every
//! probe reports them the same way.

use std::io;
use std::path::{Path, PathBuf};

use thiserror::Error;

use super::plan::PlanError;

/// A disk run that could not run or finish.
#[derive(Debug, Error)]
pub enum DiskError {
    /// The plan's parameters cannot run.
    #[error("invalid disk plan: {0}")]
    Plan(#[from] PlanError),
    /// `--dir` does not exist.
    #[error("{}: no such directory", .0.display())]
    MissingDir(PathBuf),
    /// `--dir` is a file or something else that is not a directory.
    #[error("{}: not a directory", .0.display())]
    NotADirectory(PathBuf),
    /// The process may not create files there.
    #[error("{}: permission denied", .0.display())]
    PermissionDenied(PathBuf),
    /// The filesystem ran out of space (or inodes, or quota) mid-run.
    #[error("{}: no space left on device", .0.display())]
    NoSpace(PathBuf),
    /// The free-space check refused to start.
    #[error(
        "{}: only {free_mib} MiB free; the run needs {need_mib} MiB plus {headroom_mib} MiB \
         headroom, refusing to fill the disk",
        path.display()
    )]
    InsufficientSpace {
        /// Directory under test.
        path: PathBuf,
        /// Free bytes available to this user, MiB.
        free_mib: u64,
        /// Bytes the run keeps on disk at most, MiB.
        need_mib: u64,
        /// Bytes always left free, MiB.
        headroom_mib: u64,
    },
    /// The filesystem lacks a feature the probe needs.
    #[error("{}: filesystem does not support {feature}", path.display())]
    Unsupported {
        /// File the operation was tried on.
        path: PathBuf,
        /// The missing feature, e.g. `fallocate`.
        feature: &'static str,
    },
    /// `--engine uring` on a kernel where io_uring cannot be used.
    #[error("io_uring is unavailable ({0}); use --engine sync")]
    UringUnavailable(String),
    /// SIGINT or SIGTERM arrived; everything created was removed.
    #[error("interrupted")]
    Interrupted,
    /// Any other IO error.
    #[error("{}: {op}: {source}", path.display())]
    Io {
        /// File or directory involved.
        path: PathBuf,
        /// What was being done, e.g. `fdatasync`.
        op: &'static str,
        /// The OS error.
        source: io::Error,
    },
}

impl DiskError {
    /// Classifies an IO error from operation `op` on `path`.
    pub fn io(path: &Path, op: &'static str, err: io::Error) -> DiskError {
        let path = path.to_path_buf();
        match err.raw_os_error() {
            Some(libc::ENOSPC | libc::EDQUOT) => DiskError::NoSpace(path),
            Some(libc::EACCES | libc::EPERM) => DiskError::PermissionDenied(path),
            Some(libc::EOPNOTSUPP | libc::ENOSYS) => DiskError::Unsupported { path, feature: op },
            Some(libc::EINVAL) if op == "fallocate" => DiskError::Unsupported { path, feature: op },
            _ => DiskError::Io {
                path,
                op,
                source: err,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_are_classified_and_name_the_path() {
        let p = Path::new("/data/x");
        let e = |code| DiskError::io(p, "fallocate", io::Error::from_raw_os_error(code));
        assert_eq!(
            e(libc::ENOSPC).to_string(),
            "/data/x: no space left on device"
        );
        assert_eq!(e(libc::EACCES).to_string(), "/data/x: permission denied");
        assert_eq!(
            e(libc::EOPNOTSUPP).to_string(),
            "/data/x: filesystem does not support fallocate"
        );
        assert!(e(libc::EIO).to_string().starts_with("/data/x: fallocate: "));
    }
}
