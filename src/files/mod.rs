//! Every path the tool reads or writes passes here, because it runs as root
//! on control-plane nodes where a careless path can name a device node, a
//! FIFO, a directory or the command's own input.
//!
//! Reading ([`open_input`], [`read_input`]): the path is opened with
//! `O_NONBLOCK | O_NOCTTY` (a FIFO with no writer cannot block the open),
//! its type is checked with `fstat` on the open descriptor (no race with a
//! rename), and anything but a regular file is refused with one line naming
//! the flag and the path. Whole-file reads stop one byte past their limit.
//! Every file opened here is remembered, so that an output can refuse to
//! replace one of the command's inputs.
//!
//! Writing ([`Output`]): only a regular file is replaced, atomically (a
//! temporary file beside it, fsynced, renamed over it, keeping its mode).
//! A symlink is written through: its regular-file target is replaced and
//! the link stays. A dangling symlink, a device node, a FIFO, a socket or a
//! directory is refused, and so is a path that is (same device and inode)
//! one of the files the command read.

pub mod mapped;

use std::collections::HashMap;
use std::fmt;
use std::fs::{self, File, Metadata, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use tempfile::NamedTempFile;
use thiserror::Error;

/// Most inputs remembered for the output check (`compare` reads at most
/// 1,000 reports; `logs` a few dozen files).
const MAX_REMEMBERED_INPUTS: usize = 10_000;

/// Mode of a newly created output: reports are for other users too
/// (node_exporter reads report.prom).
const NEW_FILE_MODE: u32 = 0o644;

/// What is at a path, for errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    /// A regular file.
    Regular,
    /// A directory.
    Directory,
    /// A named pipe.
    Fifo,
    /// A character device (`/dev/zero`, a terminal).
    CharDevice,
    /// A block device.
    BlockDevice,
    /// A Unix socket.
    Socket,
    /// A symbolic link (seen only without following it).
    Symlink,
}

impl FileKind {
    /// The kind of `meta`.
    pub fn of(meta: &Metadata) -> FileKind {
        let t = meta.file_type();
        if t.is_symlink() {
            FileKind::Symlink
        } else if t.is_dir() {
            FileKind::Directory
        } else if t.is_fifo() {
            FileKind::Fifo
        } else if t.is_char_device() {
            FileKind::CharDevice
        } else if t.is_block_device() {
            FileKind::BlockDevice
        } else if t.is_socket() {
            FileKind::Socket
        } else {
            FileKind::Regular
        }
    }
}

impl fmt::Display for FileKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FileKind::Regular => "a regular file",
            FileKind::Directory => "a directory",
            FileKind::Fifo => "a FIFO",
            FileKind::CharDevice => "a character device",
            FileKind::BlockDevice => "a block device",
            FileKind::Socket => "a socket",
            FileKind::Symlink => "a symlink",
        })
    }
}

