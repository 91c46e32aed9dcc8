//! Where logs come from: files (plain or gzip-compressed, as kubelet
//! rotates them), standard input, `journalctl -u UNIT -o json`, and the
//! etcd static pod's logs under /var/log/pods found through kubeadm's
//! manifest. Each source is opened and read on its own: one that cannot be
//! read is recorded with its error, and the others are still read.

use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdout, Command, Stdio};

use flate2::read::MultiGzDecoder;
use thiserror::Error;

use super::chunk;
use super::report::LogsReport;
use super::scan::{Scanner, Window};
use crate::cluster::kubeadm::{self, KubeadmError};
use crate::files;

/// Where kubelet writes pod logs.
pub const DEFAULT_POD_LOGS: &str = "/var/log/pods";

/// One place to read logs from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LogSource {
    /// A file, gzip-compressed or not.
    File(PathBuf),
    /// Standard input (`-`).
    Stdin,
    /// `journalctl -u UNIT -o json`.
    Journal(String),
}

impl LogSource {
    /// The name the report gives the source.
    pub fn name(&self) -> String {
        match self {
            LogSource::File(p) => p.display().to_string(),
            LogSource::Stdin => "-".to_string(),
            LogSource::Journal(unit) => format!("journal:{unit}"),
        }
    }
}

/// What `logs` (and `diagnose`) read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogsPlan {
    /// The sources, in reading order.
    pub sources: Vec<LogSource>,
    /// Events kept.
    pub window: Window,
    /// Threads scanning each source (1 to [`chunk::MAX_THREADS`]).
    pub threads: usize,
}

/// The default for [`LogsPlan::threads`]: the cores this process may run on.
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(chunk::MAX_THREADS))
}

/// A discovery that found nothing to read.
#[derive(Debug, Error)]
pub enum DiscoveryError {
    /// The manifest could not be used.
    #[error(transparent)]
    Kubeadm(#[from] KubeadmError),
    /// No etcd pod log directory under the pod logs root.
    #[error("--kubeadm: no etcd pod logs under {} (kube-system_etcd-*/etcd/*.log)", root.display())]
    NoPodLogs {
        /// The root searched.
        root: PathBuf,
    },
}

/// The etcd static pod's log files under `root`
/// (`kube-system_etcd-<node>_<uid>/etcd/N.log` and its rotated siblings,
/// `.gz` included), oldest first. `manifest` names the member: when its
/// `--name` matches a pod directory only that one is read.
pub fn kubeadm_pod_logs(manifest: &Path, root: &Path) -> Result<Vec<PathBuf>, DiscoveryError> {
    let found = kubeadm::discover(manifest)?;
    let no_logs = || DiscoveryError::NoPodLogs {
        root: root.to_path_buf(),
    };
    let prefix = found
        .name
        .as_ref()
        .map(|name| format!("kube-system_etcd-{name}_"));
    let own = prefix
        .as_ref()
        .map(|p| etcd_pod_logs(root, |dir| dir.starts_with(p.as_str())))
        .unwrap_or_default();
    let files = match own.is_empty() {
        true => etcd_pod_logs(root, |dir| dir.starts_with("kube-system_etcd-")),
        false => own,
    };
    if files.is_empty() {
        return Err(no_logs());
    }
    Ok(files)
}

/// The etcd container's log files of the pods under `root` whose directory
/// name (`<namespace>_<pod>_<uid>`) `pick` accepts: `<dir>/etcd/N.log` and
/// its rotated siblings (`.gz` included), oldest first. At most 4096 pod
/// directories and 256 files each are looked at.
pub fn etcd_pod_logs(root: &Path, pick: impl Fn(&str) -> bool) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(root) else {
        return Vec::new();
    };
    let dirs: Vec<PathBuf> = entries
        .take(4096)
        .filter_map(Result::ok)
        .filter(|e| pick(&e.file_name().to_string_lossy()))
        .map(|e| e.path().join("etcd"))
        .filter(|p| p.is_dir())
        .collect();
    let mut files: Vec<PathBuf> = dirs
        .iter()
        .filter_map(|d| fs::read_dir(d).ok())
        .flat_map(|d| d.take(256))
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| {
            p.is_file()
                && p.file_name()
                    .is_some_and(|f| f.to_string_lossy().contains(".log"))
        })
        .collect();
    // Rotated files (`0.log.20240301-120000[.gz]`) before the live `0.log`.
    files.sort_by_key(|p| (p.extension().is_some_and(|e| e == "log"), p.clone()));
    files
}

/// Reads every source of `plan` into one report. A source that cannot be
/// opened is recorded with its error; the caller decides whether nothing
/// read is fatal ([`LogsReport::read_anything`]).
pub fn read(plan: &LogsPlan) -> LogsReport {
    let mut scanner = Scanner::with_threads(plan.window, plan.threads);
    for source in &plan.sources {
        let name = source.name();
        match open(source, plan.window) {
            Ok(mut reader) => scanner.scan(&name, &mut *reader),
            Err(e) => scanner.failed(&name, format!("{name}: {e}")),
        }
    }
    scanner.finish()
}

