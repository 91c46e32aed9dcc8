//! A member down for good, told apart from one merely down. Both are
//! listed and do not answer; only the member's own log says which: raft's
//! `tocommit(N) is out of range [lastIndex(M)]` or `member X has already
//! been bootstrapped` (see [`crate::logs::stale`]) mean its data dir was
//! wiped or replaced, so restarting it crashes again. Such a member is
//! `cluster.stale-member` with the field guide's rejoin runbook (remove,
//! set the data dir aside, add, start with `--initial-cluster-state
//! existing`); a member without such a line stays
//! `cluster.member-unreachable` (start it and read its log).

use crate::cluster::facts::UnreachableMember;
use crate::cluster::model::{member_label, url_host, ClusterReport};
use crate::findings::{Draft, Finding, Severity, Unit};
use crate::logs::time::format_timestamp;
use crate::logs::{EventKind, StaleMemberLog};
use crate::snapshot::plan::shell_safe;

use super::commands::{etcdctl, evidence, rejoin_plan};
use crate::findings::emit::{Emit, Gives};
use crate::findings::registry::ids;
use crate::rules::by;

/// The log proof that unreachable member `m` is stale: by id when the log
/// named one, else by name.
pub(super) fn proof<'a>(
    m: &UnreachableMember,
    logs: &'a [StaleMemberLog],
) -> Option<&'a StaleMemberLog> {
    logs.iter().find(|l| {
        if l.member_id.is_empty() {
            !l.name.is_empty() && l.name == m.name
        } else {
            l.member_id == m.member_id
        }
    })
}

/// `cluster.stale-member` for every unreachable member of `report` whose
/// own log proves its data gone, with commands against members that answer.
pub(super) fn proven_stale(report: &ClusterReport, logs: &[StaleMemberLog]) -> Vec<Finding> {
    report
        .facts
        .unreachable
        .iter()
        .filter_map(|m| {
            let l = proof(m, logs)?;
            let peer_urls = report
                .members
                .iter()
                .find(|listed| listed.id == m.member_id)
                .map(|listed| listed.peer_urls.join(","))
                .unwrap_or_default();
            let who = Who {
                id: &m.member_id,
                name: &m.name,
                peer_urls: &peer_urls,
            };
            let mut f = finding(Emit::<by::cluster>::new(), &who, l, &|args| {
                etcdctl(report, args)
            });
            f.summary = format!(
                "{} at {} does not answer, and {}",
                who.label(),
                m.client_urls.join(","),
                f.summary
            );
            if !m.name.is_empty() {
                f.commands.push(rejoin_plan(report, &m.name));
            }
            Some(f)
        })
        .collect()
}

/// `cluster.stale-member` from the logs alone (`etcd-doctor logs`, no
/// cluster read): plain etcdctl commands, to run against a member that answers.
pub fn from_logs(logs: &[StaleMemberLog]) -> Vec<Finding> {
    logs.iter()
        .map(|l| {
            let id = if l.member_id.is_empty() {
                "ID"
            } else {
                &l.member_id
            };
            let name = if l.name.is_empty() { "NAME" } else { &l.name };
            let who = Who {
                id,
                name,
                peer_urls: "PEER_URL",
            };
            let by_logs = Emit::<by::stale_from_logs>::new();
            let mut f = finding(by_logs, &who, l, &|args| format!("etcdctl {args}"));
            f.summary = format!("{} (in {}): {}", who.label(), l.source, f.summary);
            f
        })
        .collect()
}

/// The member a finding is about.
struct Who<'a> {
    id: &'a str,
    name: &'a str,
    peer_urls: &'a str,
}

impl Who<'_> {
    fn label(&self) -> String {
        let host = self
            .peer_urls
            .split(',')
            .next()
            .filter(|u| u.contains("://"))
            .map(url_host);
        format!("member {}", member_label(self.name, self.id, host))
    }
}

