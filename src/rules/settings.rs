//! Rules over the local etcd's own settings, as discovery read them from
//! its process or layout. `disk.wal-on-data-device`: a `--wal-dir` set
//! apart from `--data-dir` (etcd's help: "Path to the dedicated wal
//! directory") but on the same device isolates nothing; the guide's
//! Section 4 ("IO disk problem handling: isolation") asks for the WAL's
//! fdatasyncs not to queue behind other writes, the backend's included.
//! The auto-compaction settings are said under the history and
//! fragmentation findings, whose fix depends on them.

use super::cluster::ClusterThresholds;
use crate::discover::{Discovery, Settings};
use crate::findings::emit::Emit;
use crate::findings::registry::ids;
use crate::findings::{warns, Draft, Evidence, Finding, FindingId, Severity, Unit};
use crate::measure::MIB;
use crate::rules::by;

/// Builds the ids of `run::snapshot_count_high`'s findings.
const SNAPSHOT_COUNT: Emit<by::snapshot_count_high> = Emit::new();
/// Builds the ids of `run::wal_on_data_device`'s findings.
const WAL_DIR: Emit<by::wal_on_data_device> = Emit::new();

/// Says, under the history and fragmentation findings, whether the local
/// etcd compacts by itself (`--auto-compaction-*`, as discovery read
/// them): without it only a client (kube-apiserver, every 5 minutes)
/// compacts, and the fix differs.
pub fn explain_compaction(findings: &mut [Finding], s: &Settings) {
    let retention = s.auto_compaction_retention.as_deref().map(str::trim);
    let off = matches!(retention, None | Some("") | Some("0") | Some("0s"));
    let said = if off {
        " This etcd does not compact by itself (--auto-compaction-retention unset or 0): \
         unless a client compacts (kube-apiserver does, every 5 minutes), set \
         --auto-compaction-mode=periodic --auto-compaction-retention=1h."
            .to_string()
    } else {
        format!(
            " This etcd compacts by itself (--auto-compaction-mode={} \
             --auto-compaction-retention={}): history beyond that retention means compaction \
             fails or lags; look for \"compact\" in its logs.",
            s.auto_compaction_mode.as_deref().unwrap_or("periodic"),
            retention.unwrap_or_default()
        )
    };
    for f in findings.iter_mut().filter(|f| {
        matches!(
            f.id,
            FindingId::ClusterHistoryUnbounded | FindingId::ClusterDbFragmented
        )
    }) {
        f.recommendation.push_str(&said);
    }
}

/// The finding when `--snapshot-count` is above `t.snapshot_count_warn`:
/// etcd keeps every applied raft entry since the last snapshot in memory
/// (etcd docs, "Maintenance / Raft log retention"), each up to
/// `--max-request-bytes`. Info alone; a warning when the host's memory is
/// under pressure (`host.memory-pressure` in the same findings), whose
/// cause it may be.
pub fn snapshot_count_high(
    findings: &[Finding],
    s: &Settings,
    t: &ClusterThresholds,
    max_request_bytes: u64,
) -> Option<Finding> {
    let count = s.snapshot_count.filter(|&c| c > t.snapshot_count_warn)?;
    let pressed = warns(findings, FindingId::HostMemoryPressure);
    let worst_mib = count as f64 * max_request_bytes as f64 / MIB as f64;
    let why = if pressed {
        " The host's memory is under pressure (host.memory-pressure): these entries are part of etcd's memory."
    } else {
        ""
    };
    Some(SNAPSHOT_COUNT.finding(ids::ClusterSnapshotCountHigh, Draft {
        severity: if pressed { Severity::Warn } else { Severity::Info },
        summary: format!(
            "--snapshot-count {count} keeps up to {count} applied raft entries in memory between snapshots{}",
            if pressed { ", on a host under memory pressure" } else { "" }
        ),
        evidence: vec![
            Evidence::new("--snapshot-count", count as f64, t.snapshot_count_warn as f64, Unit::Entries),
            Evidence::new(
                "memory those entries may hold at --max-request-bytes each",
                worst_mib,
                t.snapshot_count_warn as f64 * max_request_bytes as f64 / MIB as f64,
                Unit::Mib,
            ),
        ],
        recommendation: format!(
            "etcd holds every entry applied since its last snapshot in memory (etcd docs, Maintenance:              Raft log retention: a higher --snapshot-count causes recurrently higher memory usage); with              large values that is up to {worst_mib:.0} MiB. etcd 3.6 lowered the default to 10,000:              unless slow followers need a longer log to catch up, lower it (--snapshot-count=10000).{why}"
        ),
        commands: Vec::new(),
    }))
}