/// Why an input could not be read.
#[derive(Debug, Error)]
pub enum InputError {
    /// Not a regular file.
    #[error("{what} {}: {kind}, not a regular file", path.display())]
    NotRegular {
        /// The flag or role of the file (`--cacert`, `profile`).
        what: String,
        /// The path given.
        path: PathBuf,
        /// What is there.
        kind: FileKind,
    },
    /// Larger than the limit for its kind.
    #[error("{what} {}: larger than {limit} bytes", path.display())]
    TooLarge {
        /// The flag or role of the file.
        what: String,
        /// The path given.
        path: PathBuf,
        /// The limit.
        limit: u64,
    },
    /// Standard input is a terminal, a device or a directory.
    #[error("{what} - (standard input): {kind}, not a pipe or a file; pipe the input in")]
    StdinNotAStream {
        /// The command or flag reading it.
        what: String,
        /// What standard input is.
        kind: FileKind,
    },
    /// Could not be opened or read.
    #[error("{what} {}: cannot read the file: {source}", path.display())]
    Io {
        /// The flag or role of the file.
        what: String,
        /// The path given.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
}

/// Files opened as inputs: (device, inode) -> path given.
static INPUTS: Mutex<Option<HashMap<(u64, u64), PathBuf>>> = Mutex::new(None);

fn remember(meta: &Metadata, path: &Path) {
    let mut inputs = INPUTS.lock().unwrap_or_else(|e| e.into_inner());
    let map = inputs.get_or_insert_with(HashMap::new);
    let id = (meta.dev(), meta.ino());
    // The newest path wins: an older one may name a deleted file whose
    // inode number was reused.
    if map.len() < MAX_REMEMBERED_INPUTS || map.contains_key(&id) {
        map.insert(id, path.to_path_buf());
    }
}

/// The input already read that is the file of `meta`, if any (and if its
/// path still names that file: an inode number freed by a deleted input
/// may be reused).
fn input_at(meta: &Metadata) -> Option<PathBuf> {
    let id = (meta.dev(), meta.ino());
    let path = {
        let inputs = INPUTS.lock().unwrap_or_else(|e| e.into_inner());
        inputs.as_ref()?.get(&id).cloned()?
    };
    let now = fs::metadata(&path).ok()?;
    ((now.dev(), now.ino()) == id).then_some(path)
}

/// Opens `path` for reading when it is a regular file; `what` names it in
/// errors (the flag, or the role: `report`, `profile`). The open cannot
/// block on a FIFO and never makes a terminal the controlling one.
pub fn open_input(what: &str, path: &Path) -> Result<File, InputError> {
    let io_err = |source| InputError::Io {
        what: what.to_string(),
        path: path.to_path_buf(),
        source,
    };
    let file = OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY | libc::O_CLOEXEC)
        .open(path)
        .map_err(io_err)?;
    let meta = file.metadata().map_err(io_err)?;
    let kind = FileKind::of(&meta);
    if kind != FileKind::Regular {
        return Err(InputError::NotRegular {
            what: what.to_string(),
            path: path.to_path_buf(),
            kind,
        });
    }
    set_blocking(&file).map_err(io_err)?;
    remember(&meta, path);
    Ok(file)
}

/// Checks that standard input is a pipe, a socket or a regular file: a
/// terminal would wait for typing, and a device (`< /dev/zero`) never ends.
/// Returns a regular file's size now (a reader can stop there), else None.
pub fn stdin_is_a_stream(what: &str) -> Result<Option<u64>, InputError> {
    let stdin = std::io::stdin();
    let fd = std::os::fd::AsFd::as_fd(&stdin)
        .try_clone_to_owned()
        .map_err(|source| InputError::Io {
            what: what.to_string(),
            path: PathBuf::from("-"),
            source,
        })?;
    let meta = File::from(fd).metadata().map_err(|source| InputError::Io {
        what: what.to_string(),
        path: PathBuf::from("-"),
        source,
    })?;
    match FileKind::of(&meta) {
        FileKind::Regular => Ok(Some(meta.len())),
        FileKind::Fifo | FileKind::Socket => Ok(None),
        kind => Err(InputError::StdinNotAStream {
            what: what.to_string(),
            kind,
        }),
    }
}

/// Clears `O_NONBLOCK` (meaningless for a regular file, but the
/// descriptor may be handed to code that expects a blocking one).
fn set_blocking(file: &File) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let fd = file.as_raw_fd();
    // SAFETY: fcntl on a descriptor we own.
    let flags = unsafe { libc::fcntl(fd, libc::F_GETFL) };
    if flags < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: as above.
    if unsafe { libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Reads the whole regular file at `path`, refused past `limit` bytes
/// (read stops one byte past it).
pub fn read_input(what: &str, path: &Path, limit: u64) -> Result<Vec<u8>, InputError> {
    let file = open_input(what, path)?;
    let mut bytes = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|source| InputError::Io {
            what: what.to_string(),
            path: path.to_path_buf(),
            source,
        })?;
    if bytes.len() as u64 > limit {
        return Err(InputError::TooLarge {
            what: what.to_string(),
            path: path.to_path_buf(),
            limit,
        });
    }
    Ok(bytes)
}

/// [`read_input`] as UTF-8 text.
pub fn read_input_text(what: &str, path: &Path, limit: u64) -> Result<String, InputError> {
    let bytes = read_input(what, path, limit)?;
    String::from_utf8(bytes).map_err(|_| InputError::Io {
        what: what.to_string(),
        path: path.to_path_buf(),
        source: io::Error::new(io::ErrorKind::InvalidData, "not UTF-8 text"),
    })
}

