//! etcd's own processes seen from the host over a window: the CPU time they
//! got, how long their threads waited on a run queue for a CPU
//! (/proc/<pid>/task/*/schedstat), how often their cgroup's CPU quota
//! stopped them (cgroup v1 `cpu.stat` nr_throttled/throttled_time with
//! `cpu.cfs_quota_us`; v2 `cpu.stat` nr_throttled/throttled_usec with
//! `cpu.max`), and their memory: major faults, swap and resident size.
//!
//! These tell a starved etcd from a slow disk or network: late heartbeats
//! and slow applies follow as surely from a CPU quota or a run queue full
//! of other work as from a slow fdatasync, and the fix is different.
//! etcd's processes are found by command or executable name `etcd`.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::peersock::{self, PeerPorts, TcpAccount, TcpSock};
use super::proc::{keyed_u64, read_small};
use crate::measure::{round2, MIB};
use crate::units::Nanos;

/// The name etcd's processes run under.
pub const ETCD_NAME: &str = "etcd";
/// At most this many etcd processes are followed.
pub const MAX_ETCD_PROCESSES: usize = 64;
/// At most this many threads of one process are read (etcd runs tens).
pub const MAX_THREADS: usize = 4096;
/// At most this many cgroup levels are walked up from a process's own.
const MAX_CGROUP_DEPTH: usize = 16;
/// The cgroup root (v2 unified, or v1's controller directories).
const CGROUP_ROOT: &str = "/sys/fs/cgroup";

/// One etcd process over a window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct EtcdProcess {
    /// Process id.
    pub pid: i32,
    /// CPU time it got, in cores (1.0: one core all the window).
    pub cpu_cores: f64,
    /// Time its threads waited runnable for a CPU, milliseconds per second
    /// of the window, all threads together.
    pub run_delay_ms_per_s: f64,
    /// Mean wait for a CPU each time one of its threads became runnable, ms
    /// (what a heartbeat or an fsync completion waits before it is handled).
    #[serde(default)]
    pub run_wait_ms_mean: f64,
    /// Its cgroup's CPU limit and throttling, when a cgroup could be read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cgroup_cpu: Option<CgroupCpu>,
    /// Major page faults (pages read back from disk or swap) per second.
    pub major_faults_per_s: f64,
    /// Its memory in swap at the end of the window, MiB (VmSwap).
    pub swap_mib: f64,
    /// Its resident memory at the end of the window, MiB (VmRSS).
    pub rss_mib: f64,
    /// The tightest memory limit of its cgroup and their ancestors, MiB
    /// (v1 `memory.limit_in_bytes`, v2 `memory.max`; none: no limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory_limit_mib: Option<f64>,
    /// TCP ports it listens on (its client and peer URLs' ports), so that
    /// the rules can tell which member it is.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub listen_ports: Vec<u16>,
    /// `major:minor` of the device holding the WAL file it has open, so
    /// that the rules know which member's disk a probe here measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wal_device: Option<String>,
    /// Its `--name` flag: the member it is.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub member_name: Option<String>,
    /// Its raft connections to its peers over the window, with what it
    /// sent on each and what the kernel had to send again
    /// ([`super::peersock`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub peer_sockets: Vec<super::peersock::PeerSocket>,
}

/// The CPU limit and throttling of the cgroup (or ancestor) that held an
/// etcd process back most over a window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CgroupCpu {
    /// The cgroup directory read.
    pub path: String,
    /// The tightest CPU quota on the way to the root, in cores (none: no limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit_cores: Option<f64>,
    /// Share of the enforcement periods in which it was throttled, percent.
    pub throttled_periods_pct: f64,
    /// Time it was throttled, milliseconds per second of the window.
    pub throttled_ms_per_s: f64,
}

/// Memory of the host at the end of a window (/proc/meminfo).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct HostMemory {
    /// MemTotal, MiB.
    pub total_mib: f64,
    /// MemAvailable: what could be had without swapping, MiB.
    pub available_mib: f64,
    /// Swap in use (SwapTotal - SwapFree), MiB.
    pub swap_used_mib: f64,
}

