//! Keyspace rules: what fills the database and why it grows. Pure
//! functions over a [`KeyspaceReport`] (offline from `snapshot analyze`,
//! or live from `cluster keyspace`, which sees live keys only): one
//! resource holding most of the database, history compaction not keeping
//! up, one key rewritten thousands of times, values near etcd's request
//! size limit. Each fix names the Kubernetes or etcd flag that helps.

use serde::{Deserialize, Serialize};

use super::bounds::{levels, positive, BadKey};
use super::cluster::evidence;
use crate::findings::emit::Emit;
use crate::findings::registry::ids;
use crate::findings::{Draft, Finding, Severity, Unit};
use crate::keyspace::{KeyspaceReport, PrefixStats, Source, OUTSIDE};
use crate::measure::MIB;
use crate::rules::by;

/// Builds the ids of this file's findings: all are `run::keyspace`'s.
const EMIT: Emit<by::keyspace> = Emit::new();

/// Keyspace thresholds of a profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct KeyspaceThresholds {
    /// Share of the database (bytes offline, keys live) one resource may
    /// hold before it is a hotspot, percent.
    pub hotspot_share_warn_pct: f64,
    /// Live keys below which the keyspace is too small to judge shares.
    pub hotspot_min_live_keys: u64,
    /// Uncompacted history bytes per live byte from which history is unbounded.
    pub history_to_live_warn_ratio: f64,
    /// History bytes below which history is not judged.
    pub history_min_bytes: u64,
    /// Revisions of one key from which it churns.
    pub key_revisions_warn: u64,
    /// etcd's `--max-request-bytes`, bytes.
    pub max_request_bytes: u64,
    /// Value size / max request bytes from which a value is large (warn).
    pub large_value_warn_ratio: f64,
    /// Value size / max request bytes from which a value is large (fail).
    pub large_value_fail_ratio: f64,
}

impl Default for KeyspaceThresholds {
    /// The numbers of `profiles/etcd-default.toml`.
    fn default() -> Self {
        KeyspaceThresholds {
            hotspot_share_warn_pct: 50.0,
            hotspot_min_live_keys: 100,
            history_to_live_warn_ratio: 10.0,
            history_min_bytes: 1 << 20,
            key_revisions_warn: 1000,
            max_request_bytes: 1_572_864,
            large_value_warn_ratio: 0.5,
            large_value_fail_ratio: 0.9,
        }
    }
}

impl KeyspaceThresholds {
    /// Checks the values (positive, warn not above fail).
    pub fn validate(&self) -> Result<(), BadKey> {
        const S: &str = "keyspace";
        positive(S, "hotspot_share_warn_pct", self.hotspot_share_warn_pct)?;
        positive(
            S,
            "history_to_live_warn_ratio",
            self.history_to_live_warn_ratio,
        )?;
        positive(S, "key_revisions_warn", self.key_revisions_warn as f64)?;
        positive(S, "max_request_bytes", self.max_request_bytes as f64)?;
        levels(
            S,
            ("large_value_warn_ratio", self.large_value_warn_ratio),
            ("large_value_fail_ratio", self.large_value_fail_ratio),
        )
    }
}

/// Runs every keyspace rule.
pub fn evaluate(k: &KeyspaceReport, t: &KeyspaceThresholds) -> Vec<Finding> {
    let mut out = Vec::new();
    out.extend(hotspot(k, t));
    out.extend(history_unbounded(k, t));
    out.extend(key_churn(k, t));
    out.extend(large_values(k, t));
    out
}

/// What a group is measured by: bytes offline, keys live.
fn weight(k: &KeyspaceReport, p: &PrefixStats) -> u64 {
    match k.source {
        Source::Snapshot => p.total_bytes,
        Source::Live => p.live_keys,
    }
}

