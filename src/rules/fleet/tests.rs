use super::*;
use crate::findings::FindingId;
use crate::fleet::HostLatency;

fn row(probe: DiskProbeKind, p99s: &[f64]) -> DiskRow {
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
        probe,
        fleet_p50_ms: median(hosts.iter().map(|h| h.p50_ms)).unwrap_or(0.0),
        fleet_p99_ms: median(hosts.iter().map(|h| h.p99_ms)).unwrap_or(0.0),
        hosts,
    }
}

#[test]
fn the_slow_disk_is_the_outlier_and_only_it() {
    let f = disk_outliers(
        &row(DiskProbeKind::Fsync, &[1.0, 1.2, 40.0, 0.9]),
        &Profile::default(),
    );
    assert_eq!(f.len(), 1);
    assert!(f[0].summary.contains("host m2"), "{}", f[0].summary);
    assert_eq!(f[0].id, FindingId::FleetDiskOutlier);
}

#[test]
fn a_fast_outlier_below_the_warn_level_is_no_finding() {
    // 4 ms is 8x the median but under etcd-default's 5 ms warn level.
    assert!(disk_outliers(
        &row(DiskProbeKind::Fsync, &[0.5, 0.5, 4.0, 0.5]),
        &Profile::default()
    )
    .is_empty());
    // Backend judges against the backend warn level, 12.5 ms.
    assert!(disk_outliers(
        &row(DiskProbeKind::Backend, &[2.0, 2.0, 11.0, 2.0]),
        &Profile::default()
    )
    .is_empty());
}

#[test]
fn a_uniformly_slow_fleet_or_two_hosts_have_no_outlier() {
    let p = Profile::default();
    assert!(disk_outliers(&row(DiskProbeKind::Wal, &[40.0, 45.0, 50.0]), &p).is_empty());
    assert!(disk_outliers(&row(DiskProbeKind::Wal, &[1.0, 50.0]), &p).is_empty());
}

#[test]
fn the_profile_sets_the_ratio() {
    let p = Profile::parse("[fleet]\noutlier_ratio = 50.0\n", "t").unwrap();
    assert!(disk_outliers(&row(DiskProbeKind::Fsync, &[1.0, 1.2, 40.0, 0.9]), &p).is_empty());
    let e = Profile::parse("[fleet]\noutlier_ratio = 0.0\n", "t").unwrap_err();
    assert!(e.to_string().contains("fleet.outlier_ratio"), "{e}");
}

fn path(from: &str, to: &str, rtt_ms: f64, mbit: f64) -> PathEntry {
    PathEntry {
        from: from.into(),
        to: to.into(),
        rtt_p50_ms: Some(rtt_ms / 2.0),
        rtt_p99_ms: Some(rtt_ms),
        upload_mbit_s: Some(mbit),
        download_mbit_s: Some(mbit * 1.1),
        asymmetry_ratio: Some(1.1),
        error: None,
    }
}

/// Every ordered pair of `n` hosts at `mbit`, except `slow` at `slow_mbit`.
fn fleet_paths(n: usize, mbit: f64, slow: Option<(usize, usize, f64)>) -> Vec<PathEntry> {
    let mut out = Vec::new();
    for a in 0..n {
        for b in (0..n).filter(|&b| b != a) {
            let rate = match slow {
                Some((x, y, r)) if (a, b) == (x, y) || (a, b) == (y, x) => r,
                _ => mbit,
            };
            out.push(path(&format!("m{a}"), &format!("m{b}"), 0.2, rate));
        }
    }
    out
}

#[test]
fn a_path_at_a_hundredth_of_the_fleets_rate_is_an_outlier_with_a_normal_rtt() {
    let p = Profile::default();
    let f = path_outliers(&fleet_paths(4, 5_000.0, Some((0, 1, 10.0))), &p);
    assert_eq!(f.len(), 1, "{f:#?}");
    assert!(
        f[0].summary
            .starts_with("path m0 <-> m1: throughput 10 Mbit/s"),
        "{}",
        f[0].summary
    );
    assert!(!f[0].summary.contains("RTT p99"), "{}", f[0].summary);
    assert!(f[0].evidence.iter().all(|e| e.unit == Unit::MbitPerSec));
    // A fifth of the median is within a healthy fleet's spread.
    assert!(path_outliers(&fleet_paths(4, 5_000.0, Some((0, 1, 1_000.0))), &p).is_empty());
    // Equal paths: nothing.
    assert!(path_outliers(&fleet_paths(4, 5_000.0, None), &p).is_empty());
    // Too few paths to call one the odd one out.
    assert!(
        path_outliers(&fleet_paths(2, 5_000.0, Some((0, 1, 10.0))), &p)
            .iter()
            .all(|f| !f.summary.contains("throughput"))
    );
}

#[test]
fn a_slow_and_capped_path_is_one_finding_naming_both() {
    let mut paths = fleet_paths(3, 5_000.0, Some((1, 2, 2.0)));
    for p in paths.iter_mut().filter(|p| link(p) == ("m1", "m2")) {
        p.rtt_p99_ms = Some(90.0);
    }
    let f = path_outliers(&paths, &Profile::default());
    assert_eq!(f.len(), 1, "{f:#?}");
    assert!(f[0].summary.contains("RTT p99 90 ms"), "{}", f[0].summary);
    assert!(
        f[0].summary.contains("throughput 2 Mbit/s"),
        "{}",
        f[0].summary
    );
}
