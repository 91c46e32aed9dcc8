//! What else the host was doing while a probe ran: CPU steal and iowait
//! (/proc/stat), the data device's busy time, write rate and write await
//! (/proc/diskstats), and which other processes wrote the most, in bytes and
//! in write calls, with whether they hold files on that device
//! (/proc/<pid>/io, /proc/<pid>/fd).
//!
//! These are the facts that tell a slow disk from a busy one: the same
//! fdatasync latency means "replace the disk" when nothing else writes, and
//! "isolate the noisy neighbour" when something does. Take a snapshot with
//! [`ActivitySampler::start`] before the probe and [`ActivitySampler::finish`]
//! after it; the window is the probe run.

use std::collections::HashMap;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::time::Instant;

use procfs::{Current, CurrentSI, DiskStat, KernelStats};
use serde::{Deserialize, Serialize};

use super::device::DeviceFacts;
use super::etcd::{comm, is_etcd, EtcdProcess, EtcdSampler, HostMemory};
use crate::measure::{round2, MIB};

/// How many of the heaviest other writers are kept.
pub const TOP_WRITERS: usize = 8;

/// Host activity over one window.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct HostActivity {
    /// Length of the window, seconds.
    pub window_s: f64,
    /// CPU time shares over the window, all CPUs together.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cpu: Option<CpuActivity>,
    /// The data device's counters over the window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_io: Option<DeviceIo>,
    /// Other processes that wrote during the window (this process
    /// excluded): those with files on the data device first, heaviest
    /// first, at most [`TOP_WRITERS`].
    #[serde(default)]
    pub writers: Vec<ProcessIo>,
    /// etcd's own processes over the window: CPU, run-queue wait, cgroup
    /// throttling, memory.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub etcd: Vec<EtcdProcess>,
    /// The 1-minute load average at the end of the window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_avg_1m: Option<f64>,
    /// The host's memory at the end of the window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memory: Option<HostMemory>,
}

/// CPU time shares over a window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct CpuActivity {
    /// Share of CPU time the hypervisor ran something else (steal), percent.
    pub steal_pct: f64,
    /// Share of CPU time spent running anything (not idle, not waiting
    /// for IO), percent: near 100 the host's CPUs are saturated and every
    /// wake-up, the kernel's IO threads' included, queues.
    #[serde(default)]
    pub busy_pct: f64,
    /// Share of the window in which some runnable task waited for a CPU
    /// (/proc/pressure/cpu, "some"), percent; absent without PSI.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pressure_some_pct: Option<f64>,
    /// Share of CPU time idle with IO outstanding (iowait), percent.
    pub iowait_pct: f64,
}

/// Block device counters over a window (/proc/diskstats deltas).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DeviceIo {
    /// Block device name, e.g. `nvme0n1p2`.
    pub device: String,
    /// Share of the window the device had IO in flight (io_ticks), percent.
    pub util_pct: f64,
    /// Completed writes per second.
    pub write_iops: f64,
    /// Bytes written per second, MiB/s.
    pub write_mib_s: f64,
    /// Mean time a write spent queued and in service, milliseconds.
    pub write_await_ms: f64,
}

/// One other process's writes over a window.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ProcessIo {
    /// Process id.
    pub pid: i32,
    /// Command name (`/proc/<pid>/comm`).
    pub comm: String,
    /// Bytes it caused to be written to storage per second, MiB/s
    /// (`write_bytes` of /proc/<pid>/io).
    pub write_mib_s: f64,
    /// Write system calls per second (`syscw` of /proc/<pid>/io): small
    /// synced writes load a disk by their count, not their bytes. Writes
    /// submitted through libaio or io_uring are not counted here; the
    /// device's own write count covers them.
    #[serde(default)]
    pub write_ops_s: f64,
    /// True when it has a file (or its working directory) open on the data
    /// device at the end of the window.
    pub on_device: bool,
    /// True when it is etcd itself (command or executable named `etcd`):
    /// its writes are the cluster's load, never a neighbour's.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub etcd: bool,
}

/// A snapshot taken at the start of a window.
pub struct ActivitySampler {
    started: Instant,
    cpu: Option<CpuTicks>,
    device: Option<(String, u64)>,
    disk: Option<DiskStat>,
    writes: HashMap<i32, WriteCounters>,
    etcd: EtcdSampler,
}

/// A process's cumulative write counters (/proc/<pid>/io).
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct WriteCounters {
    /// `write_bytes`: bytes it caused to be sent to storage.
    bytes: u64,
    /// `syscw`: write system calls.
    calls: u64,
}

