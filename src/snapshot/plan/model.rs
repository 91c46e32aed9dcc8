//! The runbook as data and the checks on its inputs: members, specs,
//! variables, steps, and why a plan cannot be built. A leaf: the builders
//! (`restore`, `rejoin`, `source`) and `steps` use it, it uses none of them.

use std::path::PathBuf;

use thiserror::Error;

use crate::member::MemberId;

/// How to rebuild the cluster.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Restore every member from a snapshot (new cluster id, same data).
    Restore,
    /// Restart the first member with `--force-new-cluster`, add the others back.
    ForceNewCluster,
}

/// Which binary restores a snapshot: `etcdutl` from 3.5, `etcdctl` in 3.4.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestoreTool {
    /// `etcdutl snapshot restore` (etcd 3.5 and later).
    Etcdutl,
    /// `etcdctl snapshot restore` (etcd 3.4).
    Etcdctl,
}

impl RestoreTool {
    /// The tool for members running `version` (e.g. `3.4.30`); 3.5 when unknown.
    pub fn for_version(version: Option<&str>) -> RestoreTool {
        match version.and_then(release) {
            Some(r) if r <= (3, 4) => RestoreTool::Etcdctl,
            _ => RestoreTool::Etcdutl,
        }
    }

    /// Refuses a tool that cannot restore for members running `version`:
    /// etcdctl 3.6 has no `snapshot restore` (etcdctl/ctlv3/command at
    /// v3.6.0 lost it and `snapshot status`, `defrag --data-dir`).
    pub fn check(self, version: Option<&str>) -> Result<(), PlanError> {
        match (self, version) {
            (RestoreTool::Etcdctl, Some(v)) if release(v) >= Some((3, 6)) => {
                Err(PlanError::ToolGone(v.to_string()))
            }
            _ => Ok(()),
        }
    }
}

/// How far a restore for etcd 3.6 on moves the revision
/// (`etcdutl snapshot restore --bump-revision N --mark-compacted`, as
/// etcd's and Kubernetes' recovery guides give it): watchers at an older
/// revision then see a compaction and start over instead of missing
/// changes.
pub const BUMP_REVISION: u64 = 1_000_000_000;

/// The revision bump a restore for members running `version` makes: from
/// 3.6 on (the flags exist from 3.5.? but not in 3.5.1), none when unknown.
pub fn bump_revision_for(version: Option<&str>) -> Option<u64> {
    (version.and_then(release) >= Some((3, 6))).then_some(BUMP_REVISION)
}

/// `(major, minor)` of an etcd version string: `3.6.17` -> (3, 6).
pub fn release(version: &str) -> Option<(u32, u32)> {
    let mut parts = version.trim_start_matches('v').split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

/// One member as the runbook addresses it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanMember {
    /// Member name (`--name`).
    pub name: String,
    /// Peer URL (`--initial-advertise-peer-urls`).
    pub peer_url: String,
    /// Client URL the verification commands talk to.
    pub client_url: String,
    /// Member id as 16 hex digits, when read from the live cluster.
    pub id: Option<MemberId>,
}

impl PlanMember {
    /// The host part of the peer URL (what `ssh` connects to).
    pub fn host(&self) -> &str {
        crate::cluster::model::url_host(&self.peer_url)
    }
}

/// TLS files for the etcdctl commands in the runbook.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsFiles {
    /// `--cacert`.
    pub cacert: Option<PathBuf>,
    /// `--cert`.
    pub cert: Option<PathBuf>,
    /// `--key`.
    pub key: Option<PathBuf>,
}

impl TlsFiles {
    /// The etcdctl flags, space-separated (empty without TLS).
    pub(super) fn flags(&self) -> String {
        [
            ("cacert", &self.cacert),
            ("cert", &self.cert),
            ("key", &self.key),
        ]
        .iter()
        .filter_map(|(flag, path)| path.as_ref().map(|p| format!("--{flag}={}", p.display())))
        .collect::<Vec<_>>()
        .join(" ")
    }
}

/// Everything a restore or force-new-cluster runbook depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RestoreSpec {
    /// Rebuild method.
    pub method: Method,
    /// The snapshot file (required for [`Method::Restore`]).
    pub snapshot: Option<PathBuf>,
    /// Members of the rebuilt cluster, the first one kept by force-new-cluster.
    pub members: Vec<PlanMember>,
    /// Data dir every member runs with.
    pub data_dir: PathBuf,
    /// `--initial-cluster-token` of the restored cluster.
    pub token: String,
    /// kubeadm static pods (manifest moves) instead of a service manager.
    pub kubeadm: bool,
    /// Which binary restores.
    pub tool: RestoreTool,
    /// `--bump-revision N --mark-compacted` on the restore (etcd 3.6 on).
    pub bump_revision: Option<u64>,
    /// TLS files for etcdctl.
    pub tls: TlsFiles,
}

/// Everything the rejoin runbook depends on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejoinSpec {
    /// The member to remove and add back.
    pub member: PlanMember,
    /// All members as listed now, `member` included.
    pub members: Vec<PlanMember>,
    /// Data dir the member runs with.
    pub data_dir: PathBuf,
    /// kubeadm control plane (re-run `kubeadm join`) instead of a service manager.
    pub kubeadm: bool,
    /// TLS files for etcdctl.
    pub tls: TlsFiles,
}

