//! Careless input as root, by class (issue 22): each class runs with
//! several inputs (a device node made with mknod, a FIFO without a writer,
//! a directory, symlinks, /dev/zero, oversized files, many small documents,
//! control characters, closed and full standard output). Every run is
//! capped in address space (RLIMIT_AS) and time, and the test asserts its
//! exit code, a one-line error naming the flag or path, its peak RSS (from
//! wait4's rusage) and that nothing in the fixture tree changed (type,
//! mode, size and content of every entry, hashed before and after).
//!
//! Needs root for mknod; without it the test says SKIP (see
//! `support::privileged`).

mod support;

use std::collections::BTreeMap;
use std::fs;
use std::io::Write as _;
use std::os::unix::fs::{symlink, FileTypeExt, MetadataExt};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use sha2::{Digest, Sha256};

use etcd_doctor::facts::Report;
use etcd_doctor::probe::net::{NetProbeKind, NetResult, Schedule};
use support::fixtures::{disk_report, latency};

/// Address-space cap of every run: far above what a bounded run maps
/// (tokio threads and malloc arenas reserve a few hundred MiB), far below
/// what the unbounded versions used (3 GB).
const AS_CAP_BYTES: u64 = 2 << 30;

/// Peak RSS a bad input may cost, KiB (a bounded run of a debug build
/// peaks at 20 to 40 MiB; the unbounded versions took 400 MiB to 3 GB).
const RSS_CAP_KIB: i64 = 100 << 10;

/// Time a bad input may take.
const TIME_CAP: Duration = Duration::from_secs(20);

/// One etcd 3.5 log line of a catalogued event.
const ZAP: &str = r#"{"level":"warn","ts":"2024-03-01T12:00:00.123Z","caller":"wal/wal.go:806","msg":"slow fdatasync","took":"1.534s","expected-duration":"1s"}"#;

/// How one capped run ended.
struct Run {
    code: Option<i32>,
    stdout: Vec<u8>,
    stderr: String,
    peak_rss_kib: i64,
    elapsed: Duration,
}

/// Where the run's standard streams go.
enum Stdin {
    Null,
    File(PathBuf),
}

