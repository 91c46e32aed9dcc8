use super::*;
use crate::fleet::HostLatency;

fn row(probe: &str, p99s: &[f64]) -> DiskRow {
    let hosts: Vec<HostLatency> = p99s
        .iter()
        .enumerate()
        .map(|(i, &p99)| HostLatency {
            host: format!("m{i}"),
            p50_ms: p99 / 3.0,
            p99_ms: p99,
        })
        .collect();
    DiskRow {
        probe: probe.into(),
        fleet_p50_ms: median(hosts.iter().map(|h| h.p50_ms)).unwrap_or(0.0),
        fleet_p99_ms: median(hosts.iter().map(|h| h.p99_ms)).unwrap_or(0.0),
        hosts,
    }
}

#[test]
fn the_slow_disk_is_the_outlier_and_only_it() {
    let f = disk_outliers(&row("fsync", &[1.0, 1.2, 40.0, 0.9]), &Profile::default());
    assert_eq!(f.len(), 1);
    assert!(f[0].summary.contains("host m2"), "{}", f[0].summary);
    assert_eq!(f[0].id, FindingId::FleetDiskOutlier);
}

#[test]
fn a_fast_outlier_below_the_warn_level_is_no_finding() {
    // 4 ms is 8x the median but under etcd-default's 5 ms warn level.
    assert!(disk_outliers(&row("fsync", &[0.5, 0.5, 4.0, 0.5]), &Profile::default()).is_empty());
    // Backend judges against the backend warn level, 12.5 ms.
    assert!(disk_outliers(&row("backend", &[2.0, 2.0, 11.0, 2.0]), &Profile::default()).is_empty());
}

#[test]
fn a_uniformly_slow_fleet_or_two_hosts_have_no_outlier() {
    let p = Profile::default();
    assert!(disk_outliers(&row("wal", &[40.0, 45.0, 50.0]), &p).is_empty());
    assert!(disk_outliers(&row("wal", &[1.0, 50.0]), &p).is_empty());
}

#[test]
fn the_profile_sets_the_ratio() {
    let p = Profile::parse("[fleet]\noutlier_ratio = 50.0\n", "t").unwrap();
    assert!(disk_outliers(&row("fsync", &[1.0, 1.2, 40.0, 0.9]), &p).is_empty());
    let e = Profile::parse("[fleet]\noutlier_ratio = 0.0\n", "t").unwrap_err();
    assert!(e.to_string().contains("fleet.outlier_ratio"), "{e}");
}
