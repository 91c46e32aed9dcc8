//! `cluster keyspace`: the live keys per group, counted so that a busy
//! cluster does not notice. Every request is a serializable range (served
//! by the member it reaches, no raft round) that returns keys only or a
//! count only, at most `max_rps` per second. The walk finds the first key
//! of the next group with a small keys-only page, counts a whole group with
//! one count-only request when the grouping says every key under it
//! belongs to it, and jumps past it. History (older revisions, tombstones)
//! is not visible this way: `snapshot analyze` reads it offline.

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context, Result};
use etcd_client::{Client, GetOptions};
use tokio::time::{Instant, MissedTickBehavior};

use super::{
    bounded_group, finish_prefixes, prefix_end, Grouping, KeyspaceReport, PrefixStats, Source,
    OUTSIDE,
};

/// Keys per keys-only page.
pub const PAGE_KEYS: i64 = 100;
/// Default most requests per second.
pub const DEFAULT_MAX_RPS: f64 = 50.0;

/// How the live count runs.
#[derive(Debug, Clone, PartialEq)]
pub struct LivePlan {
    /// How keys are grouped.
    pub grouping: Grouping,
    /// Most range requests per second.
    pub max_rps: f64,
}

impl Default for LivePlan {
    /// Kubernetes grouping, [`DEFAULT_MAX_RPS`].
    fn default() -> Self {
        LivePlan {
            grouping: Grouping::default(),
            max_rps: DEFAULT_MAX_RPS,
        }
    }
}

/// Paces requests to at most `max_rps` per second and counts them.
struct Pacer {
    interval: tokio::time::Interval,
    requests: u64,
}

impl Pacer {
    fn new(max_rps: f64) -> Pacer {
        let mut interval =
            tokio::time::interval_at(Instant::now(), Duration::from_secs_f64(1.0 / max_rps));
        interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
        Pacer {
            interval,
            requests: 0,
        }
    }

    /// A serializable range `[key, end)` with `options`, once the pace allows.
    async fn get(
        &mut self,
        client: &mut Client,
        key: &[u8],
        end: &[u8],
        options: GetOptions,
    ) -> Result<etcd_client::GetResponse> {
        self.interval.tick().await;
        self.requests += 1;
        client
            .get(key, Some(options.with_range(end).with_serializable()))
            .await
            .with_context(|| format!("range request from {:?}", String::from_utf8_lossy(key)))
    }

    async fn count(&mut self, client: &mut Client, key: &[u8], end: &[u8]) -> Result<u64> {
        let r = self
            .get(client, key, end, GetOptions::new().with_count_only())
            .await?;
        Ok(r.count().max(0) as u64)
    }
}

/// True when every key under `group` has `group` as its group: it ends in
/// `/` after `depth` segments.
fn is_full(grouping: &Grouping, group: &[u8]) -> bool {
    group.ends_with(b"/")
        && group[grouping.prefix.len().min(group.len())..]
            .iter()
            .filter(|&&b| b == b'/')
            .count()
            == grouping.depth
}

/// Counts the live keys per group on the member `client` reaches.
pub async fn count(client: &mut Client, origin: &str, plan: &LivePlan) -> Result<KeyspaceReport> {
    let g = &plan.grouping;
    let mut pacer = Pacer::new(plan.max_rps);
    let mut groups: BTreeMap<Vec<u8>, u64> = BTreeMap::new();
    // etcd refuses an empty key; "\0" is the first key there is.
    let mut cursor = match g.prefix.as_bytes() {
        [] => vec![0],
        p => p.to_vec(),
    };
    let end = prefix_end(g.prefix.as_bytes());
    'walk: loop {
        let page = pacer
            .get(
                client,
                &cursor,
                &end,
                GetOptions::new().with_keys_only().with_limit(PAGE_KEYS),
            )
            .await?;
        if page.kvs().is_empty() {
            break;
        }
        for kv in page.kvs() {
            let group = g.group(kv.key()).unwrap_or(kv.key());
            let name = bounded_group(group, groups.contains_key(group), groups.len());
            if is_full(g, group) {
                let group_end = prefix_end(group);
                let n = pacer.count(client, group, &group_end).await?;
                *groups.entry(name.to_vec()).or_default() += n;
                cursor = group_end;
                continue 'walk;
            }
            *groups.entry(name.to_vec()).or_default() += 1;
            cursor = [kv.key(), &[0u8][..]].concat();
        }
        if !page.more() {
            break;
        }
    }
    let inside: u64 = groups.values().sum();
    let all = pacer.count(client, b"\0", b"\0").await?;
    let outside = all.saturating_sub(inside);
    let mut prefixes: Vec<PrefixStats> = groups
        .into_iter()
        .map(|(name, n)| (String::from_utf8_lossy(&name).into_owned(), n))
        .chain((outside > 0).then(|| (OUTSIDE.to_string(), outside)))
        .map(|(prefix, live_keys)| PrefixStats {
            prefix,
            live_keys,
            ..PrefixStats::default()
        })
        .collect();
    finish_prefixes(&mut prefixes, all, |p| p.live_keys);
    Ok(KeyspaceReport {
        source: Source::Live,
        origin: origin.to_string(),
        grouping: g.clone(),
        prefixes,
        live_keys: all,
        total_revisions: 0,
        key_bucket_bytes: 0,
        top_by_revisions: Vec::new(),
        top_by_value_size: Vec::new(),
        leases: None,
        meta: None,
        pages: None,
        requests: pacer.requests,
        key_limit: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_groups_cut_at_full_depth_are_counted_whole() {
        let g = Grouping::default();
        assert!(is_full(&g, b"/registry/pods/default/"));
        assert!(!is_full(&g, b"/registry/nodes/"));
        assert!(!is_full(&g, b"/registry/health"));
    }
}