/// Runs etcd-doctor with `args` under the caps; stdout to a file unless
/// `stdout` is given.
fn run_capped(args: &[&str], stdin: Stdin, stdout: Option<Stdio>, env: &[(&str, &str)]) -> Run {
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
fn refused(r: &Run, what: &str, needles: &[&str]) {
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
fn tree(root: &Path) -> BTreeMap<PathBuf, String> {
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
struct Fixtures {
    dir: tempfile::TempDir,
}

impl Fixtures {
    fn new() -> Fixtures {
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

    fn p(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }
}

/// Output paths: nothing but a regular file (or a symlink to one) is
/// replaced, never one of the command's inputs; the tree stays as it was.
#[test]
fn outputs_never_replace_what_is_not_theirs() {
    if !support::privileged("outputs_never_replace_what_is_not_theirs") {
        return;
    }
    let f = Fixtures::new();
    let before = tree(f.dir.path());
    let good = f.p("good.json");
    for target in [
        "null-dev",
        "fifo",
        "subdir",
        "link-to-dev",
        "dangling",
        "good.json",
        "link-to-input",
        "hard-input.json",
    ] {
        let out = f.p(target);
        for args in [
            vec!["merge", good.as_str(), "--out", out.as_str()],
            vec![
                "compare",
                good.as_str(),
                good.as_str(),
                "--out",
                out.as_str(),
            ],
        ] {
            let r = run_capped(&args, Stdin::Null, None, &[]);
            refused(&r, &format!("{args:?}"), &["--out", &out]);
        }
    }
    // A bundle file that is a FIFO is refused, not replaced.
    let bundle = f.dir.path().join("bundle");
    fs::create_dir(&bundle).unwrap();
    nix::unistd::mkfifo(&bundle.join("report.json"), nix::sys::stat::Mode::S_IRWXU).unwrap();
    let log = f.p("ok.log");
    let r = run_capped(
        &["logs", &log, "--report", bundle.to_str().unwrap()],
        Stdin::Null,
        None,
        &[],
    );
    refused(&r, "--report with a FIFO", &["--report", "report.json"]);
    assert!(fs::symlink_metadata(bundle.join("report.json"))
        .unwrap()
        .file_type()
        .is_fifo());
    fs::remove_dir_all(&bundle).unwrap();
    assert_eq!(tree(f.dir.path()), before, "the fixture tree changed");

    // A symlink to a regular file is written through; the link stays.
    let target = f.dir.path().join("written.md");
    fs::write(&target, "old").unwrap();
    let link = f.dir.path().join("link-out");
    symlink(&target, &link).unwrap();
    let r = run_capped(
        &[
            "merge",
            &good,
            "-w",
            "markdown",
            "--out",
            link.to_str().unwrap(),
        ],
        Stdin::Null,
        None,
        &[],
    );
    assert_eq!(r.code, Some(0), "{}", r.stderr);
    assert!(fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink());
    assert!(fs::read_to_string(&target)
        .unwrap()
        .contains("etcd-doctor merge"));
}

/// Inputs: a device, a FIFO without a writer, a directory or an oversized
/// file given as a certificate, key, CA, manifest, profile, report or log
/// is refused fast with the flag and path named, never read whole.
#[test]
fn inputs_that_are_not_regular_files_fail_fast() {
    if !support::privileged("inputs_that_are_not_regular_files_fail_fast") {
        return;
    }
    let f = Fixtures::new();
    let before = tree(f.dir.path());
    let good = f.p("good.json");
    let bad = ["/dev/zero", "zero-dev", "fifo", "subdir", "link-to-dev"].map(|b| {
        if b.starts_with('/') {
            b.to_string()
        } else {
            f.p(b)
        }
    });
    for b in &bad {
        let cases: Vec<Case> = vec![
            (
                vec![
                    "cluster",
                    "status",
                    "--endpoints",
                    "127.0.0.1:1",
                    "--cacert",
                    b,
                ],
                vec![],
                "--cacert",
            ),
            (
                vec!["cluster", "status", "--endpoints", "127.0.0.1:1"],
                vec![("ETCDCTL_CACERT", b)],
                "--cacert",
            ),
            (
                vec![
                    "cluster",
                    "status",
                    "--endpoints",
                    "127.0.0.1:1",
                    "--cert",
                    b,
                    "--key",
                    b,
                ],
                vec![],
                "--cert",
            ),
            (
                vec!["cluster", "status", "--manifest", b],
                vec![],
                "--manifest",
            ),
            (vec!["logs", &good, "--profile", b], vec![], "--profile"),
            (vec!["compare", b, &good], vec![], b),
            (vec!["merge", b], vec![], b),
            (vec!["logs", b], vec![], b),
        ];
        for (args, env, needle) in cases {
            let r = run_capped(&args, Stdin::Null, None, &env);
            refused(&r, &format!("{args:?} {env:?}"), &[needle, b]);
            assert!(
                r.elapsed < Duration::from_secs(5),
                "{args:?}: {:?}",
                r.elapsed
            );
        }
    }
    let big = f.p("big.pem");
    let r = run_capped(
        &[
            "cluster",
            "status",
            "--endpoints",
            "127.0.0.1:1",
            "--cacert",
            &big,
        ],
        Stdin::Null,
        None,
        &[],
    );
    refused(&r, "3 MiB CA", &["--cacert", &big, "larger than"]);
    // Standard input that is a device is refused, not read forever.
    for args in [vec!["logs", "-"], vec!["merge", "-"]] {
        let r = run_capped(&args, Stdin::File("/dev/zero".into()), None, &[]);
        refused(&r, &format!("{args:?} < /dev/zero"), &["standard input"]);
    }
    assert_eq!(tree(f.dir.path()), before, "the fixture tree changed");
}

/// (arguments, environment, what the error names)
type Case<'a> = (Vec<&'a str>, Vec<(&'a str, &'a str)>, &'a str);

/// A host report naming `peers` peers, one rtt result each.
fn report_with_peers(peers: usize) -> Report {
    let mut r = disk_report("qualify", [500.0, 600.0, 900.0]);
    for i in 0..peers {
        let peer = format!("10.{}.{}.{}:7480", i >> 16, (i >> 8) & 255, i & 255);
        let mut rtt = NetResult::new(NetProbeKind::Rtt, &peer, Schedule::Concurrent);
        rtt.latency_us = Some(latency(300.0));
        r.net.push(rtt);
    }
    r
}

/// Memory follows what is kept, not what is counted: many small documents,
/// many peers, many hosts and many distinct peer ids in logs stay under
/// the RSS cap, in seconds. Prints the figures for the report.
#[test]
fn memory_is_bounded_by_what_is_kept() {
    if !support::privileged("memory_is_bounded_by_what_is_kept") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    // 10 MB of `{}` lines.
    let empties = d.join("empties.json");
    fs::write(&empties, "{}\n".repeat(10_000_000 / 3)).unwrap();
    let r = run_capped(
        &["merge", empties.to_str().unwrap()],
        Stdin::Null,
        None,
        &[],
    );
    refused(
        &r,
        "merge of 10 MB of {}",
        &["no report could be merged", "more"],
    );
    println!(
        "merge 10 MB of {{}}: peak RSS {} KiB, {:?}",
        r.peak_rss_kib, r.elapsed
    );

    // One report with 3,000 peers, as a table.
    let peers = d.join("peers.json");
    fs::write(
        &peers,
        serde_json::to_vec(&report_with_peers(3_000)).unwrap(),
    )
    .unwrap();
    let r = run_capped(&["merge", peers.to_str().unwrap()], Stdin::Null, None, &[]);
    assert!(matches!(r.code, Some(0 | 1)), "{}", r.stderr);
    assert!(
        r.peak_rss_kib < RSS_CAP_KIB,
        "3,000 peers: {} KiB",
        r.peak_rss_kib
    );
    assert!(String::from_utf8_lossy(&r.stdout).contains("more host(s), not in this grid"));
    println!(
        "merge table of 3,000 peers: peak RSS {} KiB, {:?}",
        r.peak_rss_kib, r.elapsed
    );

    // 3,000 hosts' reports in one stream (host de-duplication).
    let mut many = Vec::new();
    for i in 0..3_000 {
        let mut h = disk_report("qualify", [500.0, 600.0, 900.0]);
        h.host.hostname = format!("h{i}");
        h.host.addresses = vec![format!("10.1.{}.{}", i >> 8, i & 255).parse().unwrap()];
        many.extend(serde_json::to_vec(&h).unwrap());
        many.push(b'\n');
    }
    let hosts = d.join("hosts.json");
    fs::write(&hosts, many).unwrap();
    let r = run_capped(
        &["merge", hosts.to_str().unwrap(), "-w", "json"],
        Stdin::Null,
        None,
        &[],
    );
    assert!(matches!(r.code, Some(0 | 1)), "{}", r.stderr);
    assert!(
        r.peak_rss_kib < RSS_CAP_KIB,
        "3,000 hosts: {} KiB",
        r.peak_rss_kib
    );
    let v: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
    assert_eq!(
        v["hosts"].as_array().unwrap().len(),
        1_000,
        "MAX_REPORTS kept"
    );
    assert!(v["notes"]
        .to_string()
        .contains("past the limit of 1000 reports"));
    println!(
        "merge 3,000 hosts: peak RSS {} KiB, {:?}",
        r.peak_rss_kib, r.elapsed
    );

    // A gzip of 300,000 lines naming distinct peers.
    let gz = d.join("peers.log.gz");
    let mut enc =
        flate2::write::GzEncoder::new(fs::File::create(&gz).unwrap(), flate2::Compression::fast());
    for i in 0..300_000u64 {
        writeln!(
            enc,
            r#"{{"level":"warn","ts":"2024-03-01T12:{:02}:{:02}.000Z","caller":"rafthttp/probing_status.go:68","msg":"prober detected unhealthy status","round-tripper-name":"ROUND_TRIPPER_RAFT_MESSAGE","remote-peer-id":"{i:016x}","rtt":"0s","error":"dial tcp: connection refused"}}"#,
            (i / 60) % 60,
            i % 60
        )
        .unwrap();
    }
    enc.finish().unwrap();
    let r = run_capped(&["logs", gz.to_str().unwrap()], Stdin::Null, None, &[]);
    assert!(matches!(r.code, Some(0 | 1)), "{}", r.stderr);
    assert!(
        r.peak_rss_kib < RSS_CAP_KIB,
        "300k peers: {} KiB",
        r.peak_rss_kib
    );
    let text = String::from_utf8_lossy(&r.stdout);
    assert!(text.contains("and others in"), "{text}");
    assert!(text.len() < 200_000, "{} bytes of table", text.len());
    println!(
        "logs gzip with 300k peer ids: peak RSS {} KiB, {:?}",
        r.peak_rss_kib, r.elapsed
    );
}

/// Nothing parsed is never a pass: random bytes, invalid UTF-8, another
/// program's log and a gzip of garbage on standard input all exit 2; a
/// gzip of etcd lines on standard input is read.
#[test]
fn logs_with_nothing_parsed_exit_2() {
    if !support::privileged("logs_with_nothing_parsed_exit_2") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let mut rng = fastrand::Rng::with_seed(22);
    let random: Vec<u8> = (0..200_000).map(|_| rng.u8(..)).collect();
    let gzip = |name: &str, bytes: &[u8]| {
        let path = d.join(name);
        let mut enc = flate2::write::GzEncoder::new(
            fs::File::create(&path).unwrap(),
            flate2::Compression::fast(),
        );
        enc.write_all(bytes).unwrap();
        enc.finish().unwrap();
        path
    };
    let files = [
        ("random.bin", random.clone()),
        ("latin1.log", b"caf\xe9 \xff\xfe broken\n".repeat(1000)),
        (
            "nginx.log",
            b"127.0.0.1 - - [01/Mar/2024:12:00:00 +0000] \"GET / HTTP/1.1\" 200\n".repeat(100),
        ),
        ("empty.log", Vec::new()),
    ];
    for (name, bytes) in &files {
        let path = d.join(name);
        fs::write(&path, bytes).unwrap();
        for how in ["file", "stdin"] {
            let r = if how == "file" {
                run_capped(&["logs", path.to_str().unwrap()], Stdin::Null, None, &[])
            } else {
                run_capped(&["logs", "-"], Stdin::File(path.clone()), None, &[])
            };
            refused(
                &r,
                &format!("{name} as {how}"),
                &["no line in a known etcd log format"],
            );
        }
    }
    let garbage = gzip("garbage.gz", &random);
    let r = run_capped(&["logs", "-"], Stdin::File(garbage), None, &[]);
    refused(
        &r,
        "gzip of garbage on stdin",
        &["no line in a known etcd log format"],
    );
    let good = gzip("good.gz", format!("{ZAP}\n").as_bytes());
    let r = run_capped(&["logs", "-", "-w", "json"], Stdin::File(good), None, &[]);
    assert!(matches!(r.code, Some(0 | 1)), "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_slice(&r.stdout).unwrap();
    assert_eq!(v["logs"]["sources"][0]["zap_lines"], 1, "{v}");
    if Command::new("journalctl").arg("--version").output().is_ok() {
        let r = run_capped(
            &["logs", "--journal", "no-such-unit-etcd-doctor-22"],
            Stdin::Null,
            None,
            &[],
        );
        refused(
            &r,
            "a journald unit without entries",
            &["journal:no-such-unit-etcd-doctor-22"],
        );
    } else {
        println!("SKIP journald case: no journalctl on this host");
    }
}

/// Standard output closed, full or a broken pipe: exit 2 and one line,
/// for a report and for completions (which used to panic with 101).
#[test]
fn broken_standard_output_is_exit_2() {
    if !support::privileged("broken_standard_output_is_exit_2") {
        return;
    }
    let f = Fixtures::new();
    let good = f.p("good.json");
    let commands: [Vec<&str>; 3] = [
        vec!["completions", "bash"],
        vec!["man"],
        vec!["merge", good.as_str()],
    ];
    for args in &commands {
        let (read, write) = nix::unistd::pipe().unwrap();
        drop(read);
        let r = run_capped(args, Stdin::Null, Some(Stdio::from(write)), &[]);
        refused(
            &r,
            &format!("{args:?} into a closed pipe"),
            &["standard output"],
        );
        let full = fs::OpenOptions::new()
            .write(true)
            .open("/dev/full")
            .unwrap();
        let r = run_capped(args, Stdin::Null, Some(Stdio::from(full)), &[]);
        refused(
            &r,
            &format!("{args:?} into /dev/full"),
            &["standard output"],
        );
    }
    // A closed descriptor 1.
    let mut cmd = support::doctor::doctor("completions bash");
    // SAFETY: close(2) only.
    unsafe {
        cmd.pre_exec(|| {
            libc::close(1);
            Ok(())
        });
    }
    let out = cmd.stderr(Stdio::piped()).output().unwrap();
    assert_eq!(
        out.status.code(),
        Some(2),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("standard output is closed"));
}

/// Control characters from a hostname or a log line reach the terminal
/// escaped in tables and markdown (JSON escapes them itself).
#[test]
fn control_characters_are_escaped() {
    if !support::privileged("control_characters_are_escaped") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut r = disk_report("qualify", [500.0, 600.0, 900.0]);
    r.host.hostname = "evil\u{1b}]0;owned\u{7}\u{1b}[2J\u{9b}31m\rhost".into();
    let path = dir.path().join("evil.json");
    fs::write(&path, serde_json::to_vec(&r).unwrap()).unwrap();
    // The source name is in the logs table.
    let log = dir.path().join("evil\u{1b}[2J\u{9b}.log");
    fs::write(
        &log,
        "{\"level\":\"warn\",\"ts\":\"2024-03-01T12:00:00.123Z\",\"caller\":\"wal/wal.go:806\",\"msg\":\"slow fdatasync\",\"took\":\"1.5s\",\"expected-duration\":\"1s\",\"x\":\"\\u001b[2J\\u009b\"}\n",
    )
    .unwrap();
    // (arguments, whether the output shows the hostile text)
    for (args, shown) in [
        (vec!["merge", path.to_str().unwrap()], true),
        (
            vec!["merge", path.to_str().unwrap(), "-w", "markdown"],
            true,
        ),
        (
            vec!["compare", path.to_str().unwrap(), path.to_str().unwrap()],
            false,
        ),
        (vec!["logs", log.to_str().unwrap()], true),
        (vec!["logs", log.to_str().unwrap(), "-w", "markdown"], true),
    ] {
        let out = run_capped(&args, Stdin::Null, None, &[]);
        assert!(matches!(out.code, Some(0 | 1)), "{args:?}: {}", out.stderr);
        let text = String::from_utf8(out.stdout).unwrap();
        assert!(
            !text
                .chars()
                .any(|c| (c.is_control() && c != '\n' && c != '\t')
                    || ('\u{80}'..='\u{9f}').contains(&c)),
            "{args:?}: raw control character in {text:?}"
        );
        assert_eq!(text.contains("\\x1b"), shown, "{args:?}: {text}");
    }
}

/// Values no run writes and times no calendar has are refused with the
/// file and field, or the flag, named.
#[test]
fn implausible_numbers_and_dates_are_refused() {
    if !support::privileged("implausible_numbers_and_dates_are_refused") {
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    for (field, value) in [
        ("p99", -1.0),
        ("p50", 1e305),
        ("max", 1e12),
        ("mean", -0.001),
    ] {
        let mut v = serde_json::to_value(disk_report("qualify", [500.0, 600.0, 900.0])).unwrap();
        v["disk"][0]["latency_us"][field] = serde_json::json!(value);
        let path = dir.path().join(format!("{field}.json"));
        fs::write(&path, serde_json::to_vec(&v).unwrap()).unwrap();
        let r = run_capped(&["merge", path.to_str().unwrap()], Stdin::Null, None, &[]);
        refused(
            &r,
            &format!("{field} = {value}"),
            &[
                path.to_str().unwrap(),
                &format!("disk[0].latency_us.{field}"),
            ],
        );
    }
    let log = dir.path().join("ok.log");
    fs::write(&log, "x\n").unwrap();
    for (flag, value) in [
        ("--since", "2024-02-30T00:00:00Z"),
        ("--since", "2023-02-29T12:00:00Z"),
        ("--until", "2024-03-01T12:00:00+99:99"),
        ("--until", "2024-04-31T00:00:00Z"),
    ] {
        let r = run_capped(
            &["logs", log.to_str().unwrap(), flag, value],
            Stdin::Null,
            None,
            &[],
        );
        refused(&r, &format!("{flag} {value}"), &[flag]);
    }
}