/// Cumulative counters of one etcd process.
#[derive(Debug, Clone, Default, PartialEq)]
struct Counters {
    cpu_ticks: u64,
    run_delay_ns: u64,
    runs: u64,
    major_faults: u64,
    cgroups: Vec<(PathBuf, Throttling)>,
}

/// A cgroup's cumulative throttling counters and quota.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Throttling {
    periods: u64,
    throttled: u64,
    throttled_ns: u64,
    limit_cores: Option<f64>,
}

/// etcd's processes' counters at the start of a window.
#[derive(Debug, Default)]
pub struct EtcdSampler {
    counters: HashMap<i32, Counters>,
    /// Each process's TCP sockets' accounts at the start, by inode.
    sockets: HashMap<i32, HashMap<u64, TcpAccount>>,
}

impl EtcdSampler {
    /// Finds etcd's processes and snapshots their counters.
    pub fn start() -> EtcdSampler {
        let counters: HashMap<i32, Counters> = etcd_pids()
            .into_iter()
            .filter_map(|pid| Some((pid, counters(pid)?)))
            .collect();
        let dump = tcp_dump(&counters);
        let sockets = counters
            .keys()
            .map(|pid| (*pid, peersock::accounts(&dump, &socket_inodes(*pid))))
            .collect();
        EtcdSampler { counters, sockets }
    }

    /// The processes still running, over the `window_s` seconds since start.
    pub fn finish(&self, window_s: f64) -> Vec<EtcdProcess> {
        let dump = tcp_dump(&self.counters);
        let mut out: Vec<EtcdProcess> = self
            .counters
            .iter()
            .filter_map(|(pid, before)| {
                let after = counters(*pid)?;
                let mut p = process(*pid, before, &after, window_s);
                let ports = PeerPorts {
                    listening: p.listen_ports.clone(),
                    peer: peer_ports(*pid),
                };
                let empty = HashMap::new();
                let start = self.sockets.get(pid).unwrap_or(&empty);
                p.peer_sockets = peersock::peer_sockets(start, &dump, &socket_inodes(*pid), &ports);
                Some(p)
            })
            .collect();
        out.sort_by_key(|p| p.pid);
        out
    }
}

/// True when process `pid` is etcd: its command name or the file name of
/// its executable is `etcd` (a static pod's, a systemd unit's, a renamed
/// copy's exe). k3s embeds etcd in its own server process, which this does
/// not recognise.
pub fn is_etcd(pid: i32) -> bool {
    comm(pid).as_deref() == Some(ETCD_NAME)
        || fs::read_link(format!("/proc/{pid}/exe"))
            .is_ok_and(|exe| exe.file_name().is_some_and(|n| n == ETCD_NAME))
}

/// The command name of process `pid` (`/proc/<pid>/comm`).
pub fn comm(pid: i32) -> Option<String> {
    read_small(format!("/proc/{pid}/comm").as_ref()).map(|c| c.trim().to_string())
}