/// Why an output path is refused.
#[derive(Debug, Error)]
pub enum OutputError {
    /// Something other than a regular file (or a symlink to one) is there.
    #[error("{what} {}: {kind}, not a regular file; refusing to replace it", path.display())]
    NotRegular {
        /// The flag naming the output.
        what: String,
        /// The path given.
        path: PathBuf,
        /// What is there (after following a symlink).
        kind: FileKind,
    },
    /// A symlink whose target does not exist.
    #[error("{what} {}: a symlink to a missing file; refusing to write through it", path.display())]
    Dangling {
        /// The flag naming the output.
        what: String,
        /// The path given.
        path: PathBuf,
    },
    /// The output is a file the command read.
    #[error("{what} {}: is the input {}; refusing to overwrite it", path.display(), input.display())]
    IsInput {
        /// The flag naming the output.
        what: String,
        /// The path given.
        path: PathBuf,
        /// The input it is.
        input: PathBuf,
    },
    /// Creating, writing or renaming failed.
    #[error("{what} {}: {source}", path.display())]
    Io {
        /// The flag naming the output.
        what: String,
        /// The path given.
        path: PathBuf,
        /// The error.
        source: io::Error,
    },
}

/// An output path checked for replacement: the regular file to replace
/// (the symlink's target when the path is a symlink) and its mode.
#[derive(Debug, Clone)]
pub struct Output {
    what: String,
    given: PathBuf,
    target: PathBuf,
    mode: u32,
}

impl Output {
    /// Checks that `path` may be replaced: absent, a regular file, or a
    /// symlink to a regular file, and none of the command's inputs.
    pub fn check(what: &str, path: &Path) -> Result<Output, OutputError> {
        let io_err = |source| OutputError::Io {
            what: what.to_string(),
            path: path.to_path_buf(),
            source,
        };
        let (target, meta) = match fs::symlink_metadata(path) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                return Ok(Output {
                    what: what.to_string(),
                    given: path.to_path_buf(),
                    target: path.to_path_buf(),
                    mode: NEW_FILE_MODE,
                })
            }
            Err(e) => return Err(io_err(e)),
            Ok(m) if m.file_type().is_symlink() => match fs::canonicalize(path) {
                Ok(target) => (target.clone(), fs::metadata(&target).map_err(io_err)?),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    return Err(OutputError::Dangling {
                        what: what.to_string(),
                        path: path.to_path_buf(),
                    })
                }
                Err(e) => return Err(io_err(e)),
            },
            Ok(m) => (path.to_path_buf(), m),
        };
        let kind = FileKind::of(&meta);
        if kind != FileKind::Regular {
            return Err(OutputError::NotRegular {
                what: what.to_string(),
                path: path.to_path_buf(),
                kind,
            });
        }
        if let Some(input) = input_at(&meta) {
            return Err(OutputError::IsInput {
                what: what.to_string(),
                path: path.to_path_buf(),
                input,
            });
        }
        Ok(Output {
            what: what.to_string(),
            given: path.to_path_buf(),
            target,
            mode: meta.mode() & 0o7777,
        })
    }

    /// The path given.
    pub fn path(&self) -> &Path {
        &self.given
    }

    fn io_err(&self, source: io::Error) -> OutputError {
        OutputError::Io {
            what: self.what.clone(),
            path: self.given.clone(),
            source,
        }
    }

    /// A temporary file beside the target, `prefix` starting its name.
    pub fn temp(&self, prefix: &str, suffix: &str) -> Result<NamedTempFile, OutputError> {
        tempfile::Builder::new()
            .prefix(prefix)
            .suffix(suffix)
            .tempfile_in(parent_dir(&self.target))
            .map_err(|e| self.io_err(e))
    }

    /// Gives `tmp` the target's mode, fsyncs it, checks the target again
    /// (it may have changed since [`Output::check`]) and renames it over
    /// the target, then fsyncs the directory.
    pub fn commit(self, tmp: NamedTempFile) -> Result<(), OutputError> {
        tmp.as_file()
            .set_permissions(fs::Permissions::from_mode(self.mode))
            .and_then(|()| tmp.as_file().sync_all())
            .map_err(|e| self.io_err(e))?;
        Output::check(&self.what, &self.given)?;
        tmp.persist(&self.target)
            .map_err(|e| self.io_err(e.error))?;
        File::open(parent_dir(&self.target))
            .and_then(|d| d.sync_all())
            .map_err(|e| self.io_err(e))
    }
}

/// The directory `path` is in (`.` for a bare file name).
pub fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

#[cfg(test)]
mod tests;
