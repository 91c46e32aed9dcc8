//! `etcd-doctor snapshot` arguments, converted at once into typed requests:
//! the runbook commands parse `--members name=peerURL,...` here so that a
//! malformed member names the flag.

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand, ValueEnum};
use thiserror::Error;

use super::cluster::{ConnArgs, DiscoveryArgs, ReachError};
use super::judge::JudgeArgs;
use super::keyspace::GroupingArgs;
use super::output::OutputArgs;
use crate::cluster::conn::{ConnError, ConnPlan};
use crate::discover::Discovery;
use crate::report::format::runbook::RunbookFormat;
use crate::snapshot::plan::{Method, Origin, PlanMember, RestoreTool, TlsFiles, ValueSource};

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
        /// Distinct keys (and leases) kept, 1 to 200000000; about 145 bytes of memory each. Revisions of other keys count only in the totals and their group's share.
        #[arg(long, value_name = "N", default_value_t = crate::snapshot::analyze::DEFAULT_MAX_KEYS as u64,
              value_parser = clap::value_parser!(u64).range(1..=crate::snapshot::analyze::MAX_MAX_KEYS as u64))]
        max_keys: u64,
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
    /// Members as name=peerURL,... (when the cluster is down); otherwise read from the live cluster (--endpoints, else the discovered etcd's).
    #[arg(long, value_delimiter = ',', value_name = "NAME=PEER_URL")]
    pub members: Vec<String>,
    /// Client port of the members given with --members (the verification commands use it).
    #[arg(long, default_value_t = 2379, value_parser = clap::value_parser!(u16).range(1..))]
    pub client_port: u16,
    /// Data dir the members run with [default: the discovered etcd's, else /var/lib/etcd].
    #[arg(long, value_name = "DIR")]
    pub data_dir: Option<PathBuf>,
    /// Output format.
    #[arg(short = 'w', long = "write-out", value_enum, default_value = "sh")]
    pub write_out: RunbookFormatArg,
    #[command(flatten)]
    pub conn: ConnArgs,
    #[command(flatten)]
    pub discovery: DiscoveryArgs,
}

/// The data dir a runbook uses when neither `--data-dir` nor discovery gives one.
pub const DEFAULT_DATA_DIR: &str = "/var/lib/etcd";

/// Where a runbook's members come from.
#[derive(Debug)]
pub enum RunbookMembers {
    /// `--members` (the cluster is down).
    Given(Vec<PlanMember>),
    /// The live member list, read over this connection.
    Live(ConnPlan),
}

/// What a runbook is built from: each value from a flag, else from the
/// etcd discovery found on this host, else a default, and which it was.
#[derive(Debug)]
pub struct RunbookPlan {
    /// The members.
    pub members: RunbookMembers,
    /// The data dir every member runs with.
    pub data_dir: PathBuf,
    /// Whether members are kubeadm static pods (manifest moves).
    pub kubeadm: bool,
    /// TLS files for the runbook's etcdctl commands.
    pub tls: TlsFiles,
    /// Where each value came from, said at the runbook's top.
    pub sources: Vec<ValueSource>,
    /// Output format.
    pub format: RunbookFormat,
    /// What discovery found, when it ran and found something.
    pub discovery: Option<Discovery>,
}

impl RunbookArgs {
    /// The plan. Discovery runs as for the other commands (the default
    /// without connection flags); with `--members` (a cluster that is
    /// down, often planned from another host) what it cannot find is said
    /// on stderr and the defaults are used, unless `--discover` or
    /// `--discover-pid` asked for it.
    pub fn into_plan(self) -> Result<RunbookPlan, RunbookArgsError> {
        let given = parse_members(&self.members, self.client_port)?;
        // The connection flags' own errors before discovery's; with
        // --members nothing is dialed, and the TLS files are the members'
        // (they may not exist on this host).
        if given.is_empty() {
            self.conn.clone().into_plan(None)?;
        }
        let d = &self.discovery;
        let ports =
            crate::discover::listen::ports_of(self.conn.endpoints.as_deref().unwrap_or_default());
        let must = given.is_empty() || d.discover || d.discover_pid.is_some();
        let found = match d.find(self.conn.nothing_typed(), ports) {
            Ok(found) => found,
            Err(e) if must => return Err(e.into()),
            Err(e) => {
                eprintln!(
                    "etcd-doctor: {}; the runbook uses its defaults",
                    crate::text::error_line(&e.to_string())
                );
                None
            }
        };
        let mut sources = Vec::new();
        let data_dir = data_dir_of(self.data_dir, found.as_ref(), &mut sources);
        let kubeadm = restart_of(
            d.kubeadm || d.manifest.is_some(),
            found.as_ref(),
            &mut sources,
        );
        let tls = tls_of(&self.conn, found.as_ref(), &mut sources);
        let members = if given.is_empty() {
            let typed = self.conn.endpoints.is_some();
            let conn = self.conn.into_plan(found.as_ref())?;
            let at: Vec<&str> = conn.endpoints.iter().map(|e| e.url.as_str()).collect();
            sources.push(ValueSource {
                what: "members: the live member list at",
                value: at.join(","),
                origin: endpoint_origin(typed, found.as_ref()),
            });
            RunbookMembers::Live(conn)
        } else {
            sources.push(ValueSource {
                what: "members",
                value: given
                    .iter()
                    .map(|m| m.name.as_str())
                    .collect::<Vec<_>>()
                    .join(","),
                origin: Origin::Flag("--members"),
            });
            RunbookMembers::Given(given)
        };
        Ok(RunbookPlan {
            members,
            data_dir,
            kubeadm,
            tls,
            sources,
            format: self.write_out.into(),
            discovery: found,
        })
    }
}