/// The pids of etcd's processes, at most [`MAX_ETCD_PROCESSES`].
fn etcd_pids() -> Vec<i32> {
    let Ok(dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    let mut pids: Vec<i32> = dir
        .filter_map(Result::ok)
        .filter_map(|e| e.file_name().to_str()?.parse().ok())
        .filter(|pid| is_etcd(*pid))
        .collect();
    pids.sort_unstable();
    pids.truncate(MAX_ETCD_PROCESSES);
    pids
}

fn counters(pid: i32) -> Option<Counters> {
    let stat = procfs::process::Process::new(pid).ok()?.stat().ok()?;
    let (delay, runs) = run_delay_ns(pid);
    Some(Counters {
        cpu_ticks: stat.utime + stat.stime,
        run_delay_ns: delay,
        runs,
        major_faults: stat.majflt,
        cgroups: cgroups(pid, "cpu")
            .into_iter()
            .filter_map(|dir| Some((dir.clone(), throttling(&dir)?)))
            .collect(),
    })
}

/// Run-queue wait of every thread of `pid`, nanoseconds, and the number of
/// times they were put on a CPU (the second and third fields of each
/// /proc/<pid>/task/<tid>/schedstat).
fn run_delay_ns(pid: i32) -> (u64, u64) {
    let Ok(tasks) = fs::read_dir(format!("/proc/{pid}/task")) else {
        return (0, 0);
    };
    tasks
        .filter_map(Result::ok)
        .take(MAX_THREADS)
        .filter_map(|t| read_small(&t.path().join("schedstat")))
        .filter_map(|s| {
            let mut f = s.split_whitespace().skip(1);
            Some((
                f.next()?.parse::<u64>().ok()?,
                f.next()?.parse::<u64>().ok()?,
            ))
        })
        .fold((0u64, 0u64), |(d, n), (dd, nn)| {
            (d.saturating_add(dd), n.saturating_add(nn))
        })
}

/// The `controller` cgroup directories of `pid`, its own first, then each
/// ancestor up to (not including) the root, which no limit applies to.
fn cgroups(pid: i32, controller: &str) -> Vec<PathBuf> {
    let Some(text) = read_small(format!("/proc/{pid}/cgroup").as_ref()) else {
        return Vec::new();
    };
    let Some((base, rel)) = cgroup_dir(&text, controller) else {
        return Vec::new();
    };
    rel.ancestors()
        .filter(|a| !a.as_os_str().is_empty())
        .take(MAX_CGROUP_DEPTH)
        .map(|a| base.join(a))
        .collect()
}

/// Where the cgroup holding `controller` (`cpu`, `memory`) is in a
/// /proc/<pid>/cgroup text: the controller's mount and the path under it;
/// v1's `N:cpu,cpuacct:/path` line, else v2's `0::/path`.
pub fn cgroup_dir(text: &str, controller: &str) -> Option<(PathBuf, PathBuf)> {
    let mut v2 = None;
    for line in text.lines() {
        let mut parts = line.splitn(3, ':');
        let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
        let rel = PathBuf::from(path.trim().trim_start_matches('/'));
        if rel
            .components()
            .any(|c| !matches!(c, std::path::Component::Normal(_)))
        {
            return None;
        }
        if controllers.split(',').any(|c| c == controller) {
            let named = Path::new(CGROUP_ROOT).join(controller);
            let base = if named.is_dir() {
                named
            } else {
                Path::new(CGROUP_ROOT).join(controllers)
            };
            return Some((base, rel));
        }
        if controllers.is_empty() {
            v2 = Some((PathBuf::from(CGROUP_ROOT), rel));
        }
    }
    v2
}

/// A cgroup's throttling counters and quota (v1 or v2 files).
fn throttling(dir: &Path) -> Option<Throttling> {
    let stat = read_small(&dir.join("cpu.stat"))?;
    parse_throttling(
        &stat,
        read_small(&dir.join("cpu.cfs_quota_us")).as_deref(),
        read_small(&dir.join("cpu.cfs_period_us")).as_deref(),
        read_small(&dir.join("cpu.max")).as_deref(),
    )
}

/// Parses `cpu.stat` with v1's quota and period files or v2's `cpu.max`.
fn parse_throttling(
    stat: &str,
    v1_quota: Option<&str>,
    v1_period: Option<&str>,
    v2_max: Option<&str>,
) -> Option<Throttling> {
    let throttled_ns = keyed_u64(stat, "throttled_time")
        .or_else(|| keyed_u64(stat, "throttled_usec").map(|us| us.saturating_mul(1000)))?;
    let cores = |quota: &str, period: &str| {
        let (q, p) = (
            quota.trim().parse::<f64>().ok()?,
            period.trim().parse::<f64>().ok()?,
        );
        (q > 0.0 && p > 0.0).then(|| q / p)
    };
    let limit_cores = match (v1_quota, v1_period, v2_max) {
        (Some(q), Some(p), _) => cores(q, p),
        (_, _, Some(max)) => max.split_once(' ').and_then(|(q, p)| cores(q, p)),
        _ => None,
    };
    Some(Throttling {
        periods: keyed_u64(stat, "nr_periods").unwrap_or(0),
        throttled: keyed_u64(stat, "nr_throttled").unwrap_or(0),
        throttled_ns,
        limit_cores,
    })
}

fn process(pid: i32, a: &Counters, b: &Counters, window_s: f64) -> EtcdProcess {
    let window_s = window_s.max(1e-3);
    let ticks = procfs::ticks_per_second().max(1) as f64;
    let status = read_small(format!("/proc/{pid}/status").as_ref()).unwrap_or_default();
    let kib = |key| keyed_u64(&status, key).unwrap_or(0) as f64 / 1024.0;
    EtcdProcess {
        pid,
        cpu_cores: round2(b.cpu_ticks.saturating_sub(a.cpu_ticks) as f64 / ticks / window_s),
        run_delay_ms_per_s: round2(
            Nanos(b.run_delay_ns.saturating_sub(a.run_delay_ns) as f64).as_ms() / window_s,
        ),
        run_wait_ms_mean: round2(
            Nanos(b.run_delay_ns.saturating_sub(a.run_delay_ns) as f64).as_ms()
                / b.runs.saturating_sub(a.runs).max(1) as f64,
        ),
        cgroup_cpu: cgroup_cpu(&a.cgroups, &b.cgroups, window_s),
        major_faults_per_s: round2(b.major_faults.saturating_sub(a.major_faults) as f64 / window_s),
        swap_mib: round2(kib("VmSwap")),
        rss_mib: round2(kib("VmRSS")),
        memory_limit_mib: memory_limit_mib(pid),
        listen_ports: listen_ports(pid),
        wal_device: wal_device(pid),
        member_name: cmdline_flag(pid, "name"),
        peer_sockets: Vec::new(),
    }
}

/// The tightest memory limit on `pid`'s cgroups, MiB: values from 2^60
/// bytes up are v1's "unlimited".
fn memory_limit_mib(pid: i32) -> Option<f64> {
    cgroups(pid, "memory")
        .iter()
        .filter_map(|dir| {
            read_small(&dir.join("memory.limit_in_bytes"))
                .or_else(|| read_small(&dir.join("memory.max")))?
                .trim()
                .parse::<u64>()
                .ok()
        })
        .filter(|b| *b < 1 << 60)
        .min()
        .map(|b| round2(b as f64 / MIB as f64))
}

/// At most this many file descriptors of one process are looked at.
const MAX_FDS: usize = 65_536;

/// The value of flag `name` (`--name V`, `-name V`, `--name=V`) on
/// `pid`'s command line.
fn cmdline_flag(pid: i32, name: &str) -> Option<String> {
    let cmdline = read_small(format!("/proc/{pid}/cmdline").as_ref())?;
    let mut args = cmdline.split('\0');
    while let Some(a) = args.next() {
        let flag = a.trim_start_matches('-');
        if a.starts_with('-') && flag == name {
            return args.next().map(str::to_string);
        }
        if let Some(v) = flag
            .strip_prefix(name)
            .and_then(|v| v.strip_prefix('='))
            .filter(|_| a.starts_with('-'))
        {
            return Some(v.to_string());
        }
    }
    None
}

/// The ports of `pid`'s `--listen-peer-urls` (flag, else the
/// `ETCD_LISTEN_PEER_URLS` of its environment, else etcd's default 2380).
fn peer_ports(pid: i32) -> Vec<u16> {
    let env = || {
        read_small(format!("/proc/{pid}/environ").as_ref())?
            .split('\0')
            .find_map(|kv| {
                kv.strip_prefix("ETCD_LISTEN_PEER_URLS=")
                    .map(str::to_string)
            })
    };
    let ports = cmdline_flag(pid, "listen-peer-urls")
        .or_else(env)
        .map(|urls| peersock::url_ports(&urls))
        .unwrap_or_default();
    if ports.is_empty() {
        vec![peersock::DEFAULT_PEER_PORT]
    } else {
        ports
    }
}

/// One sock_diag dump when there is an etcd process to read it for
/// (none on failure: the peer sockets are left out, the rest stands).
fn tcp_dump<T>(pids: &HashMap<i32, T>) -> Vec<TcpSock> {
    if pids.is_empty() {
        return Vec::new();
    }
    peersock::dump().unwrap_or_default()
}

/// The device (`major:minor`) of the first `*.wal` file process `pid`
/// has open (etcd keeps its WAL's last segment open, under
/// `member/wal/` or its --wal-dir).
fn wal_device(pid: i32) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let fds = fs::read_dir(format!("/proc/{pid}/fd")).ok()?;
    fds.filter_map(Result::ok).take(MAX_FDS).find_map(|fd| {
        let link = fs::read_link(fd.path()).ok()?;
        if link.extension()? != "wal" {
            return None;
        }
        // Follows the fd to the open file, wherever it is mounted.
        let dev = fs::metadata(fd.path()).ok()?.dev();
        Some(format!("{}:{}", libc::major(dev), libc::minor(dev)))
    })
}

