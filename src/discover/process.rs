//! The local etcd process from /proc: processes named etcd (`comm`, or
//! argv[0]'s base name) and k3s servers (`k3s server`, whose etcd is
//! embedded), read with bounds: at most [`MAX_PROCESSES`] entries scanned,
//! each file read to a size limit. Another user's environment, fds and
//! root need root (ptrace access): a denial is one note, and what could be
//! read is still used. Logs: the journald unit owning the process (its
//! cgroup), the CRI log of its pod, or the file its stdout/stderr point to.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::listen;
use super::model::{DiscoverError, Discovery, LogPlace, Source};
use super::parse::{self, Flags};
use super::read::{read_bounded, read_config, K3S_DATA_DIR, MAX_PROCESSES, POD_LOGS};
use super::settings::{from_settings, rooted};

/// Largest cmdline or environ read.
pub const MAX_PROC_FILE: u64 = 256 * 1024;

/// A local process that runs etcd.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// Its pid.
    pub pid: u32,
    /// Its argv.
    pub argv: Vec<String>,
    /// Whether it is a k3s server with etcd embedded.
    pub k3s: bool,
}

impl Candidate {
    /// `pid N (argv0 --name X)` for the "which one" line.
    pub fn describe(&self) -> String {
        let flags = parse::parse_argv(&self.argv);
        let prog = self.argv.first().map(String::as_str).unwrap_or("?");
        match flags.get("name") {
            Some(name) => format!("pid {} ({prog} --name {name})", self.pid),
            None => format!("pid {} ({prog})", self.pid),
        }
    }
}

/// A NUL-separated argv.
pub fn split_cmdline(raw: &[u8]) -> Vec<String> {
    raw.split(|&b| b == 0)
        .filter(|a| !a.is_empty())
        .take(4096)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect()
}

/// Whether `comm` and `argv` are an etcd (or a k3s server: `Some(true)`).
pub fn classify(comm: &str, argv: &[String]) -> Option<bool> {
    let base = argv
        .first()
        .map(|a| a.rsplit('/').next().unwrap_or(a))
        .unwrap_or("");
    if comm == "etcd" || base == "etcd" {
        return Some(false);
    }
    let k3s_server = (base == "k3s" && argv.get(1).map(String::as_str) == Some("server"))
        || comm.starts_with("k3s-server")
        || base.starts_with("k3s-server");
    k3s_server.then_some(true)
}

/// Every etcd process visible under `proc`.
pub fn candidates(proc: &Path) -> Vec<Candidate> {
    let Ok(dir) = std::fs::read_dir(proc) else {
        return Vec::new();
    };
    let me = std::process::id();
    dir.take(MAX_PROCESSES)
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|&pid| pid != me)
        .filter_map(|pid| candidate(proc, pid))
        .collect()
}

/// The process `pid` when it runs etcd.
pub fn candidate(proc: &Path, pid: u32) -> Option<Candidate> {
    let base = proc.join(pid.to_string());
    let comm = read_bounded(&base.join("comm"), 64).ok()?;
    let comm = String::from_utf8_lossy(&comm).trim().to_string();
    let argv = split_cmdline(&read_bounded(&base.join("cmdline"), MAX_PROC_FILE).ok()?);
    let k3s = classify(&comm, &argv)?;
    Some(Candidate { pid, argv, k3s })
}

/// etcd's default client port (v3.5.0 `server/embed/config.go`,
/// `DefaultListenClientURLs`).
pub const DEFAULT_CLIENT_PORT: u16 = 2379;

/// The one etcd process: `pid` when given; else the only one, or among
/// several the one listening on one of `ports`; with none named etcd, the
/// process listening on `ports` (default 2379). `None` when there is none.
pub fn pick(
    proc: &Path,
    pid: Option<u32>,
    ports: &[u16],
) -> Result<Option<Candidate>, DiscoverError> {
    if let Some(pid) = pid {
        return candidate(proc, pid).map(Some).ok_or(DiscoverError::Pid {
            pid,
            why: "no such process running etcd or a k3s server".to_string(),
        });
    }
    let mut found = candidates(proc);
    // A k3s server's own etcd is not a second etcd.
    if found.iter().any(|c| !c.k3s) {
        found.retain(|c| !c.k3s);
    }
    if found.len() > 1 && !ports.is_empty() {
        let owners = listen::listener_pids(proc, ports);
        found.retain(|c| owners.contains(&c.pid));
    }
    if found.is_empty() {
        let ports = if ports.is_empty() {
            &[DEFAULT_CLIENT_PORT][..]
        } else {
            ports
        };
        found = listen::listener_pids(proc, ports)
            .into_iter()
            .take(16)
            .filter_map(|pid| listener(proc, pid))
            .collect();
    }
    match found.len() {
        0 => Ok(None),
        1 => Ok(found.pop()),
        _ => Err(DiscoverError::Ambiguous(
            found.iter().map(Candidate::describe).collect(),
        )),
    }
}

