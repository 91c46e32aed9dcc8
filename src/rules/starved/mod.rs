//! Host rules about etcd's own process: starved of CPU (its cgroup's quota
//! throttled it, or its threads waited on a run queue full of other work)
//! or of memory (its pages read back from disk or swap, its database not
//! fitting in what the host has free). Either makes heartbeats late and
//! applies and fsyncs slow on a good disk and network; the finding names
//! the CPU or memory, and [`explain_by_cpu`] marks the disk and network
//! findings it accounts for.

use crate::cluster::model::{url_port, ClusterReport};
use crate::host::activity::HostActivity;
use crate::host::etcd::EtcdProcess;

use super::disk::level;
use super::host::{FsyncViews, HostThresholds};
use crate::findings::emit::Emit;
use crate::findings::registry::ids;
use crate::findings::{warns, Draft, Evidence, Finding, FindingId, Severity, Unit};
use crate::rules::by;

/// Builds the ids of `run::cpu_starved`'s findings.
const STARVED: Emit<by::cpu_starved> = Emit::new();
/// Builds the ids of `run::memory_pressure`'s findings.
const MEMORY: Emit<by::memory_pressure> = Emit::new();

/// `activity` with only the etcd processes of the members in `cluster`
/// (those listening on a port of a member's URLs), when there is a
/// cluster read: another cluster's etcd on this host is not diagnosed.
pub fn diagnosed(activity: &HostActivity, cluster: Option<&ClusterReport>) -> HostActivity {
    let mut a = activity.clone();
    if let Some(c) = cluster {
        let ports: Vec<u16> = c
            .members
            .iter()
            .flat_map(|m| m.client_urls.iter().chain(&m.peer_urls))
            .chain(&c.connection.endpoints)
            .filter_map(|u| url_port(u))
            .collect();
        a.etcd
            .retain(|p| p.listen_ports.iter().any(|l| ports.contains(l)));
    }
    a
}

/// host.cpu-starved: the worst-starved etcd process, by its cgroup's
/// throttling or its threads' run-queue wait per CPU second.
pub fn cpu_starved(activity: &HostActivity, t: &HostThresholds) -> Option<Finding> {
    activity
        .etcd
        .iter()
        .filter_map(|p| starved(p, activity, t))
        .max_by_key(|f| f.severity)
}