/// The TCP ports process `pid` listens on: its sockets' inodes matched
/// with the listening rows of its network namespace's /proc/net/tcp{,6}.
fn listen_ports(pid: i32) -> Vec<u16> {
    let inodes = socket_inodes(pid);
    let mut ports: Vec<u16> = ["tcp", "tcp6"]
        .iter()
        .filter_map(|t| read_big(format!("/proc/{pid}/net/{t}").as_ref()))
        .flat_map(|text| listening(&text))
        .filter(|(_, inode)| inodes.contains(inode))
        .map(|(port, _)| port)
        .collect();
    ports.sort_unstable();
    ports.dedup();
    ports
}

/// The inodes of the sockets process `pid` has open (`socket:[N]` links
/// in /proc/<pid>/fd).
fn socket_inodes(pid: i32) -> HashSet<u64> {
    let Ok(fds) = fs::read_dir(format!("/proc/{pid}/fd")) else {
        return HashSet::new();
    };
    fds.filter_map(Result::ok)
        .take(MAX_FDS)
        .filter_map(|fd| {
            let link = fs::read_link(fd.path()).ok()?;
            let link = link.to_str()?;
            link.strip_prefix("socket:[")?
                .strip_suffix(']')?
                .parse()
                .ok()
        })
        .collect()
}