/// How discovery found the local etcd, for a value's origin.
fn found_how(d: &Discovery) -> String {
    match (d.pid, d.read.first()) {
        (Some(pid), _) => format!("{} pid {pid}", d.source.name()),
        (None, Some(file)) => format!("{}, {file}", d.source.name()),
        (None, None) => d.source.name().to_string(),
    }
}

/// A discovered path as the etcd process sees it (and as every member's
/// host has it): without the `/proc/PID/root` it was read through.
fn as_etcd_sees(path: &Path, d: &Discovery) -> PathBuf {
    let Some(pid) = d.pid else {
        return path.to_path_buf();
    };
    let root = PathBuf::from(format!("/proc/{pid}/root"));
    match path.strip_prefix(&root) {
        Ok(rel) => Path::new("/").join(rel),
        Err(_) => path.to_path_buf(),
    }
}

fn data_dir_of(
    flag: Option<PathBuf>,
    found: Option<&Discovery>,
    sources: &mut Vec<ValueSource>,
) -> PathBuf {
    let (dir, origin) = match (flag, found) {
        (Some(dir), _) => (dir, Origin::Flag("--data-dir")),
        (None, Some(d)) if d.data_dir.is_some() => (
            as_etcd_sees(
                d.data_dir.as_deref().unwrap_or(Path::new(DEFAULT_DATA_DIR)),
                d,
            ),
            Origin::Found(found_how(d)),
        ),
        (None, _) => (PathBuf::from(DEFAULT_DATA_DIR), Origin::Default),
    };
    sources.push(ValueSource {
        what: "data dir",
        value: dir.display().to_string(),
        origin,
    });
    dir
}

/// Whether the members are kubeadm static pods: `--kubeadm`/`--manifest`,
/// or discovery found kubeadm's manifest or an etcd process beside it.
fn restart_of(typed: bool, found: Option<&Discovery>, sources: &mut Vec<ValueSource>) -> bool {
    use crate::discover::Source;
    let manifest_here = Path::new(crate::cluster::kubeadm::DEFAULT_MANIFEST).is_file();
    let (kubeadm, value, origin) = match found {
        _ if typed => (true, "kubeadm static pods".to_string(), Origin::Flag("--kubeadm")),
        Some(d) if d.source == Source::Kubeadm || (d.source == Source::Process && manifest_here) => {
            (true, "kubeadm static pods".to_string(), Origin::Found(found_how(d)))
        }
        Some(d) if d.source != Source::Process && d.source != Source::Systemd => (
            false,
            format!("systemctl stop/start etcd: this host's etcd is {}'s, which restores with its own tools; adapt STOP_<n>/START_<n>", d.source.name()),
            Origin::Found(found_how(d)),
        ),
        Some(d) => (false, "systemctl stop/start etcd".to_string(), Origin::Found(found_how(d))),
        None => (false, "systemctl stop/start etcd".to_string(), Origin::Default),
    };
    sources.push(ValueSource {
        what: "members run as",
        value,
        origin,
    });
    kubeadm
}

/// TLS files: the ones typed, else the discovered ones (as etcd sees them).
fn tls_of(conn: &ConnArgs, found: Option<&Discovery>, sources: &mut Vec<ValueSource>) -> TlsFiles {
    let typed = TlsFiles {
        cacert: conn.cacert.clone(),
        cert: conn.cert.clone(),
        key: conn.key.clone(),
    };
    let (tls, origin) = match found {
        _ if typed != TlsFiles::default() => (typed, Origin::Flag("--cacert/--cert/--key")),
        Some(d) if d.tls.cacert.is_some() || d.tls.cert.is_some() => {
            let seen = |p: &Option<PathBuf>| p.as_deref().map(|p| as_etcd_sees(p, d));
            (
                TlsFiles {
                    cacert: seen(&d.tls.cacert),
                    cert: seen(&d.tls.cert),
                    key: seen(&d.tls.key),
                },
                Origin::Found(found_how(d)),
            )
        }
        _ => (TlsFiles::default(), Origin::Default),
    };
    let value = [&tls.cacert, &tls.cert, &tls.key]
        .iter()
        .filter_map(|p| p.as_ref().map(|p| p.display().to_string()))
        .collect::<Vec<_>>();
    sources.push(ValueSource {
        what: "TLS",
        value: if value.is_empty() {
            "none".to_string()
        } else {
            value.join(" ")
        },
        origin,
    });
    tls
}

