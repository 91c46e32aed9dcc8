//! Rules over the local etcd's own settings, as discovery read them from
//! its process or layout. `disk.wal-on-data-device`: a `--wal-dir` set
//! apart from `--data-dir` (etcd's help: "Path to the dedicated wal
//! directory") but on the same device isolates nothing; the guide's
//! Section 4 ("IO disk problem handling: isolation") asks for the WAL's
//! fdatasyncs not to queue behind other writes, the backend's included.
//! The auto-compaction settings are said under the history and
//! fragmentation findings, whose fix depends on them.

use crate::discover::{Discovery, Settings};
use crate::findings::{Finding, FindingId, Severity};

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

/// The finding when the WAL dir was set apart but shares the data dir's device.
pub fn wal_on_data_device(d: &Discovery) -> Option<Finding> {
    if d.wal_shares_data_device != Some(true) {
        return None;
    }
    let (wal, data) = (d.wal_dir.as_ref()?, d.data_dir.as_ref()?);
    Some(Finding {
        id: FindingId::DiskWalOnDataDevice,
        severity: Severity::Info,
        summary: format!(
            "--wal-dir {} is on the same device as --data-dir {}",
            wal.display(),
            data.display()
        ),
        evidence: Vec::new(),
        recommendation: "A dedicated WAL directory helps only on its own device: the WAL's \
                         fdatasyncs (every write waits on them) then stop queueing behind the \
                         backend's commits and snapshots. Put --wal-dir on a separate disk \
                         (the guide: isolate IO), or drop it."
            .to_string(),
        commands: vec![format!(
            "findmnt -T {} ; findmnt -T {}",
            wal.display(),
            data.display()
        )],
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discover::Source;

    fn finding(id: FindingId) -> Finding {
        Finding {
            id,
            severity: Severity::Warn,
            summary: String::new(),
            evidence: Vec::new(),
            recommendation: "Defragment.".to_string(),
            commands: Vec::new(),
        }
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
