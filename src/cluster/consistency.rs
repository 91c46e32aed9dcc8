//! Do the members still hold the same data? etcd only says so itself when
//! its corruption checks are turned on (and then as a CORRUPT alarm); this
//! asks every member for `HashKV` at one common revision, the way
//! `etcdctl endpoint hashkv --cluster` would if it picked the revision: the
//! smallest current revision every member has (so no member is asked about
//! its future), above the compacted one. A compaction or a member falling
//! behind between the status read and the hashes is retried at a fresh
//! common revision, at most [`MAX_ATTEMPTS`] times. Each member's raft
//! term, applied and committed index and revision come from the same round,
//! and a second status read against the first one (taken by `inspect`
//! before the metrics window) tells whether each learner is catching up.
//! A member that fails is a row with its error, never a failed run.
//!
//! Two hashes say something only when they cover the same revisions:
//! etcd's own corruption check compares a peer's hash only at the same
//! revision and compacted revision (server/etcdserver/corrupt.go,
//! "same compact revision then hashes must match"), and 3.6's HashKV names
//! the revision it hashed (hash_revision). Members whose compacted
//! revision (or hash revision) differs from the most common one, after the
//! retries, are listed as not compared instead of differing.

use std::sync::Arc;

use super::conn::ConnPlan;
use super::dial::request;
use super::error::RequestError;
use super::model::ClusterReport;
use super::session::{each, open_sessions, status_row, Session};
pub use super::views::{Consistency, LearnerProgress, MemberHash};
use super::views::{EndpointStatus, Member};

/// Rounds of status-then-hash before giving up on a common revision.
pub const MAX_ATTEMPTS: u32 = 3;

/// Hashes every member `first` asked (its endpoints after `--cluster`
/// expansion), naming them from its member list, and compares the learners'
/// progress with its status rows.
pub async fn check(plan: &ConnPlan, first: &ClusterReport) -> Consistency {
    let plan = Arc::new(plan.clone());
    let mut sessions = Vec::new();
    let mut targets = Vec::new();
    for endpoint in &first.connection.endpoints {
        match plan.target(endpoint) {
            Ok(t) => targets.push(t),
            Err(e) => sessions.push(Session::bad_endpoint(endpoint.clone(), &e)),
        }
    }
    sessions.extend(open_sessions(&plan, targets).await);
    let mut attempts = 0;
    loop {
        attempts += 1;
        let status = each(sessions.clone(), |s| status_row(plan.clone(), s)).await;
        let revision = common_revision(&status);
        let hashes = match revision {
            Some(rev) => each(sessions.clone(), |s| hash_at(plan.clone(), s, rev)).await,
            None => vec![Err(RequestError::NoRevision); status.len()],
        };
        let retry = hashes
            .iter()
            .any(|h| h.as_ref().is_err_and(|e| moved(&e.to_string())))
            || !same_range(&hashes);
        if !retry || attempts >= MAX_ATTEMPTS {
            let rows = rows(status, hashes, &first.members);
            return assemble(revision, attempts, rows, &first.endpoints);
        }
    }
}

/// The smallest current revision among the members that reported one.
pub fn common_revision(status: &[EndpointStatus]) -> Option<u64> {
    status
        .iter()
        .filter_map(|s| s.revision)
        .filter(|&r| r > 0)
        .min()
}

/// True for the HashKV errors a fresh common revision cures.
fn moved(error: &str) -> bool {
    error.contains("compacted") || error.contains("future revision")
}

/// One member's HashKV answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Hashed {
    hash: u32,
    compact_revision: i64,
    /// None before etcd 3.6 (the field reads 0).
    hash_revision: Option<i64>,
}

impl Hashed {
    /// What two hashes must share to be compared.
    fn range(&self) -> (i64, Option<i64>) {
        (self.compact_revision, self.hash_revision)
    }
}

/// True when every member hashed covers the same revisions (a compaction
/// applied between two members' hashes makes them differ: retry).
fn same_range(hashes: &[Result<Hashed, RequestError>]) -> bool {
    let mut ranges = hashes.iter().flatten().map(Hashed::range);
    let first = ranges.next();
    ranges.all(|r| Some(r) == first)
}

/// HashKV of one member at `revision`.
async fn hash_at(plan: Arc<ConnPlan>, s: Session, revision: u64) -> Result<Hashed, RequestError> {
    let (target, mut client) = s.conn?;
    let rev = i64::try_from(revision).map_err(|_| RequestError::Revision(revision))?;
    let resp = request(&plan, &target, client.hash_kv(rev)).await?;
    Ok(Hashed {
        hash: resp.hash(),
        compact_revision: resp.compact_version(),
        hash_revision: Some(resp.hash_revision()).filter(|&r| r > 0),
    })
}

