use super::*;
use crate::host::HostFacts;
use crate::measure::LatencySummary;
use crate::probe::net::{NetProbeKind, NetResult, Schedule};
use crate::rules::Profile;

fn latency(p99_us: f64) -> LatencySummary {
    LatencySummary {
        samples: 100,
        mean: p99_us / 2.0,
        min: 10.0,
        p50: p99_us / 2.0,
        p90: p99_us,
        p99: p99_us,
        p999: p99_us,
        max: p99_us,
    }
}

/// Host `name` at 10.0.0.`i`, with an rtt result (p99 from `rtt`) and a
/// throughput result against each of `peers` (i, p99 µs).
fn host(name: &str, i: u8, peers: &[(u8, f64)]) -> Report {
    let facts = HostFacts {
        hostname: name.into(),
        addresses: vec![format!("10.0.0.{i}").parse().unwrap()],
        ..HostFacts::default()
    };
    let mut r = Report::new("qualify", facts);
    for &(p, p99) in peers {
        let peer = format!("10.0.0.{p}:7480");
        let mut rtt = NetResult::new(NetProbeKind::Rtt, &peer, Schedule::Concurrent);
        rtt.latency_us = Some(latency(p99));
        let mut tp = NetResult::new(NetProbeKind::Throughput, &peer, Schedule::Sequential);
        tp.upload_mbit_s = Some(if p99 > 1e4 { 10.0 } else { 900.0 });
        tp.download_mbit_s = Some(900.0);
        r.net.extend([rtt, tp]);
    }
    r
}

fn fleet(slow: f64) -> Vec<Report> {
    (1..=4u8)
        .map(|i| {
            let peers: Vec<(u8, f64)> = (1..=4u8)
                .filter(|&p| p != i)
                .map(|p| {
                    (
                        p,
                        if (i, p) == (1, 2) || (i, p) == (2, 1) {
                            slow
                        } else {
                            300.0
                        },
                    )
                })
                .collect();
            host(&format!("m{i}"), i, &peers)
        })
        .collect()
}

fn stream_of(reports: &[Report]) -> Vec<u8> {
    let mut out = b"Defaulted container \"qualify\" out of: qualify\n".to_vec();
    for r in reports {
        out.extend(serde_json::to_vec_pretty(r).unwrap());
        out.extend(b"\nsome stderr line\n");
    }
    out
}

fn merged(bytes: &[u8]) -> Result<FleetReport, NothingToMerge> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("logs.txt");
    std::fs::write(&path, bytes).unwrap();
    let (inputs, notes) = read(&[Source::File(path)]).unwrap();
    let profile = Profile::default();
    let mut report = merge(inputs, notes, &profile.name)?;
    report.judge(&profile);
    Ok(report)
}

#[test]
fn the_matrix_has_every_ordered_pair_and_the_slow_link_is_flagged() {
    let f = merged(&stream_of(&fleet(80_000.0))).unwrap();
    assert_eq!(f.hosts.len(), 4);
    assert_eq!(f.paths.len(), 12);
    assert!(
        f.paths.iter().all(|p| p.to.starts_with('m')),
        "{:?}",
        f.paths
    );
    let ids: Vec<_> = f.findings.iter().map(|f| f.id).collect();
    assert_eq!(ids, vec![crate::rules::FindingId::FleetPathOutlier]);
    assert!(
        f.findings[0].summary.contains("m1 <-> m2"),
        "{}",
        f.findings[0].summary
    );
    assert!(
        f.findings[0].summary.contains("asymmetric"),
        "{}",
        f.findings[0].summary
    );
    assert_eq!(f.verdict, Verdict::Warn);
    assert!(
        f.notes.iter().any(|n| n.contains("skipped 5 line")),
        "{:?}",
        f.notes
    );
}

#[test]
fn a_healthy_fleet_has_no_findings() {
    let f = merged(&stream_of(&fleet(400.0))).unwrap();
    assert!(f.findings.is_empty(), "{:?}", f.findings);
    assert_eq!(f.verdict, Verdict::Pass);
}

#[test]
fn duplicates_other_schemas_and_cut_off_documents_become_notes() {
    let reports = fleet(300.0);
    let mut bytes = stream_of(&reports[..2]);
    bytes.extend(serde_json::to_vec(&reports[0]).unwrap());
    let mut old = serde_json::to_value(&reports[2]).unwrap();
    old["schema_version"] = 0.into();
    bytes.extend(serde_json::to_vec(&old).unwrap());
    let cut = serde_json::to_vec(&reports[3]).unwrap();
    bytes.extend(&cut[..cut.len() / 2]);
    let f = merged(&bytes).unwrap();
    assert_eq!(f.hosts.len(), 2);
    let notes = f.notes.join("\n");
    assert!(notes.contains("\"m1\" already merged"), "{notes}");
    assert!(notes.contains("schema_version 0"), "{notes}");
    assert!(notes.contains("cut off"), "{notes}");
}

#[test]
fn nothing_mergeable_is_an_error_that_says_why() {
    let e = merged(b"error: no pods found\n{\"schema_version\": 7}\n").unwrap_err();
    let text = e.to_string();
    assert!(text.contains("schema_version 7"), "{text}");
    assert!(merged(b"")
        .unwrap_err()
        .to_string()
        .contains("no JSON documents"));
}

#[test]
fn hosts_sharing_a_hostname_but_not_an_address_are_told_apart() {
    let reports: Vec<Report> = fleet(300.0)
        .into_iter()
        .map(|mut r| {
            r.host.hostname = "node".into();
            r
        })
        .collect();
    let f = merged(&stream_of(&reports)).unwrap();
    assert_eq!(f.hosts.len(), 4);
    assert!(f
        .paths
        .iter()
        .any(|p| p.from == "node/10.0.0.1" && p.to == "node/10.0.0.2"));
}