fn starved(p: &EtcdProcess, a: &HostActivity, t: &HostThresholds) -> Option<Finding> {
    let throttled_pct = p
        .cgroup_cpu
        .as_ref()
        // Summed over the CPUs' run queues: at most the whole run.
        .map_or(0.0, |c| (c.throttled_ms_per_s / 10.0).min(100.0));
    let by_quota = level(
        throttled_pct,
        t.cpu_throttled_warn_pct,
        t.cpu_throttled_fail_pct,
    );
    let wait_ratio = p.run_delay_ms_per_s / (p.cpu_cores * 1000.0).max(1.0);
    let by_queue = level(
        wait_ratio,
        t.cpu_run_delay_warn_ratio,
        t.cpu_run_delay_fail_ratio,
    )
    .filter(|_| {
        p.run_wait_ms_mean >= t.cpu_run_wait_min_ms
            && p.run_delay_ms_per_s >= t.cpu_run_delay_min_ms_per_s
    });
    let severity = by_quota.max(by_queue)?;
    let limit = p
        .cgroup_cpu
        .as_ref()
        .and_then(|c| c.limit_cores)
        .map(|l| format!(" (a CPU limit of {l} cores)"))
        .unwrap_or_default();
    let quota = format!("its cgroup's CPU quota{limit} stopped it {throttled_pct:.0}% of the time");
    let queue = format!(
        "its threads waited {:.0} ms per second for a CPU ({:.1} ms each time they could run), \
         {wait_ratio:.1} times the CPU time they got: other work holds its cores",
        p.run_delay_ms_per_s, p.run_wait_ms_mean
    );
    let cause = match (by_quota, by_queue) {
        // Throttled threads wait on the run queue too: the quota is the cause.
        (Some(_), _) => quota,
        _ => queue,
    };
    let cores = load_text(a, "; ");
    let mut evidence = vec![
        Evidence::new(
            format!("time etcd (pid {}) was throttled by its CPU quota", p.pid),
            throttled_pct,
            t.cpu_throttled_warn_pct,
            Unit::Percent,
        ),
        Evidence::new(
            format!("run-queue wait per CPU second of etcd (pid {})", p.pid),
            (wait_ratio * 100.0).round() / 100.0,
            t.cpu_run_delay_warn_ratio,
            Unit::Ratio,
        ),
    ];
    evidence.extend(load_evidence(a));
    Some(
        STARVED.finding(
            ids::HostCpuStarved,
            Draft {
                severity,
                summary: format!(
            "etcd (pid {}) is starved of CPU: {cause}; it got {:.2} cores{cores}. Heartbeats, \
             applies and fsyncs wait for the CPU, not for the disk or the network",
            p.pid, p.cpu_cores
        ),
                evidence,
                recommendation:
                    "Give etcd the CPU it needs when it needs it: no CPU limit on etcd (or, \
            in Kubernetes, Guaranteed QoS with whole cores: requests equal to limits, an integer \
            number of CPUs, with the static CPU manager policy), and move the CPU-heavy work on \
            this host (builds, batch jobs, other pods pinned to etcd's cores) elsewhere. Raising \
            etcd's priority (`renice -n -10`, `ionice -c2 -n0`) helps while the neighbours stay."
                        .into(),
                commands: vec![
                    format!("cat /proc/{}/cgroup", p.pid),
                    "grep throttled /sys/fs/cgroup/cpu*/**/cpu.stat  # or the pod's cpu.stat"
                        .into(),
                    "pidstat -u -w 1 10".into(),
                ],
            },
        ),
    )
}

/// The host's 1-minute load average as a clause after `sep`, if read.
fn load_text(a: &HostActivity, sep: &str) -> String {
    a.load_avg_1m
        .map(|l| format!("{sep}load {l:.1}"))
        .unwrap_or_default()
}

/// The host's 1-minute load average as evidence, if read.
fn load_evidence(a: &HostActivity) -> Option<Evidence> {
    a.load_avg_1m
        .map(|l| Evidence::new("1-minute load average", l, 0.0, Unit::None))
}

/// etcd's slow WAL beside a fast, unshared device: what
/// [`cpu_behind_io`] weighs.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SlowWal {
    /// The fdatasync views of the probed device.
    pub views: FsyncViews,
    /// Whether anything but etcd and the probe wrote to the device.
    pub contended: Option<bool>,
    /// etcd's WAL fsync p99 that warns and that fails (the cluster
    /// rules'), ms.
    pub warn_ms: f64,
    /// See `warn_ms`.
    pub fail_ms: f64,
    /// The host's CPU busy share, when at or over the profile's
    /// saturation threshold (the rules' context derives it once).
    pub saturated_busy_pct: Option<f64>,
}