fn rows(
    status: Vec<EndpointStatus>,
    hashes: Vec<Result<Hashed, RequestError>>,
    members: &[Member],
) -> Vec<MemberHash> {
    status
        .into_iter()
        .zip(hashes)
        .map(|(status, hash)| {
            let name = members
                .iter()
                .find(|m| Some(&m.id) == status.id.as_ref())
                .map(|m| m.name.clone())
                .unwrap_or_default();
            let error = match (&hash, status.errors.first()) {
                (Ok(_), _) => None,
                (Err(_), Some(status_error)) if status.id.is_none() => Some(status_error.clone()),
                (Err(e), _) => Some(e.to_string()),
            };
            let hash = hash.ok();
            MemberHash {
                status,
                name,
                hash: hash.map(|h| h.hash),
                compact_revision: hash.map(|h| h.compact_revision),
                hash_revision: hash.and_then(|h| h.hash_revision),
                error,
            }
        })
        .collect()
}

/// The value most items share (the first of equals); None when empty.
fn most_common<T: PartialEq + Copy>(items: &[T]) -> Option<T> {
    let mut best: Option<(T, usize)> = None;
    for &item in items {
        let n = items.iter().filter(|&&o| o == item).count();
        if best.is_none_or(|(_, b)| n > b) {
            best = Some((item, n));
        }
    }
    best.map(|(item, _)| item)
}

/// The hash more than half of the hashed members agree on.
pub fn majority(hashes: &[u32]) -> Option<u32> {
    let mut counts: Vec<(u32, usize)> = Vec::new();
    for &h in hashes {
        match counts.iter_mut().find(|(v, _)| *v == h) {
            Some((_, n)) => *n += 1,
            None => counts.push((h, 1)),
        }
    }
    counts
        .into_iter()
        .find(|&(_, n)| n * 2 > hashes.len())
        .map(|(h, _)| h)
}

fn assemble(
    revision: Option<u64>,
    attempts: u32,
    members: Vec<MemberHash>,
    first: &[EndpointStatus],
) -> Consistency {
    let range = |m: &MemberHash| (m.compact_revision, m.hash_revision);
    let ranges: Vec<_> = members
        .iter()
        .filter(|m| m.hash.is_some())
        .map(range)
        .collect();
    let common = most_common(&ranges);
    let compared = |m: &&MemberHash| m.hash.is_some() && Some(range(m)) == common;
    let hashes: Vec<u32> = members
        .iter()
        .filter(compared)
        .filter_map(|m| m.hash)
        .collect();
    let reference_hash = if hashes.len() >= 2 {
        majority(&hashes)
    } else {
        None
    };
    let distinct = hashes.iter().any(|&h| h != hashes[0]);
    let differing = members
        .iter()
        .filter(compared)
        .filter(|m| match (m.hash, reference_hash) {
            (Some(h), Some(r)) => h != r,
            (Some(_), None) => distinct,
            (None, _) => false,
        })
        .map(|m| m.who().to_string())
        .collect();
    let not_compared = members
        .iter()
        .filter(|m| m.hash.is_some() && !compared(m))
        .map(|m| m.who().to_string())
        .collect();
    let second: Vec<EndpointStatus> = members.iter().map(|m| m.status.clone()).collect();
    Consistency {
        revision,
        attempts,
        reference_hash,
        differing,
        not_compared,
        learners: learner_progress(first, &second),
        members,
    }
}

/// The leader's applied index minus `s`'s, from the rows of one read.
fn gap(rows: &[EndpointStatus], member_id: &str) -> Option<(u64, u64, u64)> {
    let leader = rows.iter().find(|r| r.is_leader == Some(true))?;
    let row = rows.iter().find(|r| r.id.as_deref() == Some(member_id))?;
    let (leader_applied, applied) = (leader.raft_applied_index?, row.raft_applied_index?);
    Some((
        leader_applied.saturating_sub(applied),
        applied,
        leader_applied,
    ))
}