/// Process `pid` (found by its port, whatever its name) as a candidate.
fn listener(proc: &Path, pid: u32) -> Option<Candidate> {
    let base = proc.join(pid.to_string());
    let argv = split_cmdline(&read_bounded(&base.join("cmdline"), MAX_PROC_FILE).ok()?);
    let k3s = argv.first().is_some_and(|a| a.ends_with("k3s"))
        && argv.get(1).is_some_and(|a| a == "server");
    Some(Candidate { pid, argv, k3s })
}

/// What the process `c` runs with.
pub fn read(proc: &Path, c: &Candidate) -> Discovery {
    let base = proc.join(c.pid.to_string());
    let mut read = vec![base.join("cmdline").display().to_string()];
    let mut notes = Vec::new();
    let env = match read_bounded(&base.join("environ"), MAX_PROC_FILE) {
        Ok(raw) => {
            read.push(base.join("environ").display().to_string());
            parse::parse_environ(&raw)
        }
        Err(e) => {
            notes.push(denied(c.pid, "environment", &e));
            Flags::new()
        }
    };
    let root = process_root(&base);
    let (settings, source) = if c.k3s {
        let file = k3s_config_path(&k3s_flags(&c.argv));
        (
            load_file(&root, &file, &mut read, &mut notes),
            Source::K3sProcess,
        )
    } else {
        let flags = parse::parse_argv(&c.argv);
        let file = parse::config_file(&flags, &env).map(str::to_string);
        let file = file.map(|f| load_file(&root, &f, &mut read, &mut notes));
        (parse::resolve(flags, env, file).0, Source::Process)
    };
    let mut d = from_settings(source, &settings, &root);
    if source == Source::Process {
        let data_dir = d
            .data_dir
            .take()
            .unwrap_or_else(|| default_data_dir(&settings));
        d.data_dir = in_cwd(&base, &root, data_dir, &mut notes);
        d.wal_dir = d
            .wal_dir
            .take()
            .and_then(|w| in_cwd(&base, &root, w, &mut notes));
    }
    d.pid = Some(c.pid);
    d.read = read;
    d.notes = notes;
    if d.logs.is_empty() {
        d.logs = process_logs(&base, &mut d.notes);
    }
    d
}

/// etcd's data dir when none is set: `<name>.etcd` in its working
/// directory (etcd v3.5.0 `server/etcdmain/etcd.go` line 103; the name
/// defaults to `default`, `server/embed/config.go` `DefaultName`).
fn default_data_dir(settings: &Flags) -> PathBuf {
    let name = settings.get("name").map_or("default", String::as_str);
    PathBuf::from(format!("{name}.etcd"))
}

/// A relative path of the process resolved against its working directory
/// (`/proc/PID/cwd`, which needs root for another user's process), seen
/// through its `root`.
fn in_cwd(base: &Path, root: &Path, path: PathBuf, notes: &mut Vec<String>) -> Option<PathBuf> {
    if path.is_absolute() {
        return Some(path);
    }
    match std::fs::read_link(base.join("cwd")) {
        Ok(cwd) => Some(rooted(root, &cwd.to_string_lossy()).join(path)),
        Err(e) => {
            let pid = base.file_name().and_then(|p| p.to_str()).unwrap_or("?");
            notes.push(format!(
                "{} is relative to pid {pid}'s working directory, which could not be read: {e}",
                path.display()
            ));
            None
        }
    }
}

/// A k3s server's flags: after `server` (`k3s server --data-dir D`).
fn k3s_flags(argv: &[String]) -> Flags {
    match argv.iter().position(|a| a == "server") {
        Some(i) => parse::parse_argv(&argv[i..]),
        None => parse::parse_argv(argv),
    }
}