/// Why a runbook cannot be built.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum PlanError {
    /// No members to plan for.
    #[error("no members: give --members name=peerURL,... or --endpoints of a live cluster")]
    NoMembers,
    /// A value would break the shell commands it is pasted into.
    #[error("{flag}: {value:?} contains characters unsafe in a shell command (allowed: letters, digits and -._:/@[]%=,+)")]
    Unsafe {
        /// The flag the value came from.
        flag: &'static str,
        /// The value.
        value: String,
    },
    /// Two members share a name.
    #[error("--members: member name {0:?} appears twice")]
    DuplicateName(String),
    /// The restore method needs a snapshot.
    #[error("--snapshot is required for --method restore")]
    NoSnapshot,
    /// The rejoin member's id is unknown (it comes from the live member list).
    #[error("--member: the member id of {0:?} is unknown; the rejoin plan reads it from the live member list (--endpoints)")]
    NoId(String),
    /// The rejoin member is not in the list.
    #[error(transparent)]
    UnknownMember(#[from] UnknownMember),
    /// `--restore-tool etcdctl` for members whose etcdctl cannot restore.
    #[error("--restore-tool etcdctl: the members run etcd {0}, whose etcdctl has no snapshot restore (removed in 3.6); use etcdutl")]
    ToolGone(String),
}

/// A flag (`--member`, `--from`) names no listed member.
#[derive(Debug, Error, PartialEq, Eq)]
#[error("{flag}: no member named {name:?} (members: {known})")]
pub struct UnknownMember {
    /// The flag.
    pub flag: &'static str,
    /// Name asked for.
    pub name: String,
    /// Names listed.
    pub known: String,
}

/// Where the member `flag` names is in `members`.
pub fn position_of(
    members: &[PlanMember],
    flag: &'static str,
    name: &str,
) -> Result<usize, UnknownMember> {
    members
        .iter()
        .position(|m| m.name == name)
        .ok_or_else(|| UnknownMember {
            flag,
            name: name.to_string(),
            known: members
                .iter()
                .map(|m| m.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        })
}

/// Checks that `value` can be pasted into a shell command unquoted.
pub fn shell_safe(flag: &'static str, value: &str) -> Result<(), PlanError> {
    let ok = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-._:/@[]%=,+".contains(c));
    if ok {
        Ok(())
    } else {
        Err(PlanError::Unsafe {
            flag,
            value: value.to_string(),
        })
    }
}

/// A shell variable at the top of the runbook, which operators adapt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Variable {
    /// Name (`[A-Z_0-9]+`).
    pub name: String,
    /// Default value.
    pub value: String,
    /// What it is for.
    pub doc: String,
}

/// One step: a title, an optional note, shell commands (POSIX sh, using the
/// runbook's variables and the `run`/`retry` helpers).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// What the step does.
    pub title: String,
    /// Why, or what to check by hand.
    pub note: Option<String>,
    /// Commands, in order.
    pub commands: Vec<String>,
}

/// Where a runbook value came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// A flag the operator typed (`--data-dir`).
    Flag(&'static str),
    /// What discovery found on this host, e.g. `kubeadm, /etc/kubernetes/manifests/etcd.yaml`.
    Found(String),
    /// The runbook's default.
    Default,
}

/// One value the runbook was built from, and its origin: said at the
/// runbook's top so the operator checks what was guessed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueSource {
    /// What the value is (`data dir`).
    pub what: &'static str,
    /// The value as the runbook uses it.
    pub value: String,
    /// Where it came from.
    pub origin: Origin,
}

impl ValueSource {
    /// `data dir /var/lib/etcd (from --data-dir)`.
    pub fn line(&self) -> String {
        let from = match &self.origin {
            Origin::Flag(flag) => format!("from {flag}"),
            Origin::Found(how) => format!("found on this host: {how}"),
            Origin::Default => "default".to_string(),
        };
        format!("{} {} ({from})", self.what, self.value)
    }
}

/// A runbook: variables, then steps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Runbook {
    /// Title.
    pub title: String,
    /// One paragraph on when to use it.
    pub summary: String,
    /// The values it was built from and where each came from (empty when
    /// built from a spec alone).
    pub sources: Vec<ValueSource>,
    /// Variables, in order.
    pub variables: Vec<Variable>,
    /// Steps, in order.
    pub steps: Vec<Step>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_restore_follows_the_members_release() {
        assert_eq!(release("3.6.17"), Some((3, 6)));
        assert_eq!(release("v3.10.0"), Some((3, 10)));
        assert_eq!(release("x"), None);
        assert_eq!(
            RestoreTool::for_version(Some("3.4.30")),
            RestoreTool::Etcdctl
        );
        assert_eq!(
            RestoreTool::for_version(Some("3.6.17")),
            RestoreTool::Etcdutl
        );
        assert_eq!(RestoreTool::for_version(None), RestoreTool::Etcdutl);
        assert_eq!(bump_revision_for(Some("3.6.0")), Some(BUMP_REVISION));
        assert_eq!(bump_revision_for(Some("3.7.4")), Some(BUMP_REVISION));
        assert_eq!(bump_revision_for(Some("3.5.21")), None);
        assert_eq!(bump_revision_for(None), None);
        let gone = RestoreTool::Etcdctl.check(Some("3.6.17")).unwrap_err();
        assert!(gone.to_string().contains("use etcdutl"), "{gone}");
        assert!(RestoreTool::Etcdctl.check(Some("3.5.1")).is_ok());
        assert!(RestoreTool::Etcdutl.check(Some("3.7.4")).is_ok());
    }
}
