//! host.cpu-starved and host.memory-pressure on made-up processes: a
//! quota, a full run queue, the CPU behind the IO path, what starvation
//! explains, faults, swap and a db too big.

use super::*;
use crate::host::activity::CpuActivity;
use crate::host::etcd::{CgroupCpu, HostMemory};

fn etcd(cores: f64, run_delay: f64, throttled_ms: f64) -> EtcdProcess {
    EtcdProcess {
        pid: 77,
        cpu_cores: cores,
        run_delay_ms_per_s: run_delay,
        run_wait_ms_mean: run_delay / 50.0,
        cgroup_cpu: Some(CgroupCpu {
            path: "/sys/fs/cgroup/cpu/etcd".into(),
            limit_cores: (throttled_ms > 0.0).then_some(0.1),
            throttled_periods_pct: 90.0,
            throttled_ms_per_s: throttled_ms,
        }),
        major_faults_per_s: 0.0,
        swap_mib: 0.0,
        rss_mib: 60.0,
        memory_limit_mib: None,
        listen_ports: vec![2379, 2380],
        wal_device: None,
        member_name: None,
        peer_sockets: Vec::new(),
    }
}

#[test]
fn only_the_diagnosed_members_etcd_is_judged() {
    let mut other = etcd(0.1, 30.0, 900.0);
    other.listen_ports = vec![12379];
    let mut a = with(etcd(1.0, 10.0, 0.0));
    a.etcd.push(other);
    let cluster = ClusterReport {
        members: vec![crate::cluster::model::Member {
            client_urls: vec!["http://10.0.0.1:2379".into()],
            ..Default::default()
        }],
        ..Default::default()
    };
    let d = diagnosed(&a, Some(&cluster));
    assert_eq!(d.etcd.len(), 1);
    assert_eq!(d.etcd[0].listen_ports, vec![2379, 2380]);
    assert_eq!(diagnosed(&a, None).etcd.len(), 2);
}

fn with(p: EtcdProcess) -> HostActivity {
    HostActivity {
        etcd: vec![p],
        load_avg_1m: Some(3.0),
        memory: Some(HostMemory {
            total_mib: 4096.0,
            available_mib: 2048.0,
            swap_used_mib: 0.0,
        }),
        ..HostActivity::default()
    }
}

#[test]
fn a_cpu_quota_or_a_full_run_queue_starves_etcd_and_a_busy_one_is_fine() {
    let t = HostThresholds::default();
    let quota = cpu_starved(&with(etcd(0.1, 30.0, 900.0)), &t).unwrap();
    assert_eq!(quota.severity, Severity::Fail);
    assert!(
        quota
            .summary
            .contains("CPU quota (a CPU limit of 0.1 cores)"),
        "{}",
        quota.summary
    );
    let queue = cpu_starved(&with(etcd(0.3, 600.0, 0.0)), &t).unwrap();
    assert_eq!(queue.severity, Severity::Warn);
    assert!(queue.summary.contains("waited 600 ms"), "{}", queue.summary);
    // Busy and healthy: a core and a half, little wait, no throttling.
    assert_eq!(cpu_starved(&with(etcd(1.5, 120.0, 0.0)), &t), None);
    // Idle: a ratio over tiny numbers is nothing.
    assert_eq!(cpu_starved(&with(etcd(0.001, 3.0, 0.0)), &t), None);
    // Idle on a busy host: 100 ms/s of waits, half a millisecond each.
    let mut idle = etcd(0.01, 100.0, 0.0);
    idle.run_wait_ms_mean = 0.5;
    assert_eq!(cpu_starved(&with(idle), &t), None);
}

#[test]
fn starvation_explains_slow_fsyncs_on_a_fast_disk_only() {
    let views = |probe| CpuScene {
        views: FsyncViews {
            probe_p99_ms: probe,
            etcd_p99_ms: Some(40.0),
            warn_above_ms: 5.0,
            fail_above_ms: 10.0,
        },
        probe_tail: false,
    };
    let t = HostThresholds::default();
    let starved = cpu_starved(&with(etcd(0.1, 30.0, 900.0)), &t).unwrap();
    let wal = Finding::unchecked(
        FindingId::ClusterMetricsWalFsyncSlow,
        Draft {
            severity: Severity::Fail,
            summary: "m0: WAL fsync p99 40 ms".into(),
            evidence: vec![],
            recommendation: String::new(),
            commands: vec![],
        },
    );
    let mut fast = vec![starved.clone(), wal.clone()];
    explain_by_cpu(&mut fast, views(Some(1.0)), |_| false);
    assert_eq!(fast[1].severity, Severity::Info);
    assert!(fast[1]
        .summary
        .contains("explained: etcd was starved of CPU"));
    let mut remote = vec![starved.clone(), wal.clone()];
    explain_by_cpu(&mut remote, views(Some(1.0)), |_| true);
    assert_eq!(
        remote[1].severity,
        Severity::Fail,
        "a member on a device not probed may have a slow disk of its own"
    );
    let mut slow = vec![starved.clone(), wal];
    explain_by_cpu(&mut slow, views(Some(30.0)), |_| false);
    assert_eq!(slow[1].severity, Severity::Fail, "a slow disk stays named");
    // The probe's own stalls and slow tail: explained only when they
    // were the saturated CPU's (a fast median, nobody else writing).
    let probe = |id, summary: &str| {
        Finding::unchecked(
            id,
            Draft {
                severity: Severity::Warn,
                summary: summary.into(),
                evidence: vec![],
                recommendation: String::new(),
                commands: vec![],
            },
        )
    };
    let tail = format!("fdatasync p99 is 8 ms; {}", super::super::disk::CPU_TAIL);
    let own = [
        probe(FindingId::DiskFsyncSlow, &tail),
        probe(FindingId::DiskFsyncStall, "stalled twice"),
        probe(
            FindingId::DiskFsyncSlow,
            "etcd logged slow fdatasync (over 1 s)",
        ),
    ];
    for (probe_tail, want) in [
        (true, [Severity::Info, Severity::Info, Severity::Warn]),
        (false, [Severity::Info, Severity::Warn, Severity::Warn]),
    ] {
        let mut f = vec![starved.clone()];
        f.extend(own.iter().cloned());
        let mut scene = views(Some(8.0));
        scene.probe_tail = probe_tail;
        explain_by_cpu(&mut f, scene, |_| false);
        let got: Vec<Severity> = f[1..].iter().map(|f| f.severity).collect();
        assert_eq!(got, want, "probe_tail {probe_tail}");
    }
}