/// The finding for `who`, proven by `l`, built for either rule function
/// that gives it; `ctl` builds an etcdctl command.
fn finding<B: Gives<ids::ClusterStaleMember>>(
    emit: Emit<B>,
    who: &Who<'_>,
    l: &StaleMemberLog,
    ctl: &dyn Fn(&str) -> String,
) -> Finding {
    let dir = Some(l.data_dir.as_str())
        .filter(|d| shell_safe("--data-dir", d).is_ok())
        .unwrap_or("DATA_DIR");
    let (what, mut ev) = match l.cause {
        EventKind::AlreadyBootstrapped => (
            "was started with an empty data dir and --initial-cluster-state new, which etcd \
             refuses for a member already in the cluster",
            Vec::new(),
        ),
        _ => (
            "lost its raft log: its data dir was wiped or replaced by an older copy while it \
             stayed listed, and raft panics at the leader's first heartbeat",
            match (l.leader_commit_index, l.member_last_index) {
                (Some(commit), Some(last)) => vec![evidence(
                    "leader's commit index (tocommit) vs the member's last raft index",
                    commit as f64,
                    last as f64,
                    Unit::Entries,
                )],
                _ => Vec::new(),
            },
        ),
    };
    ev.insert(
        0,
        evidence(
            format!("{} lines in the member's log", l.cause.as_str()),
            l.lines as f64,
            1.0,
            Unit::Lines,
        ),
    );
    emit.finding(
        ids::ClusterStaleMember,
        Draft {
            severity: Severity::Fail,
            summary: format!(
                "its own log says it {what}: {} line(s) from {} to {}, the last: {}",
                l.lines,
                format_timestamp(l.first_unix_ms),
                format_timestamp(l.last_unix_ms),
                l.example.chars().take(240).collect::<String>()
            ),
            evidence: ev,
            recommendation: format!(
            "This member is not merely down: restarting it as it is fails again on every start, \
             and it counts toward quorum meanwhile. Rejoin it as the field guide does: remove it \
             (from a member that answers), set its data dir {dir} aside on its host, add it back \
             with its peer URL, then start etcd there with an empty data dir, \
             --initial-cluster-state existing and the ETCD_INITIAL_CLUSTER that `member add` \
             prints. `etcd-doctor snapshot rejoin-plan --member {}` prints the whole runbook.",
            who.name
        ),
            commands: vec![
                ctl(&format!("member remove {}", who.id)),
                format!(
                    "mv {dir} {dir}.stale   # on {}'s host, with etcd stopped",
                    who.name
                ),
                ctl(&format!(
                    "member add {} --peer-urls={}",
                    who.name, who.peer_urls
                )),
            ],
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::member::MemberId;

    fn log(cause: EventKind) -> StaleMemberLog {
        StaleMemberLog {
            cause,
            member_id: "b216fa67a1b90b9e".into(),
            name: "m2".into(),
            data_dir: "/var/lib/etcd; rm -rf /".into(),
            source: "m2.log".into(),
            lines: 3,
            first_unix_ms: 0,
            last_unix_ms: 60_000,
            leader_commit_index: Some(28),
            member_last_index: Some(0),
            example: "tocommit(28) is out of range [lastIndex(0)]".into(),
        }
    }

    #[test]
    fn logs_alone_give_the_runbook_with_the_proof() {
        let f = from_logs(&[log(EventKind::RaftLogLost)]);
        assert_eq!(f.len(), 1);
        assert!(
            f[0].summary.contains("member m2 (b216fa67a1b90b9e)"),
            "{}",
            f[0].summary
        );
        assert!(f[0].summary.contains("tocommit(28)"), "{}", f[0].summary);
        assert_eq!(f[0].commands[0], "etcdctl member remove b216fa67a1b90b9e");
        // A data dir a shell would misread is never printed in a command.
        assert!(
            f[0].commands[1].starts_with("mv DATA_DIR DATA_DIR.stale"),
            "{}",
            f[0].commands[1]
        );
        assert_eq!(f[0].evidence[1].observed, 28.0);
    }

    #[test]
    fn proof_matches_by_id_else_by_name() {
        let m = UnreachableMember {
            member_id: "b216fa67a1b90b9e".into(),
            name: "m2".into(),
            client_urls: vec![],
            error: String::new(),
        };
        let mut l = log(EventKind::AlreadyBootstrapped);
        assert!(proof(&m, std::slice::from_ref(&l)).is_some());
        l.member_id = "0000000000000001".into();
        assert!(proof(&m, std::slice::from_ref(&l)).is_none());
        l.member_id = MemberId::default();
        assert!(proof(&m, std::slice::from_ref(&l)).is_some());
    }
}