/// The groups rolled up to one per resource (depth 1): name and weight.
fn resources(k: &KeyspaceReport) -> Vec<(String, u64)> {
    let mut out: Vec<(String, u64)> = Vec::new();
    for p in &k.prefixes {
        let top = match p.prefix.as_str() {
            OUTSIDE => p.prefix.clone(),
            name => String::from_utf8_lossy(k.grouping.top(name.as_bytes())).into_owned(),
        };
        match out.iter_mut().find(|(n, _)| *n == top) {
            Some((_, w)) => *w += weight(k, p),
            None => out.push((top, weight(k, p))),
        }
    }
    out
}

/// The usual fix for a resource that fills the database.
fn hotspot_fix(resource: &str) -> (String, Vec<String>) {
    if resource.contains("/events/") {
        return (
            "Kubernetes events fill the database. Shorten their life with kube-apiserver \
             --event-ttl (default 1h), find the component emitting them, and on large clusters \
             move events to an etcd of their own with kube-apiserver \
             --etcd-servers-overrides=/events#https://etcd-events:2379."
                .to_string(),
            vec![
                "kube-apiserver ... --event-ttl=30m".to_string(),
                "kube-apiserver ... --etcd-servers-overrides=/events#https://etcd-events-0:2379"
                    .to_string(),
            ],
        );
    }
    (
        format!(
            "One resource holds most of the database: find who creates or rewrites {resource} \
             objects (a runaway controller, a CI job that never cleans up), delete what is not \
             needed, and cap it with a ResourceQuota (count/<resource>); compaction and defrag \
             then return the space."
        ),
        vec![format!(
            "etcdctl get --prefix {resource} --keys-only | head"
        )],
    )
}

fn hotspot(k: &KeyspaceReport, t: &KeyspaceThresholds) -> Option<Finding> {
    if k.live_keys < t.hotspot_min_live_keys {
        return None;
    }
    let total: u64 = k.prefixes.iter().map(|p| weight(k, p)).sum();
    let (name, w) = resources(k).into_iter().max_by_key(|(_, w)| *w)?;
    let share = w as f64 * 100.0 / total.max(1) as f64;
    if share < t.hotspot_share_warn_pct || name == OUTSIDE {
        return None;
    }
    let what = match k.source {
        Source::Snapshot => "of the `key` bucket's bytes",
        Source::Live => "of the live keys",
    };
    let (recommendation, commands) = hotspot_fix(&name);
    Some(EMIT.finding(
        ids::ClusterKeyspaceHotspot,
        Draft {
            severity: Severity::Warn,
            summary: format!("{name} holds {share:.0} % {what}"),
            evidence: vec![evidence(
                format!("share of {name}"),
                share,
                t.hotspot_share_warn_pct,
                Unit::Percent,
            )],
            recommendation,
            commands,
        },
    ))
}

fn history_unbounded(k: &KeyspaceReport, t: &KeyspaceThresholds) -> Option<Finding> {
    if k.source == Source::Live {
        return None;
    }
    let history: u64 = k.prefixes.iter().map(|p| p.history_bytes).sum();
    let live = k.key_bucket_bytes.saturating_sub(history);
    let ratio = history as f64 / live.max(1) as f64;
    if history < t.history_min_bytes || ratio < t.history_to_live_warn_ratio {
        return None;
    }
    let meta = k.meta.clone().unwrap_or_default();
    let never = if meta.compact_revision == 0 {
        " and the database was never compacted"
    } else {
        ""
    };
    Some(EMIT.finding(ids::ClusterHistoryUnbounded, Draft {
        severity: Severity::Warn,
        summary: format!(
            "uncompacted history takes {:.1} MiB, {ratio:.0}x the live data ({} revisions kept{never})",
            history as f64 / MIB as f64,
            meta.history_kept_revisions
        ),
        evidence: vec![evidence(
            "history bytes / live bytes",
            ratio,
            t.history_to_live_warn_ratio,
            Unit::Times,
        )],
        recommendation: "Compaction is not keeping up: etcd keeps every revision until it is \
                         compacted. Kubernetes compacts every 5 minutes (kube-apiserver \
                         --etcd-compaction-interval); outside Kubernetes run etcd with \
                         --auto-compaction-mode=periodic --auto-compaction-retention=1h, or \
                         compact by hand, then defragment to return the space."
            .to_string(),
        commands: vec![
            format!("etcdctl compaction {}", meta.current_revision),
            "etcdctl defrag --cluster".to_string(),
        ],
    }))
}