fn endpoint_origin(typed: bool, found: Option<&Discovery>) -> Origin {
    match found {
        _ if typed => Origin::Flag("--endpoints"),
        Some(d) if !d.endpoints.is_empty() => Origin::Found(found_how(d)),
        _ => Origin::Default,
    }
}

/// A runbook flag that cannot make a plan.
#[derive(Debug, Error)]
pub enum RunbookArgsError {
    /// `--members`.
    #[error(transparent)]
    Members(#[from] MembersError),
    /// Discovery, the kubeadm manifest, a connection flag or TLS file.
    #[error(transparent)]
    Reach(#[from] ReachError),
    /// A connection flag or TLS file.
    #[error(transparent)]
    Conn(#[from] ConnError),
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

    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Wrap {
        #[command(flatten)]
        args: RunbookArgs,
    }

    fn plan(args: &str) -> Result<RunbookPlan, String> {
        let argv = std::iter::once("rejoin-plan").chain(args.split_whitespace());
        let wrap = Wrap::try_parse_from(argv).map_err(|e| e.to_string())?;
        wrap.args.into_plan().map_err(|e| e.to_string())
    }

    fn origin(p: &RunbookPlan, what: &str) -> Origin {
        p.sources
            .iter()
            .find(|v| v.what == what)
            .unwrap()
            .origin
            .clone()
    }

    const MANIFEST: &str = "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n  - name: etcd\n    command:\n    - etcd\n    - --name=cp1\n    - --data-dir=/srv/etcd-data\n    - --advertise-client-urls=https://10.0.0.1:2379\n    - --trusted-ca-file=/etc/kubernetes/pki/etcd/ca.crt\n    - --cert-file=/etc/kubernetes/pki/etcd/server.crt\n    - --key-file=/etc/kubernetes/pki/etcd/server.key\n";

    #[test]
    fn runbook_values_say_where_they_came_from() {
        let p = plan("--members a=http://10.0.0.1:2380 --no-discover").unwrap();
        assert_eq!(p.data_dir, PathBuf::from(DEFAULT_DATA_DIR));
        assert_eq!(origin(&p, "data dir"), Origin::Default);
        assert!(!p.kubeadm);
        assert_eq!(origin(&p, "members"), Origin::Flag("--members"));
        // The manifest's data dir, kubeadm's restarts; a typed flag wins.
        let dir = tempfile::tempdir().unwrap();
        let m = dir.path().join("etcd.yaml");
        std::fs::write(&m, MANIFEST).unwrap();
        let m = m.display();
        let p = plan(&format!("--members a=http://10.0.0.1:2380 --manifest {m}")).unwrap();
        assert_eq!(p.data_dir, PathBuf::from("/srv/etcd-data"));
        assert!(matches!(origin(&p, "data dir"), Origin::Found(how) if how.contains("kubeadm")));
        assert!(p.kubeadm);
        assert_eq!(origin(&p, "members run as"), Origin::Flag("--kubeadm"));
        let p = plan(&format!(
            "--members a=http://10.0.0.1:2380 --manifest {m} --data-dir /d --cacert /c.crt"
        ))
        .unwrap();
        assert_eq!(p.data_dir, PathBuf::from("/d"));
        assert_eq!(origin(&p, "data dir"), Origin::Flag("--data-dir"));
        assert_eq!(p.tls.cacert, Some(PathBuf::from("/c.crt")));
        assert_eq!(origin(&p, "TLS"), Origin::Flag("--cacert/--cert/--key"));
        // Without --members the live list is read where discovery says.
        let p = plan(&format!("--manifest {m} --insecure-skip-tls-verify")).unwrap();
        assert!(
            matches!(&p.members, RunbookMembers::Live(c) if c.endpoints[0].url == "https://10.0.0.1:2379")
        );
        assert!(matches!(
            origin(&p, "members: the live member list at"),
            Origin::Found(_)
        ));
    }

    #[test]
    fn a_missing_manifest_is_fatal_only_without_members() {
        // Planned from a workstation: --kubeadm still means static pods.
        let p = plan("--members a=http://10.0.0.1:2380 --manifest /nonexistent/etcd.yaml").unwrap();
        assert!(p.kubeadm);
        assert_eq!(p.data_dir, PathBuf::from(DEFAULT_DATA_DIR));
        let e = plan("--manifest /nonexistent/etcd.yaml").unwrap_err();
        assert!(e.contains("/nonexistent/etcd.yaml"), "{e}");
        let e = plan("--members nourl --no-discover").unwrap_err();
        assert!(e.starts_with("--members"), "{e}");
    }

    #[test]
    fn paths_read_through_a_container_root_are_given_as_etcd_sees_them() {
        let mut d = Discovery::empty(crate::discover::Source::Process);
        d.pid = Some(42);
        assert_eq!(
            as_etcd_sees(Path::new("/proc/42/root/var/lib/etcd"), &d),
            PathBuf::from("/var/lib/etcd")
        );
        assert_eq!(
            as_etcd_sees(Path::new("/var/lib/x"), &d),
            PathBuf::from("/var/lib/x")
        );
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