/// Every learner that answered both status reads, with its gap at each.
pub fn learner_progress(
    first: &[EndpointStatus],
    second: &[EndpointStatus],
) -> Vec<LearnerProgress> {
    second
        .iter()
        .filter(|s| s.is_learner == Some(true))
        .filter_map(|s| {
            let id = s.id.as_deref()?;
            let (first_gap, _, _) = gap(first, id)?;
            let (second_gap, applied, leader_applied) = gap(second, id)?;
            Some(LearnerProgress {
                endpoint: s.endpoint.clone(),
                member_id: id.into(),
                first_gap_entries: first_gap,
                second_gap_entries: second_gap,
                applied_index: applied,
                leader_applied_index: leader_applied,
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str, leader: bool, learner: bool, applied: u64) -> EndpointStatus {
        EndpointStatus {
            endpoint: format!("http://{id}:2379"),
            id: Some(id.into()),
            is_leader: Some(leader),
            is_learner: Some(learner),
            raft_applied_index: Some(applied),
            revision: Some(applied / 2),
            ..EndpointStatus::default()
        }
    }

    fn hashed(id: &str, hash: Option<u32>) -> MemberHash {
        MemberHash {
            status: row(id, id == "a", false, 100),
            hash,
            error: hash.is_none().then(|| "connection refused".into()),
            ..MemberHash::default()
        }
    }

    #[test]
    fn the_majority_hash_is_the_reference_and_the_outlier_is_named() {
        let members = vec![
            hashed("a", Some(7)),
            hashed("b", Some(9)),
            hashed("c", Some(7)),
        ];
        let c = assemble(Some(50), 1, members, &[]);
        assert_eq!(c.reference_hash, Some(7));
        assert_eq!(c.differing, vec!["b".to_string()]);
        assert!(!c.consistent());
    }

    #[test]
    fn a_failed_member_is_a_row_not_a_difference() {
        let members = vec![
            hashed("a", Some(7)),
            hashed("b", None),
            hashed("c", Some(7)),
        ];
        let c = assemble(Some(50), 1, members, &[]);
        assert!(c.consistent(), "{c:?}");
        assert_eq!(c.members[1].error.as_deref(), Some("connection refused"));
    }

    #[test]
    fn without_a_majority_every_hashed_member_differs() {
        let members = vec![hashed("a", Some(1)), hashed("b", Some(2))];
        let c = assemble(Some(50), 1, members, &[]);
        assert_eq!(c.reference_hash, None);
        assert_eq!(c.differing.len(), 2);
        let one = assemble(Some(50), 1, vec![hashed("a", Some(1))], &[]);
        assert!(!one.consistent() && one.differing.is_empty());
    }

    #[test]
    fn hashes_over_other_revisions_are_not_compared() {
        let mut members = vec![
            hashed("a", Some(7)),
            hashed("b", Some(9)),
            hashed("c", Some(7)),
        ];
        for m in &mut members {
            m.compact_revision = Some(10);
            m.hash_revision = Some(50);
        }
        // b hashed after a compaction the others had not applied yet.
        members[1].compact_revision = Some(40);
        let c = assemble(Some(50), 3, members.clone(), &[]);
        assert!(c.consistent(), "{c:?}");
        assert_eq!(c.not_compared, vec!["b".to_string()]);
        // Same range, different hash: a real difference.
        members[1].compact_revision = Some(10);
        let c = assemble(Some(50), 1, members, &[]);
        assert_eq!(c.differing, vec!["b".to_string()]);
        assert!(c.not_compared.is_empty());
    }

    #[test]
    fn a_compaction_between_hashes_asks_for_another_round() {
        let h = |compact| {
            Ok(Hashed {
                hash: 1,
                compact_revision: compact,
                hash_revision: Some(50),
            })
        };
        assert!(same_range(&[h(10), h(10), Err(RequestError::NoRevision)]));
        assert!(!same_range(&[h(10), h(40)]));
        assert!(same_range(&[]));
        assert_eq!(most_common(&[1, 2, 2, 3]), Some(2));
        assert_eq!(most_common::<u8>(&[]), None);
    }

    #[test]
    fn the_common_revision_is_the_smallest_reported() {
        let rows = vec![row("a", true, false, 300), row("b", false, false, 200)];
        assert_eq!(common_revision(&rows), Some(100));
        assert_eq!(common_revision(&[]), None);
        assert!(moved(
            "etcdserver: mvcc: required revision has been compacted"
        ));
        assert!(moved("mvcc: required revision is a future revision"));
        assert!(!moved("connection refused"));
    }

    #[test]
    fn learner_gaps_come_from_both_reads() {
        let first = vec![row("a", true, false, 1000), row("l", false, true, 100)];
        let second = vec![row("a", true, false, 1500), row("l", false, true, 150)];
        let p = learner_progress(&first, &second);
        assert_eq!(p.len(), 1);
        assert_eq!(
            (p[0].first_gap_entries, p[0].second_gap_entries),
            (900, 1350)
        );
        assert_eq!(p[0].applied_index, 150);
        assert!(learner_progress(&[], &second).is_empty());
    }
}
