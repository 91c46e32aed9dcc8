//! Rules over the local etcd's own settings, as discovery read them from
//! its process or layout. `disk.wal-on-data-device`: a `--wal-dir` set
//! apart from `--data-dir` (etcd's help: "Path to the dedicated wal
//! directory") but on the same device isolates nothing; the guide's
//! Section 4 ("IO disk problem handling: isolation") asks for the WAL's
//! fdatasyncs not to queue behind other writes, the backend's included.

use crate::discover::Discovery;
use crate::findings::{Finding, FindingId, Severity};

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