impl ActivitySampler {
    /// Snapshots the counters; `device` is the data device to watch.
    pub fn start(device: Option<&DeviceFacts>) -> ActivitySampler {
        let device = device.and_then(|d| {
            let dev = fs::metadata(&d.dir).ok()?.dev();
            Some((d.block_device.clone()?, dev))
        });
        ActivitySampler {
            started: Instant::now(),
            cpu: cpu_ticks(),
            disk: device.as_ref().and_then(|(name, _)| disk_stat(name)),
            device,
            writes: process_writes(),
            etcd: EtcdSampler::start(),
        }
    }

    /// Reads the counters again and returns the activity in between.
    pub fn finish(self) -> HostActivity {
        let window_s = self.started.elapsed().as_secs_f64();
        let cpu = match (self.cpu, cpu_ticks()) {
            (Some(a), Some(b)) => Some(cpu_activity(a, b, window_s)),
            _ => None,
        };
        let device_io = match (&self.device, &self.disk) {
            (Some((name, _)), Some(before)) => {
                disk_stat(name).map(|after| device_io(before, &after, window_s))
            }
            _ => None,
        };
        let dev = self.device.as_ref().map(|(_, dev)| *dev);
        let writers = top_writers(&self.writes, &process_writes(), window_s, dev);
        HostActivity {
            window_s,
            cpu,
            device_io,
            writers,
            etcd: self.etcd.finish(window_s),
            load_avg_1m: procfs::LoadAverage::current()
                .ok()
                .map(|l| round2(l.one as f64)),
            memory: super::etcd::host_memory(),
        }
    }
}

fn cpu_ticks() -> Option<CpuTicks> {
    let mut ticks = CpuTicks::from(&KernelStats::current().ok()?.total);
    ticks.pressure_us = procfs::CpuPressure::current().ok().map(|p| p.some.total);
    Some(ticks)
}

fn disk_stat(name: &str) -> Option<DiskStat> {
    procfs::diskstats()
        .ok()?
        .into_iter()
        .find(|d| d.name == name)
}

/// The /proc/stat counters the CPU shares are computed from, in ticks.
#[derive(Debug, Clone, Copy, PartialEq)]
struct CpuTicks {
    total: u64,
    idle: u64,
    steal: u64,
    iowait: u64,
    /// /proc/pressure/cpu's "some" total, microseconds.
    pressure_us: Option<u64>,
}

impl From<&procfs::CpuTime> for CpuTicks {
    fn from(c: &procfs::CpuTime) -> Self {
        let steal = c.steal.unwrap_or(0);
        let iowait = c.iowait.unwrap_or(0);
        CpuTicks {
            total: c.user
                + c.nice
                + c.system
                + c.idle
                + iowait
                + c.irq.unwrap_or(0)
                + c.softirq.unwrap_or(0)
                + steal,
            idle: c.idle,
            steal,
            iowait,
            pressure_us: None,
        }
    }
}

/// The shares between two readings `window_s` apart.
fn cpu_activity(a: CpuTicks, b: CpuTicks, window_s: f64) -> CpuActivity {
    let elapsed = b.total.saturating_sub(a.total).max(1) as f64;
    let pct = |x: u64, y: u64| round2(100.0 * y.saturating_sub(x) as f64 / elapsed);
    let not_busy = b.idle.saturating_sub(a.idle) + b.iowait.saturating_sub(a.iowait);
    let pressure_some_pct = match (a.pressure_us, b.pressure_us) {
        (Some(x), Some(y)) if window_s > 0.0 => Some(round2(
            (y.saturating_sub(x) as f64 / (window_s * 1e4)).min(100.0),
        )),
        _ => None,
    };
    CpuActivity {
        steal_pct: pct(a.steal, b.steal),
        busy_pct: round2((100.0 - 100.0 * not_busy as f64 / elapsed).max(0.0)),
        pressure_some_pct,
        iowait_pct: pct(a.iowait, b.iowait),
    }
}

fn device_io(a: &DiskStat, b: &DiskStat, window_s: f64) -> DeviceIo {
    let writes = b.writes.saturating_sub(a.writes);
    let window_ms = (window_s * 1000.0).max(1.0);
    let sectors = b.sectors_written.saturating_sub(a.sectors_written);
    DeviceIo {
        device: b.name.clone(),
        util_pct: round2(
            (100.0 * b.time_in_progress.saturating_sub(a.time_in_progress) as f64 / window_ms)
                .min(100.0),
        ),
        write_iops: round2(writes as f64 / window_s.max(1e-3)),
        write_mib_s: round2(sectors as f64 * 512.0 / MIB as f64 / window_s.max(1e-3)),
        write_await_ms: if writes == 0 {
            0.0
        } else {
            round2(b.time_writing.saturating_sub(a.time_writing) as f64 / writes as f64)
        },
    }
}

