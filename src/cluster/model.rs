//! Facts read from a live cluster (JSON contract, schema 1). An endpoint that
//! cannot be reached is a row with its error, like etcdctl's ERRORS column.

use serde::{Deserialize, Serialize};

pub use super::facts::ClusterFacts;
pub use super::views::*;

/// Everything the inspector read from the cluster. Sections a command did
/// not read stay empty.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ClusterReport {
    /// How the cluster was reached: endpoints asked and TLS files, so that
    /// recommended etcdctl commands carry the same flags.
    #[serde(default)]
    pub connection: Connection,
    /// `endpoint status`, one row per endpoint asked.
    #[serde(default)]
    pub endpoints: Vec<EndpointStatus>,
    /// `member list`.
    #[serde(default)]
    pub members: Vec<Member>,
    /// `endpoint health`, one row per endpoint asked.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub health: Vec<EndpointHealth>,
    /// Active alarms.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub alarms: Vec<Alarm>,
    /// Metrics scraped from each member's /metrics.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub metrics: Vec<MemberMetrics>,
    /// Whether any member answered any request; false means the tool could
    /// not run (exit 2).
    #[serde(default)]
    pub answered: bool,
    /// Failures of cluster-wide reads (member list, alarm list).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<String>,
    /// What follows from the sections above (lag, fragmentation, stale
    /// members): the input of the cluster rules.
    #[serde(default)]
    pub facts: ClusterFacts,
    /// Whether the members hold the same data: every member's HashKV at one
    /// revision, read after the sections above (`cluster consistency`, `diagnose`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub consistency: Option<Consistency>,
}

impl ClusterReport {
    /// Every error met, one line per target, for the message of a run where
    /// no member answered.
    pub fn all_errors(&self) -> Vec<String> {
        let status = self
            .endpoints
            .iter()
            .filter(|e| !e.errors.is_empty())
            .map(|e| format!("{}: {}", e.endpoint, e.errors.join(", ")));
        let health = self
            .health
            .iter()
            .filter_map(|h| h.error.as_ref().map(|e| format!("{}: {e}", h.endpoint)));
        let metrics = self
            .metrics
            .iter()
            .filter_map(|m| m.error.as_ref().map(|e| format!("{}: {e}", m.url)));
        let mut all: Vec<String> = status.chain(health).chain(metrics).collect();
        for e in &self.errors {
            // "member list: EP: error" adds nothing when EP's row says it.
            let tail = e.split_once(": ").map_or(e.as_str(), |(_, t)| t);
            if !all.iter().any(|a| a == tail) {
                all.push(e.clone());
            }
        }
        all
    }
}

impl ClusterReport {
    /// Whether `endpoint` serves: its linearizable health read answered, or
    /// its `endpoint status` did. A member behind a congested link can time
    /// out on the read (it waits for the leader's read index) and still
    /// answer status: it is slow, not down.
    pub fn serves(&self, endpoint: &str) -> bool {
        let same = |e: &str| super::facts::same_endpoint(e, endpoint);
        self.health.iter().any(|h| h.answered && same(&h.endpoint))
            || self
                .endpoints
                .iter()
                .any(|s| (s.id.is_some() || s.permission_denied) && same(&s.endpoint))
    }

    /// How findings name member `id` (hex), as operators know it: its name,
    /// its id and the host of its peer URL (else its client URL), e.g.
    /// `m3 (a372f26f9d8c9749) on 10.0.0.3`. An id the member list does not
    /// hold is named by itself; no id at all, by `fallback` (an endpoint).
    pub fn member_label(&self, id: Option<&str>, fallback: &str) -> String {
        let Some(id) = id else {
            return fallback.to_string();
        };
        let Some(m) = self.members.iter().find(|m| m.id.same(id)) else {
            return id.to_string();
        };
        let host = m
            .peer_urls
            .iter()
            .chain(&m.client_urls)
            .next()
            .map(|u| url_host(u));
        member_label(&m.name, id, host)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::member::MemberId;

    #[test]
    fn members_are_named_by_name_id_and_host() {
        let report = ClusterReport {
            members: vec![
                Member {
                    id: "a372f26f9d8c9749".into(),
                    name: "m3".into(),
                    peer_urls: vec!["https://10.0.0.3:2380".into()],
                    client_urls: vec!["https://10.0.0.3:2379".into()],
                    ..Member::default()
                },
                Member {
                    id: "0b1".into(),
                    peer_urls: vec!["http://[fd00::7]:2380/".into()],
                    ..Member::default()
                },
            ],
            ..ClusterReport::default()
        };
        let label = |id| report.member_label(id, "http://10.0.0.9:2379");
        assert_eq!(
            label(Some("a372f26f9d8c9749")),
            "m3 (a372f26f9d8c9749) on 10.0.0.3"
        );
        // Unstarted: no name; ids compare as numbers.
        assert_eq!(label(Some("b1")), "b1 on fd00::7");
        assert_eq!(label(Some("ffff")), "ffff");
        assert_eq!(label(None), "http://10.0.0.9:2379");
        assert_eq!(url_host("10.0.0.3:2380"), "10.0.0.3");
        assert_eq!(member_label("m1", "ab", None), "m1 (ab)");
    }

    #[test]
    fn a_member_whose_read_timed_out_but_whose_status_answered_serves() {
        let health = |endpoint: &str, answered| EndpointHealth {
            endpoint: endpoint.into(),
            answered,
            error: (!answered).then(|| "no answer within the command timeout (5s)".into()),
            ..EndpointHealth::default()
        };
        let status = |endpoint: &str, id: Option<&str>| EndpointStatus {
            endpoint: endpoint.into(),
            id: id.map(MemberId::from),
            ..EndpointStatus::default()
        };
        let report = ClusterReport {
            health: vec![
                health("http://10.0.0.1:2379", true),
                health("http://10.0.0.2:2379", false),
                health("http://10.0.0.3:2379", false),
            ],
            endpoints: vec![
                status("10.0.0.2:2379/", Some("b2")),
                status("http://10.0.0.3:2379", None),
            ],
            ..ClusterReport::default()
        };
        assert!(report.serves("http://10.0.0.1:2379"));
        // Slow: the read timed out, status answered.
        assert!(report.serves("http://10.0.0.2:2379"));
        // Down: neither answered; never asked: not known to serve.
        assert!(!report.serves("http://10.0.0.3:2379"));
        assert!(!report.serves("http://10.0.0.4:2379"));
    }
}