/// /proc/net/tcp of a busy host holds a row per connection (150 bytes
/// each): read up to 16 MiB.
fn read_big(path: &Path) -> Option<String> {
    use std::io::Read;
    let file = fs::File::open(path).ok()?;
    let mut text = String::new();
    file.take(16 << 20).read_to_string(&mut text).ok()?;
    Some(text)
}

/// (port, inode) of the LISTEN rows (state 0A) of a /proc/net/tcp text.
fn listening(text: &str) -> Vec<(u16, u64)> {
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().take(10).collect();
            if f.len() < 10 || f[3] != "0A" {
                return None;
            }
            let port = u16::from_str_radix(f[1].rsplit_once(':')?.1, 16).ok()?;
            Some((port, f[9].parse().ok()?))
        })
        .collect()
}

/// The most throttled of the cgroups on the way to the root, with the
/// tightest quota among them.
fn cgroup_cpu(
    before: &[(PathBuf, Throttling)],
    after: &[(PathBuf, Throttling)],
    window_s: f64,
) -> Option<CgroupCpu> {
    let limit_cores = after
        .iter()
        .filter_map(|(_, t)| t.limit_cores)
        .reduce(f64::min);
    let worst = after
        .iter()
        .filter_map(|(dir, b)| {
            let (_, a) = before.iter().find(|(d, _)| d == dir)?;
            let periods = b.periods.saturating_sub(a.periods);
            let throttled = b.throttled.saturating_sub(a.throttled);
            let ns = b.throttled_ns.saturating_sub(a.throttled_ns);
            Some((dir, periods, throttled, ns))
        })
        .max_by_key(|w| w.3);
    let (dir, periods, throttled, ns) = match worst {
        Some(w) => w,
        None => (&after.first()?.0, 0, 0, 0),
    };
    Some(CgroupCpu {
        path: dir.display().to_string(),
        limit_cores: limit_cores.map(round2),
        throttled_periods_pct: round2(100.0 * throttled as f64 / periods.max(1) as f64),
        throttled_ms_per_s: round2(Nanos(ns as f64).as_ms() / window_s),
    })
}