/// Write counters of every process we may read, by pid (this one excluded).
fn process_writes() -> HashMap<i32, WriteCounters> {
    let me = std::process::id() as i32;
    let Ok(all) = procfs::process::all_processes() else {
        return HashMap::new();
    };
    all.filter_map(Result::ok)
        .filter(|p| p.pid != me)
        .filter_map(|p| {
            let io = p.io().ok()?;
            Some((
                p.pid,
                WriteCounters {
                    bytes: io.write_bytes,
                    calls: io.syscw,
                },
            ))
        })
        .collect()
}

/// The heaviest writers to storage between two snapshots, those holding a
/// file on device `dev` first (they are the ones that can slow it), and
/// among them etcd itself first (its writes are subtracted from the
/// device's, so they must not fall off the list), each with whether it does.
fn top_writers(
    before: &HashMap<i32, WriteCounters>,
    after: &HashMap<i32, WriteCounters>,
    window_s: f64,
    dev: Option<u64>,
) -> Vec<ProcessIo> {
    let mut writers: Vec<(bool, bool, WriteCounters, i32)> = after
        .iter()
        .filter_map(|(pid, w)| {
            let was = before.get(pid).copied().unwrap_or_default();
            let delta = WriteCounters {
                bytes: w.bytes.saturating_sub(was.bytes),
                calls: w.calls.saturating_sub(was.calls),
            };
            (delta.bytes > 0).then(|| {
                let on_device = dev.is_some_and(|d| holds_file_on(*pid, d));
                (on_device, is_etcd(*pid), delta, *pid)
            })
        })
        .collect();
    writers.sort_by(|a, b| {
        b.0.cmp(&a.0)
            .then(b.1.cmp(&a.1))
            .then(b.2.bytes.cmp(&a.2.bytes))
            .then(a.3.cmp(&b.3))
    });
    let per_s = |n: u64| n as f64 / window_s.max(1e-3);
    writers
        .into_iter()
        .take(TOP_WRITERS)
        .map(|(on_device, etcd, delta, pid)| ProcessIo {
            pid,
            comm: comm(pid).unwrap_or_default(),
            write_mib_s: round2(per_s(delta.bytes) / MIB as f64),
            write_ops_s: round2(per_s(delta.calls)),
            on_device,
            etcd,
        })
        .collect()
}

/// True when process `pid` has an open file or its working directory on
/// the filesystem with device number `dev`.
fn holds_file_on(pid: i32, dev: u64) -> bool {
    let on_dev = |p: &std::path::Path| fs::metadata(p).is_ok_and(|m| m.dev() == dev);
    if on_dev(format!("/proc/{pid}/cwd").as_ref()) {
        return true;
    }
    let Ok(fds) = fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.filter_map(Result::ok).any(|fd| on_dev(&fd.path()))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn cpu_shares_come_from_tick_deltas() {
        let at = |total, idle, steal, iowait, pressure_us| CpuTicks {
            total,
            idle,
            steal,
            iowait,
            pressure_us,
        };
        let a = cpu_activity(
            at(1000, 500, 0, 0, Some(0)),
            at(1100, 530, 20, 10, Some(500_000)),
            2.0,
        );
        assert_eq!(a.steal_pct, 20.0);
        assert_eq!(a.iowait_pct, 10.0);
        assert_eq!(a.busy_pct, 60.0);
        // 0.5 s of 2 s with some task waiting.
        assert_eq!(a.pressure_some_pct, Some(25.0));
        let no_psi = cpu_activity(at(0, 0, 0, 0, None), at(100, 100, 0, 0, Some(9)), 1.0);
        assert_eq!((no_psi.busy_pct, no_psi.pressure_some_pct), (0.0, None));
    }

    #[test]
    fn a_writer_on_the_device_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let facts = DeviceFacts::for_dir(dir.path()).unwrap();
        let sampler = ActivitySampler::start(Some(&facts));
        // A writer that is still running (and holding its file) when the
        // window closes: synchronous 256 KiB writes, 1 GiB at most.
        let mut child = std::process::Command::new("dd")
            .arg("if=/dev/zero")
            .arg(format!("of={}", dir.path().join("w").display()))
            .args(["bs=256k", "count=4096", "oflag=dsync", "status=none"])
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(800));
        let activity = sampler.finish();
        let _ = child.kill();
        let _ = child.wait();
        let w = activity
            .writers
            .iter()
            .find(|w| w.pid == child.id() as i32)
            .unwrap_or_else(|| panic!("dd not among {:?}", activity.writers));
        assert_eq!(w.comm, "dd");
        assert!(w.write_mib_s > 1.0, "{w:?}");
        // One write call per 256 KiB block: calls and bytes agree.
        let calls_from_bytes = w.write_mib_s * 4.0;
        assert!(
            w.write_ops_s > calls_from_bytes * 0.5 && w.write_ops_s < calls_from_bytes * 2.0,
            "{w:?}"
        );
        assert!(w.on_device, "{w:?}");
        assert!(activity.window_s > 0.7);
        assert!(activity.cpu.is_some());
    }
}
