//! `etcd-doctor snapshot` arguments, converted at once into typed requests:
//! the runbook commands parse `--members name=peerURL,...` here so that a
//! malformed member names the flag.

use std::path::PathBuf;

use clap::{Args, Subcommand, ValueEnum};
use thiserror::Error;

use super::cluster::{ConnArgs, DiscoveryArgs};
use super::judge::JudgeArgs;
use super::keyspace::GroupingArgs;
use super::output::OutputArgs;
use crate::report::format::runbook::RunbookFormat;
use crate::snapshot::plan::{Method, PlanMember, RestoreTool};

/// `snapshot` arguments.
#[derive(Debug, Args)]
pub struct SnapshotArgs {
    #[command(subcommand)]
    pub action: SnapshotAction,
}

/// Snapshot actions.
#[derive(Debug, Subcommand)]
pub enum SnapshotAction {
    /// Stream a snapshot from one member into FILE (written whole and verified, or not at all).
    Save {
        /// Destination file.
        file: PathBuf,
        #[command(flatten)]
        conn: ConnArgs,
        #[command(flatten)]
        discovery: DiscoveryArgs,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Check a snapshot file's integrity hash and database structure; print `etcdutl snapshot status`.
    Verify {
        /// Snapshot file.
        file: PathBuf,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// What fills the database: space by prefix, history, leases and pages of a snapshot or member/snap/db.
    Analyze {
        /// Snapshot file, or a copy of a member's member/snap/db.
        file: PathBuf,
        /// Do not check the snapshot's sha256 trailer (as `etcdutl snapshot status` does not); the tree structure is still checked.
        #[arg(long)]
        skip_hash_check: bool,
        #[command(flatten)]
        grouping: GroupingArgs,
        #[command(flatten)]
        judge: JudgeArgs,
        #[command(flatten)]
        output: OutputArgs,
    },
    /// Print the runbook that restores every member from a snapshot (or rebuilds with --force-new-cluster).
    RestorePlan(RestorePlanArgs),
    /// Print the runbook for a member that is still listed but cannot rejoin (remove, add, restart empty).
    RejoinPlan(RejoinPlanArgs),
    /// Print the consistent index, term and revision in a stopped member's db file (member/snap/db).
    ///
    /// Reads only the meta pages and one root-to-leaf path per value: it
    /// checks no tree. Run `snapshot verify` on a copy for a structure check.
    InspectDb {
        /// The db file (or a saved snapshot).
        file: PathBuf,
        #[command(flatten)]
        output: OutputArgs,
    },
}

/// `--method` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MethodArg {
    /// Restore every member from the snapshot.
    Restore,
    /// Keep the first member's data, force a new cluster, add the others back.
    ForceNewCluster,
}

/// `--restore-tool` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ToolArg {
    /// `etcdutl snapshot restore` (etcd 3.5+).
    Etcdutl,
    /// `etcdctl snapshot restore` (etcd 3.4).
    Etcdctl,
}

/// Runbook `-w` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum RunbookFormatArg {
    /// A runnable POSIX shell script.
    Sh,
    /// Markdown.
    Markdown,
}

/// Flags shared by both runbooks.
#[derive(Debug, Args)]
pub struct RunbookArgs {
    /// Members as name=peerURL,... (when the cluster is down); otherwise read from --endpoints.
    #[arg(long, value_delimiter = ',', value_name = "NAME=PEER_URL")]
    pub members: Vec<String>,
    /// Client port of the members given with --members (the verification commands use it).
    #[arg(long, default_value_t = 2379, value_parser = clap::value_parser!(u16).range(1..))]
    pub client_port: u16,
    /// Data dir the members run with.
    #[arg(long, default_value = "/var/lib/etcd")]
    pub data_dir: PathBuf,
    /// kubeadm control plane: stop and start static pods by moving their manifests.
    #[arg(long)]
    pub kubeadm: bool,
    /// Output format.
    #[arg(short = 'w', long = "write-out", value_enum, default_value = "sh")]
    pub write_out: RunbookFormatArg,
    #[command(flatten)]
    pub conn: ConnArgs,
}

/// `snapshot restore-plan` arguments.
#[derive(Debug, Args)]
pub struct RestorePlanArgs {
    /// The snapshot to restore (required for --method restore).
    #[arg(long, value_name = "FILE")]
    pub snapshot: Option<PathBuf>,
    /// How to rebuild the cluster.
    #[arg(long, value_enum, default_value = "restore")]
    pub method: MethodArg,
    /// --initial-cluster-token of the restored cluster.
    #[arg(long, default_value = "etcd-cluster-restored")]
    pub initial_cluster_token: String,
    /// Restore tool; by default etcdutl, or etcdctl when the live members run etcd 3.4.
    #[arg(long, value_enum)]
    pub restore_tool: Option<ToolArg>,
    /// The member to rebuild from (force-new-cluster keeps it; a restore
    /// without --snapshot saves one from it) [default: chosen from the live
    /// members' applied index and revision, leaving out any whose data differs].
    #[arg(long, value_name = "NAME")]
    pub from: Option<String>,
    #[command(flatten)]
    pub runbook: RunbookArgs,
}