/// host.cpu-starved by the IO path: etcd's WAL fsyncs slow on a device
/// the probe just measured fast, with no other writer on it, while the
/// host's CPUs were saturated. Each fsync is a chain of wake-ups (etcd's
/// thread, the filesystem's journal thread, the block layer's workers),
/// and on a saturated host every one of them queues; per wake-up etcd's
/// own wait can stay short, so [`cpu_starved`] does not see it.
pub fn cpu_behind_io(activity: &HostActivity, wal: SlowWal, t: &HostThresholds) -> Option<Finding> {
    let cpu = activity.cpu?;
    let busy = wal.saturated_busy_pct?;
    let (probe, etcd) = (wal.views.probe_p99_ms?, wal.views.etcd_p99_ms?);
    if wal.contended != Some(false) || probe > wal.views.warn_above_ms {
        return None;
    }
    let severity = level(etcd, wal.warn_ms, wal.fail_ms)?;
    let pressure = cpu
        .pressure_some_pct
        .map(|p| format!(", some task waiting for a CPU {p:.0}% of the time"))
        .unwrap_or_default();
    let load = load_text(activity, ", ");
    let mut evidence = vec![
        Evidence::new(
            "host CPU busy (not idle, not iowait)",
            busy,
            t.cpu_saturated_busy_pct,
            Unit::Percent,
        ),
        Evidence::new(
            "etcd WAL fsync p99 on the probed device",
            etcd,
            wal.warn_ms,
            Unit::Ms,
        ),
        Evidence::new(
            "probe fdatasync p99 on the same device",
            probe,
            wal.views.warn_above_ms,
            Unit::Ms,
        ),
    ];
    if let Some(p) = cpu.pressure_some_pct {
        evidence.push(Evidence::new(
            "CPU pressure (PSI some)",
            p,
            0.0,
            Unit::Percent,
        ));
    }
    evidence.extend(load_evidence(activity));
    let summary = format!(
        "etcd's writes wait for the CPU, not for the disk: its WAL fsync p99 is {etcd:.1} ms \
         while a probe of the same device, with nothing else writing to it, measured {probe:.2} \
         ms; the host's CPUs were {:.0}% busy{pressure}{load}. etcd's threads and the kernel \
         threads that carry its writes to the device queue for a CPU",
        busy
    );
    let recommendation = "Free CPU for etcd: move the CPU-heavy work on this host (builds, \
        batch jobs, other pods) elsewhere or cap it (a CPU limit on the neighbours, not on \
        etcd), give etcd Guaranteed QoS with whole cores, and keep enough idle CPU for the \
        kernel's IO threads. A faster disk would not help: the disk already answers in time.";
    let commands = [
        "cat /proc/pressure/cpu",
        "top -b -n1 -o %CPU | head -20",
        "pidstat -u -w 1 10",
    ];
    let draft = Draft {
        severity,
        summary,
        evidence,
        recommendation: recommendation.into(),
        commands: commands.map(String::from).to_vec(),
    };
    Some(STARVED.finding(ids::HostCpuStarved, draft))
}

