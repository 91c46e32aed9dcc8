//! The commands and evidence the cluster rules (and the consistency,
//! keyspace and version rules beside them) put in their findings: etcdctl
//! with the connection flags the report was read with, aimed at members
//! that answered.

use crate::cluster::model::ClusterReport;
use crate::findings::{Evidence, Unit};

/// An evidence row.
pub(crate) fn evidence(
    metric: impl Into<String>,
    observed: f64,
    threshold: f64,
    unit: Unit,
) -> Evidence {
    Evidence::new(metric, observed, threshold, unit)
}

/// The endpoints where commands should go: those that answered as the
/// member listed for them, else all those asked.
pub(crate) fn answering(report: &ClusterReport) -> Vec<String> {
    let imposter = |ep: &str| report.facts.id_mismatches.iter().any(|m| m.endpoint == ep);
    let mut eps: Vec<String> = report
        .endpoints
        .iter()
        .filter(|e| e.id.is_some())
        .map(|e| e.endpoint.clone())
        .chain(
            report
                .health
                .iter()
                .filter(|h| h.answered)
                .map(|h| h.endpoint.clone()),
        )
        .filter(|ep| !imposter(ep))
        .collect();
    // Status and health list the same endpoints: keep each once, in order.
    let mut seen = std::collections::HashSet::new();
    eps.retain(|ep| seen.insert(ep.clone()));
    if eps.is_empty() {
        report.connection.endpoints.clone()
    } else {
        eps
    }
}

/// `etcdctl <flags> ARGS` against the members that answered.
pub(crate) fn etcdctl(report: &ClusterReport, args: &str) -> String {
    let flags = report.connection.etcdctl_flags(&answering(report));
    format!("etcdctl {flags} {args}")
}

/// `etcdctl <flags> ARGS` against one endpoint.
pub(super) fn etcdctl_at(report: &ClusterReport, endpoint: &str, args: &str) -> String {
    let flags = report.connection.etcdctl_flags(&[endpoint.to_string()]);
    format!("etcdctl {flags} {args}")
}

/// The rejoin runbook command for member `name`.
pub(super) fn rejoin_plan(report: &ClusterReport, name: &str) -> String {
    let flags = report.connection.etcdctl_flags(&answering(report));
    format!("etcd-doctor snapshot rejoin-plan --member {name} {flags}")
}

/// Compaction to the current revision, then defrag: the NOSPACE recovery.
pub(super) fn compact_and_defrag(report: &ClusterReport) -> Vec<String> {
    let revision = report.endpoints.iter().filter_map(|e| e.revision).max();
    let compact = match revision {
        Some(rev) => format!("compact {rev}"),
        None => "compact $(etcdctl endpoint status -w json | grep -o '\"revision\":[0-9]*' | cut -d: -f2 | head -1)".to_string(),
    };
    vec![
        etcdctl(report, &compact),
        etcdctl(report, "defrag --cluster"),
    ]
}