/// The host's memory now, from /proc/meminfo.
pub fn host_memory() -> Option<HostMemory> {
    let text = read_small(Path::new("/proc/meminfo"))?;
    let mib = |key| Some(keyed_u64(&text, key)? as f64 * 1024.0 / MIB as f64);
    Some(HostMemory {
        total_mib: round2(mib("MemTotal")?),
        available_mib: round2(mib("MemAvailable")?),
        swap_used_mib: round2((mib("SwapTotal")? - mib("SwapFree")?).max(0.0)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cgroup_files_of_both_versions_parse() {
        let v1 = "nr_periods 50\nnr_throttled 45\nthrottled_time 4200000000\n";
        let t = parse_throttling(v1, Some("10000\n"), Some("100000\n"), None).unwrap();
        assert_eq!(
            (t.periods, t.throttled, t.throttled_ns),
            (50, 45, 4_200_000_000)
        );
        assert_eq!(t.limit_cores, Some(0.1));
        let no_limit = parse_throttling(v1, Some("-1\n"), Some("100000\n"), None).unwrap();
        assert_eq!(no_limit.limit_cores, None);
        let v2 = "usage_usec 100\nuser_usec 60\nsystem_usec 40\nnr_periods 20\nnr_throttled 3\nthrottled_usec 1500\n";
        let t = parse_throttling(v2, None, None, Some("200000 100000\n")).unwrap();
        assert_eq!(
            (t.throttled, t.throttled_ns, t.limit_cores),
            (3, 1_500_000, Some(2.0))
        );
        let unlimited = parse_throttling(v2, None, None, Some("max 100000\n")).unwrap();
        assert_eq!(unlimited.limit_cores, None);
        assert_eq!(parse_throttling("usage_usec 1\n", None, None, None), None);
    }

    #[test]
    fn listening_rows_give_port_and_inode() {
        let text = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 0100007F:094B 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 31337 1 0000000000000000 100 0 0 10 0\n   1: 0100007F:094B 0100007F:C350 01 00000000:00000000 00:00000000 00000000     0        0 4242 1\n";
        assert_eq!(listening(text), vec![(2379, 31337)]);
        assert_eq!(listening("garbage\n0: x y 0A"), vec![]);
    }

    #[test]
    fn the_cpu_cgroup_line_is_found_in_either_version() {
        let v1 = "12:memory:/kubepods/pod1/c1\n3:cpu,cpuacct:/kubepods/pod1/c1\n0::/\n";
        let (_, rel) = cgroup_dir(v1, "cpu").unwrap();
        assert_eq!(rel, PathBuf::from("kubepods/pod1/c1"));
        assert_eq!(cgroup_dir(v1, "memory").unwrap().1, rel);
        assert_eq!(
            cgroup_dir("0::/system.slice/etcd.service\n", "cpu"),
            Some((
                PathBuf::from("/sys/fs/cgroup"),
                PathBuf::from("system.slice/etcd.service")
            ))
        );
        assert_eq!(cgroup_dir("0::/../../etc\n", "cpu"), None);
        assert_eq!(cgroup_dir("garbage", "cpu"), None);
    }

    #[test]
    fn this_process_is_sampled_like_etcd_would_be() {
        let me = std::process::id() as i32;
        let before = counters(me).unwrap();
        let spin = std::time::Instant::now();
        while spin.elapsed().as_millis() < 200 {
            std::hint::black_box(0u64);
        }
        let after = counters(me).unwrap();
        let p = process(me, &before, &after, 0.2);
        assert!(p.cpu_cores > 0.2, "{p:?}");
        assert!(p.rss_mib > 1.0, "{p:?}");
        assert!(host_memory().is_some_and(|m| m.total_mib > m.available_mib * 0.0));
    }
}