/// k3s's etcd config file: `<data-dir>/server/db/etcd/config` (k3s
/// `pkg/daemons/executor/executor.go` `ToConfigFile`: `<etcd data
/// dir>/config`; `pkg/etcd/etcd.go` `DBDir`: `<server data dir>/db/etcd`),
/// the data dir from `--data-dir`/`-d`, default /var/lib/rancher/k3s.
fn k3s_config_path(flags: &Flags) -> String {
    let data = flags
        .get("data-dir")
        .or_else(|| flags.get("d"))
        .map(String::as_str)
        .unwrap_or(K3S_DATA_DIR);
    format!("{}/server/db/etcd/config", data.trim_end_matches('/'))
}

/// A config file's settings (read through the process's root), noting
/// what went wrong.
fn load_file(root: &Path, file: &str, read: &mut Vec<String>, notes: &mut Vec<String>) -> Flags {
    let path = rooted(root, file);
    match read_config(&path) {
        Ok(flags) => {
            read.push(path.display().to_string());
            flags
        }
        Err(why) => {
            notes.push(format!("config file {}: {why}", path.display()));
            Flags::new()
        }
    }
}

/// One line for a denied read.
fn denied(pid: u32, what: &str, e: &std::io::Error) -> String {
    if e.kind() == std::io::ErrorKind::PermissionDenied {
        format!(
            "pid {pid}: its {what} needs root (or the same user) to read; continuing without it"
        )
    } else {
        format!("pid {pid}: its {what} could not be read: {e}")
    }
}

/// The process's root as a path from here: `/proc/PID/root` when it is in
/// another mount namespace's root (a container), else `/`.
fn process_root(base: &Path) -> PathBuf {
    let root = base.join("root");
    let id = |p: &Path| std::fs::metadata(p).ok().map(|m| (m.dev(), m.ino()));
    match (id(&root), id(Path::new("/"))) {
        (Some(theirs), Some(ours)) if theirs != ours => root,
        _ => PathBuf::from("/"),
    }
}

/// Where the process's logs go: its journald unit, its pod's CRI logs, or
/// the regular file its stdout or stderr points to.
fn process_logs(base: &Path, notes: &mut Vec<String>) -> Vec<LogPlace> {
    let cgroup = read_bounded(&base.join("cgroup"), 64 * 1024).unwrap_or_default();
    let cgroup = String::from_utf8_lossy(&cgroup);
    if let Some(uid) = pod_uid(&cgroup) {
        let files = pod_log_files(Path::new(POD_LOGS), &uid);
        if !files.is_empty() {
            return files.into_iter().map(LogPlace::File).collect();
        }
    }
    for fd in ["1", "2"] {
        match std::fs::read_link(base.join("fd").join(fd)) {
            Ok(target) if target.is_file() => return vec![LogPlace::File(target)],
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                let pid = base.file_name().and_then(|p| p.to_str()).unwrap_or("?");
                notes.push(format!(
                    "pid {pid}: its open files need root to read; its log file is not known"
                ));
                break;
            }
            Err(_) => {}
        }
    }
    match service_unit(&cgroup) {
        Some(unit) => vec![LogPlace::Journal(unit)],
        None => Vec::new(),
    }
}

/// The systemd service owning a process, from its cgroup lines
/// (`0::/system.slice/etcd.service`).
pub fn service_unit(cgroup: &str) -> Option<String> {
    cgroup.lines().find_map(|line| {
        let path = line.rsplit(':').next()?;
        path.rsplit('/')
            .find(|seg| seg.ends_with(".service"))
            .map(str::to_string)
    })
}

/// The pod UID of a kubepods cgroup path (systemd driver:
/// `kubepods-burstable-pod<uid with _>.slice`; cgroupfs: `/kubepods/burstable/pod<uid>/`).
pub fn pod_uid(cgroup: &str) -> Option<String> {
    cgroup
        .lines()
        .filter(|l| l.contains("kubepods"))
        .find_map(|line| {
            line.split('/').find_map(|seg| {
                let seg = seg.strip_suffix(".slice").unwrap_or(seg);
                let pod = seg
                    .rsplit_once("-pod")
                    .map(|(_, p)| p)
                    .or_else(|| seg.strip_prefix("pod"))?;
                let uid = pod.replace('_', "-");
                (uid.len() == 36 && uid.chars().all(|c| c.is_ascii_hexdigit() || c == '-'))
                    .then_some(uid)
            })
        })
}

