//! The consistency check as a report section: one row per member with its
//! HashKV at the common revision, raft position and whether it agrees, so
//! the outlier stands out in every human-readable format.

use super::section::Section;
use crate::cluster::consistency::Consistency;

/// The section for `c`: one row per endpoint asked.
pub fn section(c: &Consistency) -> Section {
    let opt = |v: Option<u64>| v.map_or_else(String::new, |v| v.to_string());
    let revision = c.revision.map_or_else(|| "-".into(), |r| r.to_string());
    Section {
        title: format!(
            "Consistency (HashKV at revision {revision}, {} attempt(s))",
            c.attempts
        ),
        headers: vec![
            "ENDPOINT",
            "ID",
            "NAME",
            "HASH",
            "AGREES",
            "RAFT TERM",
            "RAFT INDEX",
            "RAFT APPLIED INDEX",
            "REVISION",
            "ERROR",
        ],
        rows: c
            .members
            .iter()
            .map(|m| {
                let agrees = match (m.hash, c.reference_hash) {
                    (None, _) => "-",
                    (Some(_), _) if c.differing.iter().any(|d| d == m.who()) => "NO",
                    // Another compacted or hash revision: not comparable.
                    (Some(_), _) if c.not_compared.iter().any(|d| d == m.who()) => "n/a",
                    (Some(h), Some(r)) if h == r => "yes",
                    (Some(_), _) => "?",
                };
                vec![
                    m.status.endpoint.clone(),
                    m.status.id.as_deref().unwrap_or_default().to_string(),
                    m.name.clone(),
                    m.hash.map_or_else(String::new, |h| format!("{h:x}")),
                    agrees.to_string(),
                    opt(m.status.raft_term),
                    opt(m.status.raft_index),
                    opt(m.status.raft_applied_index),
                    opt(m.status.revision),
                    m.error.clone().unwrap_or_default(),
                ]
            })
            .collect(),
    }
}
