//! Running etcd-doctor under caps (address space, time), with its peak RSS
//! from wait4, and the fixture tree the runs must leave as it was.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{symlink, FileTypeExt, MetadataExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use crate::support::fixtures::disk_report;

/// Address-space cap of every run: far above what a bounded run maps
/// (tokio threads and malloc arenas reserve a few hundred MiB), far below
/// what the unbounded versions used (3 GB).
pub const AS_CAP_BYTES: u64 = 2 << 30;

/// Peak RSS a bad input may cost, KiB (a bounded run of a debug build
/// peaks at 20 to 40 MiB; the unbounded versions took 400 MiB to 3 GB).
pub const RSS_CAP_KIB: i64 = 100 << 10;

/// Time a bad input may take.
pub const TIME_CAP: Duration = Duration::from_secs(20);

/// One etcd 3.5 log line of a catalogued event.
pub const ZAP: &str = r#"{"level":"warn","ts":"2024-03-01T12:00:00.123Z","caller":"wal/wal.go:806","msg":"slow fdatasync","took":"1.534s","expected-duration":"1s"}"#;

/// How one capped run ended.
pub struct Run {
    pub code: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: String,
    pub peak_rss_kib: i64,
    pub elapsed: Duration,
}

/// Where the run's standard streams go.
pub enum Stdin {
    Null,
    File(PathBuf),
}