#[test]
fn a_slow_wal_on_a_fast_unshared_device_of_a_saturated_host_is_the_cpu() {
    let t = HostThresholds::default();
    let mut a = with(etcd(0.03, 200.0, 0.0));
    a.etcd[0].run_wait_ms_mean = 0.19;
    a.cpu = Some(CpuActivity {
        busy_pct: 97.0,
        pressure_some_pct: Some(61.0),
        ..CpuActivity::default()
    });
    let wal = |probe, etcd, contended| SlowWal {
        views: FsyncViews {
            probe_p99_ms: Some(probe),
            etcd_p99_ms: Some(etcd),
            warn_above_ms: 5.0,
            fail_above_ms: 10.0,
        },
        contended,
        warn_ms: 10.0,
        fail_ms: 100.0,
        saturated_busy_pct: Some(97.0),
    };
    // The remote-healthy row beside two CPU loops: short waits per
    // wake-up, so the run-queue rule is silent; the IO path is not.
    assert_eq!(cpu_starved(&a, &t), None);
    let f = cpu_behind_io(&a, wal(0.87, 32.0, Some(false)), &t).unwrap();
    assert_eq!(f.severity, Severity::Warn);
    for needle in [
        "wait for the CPU, not for the disk",
        "97% busy, some task waiting",
    ] {
        assert!(f.summary.contains(needle), "{needle}: {}", f.summary);
    }
    assert_eq!(
        cpu_behind_io(&a, wal(0.87, 250.0, Some(false)), &t)
            .unwrap()
            .severity,
        Severity::Fail
    );
    // A neighbour on the device, a slow probe, a fast WAL, an unknown
    // device: none of them is the CPU's.
    for w in [
        wal(0.87, 32.0, Some(true)),
        wal(0.87, 32.0, None),
        wal(8.0, 32.0, Some(false)),
        wal(0.87, 4.0, Some(false)),
    ] {
        assert_eq!(cpu_behind_io(&a, w, &t), None, "{w:?}");
    }
    // The same slow WAL with CPU to spare (below the saturation
    // threshold, so the context holds no saturated share) is not the
    // CPU's.
    let spare = SlowWal {
        saturated_busy_pct: None,
        ..wal(0.87, 32.0, Some(false))
    };
    assert_eq!(cpu_behind_io(&a, spare, &t), None);
}

#[test]
fn faults_swap_and_a_db_too_big_are_memory_pressure() {
    let t = HostThresholds::default();
    let mut p = etcd(0.5, 0.0, 0.0);
    assert_eq!(memory_pressure(&with(p.clone()), Some(100 << 20), &t), None);
    p.major_faults_per_s = 800.0;
    let f = memory_pressure(&with(p.clone()), Some(100 << 20), &t).unwrap();
    assert_eq!(f.severity, Severity::Fail);
    assert!(f.summary.contains("800 major page faults"), "{}", f.summary);
    // A fresh 20 MiB db's first reads under a count storm: 26-45/s
    // (the bench's list-count-etcd row), not pressure.
    p.major_faults_per_s = 45.0;
    assert_eq!(memory_pressure(&with(p.clone()), Some(100 << 20), &t), None);
    p.major_faults_per_s = 160.0;
    let big = memory_pressure(&with(p.clone()), Some(4 << 30), &t).unwrap();
    assert_eq!(big.severity, Severity::Fail);
    assert!(big.summary.contains("does not fit"), "{}", big.summary);
    // Its cgroup's limit, not the host's free memory, bounds it.
    p.memory_limit_mib = Some(96.0);
    let limited = memory_pressure(&with(p.clone()), Some(256 << 20), &t).unwrap();
    assert!(
        limited.summary.contains("does not fit in the 96 MiB"),
        "{}",
        limited.summary
    );
    p.major_faults_per_s = 0.0;
    p.swap_mib = 30.0;
    let swapped = memory_pressure(&with(p), None, &t).unwrap();
    assert_eq!(swapped.severity, Severity::Warn);
    assert!(swapped.recommendation.contains("without swap"));
}