/// Says, under a data-inconsistency finding, which of etcd's own
/// corruption checks the local etcd runs (read under 3.5's and 3.6's flag
/// names): with none on, etcd raises no CORRUPT alarm and only this tool's
/// HashKV comparison sees the split.
pub fn explain_corruption_checks(findings: &mut [Finding], s: &Settings) {
    let g = &s.feature_gates;
    let on = |v: Option<bool>| if v == Some(true) { "on" } else { "off" };
    let periodic = match s.corrupt_check_time_ms {
        Some(ms) if ms > 0 => format!("every {ms} ms"),
        _ => "off".to_string(),
    };
    let said = format!(
        " The local etcd's own checks: InitialCorruptCheck {}, CompactHashCheck {}, periodic \
         (--corrupt-check-time) {periodic}; kubeadm turns on InitialCorruptCheck, which checks \
         only at start.",
        on(g.initial_corrupt_check),
        on(g.compact_hash_check),
    );
    for f in findings
        .iter_mut()
        .filter(|f| f.id == FindingId::ClusterDataInconsistent)
    {
        f.recommendation.push_str(&said);
    }
}

/// The finding when the WAL dir was set apart but shares the data dir's device.
pub fn wal_on_data_device(d: &Discovery) -> Option<Finding> {
    if d.wal_shares_data_device != Some(true) {
        return None;
    }
    let (wal, data) = (d.wal_dir.as_ref()?, d.data_dir.as_ref()?);
    Some(
        WAL_DIR.finding(
            ids::DiskWalOnDataDevice,
            Draft {
                severity: Severity::Info,
                summary: format!(
                    "--wal-dir {} is on the same device as --data-dir {}",
                    wal.display(),
                    data.display()
                ),
                evidence: Vec::new(),
                recommendation:
                    "A dedicated WAL directory helps only on its own device: the WAL's \
                         fdatasyncs (every write waits on them) then stop queueing behind the \
                         backend's commits and snapshots. Put --wal-dir on a separate disk \
                         (the guide: isolate IO), or drop it."
                        .to_string(),
                commands: vec![format!(
                    "findmnt -T {} ; findmnt -T {}",
                    wal.display(),
                    data.display()
                )],
            },
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discover::Source;

    fn finding(id: FindingId) -> Finding {
        Finding::unchecked(
            id,
            Draft {
                severity: Severity::Warn,
                recommendation: "Defragment.".to_string(),
                ..Draft::default()
            },
        )
    }

    #[test]
    fn a_snapshot_count_above_both_defaults_is_said_and_warns_under_memory_pressure() {
        let t = ClusterThresholds::default();
        let at = |count: Option<u64>, findings: &[Finding]| {
            let s = Settings {
                snapshot_count: count,
                ..Settings::default()
            };
            snapshot_count_high(findings, &s, &t, 1_572_864)
        };
        // 3.6's default, 3.5's default, unset: nothing to say.
        for count in [Some(10_000), Some(100_000), None] {
            assert_eq!(at(count, &[]), None, "{count:?}");
        }
        let f = at(Some(500_000), &[]).unwrap();
        assert_eq!(f.severity, Severity::Info);
        assert!(f.summary.contains("500000"), "{}", f.summary);
        assert_eq!(f.evidence[0].observed, 500_000.0);
        // 500,000 entries of up to 1.5 MiB.
        assert_eq!(f.evidence[1].observed.round(), 750_000.0);
        // A busy host with healthy memory is not memory pressure: still info.
        let mut info = finding(FindingId::HostMemoryPressure);
        info.severity = Severity::Info;
        assert_eq!(at(Some(500_000), &[info]).unwrap().severity, Severity::Info);
        let pressed = at(Some(500_000), &[finding(FindingId::HostMemoryPressure)]).unwrap();
        assert_eq!(pressed.severity, Severity::Warn);
        assert!(pressed.recommendation.contains("memory-pressure"));
    }

    #[test]
    fn compaction_settings_are_said_under_history_and_fragmentation_only() {
        let mut f = vec![
            finding(FindingId::ClusterDbFragmented),
            finding(FindingId::ClusterHistoryUnbounded),
            finding(FindingId::DiskFsyncSlow),
        ];
        explain_compaction(&mut f, &Settings::default());
        assert!(f[0].recommendation.contains("does not compact by itself"));
        assert!(f[1].recommendation.contains("does not compact by itself"));
        assert_eq!(f[2].recommendation, "Defragment.");
        let mut f = vec![finding(FindingId::ClusterDbFragmented)];
        let s = Settings {
            auto_compaction_mode: Some("revision".into()),
            auto_compaction_retention: Some("1000".into()),
            ..Settings::default()
        };
        explain_compaction(&mut f, &s);
        assert!(
            f[0].recommendation
                .contains("--auto-compaction-mode=revision --auto-compaction-retention=1000"),
            "{}",
            f[0].recommendation
        );
    }

    #[test]
    fn corruption_checks_are_said_under_an_inconsistency_only() {
        let mut f = vec![
            finding(FindingId::ClusterDataInconsistent),
            finding(FindingId::ClusterDbFragmented),
        ];
        let mut s = Settings::default();
        s.feature_gates.initial_corrupt_check = Some(true);
        s.corrupt_check_time_ms = Some(60_000);
        explain_corruption_checks(&mut f, &s);
        assert!(
            f[0].recommendation.contains(
                "InitialCorruptCheck on, CompactHashCheck off, periodic (--corrupt-check-time) every 60000 ms"
            ),
            "{}",
            f[0].recommendation
        );
        assert_eq!(f[1].recommendation, "Defragment.");
    }

    #[test]
    fn kubeadm_defaults_of_etcd_3_5_and_3_6_give_no_finding() {
        use crate::facts::Report;
        use crate::rules::profile::Profile;
        let fixtures =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/kubeadm");
        for name in ["etcd-3.5-kubeadm-1.33.yaml", "etcd-3.6-kubeadm-1.34.yaml"] {
            let d = crate::discover::layouts::kubeadm_manifest(&fixtures.join(name), "/".as_ref())
                .unwrap();
            assert_eq!(d.settings.snapshot_count, Some(10_000), "{name}");
            let mut profile = Profile::default();
            profile.adopt(&d.settings);
            assert_eq!(
                profile.net.heartbeat_interval_ms,
                Profile::default().net.heartbeat_interval_ms
            );
            let mut report = Report::new("diagnose", Default::default());
            report.discovery = Some(d);
            let e = crate::rules::evaluate(&crate::rules::Context::new(&report, &profile));
            assert!(
                e.checked.contains(&FindingId::DiskWalOnDataDevice),
                "{name}"
            );
            assert!(e.findings.is_empty(), "{name}: {:?}", e.findings);
        }
    }

    #[test]
    fn only_a_shared_device_is_said() {
        let mut d = Discovery::empty(Source::Process);
        d.data_dir = Some("/var/lib/etcd".into());
        d.wal_dir = Some("/var/lib/etcd-wal".into());
        assert!(wal_on_data_device(&d).is_none(), "unknown device");
        d.wal_shares_data_device = Some(false);
        assert!(wal_on_data_device(&d).is_none(), "separate devices");
        d.wal_shares_data_device = Some(true);
        let f = wal_on_data_device(&d).unwrap();
        assert_eq!(f.severity, Severity::Info);
        assert!(f.summary.contains("/var/lib/etcd-wal"), "{}", f.summary);
    }
}