/// Runs etcd-doctor with `args` under the caps; stdout to a file unless
/// `stdout` is given.
pub fn run_capped(args: &[&str], stdin: Stdin, stdout: Option<Stdio>, env: &[(&str, &str)]) -> Run {
    let dir = tempfile::tempdir().unwrap();
    let (out_path, err_path) = (dir.path().join("out"), dir.path().join("err"));
    // Through a shell that forks: the tool then starts from the shell's
    // small image, so wait4's peak RSS (the shell's and its waited-for
    // child's) is the tool's own, not this test process's copy.
    let mut cmd = Command::new("sh");
    cmd.args(["-c", "\"$@\"; exit $?", "sh"])
        .arg(assert_cmd::cargo::cargo_bin("etcd-doctor"))
        .args(args);
    for var in [
        "ETCDCTL_ENDPOINTS",
        "ETCDCTL_CACERT",
        "ETCDCTL_CERT",
        "ETCDCTL_KEY",
    ] {
        cmd.env_remove(var);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.stdin(match stdin {
        Stdin::Null => Stdio::null(),
        Stdin::File(p) => Stdio::from(fs::File::open(p).unwrap()),
    });
    cmd.stdout(stdout.unwrap_or_else(|| Stdio::from(fs::File::create(&out_path).unwrap())));
    cmd.stderr(Stdio::from(fs::File::create(&err_path).unwrap()));
    // SAFETY: setpgid and setrlimit are async-signal-safe; nothing else
    // runs in the child.
    unsafe {
        cmd.pre_exec(|| {
            libc::setpgid(0, 0);
            let lim = libc::rlimit {
                rlim_cur: AS_CAP_BYTES,
                rlim_max: AS_CAP_BYTES,
            };
            if libc::setrlimit(libc::RLIMIT_AS, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let start = Instant::now();
    // Reaped below with wait4 (for its rusage), not Child::wait.
    #[allow(clippy::zombie_processes)]
    let pid = cmd.spawn().unwrap().id() as libc::pid_t;
    let (status, rusage) = loop {
        let mut status = 0;
        // SAFETY: a zeroed rusage is valid; wait4 fills it for our child.
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        let got = unsafe { libc::wait4(pid, &mut status, libc::WNOHANG, &mut usage) };
        if got == pid {
            break (status, usage);
        }
        if start.elapsed() > TIME_CAP {
            unsafe { libc::kill(-pid, libc::SIGKILL) };
            panic!("{args:?} ran past {TIME_CAP:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let code = libc::WIFEXITED(status).then(|| libc::WEXITSTATUS(status));
    Run {
        code,
        stdout: fs::read(&out_path).unwrap_or_default(),
        stderr: fs::read_to_string(&err_path).unwrap_or_default(),
        peak_rss_kib: rusage.ru_maxrss,
        elapsed: start.elapsed(),
    }
}

/// Asserts exit 2, one stderr line holding every needle, RSS in bounds.
pub fn refused(r: &Run, what: &str, needles: &[&str]) {
    assert_eq!(r.code, Some(2), "{what}: stderr {:?}", r.stderr);
    assert_eq!(
        r.stderr.trim_end().lines().count(),
        1,
        "{what}: {:?}",
        r.stderr
    );
    assert!(
        r.stderr.len() < 1_200,
        "{what}: {} byte error",
        r.stderr.len()
    );
    for n in needles {
        assert!(r.stderr.contains(n), "{what}: {:?} lacks {n:?}", r.stderr);
    }
    assert!(
        r.peak_rss_kib < RSS_CAP_KIB,
        "{what}: peak RSS {} KiB",
        r.peak_rss_kib
    );
}

/// Every entry under `root` (not following symlinks): kind, mode, size,
/// link target and content hash.
pub fn tree(root: &Path) -> BTreeMap<PathBuf, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for e in fs::read_dir(&dir).unwrap() {
            let path = e.unwrap().path();
            let m = fs::symlink_metadata(&path).unwrap();
            let t = m.file_type();
            let what = if t.is_symlink() {
                format!("link {:?}", fs::read_link(&path).unwrap())
            } else if t.is_dir() {
                stack.push(path.clone());
                "dir".into()
            } else if t.is_file() {
                format!("file {:x}", Sha256::digest(fs::read(&path).unwrap()))
            } else if t.is_fifo() {
                "fifo".into()
            } else if t.is_char_device() {
                format!("chr {}", m.rdev())
            } else {
                format!("other {:o}", m.mode())
            };
            out.insert(path, format!("{what} mode {:o} size {}", m.mode(), m.len()));
        }
    }
    out
}

/// The fixture tree: good inputs and every kind of thing an output or an
/// input path can name.
pub struct Fixtures {
    pub dir: tempfile::TempDir,
}

impl Fixtures {
    pub fn new() -> Fixtures {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let good = disk_report("qualify", [500.0, 600.0, 900.0]);
        fs::write(d.join("good.json"), serde_json::to_vec(&good).unwrap()).unwrap();
        fs::write(d.join("keep.txt"), "keep me\n").unwrap();
        fs::write(d.join("ok.log"), format!("{ZAP}\n")).unwrap();
        nix::unistd::mkfifo(&d.join("fifo"), nix::sys::stat::Mode::S_IRWXU).unwrap();
        nix::sys::stat::mknod(
            &d.join("null-dev"),
            nix::sys::stat::SFlag::S_IFCHR,
            nix::sys::stat::Mode::from_bits_truncate(0o666),
            nix::sys::stat::makedev(1, 3),
        )
        .unwrap();
        nix::sys::stat::mknod(
            &d.join("zero-dev"),
            nix::sys::stat::SFlag::S_IFCHR,
            nix::sys::stat::Mode::from_bits_truncate(0o666),
            nix::sys::stat::makedev(1, 5),
        )
        .unwrap();
        fs::create_dir(d.join("subdir")).unwrap();
        symlink(d.join("null-dev"), d.join("link-to-dev")).unwrap();
        symlink(d.join("absent"), d.join("dangling")).unwrap();
        symlink(d.join("good.json"), d.join("link-to-input")).unwrap();
        fs::hard_link(d.join("good.json"), d.join("hard-input.json")).unwrap();
        fs::write(d.join("big.pem"), vec![b'A'; 3 << 20]).unwrap();
        Fixtures { dir }
    }

    pub fn p(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }
}