/// A source's bytes; the scanner reads them in large chunks, so no buffer here.
fn open(source: &LogSource, window: Window) -> io::Result<Box<dyn Read + Send>> {
    match source {
        LogSource::File(path) => {
            // The report names the source: the error says only what is wrong.
            let file = files::open_input("logs", path).map_err(|e| match e {
                files::InputError::Io { source, .. } => source,
                files::InputError::NotRegular { kind, .. } => io::Error::new(
                    io::ErrorKind::InvalidInput,
                    format!("{kind}, not a regular file (pipe a stream to `logs -`)"),
                ),
                other => io::Error::new(io::ErrorKind::InvalidInput, other.to_string()),
            })?;
            // A log still being written is read as it was when opened:
            // a writer as fast as the reader (`yes >> etcd.log`) would
            // otherwise keep the command reading until the disk is full.
            let size = file.metadata()?.len();
            gunzip_if_gzip(file.take(size))
        }
        LogSource::Stdin => match files::stdin_is_a_stream("logs").map_err(io::Error::other)? {
            Some(size) => gunzip_if_gzip(io::stdin().take(size)),
            None => gunzip_if_gzip(io::stdin()),
        },
        LogSource::Journal(unit) => journal(unit, window),
    }
}

/// Reads `r` through gzip when it starts with gzip's magic bytes (rotated
/// pod logs, `kubectl cp` of one, or one piped in).
fn gunzip_if_gzip(mut r: impl Read + Send + 'static) -> io::Result<Box<dyn Read + Send>> {
    let mut magic = [0u8; 2];
    let mut n = 0;
    while n < magic.len() {
        match r.read(&mut magic[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let whole = io::Cursor::new(magic[..n].to_vec()).chain(r);
    Ok(if magic[..n] == [0x1f, 0x8b] {
        Box::new(MultiGzDecoder::new(whole))
    } else {
        Box::new(whole)
    })
}

/// Streams `journalctl -u UNIT -o json` (from `--since` on, when given).
fn journal(unit: &str, window: Window) -> io::Result<Box<dyn Read + Send>> {
    let mut cmd = Command::new("journalctl");
    cmd.args(["-u", unit, "-o", "json", "--no-pager"]);
    if let Some(since) = window.since_ms {
        cmd.arg(format!("--since=@{}", since.div_euclid(1000)));
    }
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| {
            io::Error::new(
                e.kind(),
                format!("--journal {unit}: cannot run journalctl: {e}"),
            )
        })?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| io::Error::other("journalctl: no output pipe"))?;
    Ok(Box::new(Journal { child, stdout }))
}

/// journalctl's output; the process is reaped when reading ends.
struct Journal {
    child: Child,
    stdout: ChildStdout,
}

impl Read for Journal {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.stdout.read(buf)
    }
}

impl Drop for Journal {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn gzip_and_plain_files_read_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let line =
            "2024-03-01 12:00:00.123456 W | wal: sync duration of 1.5s, expected less than 1s\n";
        let plain = dir.path().join("a.log");
        fs::write(&plain, line).unwrap();
        let gz = dir.path().join("a.log.1.gz");
        let mut enc = flate2::write::GzEncoder::new(
            fs::File::create(&gz).unwrap(),
            flate2::Compression::fast(),
        );
        enc.write_all(line.as_bytes()).unwrap();
        enc.finish().unwrap();
        let missing = dir.path().join("missing.log");
        let plan = LogsPlan {
            sources: vec![
                LogSource::File(plain),
                LogSource::File(gz),
                LogSource::File(missing),
            ],
            window: Window::default(),
            threads: 2,
        };
        let r = read(&plan);
        assert_eq!(r.count(super::super::EventKind::SlowFdatasync), 2);
        assert!(r.sources[2]
            .error
            .as_deref()
            .unwrap()
            .contains("missing.log"));
        assert!(r.read_anything());
    }

    #[test]
    fn a_file_is_read_as_it_was_when_opened() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("growing.log");
        let line =
            b"2024-03-01 12:00:00.123456 W | wal: sync duration of 1.5s, expected less than 1s\n";
        fs::write(&path, line).unwrap();
        let mut reader = open(&LogSource::File(path.clone()), Window::default()).unwrap();
        // Written after the open, before the read.
        let mut more = fs::OpenOptions::new().append(true).open(&path).unwrap();
        more.write_all(&line.repeat(1_000)).unwrap();
        let mut got = Vec::new();
        reader.read_to_end(&mut got).unwrap();
        assert_eq!(got, line);
    }
}