/// host.memory-pressure: etcd's pages read back from disk or swap, its
/// memory swapped out, or its database larger than the memory the host can
/// give it (`db_bytes`: the largest member database the cluster reported).
pub fn memory_pressure(
    activity: &HostActivity,
    db_bytes: Option<u64>,
    t: &HostThresholds,
) -> Option<Finding> {
    let p = activity
        .etcd
        .iter()
        .max_by(|a, b| a.major_faults_per_s.total_cmp(&b.major_faults_per_s))?;
    let by_faults = level(
        p.major_faults_per_s,
        t.major_faults_warn_per_s,
        t.major_faults_fail_per_s,
    );
    let by_swap = (p.swap_mib >= t.etcd_swap_warn_mib).then_some(Severity::Warn);
    let db_mib = db_bytes.map(|b| b as f64 / (1024.0 * 1024.0));
    let host_room = activity.memory.map(|m| m.available_mib + p.rss_mib);
    let room_mib = match (host_room, p.memory_limit_mib) {
        (Some(h), Some(l)) => Some(h.min(l)),
        (h, l) => h.or(l),
    };
    let too_big = matches!((db_mib, room_mib), (Some(db), Some(room)) if db > room);
    let by_size = (too_big && by_faults.is_some()).then_some(Severity::Fail);
    let severity = by_faults.max(by_swap).max(by_size)?;
    let mut what = Vec::new();
    if by_faults.is_some() {
        what.push(format!(
            "{:.0} major page faults a second (pages read back from disk or swap)",
            p.major_faults_per_s
        ));
    }
    if by_swap.is_some() {
        what.push(format!("{:.0} MiB of it in swap", p.swap_mib));
    }
    if let (Some(db), Some(room)) = (db_mib.filter(|_| too_big), room_mib) {
        what.push(format!(
            "its {db:.0} MiB database does not fit in the {room:.0} MiB it has and could get"
        ));
    }
    let mut evidence = vec![
        Evidence::new(
            format!("major page faults of etcd (pid {}) per second", p.pid),
            p.major_faults_per_s,
            t.major_faults_warn_per_s,
            Unit::Count,
        ),
        Evidence::new(
            format!("etcd (pid {}) in swap", p.pid),
            p.swap_mib,
            t.etcd_swap_warn_mib,
            Unit::Mib,
        ),
    ];
    if let (Some(db), Some(room)) = (db_mib, room_mib) {
        evidence.push(Evidence::new(
            "database size vs etcd's memory plus available",
            db,
            room,
            Unit::Mib,
        ));
    }
    Some(MEMORY.finding(ids::HostMemoryPressure, Draft {
        severity,
        summary: format!(
            "etcd (pid {}) is short of memory: {}; every read of an evicted page waits for the disk",
            p.pid,
            what.join(", ")
        ),
        evidence,
        recommendation: "etcd serves reads from its memory-mapped database: give it memory for the \
            whole database plus headroom (its memory limit and the host's free memory above the \
            db size, with --quota-backend-bytes keeping the db below that), run it without swap \
            (swapoff, or a memory limit with no swap in its cgroup), and move memory-hungry \
            neighbours off the host."
            .into(),
        commands: vec![
            format!("grep -E 'VmRSS|VmSwap' /proc/{}/status", p.pid),
            "vmstat 1 10  # si/so: swap traffic".into(),
            "etcdctl endpoint status -w table  # DB SIZE".into(),
        ],
    }))
}

/// What [`explain_by_cpu`] weighs beside the starvation finding.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CpuScene {
    /// The fdatasync views of the probed device.
    pub views: FsyncViews,
    /// Whether the disk probe's slow fdatasyncs were a saturated CPU's tail.
    pub probe_tail: bool,
}

/// When etcd is CPU-starved and the disk probe measured a good device, the
/// slow fsyncs, commits, late heartbeats and slow applies (and etcd's own
/// peer round trips) are the starvation's symptoms: those findings are
/// marked explained and drop to info.
pub fn explain_by_cpu(
    findings: &mut [Finding],
    scene: CpuScene,
    unprobed: impl Fn(&Finding) -> bool,
) {
    let views = scene.views;
    let starved = warns(findings, FindingId::HostCpuStarved);
    let disk_fast = views.probe_p99_ms.is_some_and(|p| p <= views.warn_above_ms);
    if !starved {
        return;
    }
    for f in findings.iter_mut().filter(|f| f.severity >= Severity::Warn) {
        let explained = match f.id {
            FindingId::ClusterHeartbeatLate
            | FindingId::ClusterApplySlow
            | FindingId::ClusterMetricsPeerRttHigh => true,
            // A member whose WAL the probe did not measure may have a
            // slow disk of its own.
            FindingId::ClusterMetricsWalFsyncSlow | FindingId::ClusterMetricsBackendCommitSlow => {
                disk_fast && !unprobed(f)
            }
            // The probe's own slow tail on a saturated host whose device
            // kept up at the median ([`super::disk::CpuTail`]); never
            // etcd's slow-fdatasync log lines.
            FindingId::DiskFsyncSlow => f.summary.ends_with(super::disk::CPU_TAIL),
            FindingId::DiskFsyncStall => scene.probe_tail,
            // Only the "etcd slow on a fast device" shape: a named writer
            // is contention of its own.
            FindingId::DiskIoContention => {
                disk_fast && !f.commands.iter().any(|c| c.starts_with("ionice"))
            }
            _ => false,
        };
        if explained {
            f.mark_explained("etcd was starved of CPU during the run (see host.cpu-starved)");
        }
    }
}

#[cfg(test)]
mod tests;