/// `snapshot rejoin-plan` arguments.
#[derive(Debug, Args)]
pub struct RejoinPlanArgs {
    /// The member to remove, add back and restart empty.
    #[arg(long, value_name = "NAME")]
    pub member: String,
    #[command(flatten)]
    pub runbook: RunbookArgs,
}

/// A malformed runbook flag.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum MembersError {
    /// Not `name=URL`.
    #[error("--members: {0:?} is not name=peerURL")]
    NotNameUrl(String),
    /// The URL has no scheme and host.
    #[error("--members: {0:?} is not a URL like https://10.0.0.1:2380")]
    BadUrl(String),
    /// The URL's port is not 1-65535.
    #[error("--members: {0:?} has no usable port (1-65535)")]
    BadPort(String),
}

/// The port after the host of `authority` (`host:port`, `[v6]:port`),
/// when there is one: it must be 1-65535.
fn port_ok(authority: &str) -> bool {
    let after_host = match authority.rfind(']') {
        Some(end) => &authority[end + 1..],
        None => authority,
    };
    match after_host.rsplit_once(':') {
        Some((_, port)) => port.parse::<u16>().is_ok_and(|p| p > 0),
        None => true,
    }
}

/// Parses `--members` entries; the client URL is the peer URL's scheme and
/// host with `client_port`.
pub fn parse_members(
    entries: &[String],
    client_port: u16,
) -> Result<Vec<PlanMember>, MembersError> {
    entries
        .iter()
        .map(|entry| {
            let (name, url) = entry
                .split_once('=')
                .filter(|(n, u)| !n.is_empty() && !u.is_empty())
                .ok_or_else(|| MembersError::NotNameUrl(entry.clone()))?;
            let (scheme, rest) = url
                .split_once("://")
                .filter(|(s, r)| !s.is_empty() && !r.is_empty())
                .ok_or_else(|| MembersError::BadUrl(url.to_string()))?;
            let mut member = PlanMember {
                name: name.to_string(),
                peer_url: url.to_string(),
                client_url: String::new(),
                id: None,
            };
            let host = member.host().to_string();
            let host = if host.contains(':') {
                format!("[{host}]")
            } else {
                host
            };
            if host.is_empty() || rest.starts_with(':') {
                return Err(MembersError::BadUrl(url.to_string()));
            }
            if !port_ok(rest.split('/').next().unwrap_or(rest)) {
                return Err(MembersError::BadPort(url.to_string()));
            }
            member.client_url = format!("{scheme}://{host}:{client_port}");
            Ok(member)
        })
        .collect()
}

impl From<MethodArg> for Method {
    fn from(m: MethodArg) -> Method {
        match m {
            MethodArg::Restore => Method::Restore,
            MethodArg::ForceNewCluster => Method::ForceNewCluster,
        }
    }
}

impl From<ToolArg> for RestoreTool {
    fn from(t: ToolArg) -> RestoreTool {
        match t {
            ToolArg::Etcdutl => RestoreTool::Etcdutl,
            ToolArg::Etcdctl => RestoreTool::Etcdctl,
        }
    }
}

impl From<RunbookFormatArg> for RunbookFormat {
    fn from(f: RunbookFormatArg) -> RunbookFormat {
        match f {
            RunbookFormatArg::Sh => RunbookFormat::Sh,
            RunbookFormatArg::Markdown => RunbookFormat::Markdown,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn members_parse_with_derived_client_urls() {
        let m = parse_members(
            &[
                "a=https://10.0.0.1:2380".into(),
                "b=http://[fd00::2]:2380".into(),
            ],
            2379,
        )
        .unwrap();
        assert_eq!(m[0].client_url, "https://10.0.0.1:2379");
        assert_eq!(m[1].client_url, "http://[fd00::2]:2379");
        assert_eq!(m[1].host(), "fd00::2");
    }

    #[test]
    fn malformed_members_name_the_flag() {
        let e = parse_members(&["nourl".into()], 2379).unwrap_err();
        assert!(e.to_string().starts_with("--members"), "{e}");
        let e = parse_members(&["a=10.0.0.1:2380".into()], 2379).unwrap_err();
        assert_eq!(e, MembersError::BadUrl("10.0.0.1:2380".into()));
        for url in [
            "http://10.0.0.1:0",
            "http://[fd00::2]:0",
            "http://h:70000",
            "http://h:x",
        ] {
            let e = parse_members(&[format!("a={url}")], 2379).unwrap_err();
            assert_eq!(e, MembersError::BadPort(url.into()));
        }
        assert!(parse_members(&["a=http://[fd00::2]/x".into()], 2379).is_ok());
    }

    proptest::proptest! {
        #[test]
        fn members_never_panic(entry in "\\PC{0,60}", port in 1u16..) {
            if let Ok(m) = parse_members(&[entry], port) {
                let suffix = format!(":{port}");
                proptest::prop_assert!(m[0].client_url.ends_with(&suffix));
            }
        }
    }
}