fn key_churn(k: &KeyspaceReport, t: &KeyspaceThresholds) -> Option<Finding> {
    let hot: Vec<_> = k
        .top_by_revisions
        .iter()
        .filter(|s| s.revisions >= t.key_revisions_warn)
        .collect();
    let worst = hot.first()?;
    Some(
        EMIT.finding(
            ids::ClusterKeyChurn,
            Draft {
                severity: Severity::Warn,
                summary: format!(
                    "{} has {} revisions in the database{}",
                    worst.key,
                    worst.revisions,
                    match hot.len() {
                        1 => String::new(),
                        n => format!(" ({} keys over {})", n, t.key_revisions_warn),
                    }
                ),
                evidence: vec![evidence(
                    format!("revisions of {}", worst.key),
                    worst.revisions as f64,
                    t.key_revisions_warn as f64,
                    Unit::Revisions,
                )],
                recommendation: "One object is rewritten over and over: usually two controllers \
                         fighting over it, or a status written on every resync. Find the writer \
                         (kube-apiserver audit log, the object's managedFields) and fix it; each \
                         rewrite keeps a full copy until compaction."
                    .to_string(),
                commands: vec![format!("etcdctl get {} -w json | head -c 400", worst.key)],
            },
        ),
    )
}

fn large_values(k: &KeyspaceReport, t: &KeyspaceThresholds) -> Option<Finding> {
    let largest = k.top_by_value_size.first()?;
    let ratio = largest.value_bytes as f64 / t.max_request_bytes as f64;
    let severity = if ratio >= t.large_value_fail_ratio {
        Severity::Fail
    } else if ratio >= t.large_value_warn_ratio {
        Severity::Warn
    } else {
        return None;
    };
    Some(
        EMIT.finding(
            ids::ClusterLargeValues,
            Draft {
                severity,
                summary: format!(
                    "{} holds a {:.2} MiB value, {:.0} % of etcd's {:.1} MiB request limit",
                    largest.key,
                    largest.value_bytes as f64 / MIB as f64,
                    ratio * 100.0,
                    t.max_request_bytes as f64 / MIB as f64
                ),
                evidence: vec![evidence(
                    "largest value / --max-request-bytes",
                    ratio * 100.0,
                    t.large_value_warn_ratio * 100.0,
                    Unit::Percent,
                )],
                recommendation:
                    "A value near etcd's --max-request-bytes (1.5 MiB by default) will soon \
                         fail to be written, and every large value slows snapshots and watches. \
                         Split the object (large ConfigMaps, Secrets, CRDs with embedded data) or \
                         keep the data outside etcd."
                        .to_string(),
                commands: Vec::new(),
            },
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::findings::FindingId;
    use crate::keyspace::{Grouping, KeyStat, MetaStats};

    fn group(prefix: &str, live_keys: u64, total_bytes: u64, history_bytes: u64) -> PrefixStats {
        PrefixStats {
            prefix: prefix.to_string(),
            live_keys,
            total_bytes,
            history_bytes,
            ..PrefixStats::default()
        }
    }

    fn key(name: &str, revisions: u64, value_bytes: u64) -> KeyStat {
        KeyStat {
            key: name.to_string(),
            revisions,
            value_bytes,
            version: revisions as i64,
            deleted: false,
        }
    }

    fn report(source: Source, prefixes: Vec<PrefixStats>, top: Vec<KeyStat>) -> KeyspaceReport {
        KeyspaceReport {
            source,
            origin: "t".into(),
            grouping: Grouping::default(),
            live_keys: prefixes.iter().map(|p| p.live_keys).sum(),
            key_bucket_bytes: prefixes.iter().map(|p| p.total_bytes).sum(),
            total_revisions: 0,
            top_by_value_size: top.clone(),
            top_by_revisions: top,
            prefixes,
            leases: None,
            meta: Some(MetaStats::default()),
            pages: None,
            requests: 0,
            key_limit: None,
        }
    }

    fn ids(k: &KeyspaceReport) -> Vec<(FindingId, Severity)> {
        evaluate(k, &KeyspaceThresholds::default())
            .into_iter()
            .map(|f| (f.id, f.severity))
            .collect()
    }

    #[test]
    fn namespaces_roll_up_to_their_resource() {
        // Events spread over three namespaces: no group is half, the resource is.
        let k = report(
            Source::Live,
            vec![
                group("/registry/events/a/", 200, 0, 0),
                group("/registry/events/b/", 200, 0, 0),
                group("/registry/events/c/", 200, 0, 0),
                group("/registry/pods/a/", 400, 0, 0),
            ],
            vec![],
        );
        let f = hotspot(&k, &KeyspaceThresholds::default()).unwrap();
        assert!(
            f.summary.starts_with("/registry/events/ holds 60 %"),
            "{}",
            f.summary
        );
        assert!(f.recommendation.contains("--event-ttl"));
    }

    #[test]
    fn a_balanced_small_keyspace_is_quiet() {
        let k = report(
            Source::Snapshot,
            vec![
                group("/registry/pods/a/", 100, 300_000, 1000),
                group("/registry/configmaps/a/", 100, 300_000, 1000),
                group("/registry/events/a/", 100, 300_000, 1000),
            ],
            vec![key("/registry/pods/a/p", 3, 1000)],
        );
        assert_eq!(ids(&k), vec![]);
        // Under the minimum of live keys, one resource may hold everything.
        let tiny = report(
            Source::Live,
            vec![group("/registry/pods/a/", 5, 0, 0)],
            vec![],
        );
        assert_eq!(ids(&tiny), vec![]);
    }

    #[test]
    fn history_churn_and_large_values_fire_at_their_levels() {
        let k = report(
            Source::Snapshot,
            vec![
                group("/registry/leases/k/", 1, 30_000_000, 29_000_000),
                group("/registry/pods/a/", 500, 30_000_000, 0),
            ],
            vec![key("/registry/leases/k/l", 5000, 900_000)],
        );
        let found = ids(&k);
        assert!(found.contains(&(FindingId::ClusterKeyChurn, Severity::Warn)));
        assert!(found.contains(&(FindingId::ClusterLargeValues, Severity::Warn)));
        assert!(!found
            .iter()
            .any(|(id, _)| *id == FindingId::ClusterHistoryUnbounded));
        let heavy = report(
            Source::Snapshot,
            vec![group("/registry/pods/a/", 500, 30_000_000, 29_000_000)],
            vec![key("/registry/pods/a/p", 2, 1_500_000)],
        );
        let found = ids(&heavy);
        assert!(found.contains(&(FindingId::ClusterHistoryUnbounded, Severity::Warn)));
        assert!(found.contains(&(FindingId::ClusterLargeValues, Severity::Fail)));
    }

    #[test]
    fn live_counts_judge_only_the_hotspot() {
        let k = report(
            Source::Live,
            vec![group("/registry/pods/a/", 10, 0, 0)],
            vec![],
        );
        assert!(ids(&k).is_empty());
        assert_eq!(
            crate::rules::registry::checked(&[crate::rules::Fact::Keyspace]),
            vec![FindingId::ClusterKeyspaceHotspot]
        );
    }
}