/// The CRI log files of the etcd container of pod `uid`:
/// `<root>/<ns>_<pod>_<uid>/etcd/*.log` (kubelet's layout).
pub fn pod_log_files(root: &Path, uid: &str) -> Vec<PathBuf> {
    let suffix = format!("_{uid}");
    crate::logs::source::etcd_pod_logs(root, |dir| dir.ends_with(&suffix))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(s: &str) -> Vec<String> {
        s.split_whitespace().map(str::to_string).collect()
    }

    #[test]
    fn etcd_and_k3s_servers_are_told_apart() {
        assert_eq!(
            classify("etcd", &argv("/usr/bin/etcd --name a")),
            Some(false)
        );
        assert_eq!(classify("etcd-3.5", &argv("/opt/bin/etcd")), Some(false));
        assert_eq!(
            classify("k3s-server", &argv("/usr/local/bin/k3s server")),
            Some(true)
        );
        assert_eq!(
            classify("k3s", &argv("k3s server --cluster-init")),
            Some(true)
        );
        assert_eq!(classify("k3s", &argv("k3s agent")), None);
        assert_eq!(classify("etcdctl", &argv("etcdctl get")), None);
        assert_eq!(classify("bash", &argv("bash -c etcd")), None);
    }

    #[test]
    fn cgroups_name_the_unit_or_the_pod() {
        assert_eq!(
            service_unit("0::/system.slice/etcd.service\n").as_deref(),
            Some("etcd.service")
        );
        assert_eq!(
            service_unit("0::/user.slice/user-0.slice/session-1.scope"),
            None
        );
        let systemd = "0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod0b8e5c3a_1f2d_4e5f_9a0b_1c2d3e4f5a6b.slice/cri-containerd-abc.scope";
        assert_eq!(
            pod_uid(systemd).as_deref(),
            Some("0b8e5c3a-1f2d-4e5f-9a0b-1c2d3e4f5a6b")
        );
        let cgroupfs = "12:memory:/kubepods/besteffort/pod0b8e5c3a-1f2d-4e5f-9a0b-1c2d3e4f5a6b/abc";
        assert_eq!(
            pod_uid(cgroupfs).as_deref(),
            Some("0b8e5c3a-1f2d-4e5f-9a0b-1c2d3e4f5a6b")
        );
        assert_eq!(pod_uid("0::/system.slice/etcd.service"), None);
    }

    #[test]
    fn pod_logs_are_found_by_uid() {
        let root = tempfile::tempdir().unwrap();
        let uid = "0b8e5c3a-1f2d-4e5f-9a0b-1c2d3e4f5a6b";
        let dir = root.path().join(format!("kube-system_etcd-n1_{uid}/etcd"));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("0.log"), "x").unwrap();
        std::fs::write(dir.join("0.log.20250101.gz"), "x").unwrap();
        assert_eq!(
            pod_log_files(root.path(), uid),
            [dir.join("0.log.20250101.gz"), dir.join("0.log")]
        );
        assert!(pod_log_files(root.path(), "other").is_empty());
    }

    #[test]
    fn a_relative_data_dir_is_in_the_working_directory() {
        let me = Path::new("/proc").join(std::process::id().to_string());
        let cwd = std::env::current_dir().unwrap();
        let mut notes = Vec::new();
        let at = |p: &str, notes: &mut Vec<String>| in_cwd(&me, Path::new("/"), p.into(), notes);
        assert_eq!(
            at("default.etcd", &mut notes),
            Some(cwd.join("default.etcd"))
        );
        assert_eq!(at("/abs", &mut notes), Some(PathBuf::from("/abs")));
        let gone = Path::new("/proc/4000000000");
        assert_eq!(
            in_cwd(gone, Path::new("/"), "x.etcd".into(), &mut notes),
            None
        );
        assert!(notes[0].contains("working directory"), "{notes:?}");
        assert_eq!(
            default_data_dir(&parse::parse_argv(&[
                "etcd".into(),
                "--name".into(),
                "n1".into()
            ])),
            PathBuf::from("n1.etcd")
        );
    }

    #[test]
    fn k3s_config_follows_its_data_dir() {
        assert_eq!(
            k3s_config_path(&k3s_flags(&argv("k3s server"))),
            "/var/lib/rancher/k3s/server/db/etcd/config"
        );
        assert_eq!(
            k3s_config_path(&k3s_flags(&argv("k3s server --data-dir /k/"))),
            "/k/server/db/etcd/config"
        );
    }
}
