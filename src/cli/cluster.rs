//! `etcd-doctor cluster` arguments, and the etcdctl-compatible connection
//! flags shared with `snapshot` and `diagnose`, converted at once into a
//! [`ConnPlan`] (after discovery of the local etcd, whose values explicit
//! flags override) and an [`InspectPlan`].
//!
//! Discovery ([`crate::discover`]) runs with `--discover`/`--discover-pid`,
//! or by default when no connection flag (`--endpoints`, `--cacert`,
//! `--cert`, `--key` or their ETCDCTL_* variables) is given: typing one is
//! configuring by hand. `--kubeadm`/`--manifest` read kubeadm's manifest
//! only; `--no-discover` keeps etcdctl's 127.0.0.1:2379 default.

use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};
use thiserror::Error;

use super::duration::parse_duration;
use super::judge::{JudgeArgs, JudgePlan};
use super::keyspace::{live_plan, GroupingArgs, KeyspaceArgsError, RateArgs};
use super::output::OutputArgs;
use crate::cluster::conn::{ConnError, ConnPlan, ConnRequest, DEFAULT_ENDPOINT};
use crate::cluster::kubeadm::{self, KubeadmError};
use crate::cluster::tls::TlsRequest;
use crate::cluster::{InspectPlan, MetricsPlan};
use crate::discover::{self, layouts, DiscoverError, DiscoverPlan, Discovery};
use crate::keyspace::live::LivePlan;
use crate::report::OutputPlan;
use crate::rules::ProfileError;

/// Longest `--interval` between two metrics scrapes.
pub const MAX_INTERVAL: Duration = Duration::from_secs(60);

/// `--interval` longer than [`MAX_INTERVAL`].
#[derive(Debug, Error)]
#[error("--interval must be at most {} s, got {:?}", MAX_INTERVAL.as_secs(), .0)]
pub struct IntervalTooLong(pub Duration);

/// `interval` when it is at most [`MAX_INTERVAL`].
pub fn checked_interval(interval: Duration) -> Result<Duration, IntervalTooLong> {
    if interval > MAX_INTERVAL {
        return Err(IntervalTooLong(interval));
    }
    Ok(interval)
}

/// Connection flags as etcdctl has them; ETCDCTL_* variables are defaults.
#[derive(Debug, Clone, Args)]
pub struct ConnArgs {
    /// Client URLs, comma-separated [default: the local etcd's, found by --discover].
    #[arg(
        long,
        env = "ETCDCTL_ENDPOINTS",
        value_delimiter = ',',
        value_name = "URL"
    )]
    pub endpoints: Option<Vec<String>>,
    /// CA bundle that verifies the servers' certificates.
    #[arg(long, env = "ETCDCTL_CACERT", value_name = "FILE")]
    pub cacert: Option<PathBuf>,
    /// Client certificate.
    #[arg(long, env = "ETCDCTL_CERT", value_name = "FILE")]
    pub cert: Option<PathBuf>,
    /// Client key.
    #[arg(long, env = "ETCDCTL_KEY", value_name = "FILE")]
    pub key: Option<PathBuf>,
    /// Do not verify the servers' certificates (CAUTION: for testing only).
    #[arg(long, env = "ETCDCTL_INSECURE_SKIP_TLS_VERIFY")]
    pub insecure_skip_tls_verify: bool,
    /// Longest wait for a connection, e.g. 2s, 500ms.
    #[arg(long, env = "ETCDCTL_DIAL_TIMEOUT", value_name = "DURATION", default_value = "2s", value_parser = parse_duration)]
    pub dial_timeout: Duration,
    /// Longest wait for one request, e.g. 5s.
    #[arg(long, env = "ETCDCTL_COMMAND_TIMEOUT", value_name = "DURATION", default_value = "5s", value_parser = parse_duration)]
    pub command_timeout: Duration,
}

/// Help of `--manifest`, with kubeadm's path from one place.
pub(crate) fn manifest_help() -> String {
    format!(
        "The etcd manifest to read (implies --kubeadm) [default: {}]",
        kubeadm::DEFAULT_MANIFEST
    )
}

/// How the local etcd is found.
#[derive(Debug, Clone, Args)]
pub struct DiscoveryArgs {
    /// Find the local etcd (its process's flags, environment and config
    /// file, else a known layout: kubeadm, RKE2, k3s, OpenShift, systemd) and
    /// use its endpoints, TLS files, data dir and logs [default when no
    /// --endpoints/--cacert/--cert/--key is given].
    #[arg(long, conflicts_with = "no_discover")]
    pub discover: bool,
    /// The etcd process to read when several run here (implies --discover).
    #[arg(long, value_name = "PID", conflicts_with = "no_discover")]
    pub discover_pid: Option<u32>,
    /// Do not look for the local etcd; without --endpoints, dial 127.0.0.1:2379.
    #[arg(long)]
    pub no_discover: bool,
    /// Read endpoints, certificates and data dir from kubeadm's etcd manifest only (the runbooks then stop and start static pods).
    #[arg(long, conflicts_with_all = ["discover", "discover_pid", "no_discover"])]
    pub kubeadm: bool,
    #[arg(long, value_name = "FILE", help = manifest_help(), conflicts_with_all = ["discover", "discover_pid", "no_discover"])]
    pub manifest: Option<PathBuf>,
}

impl DiscoveryArgs {
    /// What discovery finds for a run with these connection flags
    /// (discovery is the default when none is typed).
    pub fn discover(&self, conn: &ConnArgs) -> Result<Option<Discovery>, ReachError> {
        let ports = discover::listen::ports_of(conn.endpoints.as_deref().unwrap_or_default());
        self.find(conn.nothing_typed(), ports)
    }

    /// What discovery finds: with `--kubeadm`/`--manifest` the manifest,
    /// with `--discover`/`--discover-pid` (or `by_default`, unless
    /// `--no-discover`) the local etcd, the one listening on `ports` among
    /// several; `None` when it is not asked for.
    pub fn find(&self, by_default: bool, ports: Vec<u16>) -> Result<Option<Discovery>, ReachError> {
        let found = if self.kubeadm || self.manifest.is_some() {
            let manifest = self
                .manifest
                .clone()
                .unwrap_or_else(|| PathBuf::from(kubeadm::DEFAULT_MANIFEST));
            let mut d = layouts::kubeadm_manifest(&manifest, std::path::Path::new("/"))?;
            d.vet_tls();
            d
        } else if self.no_discover || !(self.discover || self.discover_pid.is_some() || by_default)
        {
            return Ok(None);
        } else {
            discover::discover(&DiscoverPlan {
                pid: self.discover_pid,
                ports,
                ..DiscoverPlan::default()
            })?
        };
        Ok(Some(found))
    }
}

/// Why the cluster cannot be reached as asked: discovery, the kubeadm
/// manifest or a connection flag (each names its file or flag).
#[derive(Debug, Error)]
pub enum ReachError {
    /// The kubeadm manifest.
    #[error(transparent)]
    Kubeadm(#[from] KubeadmError),
    /// Discovery of the local etcd.
    #[error(transparent)]
    Discover(#[from] DiscoverError),
    /// A connection flag or TLS file.
    #[error(transparent)]
    Conn(#[from] ConnError),
}

/// The connection plan from `conn`, falling back to what `discovery`
/// finds; and what it found.
pub fn reach(
    conn: ConnArgs,
    discovery: &DiscoveryArgs,
) -> Result<(ConnPlan, Option<Discovery>), ReachError> {
    // The flags' own errors (timeouts, endpoints, TLS files) before
    // discovery's, which depend on what runs on the host.
    conn.clone().into_plan(None)?;
    let found = discovery.discover(&conn)?;
    Ok((conn.into_plan(found.as_ref())?, found))
}

impl ConnArgs {
    /// Whether no connection flag was typed (discovery is then the default).
    pub(crate) fn nothing_typed(&self) -> bool {
        self.endpoints.is_none()
            && self.cacert.is_none()
            && self.cert.is_none()
            && self.key.is_none()
    }

    /// The connection plan: these flags, falling back to what discovery
    /// `found`, then to etcdctl's defaults. A client certificate and its
    /// key come as a pair from one source.
    pub fn into_plan(self, found: Option<&Discovery>) -> Result<ConnPlan, ConnError> {
        let endpoints = self
            .endpoints
            .or_else(|| found.map(|k| k.endpoints.clone()).filter(|e| !e.is_empty()))
            .unwrap_or_else(|| vec![DEFAULT_ENDPOINT.to_string()]);
        let (cert, key) = match (self.cert, self.key, found) {
            (None, None, Some(k)) => (k.tls.cert.clone(), k.tls.key.clone()),
            (cert, key, _) => (cert, key),
        };
        ConnPlan::new(ConnRequest {
            endpoints,
            tls: TlsRequest {
                cacert: self
                    .cacert
                    .or_else(|| found.and_then(|k| k.tls.cacert.clone())),
                cert,
                key,
                insecure_skip_verify: self.insecure_skip_tls_verify,
            },
            dial_timeout: self.dial_timeout,
            command_timeout: self.command_timeout,
        })
    }
}

/// `cluster` arguments.
#[derive(Debug, Args)]
pub struct ClusterArgs {
    #[command(subcommand)]
    pub view: ClusterView,
}

/// Flags every `cluster` view takes.
#[derive(Debug, Args)]
pub struct CommonArgs {
    #[command(flatten)]
    pub conn: ConnArgs,
    #[command(flatten)]
    pub discovery: DiscoveryArgs,
    #[command(flatten)]
    pub judge: JudgeArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// What to read from the cluster.
#[derive(Debug, Subcommand)]
pub enum ClusterView {
    /// Endpoint status with etcdctl's columns, and the member list.
    Status {
        /// Ask every member's client URLs, as etcdctl's --cluster.
        #[arg(long)]
        cluster: bool,
        /// Also scrape each member's /metrics once (as `cluster metrics
        /// --interval 0`) in the same run, over the same sessions.
        #[arg(long)]
        metrics: bool,
        #[command(flatten)]
        common: CommonArgs,
    },
    /// Member list.
    Members {
        #[command(flatten)]
        common: CommonArgs,
    },
    /// Per-endpoint health and linearizable read latency.
    Health {
        /// Ask every member's client URLs, as etcdctl's --cluster.
        #[arg(long)]
        cluster: bool,
        #[command(flatten)]
        common: CommonArgs,
    },
    /// Active alarms.
    Alarms {
        #[command(flatten)]
        common: CommonArgs,
    },
    /// Disk, network and raft metrics from each member's /metrics.
    Metrics {
        /// /metrics URLs to scrape, comma-separated [default: each member's client URL].
        #[arg(long, value_delimiter = ',', value_name = "URL")]
        metrics_urls: Vec<String>,
        /// Time between the two scrapes whose difference gives rates and
        /// window percentiles; 0 scrapes once (totals since start).
        #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = parse_duration)]
        interval: Duration,
        #[command(flatten)]
        common: CommonArgs,
    },
    /// Live keys per prefix, counted gently (serializable, keys-only and count-only, rate-limited).
    Keyspace {
        #[command(flatten)]
        grouping: GroupingArgs,
        #[command(flatten)]
        rate: RateArgs,
        #[command(flatten)]
        common: CommonArgs,
    },
    /// Whether every member holds the same data: HashKV at one common
    /// revision, with each member's raft term, indexes and revision.
    Consistency {
        /// Time between the two status reads (and metrics scrapes) that
        /// show whether learners catch up; 0 reads once.
        #[arg(long, value_name = "DURATION", default_value = "2s", value_parser = parse_duration)]
        interval: Duration,
        #[command(flatten)]
        common: CommonArgs,
    },
}

/// `cluster` arguments that cannot make plans; each names its flag or file.
#[derive(Debug, Error)]
pub enum ClusterArgsError {
    /// The kubeadm manifest, a connection flag or TLS file.
    #[error(transparent)]
    Reach(#[from] ReachError),
    /// `--interval` too long.
    #[error(transparent)]
    Interval(#[from] IntervalTooLong),
    /// `--profile`.
    #[error(transparent)]
    Profile(#[from] ProfileError),
    /// `--prefix`, `--depth`, `--max-rps`.
    #[error(transparent)]
    Keyspace(#[from] KeyspaceArgsError),
}

/// Everything a `cluster` run needs.
#[derive(Debug)]
pub struct ClusterPlans {
    /// The report's command name, e.g. `cluster status`.
    pub command: &'static str,
    /// Where and how to connect.
    pub conn: ConnPlan,
    /// What to read.
    pub views: InspectPlan,
    /// The live keyspace count (`cluster keyspace`), instead of the views.
    pub keyspace: Option<LivePlan>,
    /// How the findings are judged.
    pub judge: JudgePlan,
    /// Where to write the report.
    pub output: OutputPlan,
    /// What discovery found, when it ran.
    pub discovery: Option<Discovery>,
}

impl ClusterArgs {
    /// The plans these arguments ask for.
    pub fn into_plans(self) -> Result<ClusterPlans, ClusterArgsError> {
        let mut views = InspectPlan::default();
        let mut keyspace = None;
        let (command, common) = match self.view {
            ClusterView::Status {
                cluster,
                metrics,
                common,
            } => {
                (views.status, views.cluster) = (true, cluster);
                views.metrics = metrics.then(|| MetricsPlan {
                    urls: Vec::new(),
                    interval: Duration::ZERO,
                });
                ("cluster status", common)
            }
            ClusterView::Members { common } => {
                views.members = true;
                ("cluster members", common)
            }
            ClusterView::Health { cluster, common } => {
                (views.health, views.cluster) = (true, cluster);
                ("cluster health", common)
            }
            ClusterView::Alarms { common } => {
                views.alarms = true;
                ("cluster alarms", common)
            }
            ClusterView::Metrics {
                metrics_urls,
                interval,
                common,
            } => {
                views.metrics = Some(MetricsPlan {
                    urls: metrics_urls,
                    interval: checked_interval(interval)?,
                });
                ("cluster metrics", common)
            }
            ClusterView::Keyspace {
                grouping,
                rate,
                common,
            } => {
                keyspace = Some(live_plan(grouping, rate)?);
                ("cluster keyspace", common)
            }
            ClusterView::Consistency { interval, common } => {
                views = InspectPlan {
                    consistency: true,
                    ..InspectPlan::everything(checked_interval(interval)?)
                };
                views.health = false;
                ("cluster consistency", common)
            }
        };
        // The flags' own errors first; discovery last.
        let mut judge = common.judge.into_plan()?;
        let (conn, discovery) = reach(common.conn, &common.discovery)?;
        // The running etcd's heartbeat and election, as diagnose judges.
        if let Some(d) = &discovery {
            judge.profile.adopt(&d.settings);
        }
        Ok(ClusterPlans {
            discovery,
            command,
            conn,
            views,
            keyspace,
            judge,
            output: common.output.into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Wrap {
        #[command(subcommand)]
        view: ClusterView,
    }

    fn plans(args: &[&str]) -> Result<ClusterPlans, ClusterArgsError> {
        let argv = std::iter::once("cluster").chain(args.iter().copied());
        ClusterArgs {
            view: Wrap::try_parse_from(argv).unwrap().view,
        }
        .into_plans()
    }

    #[test]
    fn views_follow_the_subcommand() {
        let p = plans(&["status", "--cluster", "--endpoints", "a:1,b:2"]).unwrap();
        assert_eq!(p.command, "cluster status");
        assert!(p.views.status && p.views.cluster && !p.views.health);
        assert_eq!(p.views.metrics, None);
        let with_metrics = plans(&["status", "--metrics", "--endpoints", "a:1"]).unwrap();
        let metrics = with_metrics.views.metrics.expect("--metrics scrapes");
        assert_eq!((metrics.urls.len(), metrics.interval), (0, Duration::ZERO));
        assert_eq!(p.conn.endpoints.len(), 2);
        assert_eq!(p.conn.dial_timeout, Duration::from_secs(2));
        let p = plans(&[
            "metrics",
            "--interval",
            "0",
            "--command-timeout",
            "1s",
            "--no-discover",
        ])
        .unwrap();
        assert_eq!(p.views.metrics.unwrap().interval, Duration::ZERO);
        assert_eq!(p.conn.command_timeout, Duration::from_secs(1));
        assert_eq!(p.conn.endpoints[0].url, "http://127.0.0.1:2379");
    }

    #[test]
    fn bad_values_name_the_flag() {
        let e = plans(&["metrics", "--interval", "2m"]).unwrap_err();
        assert!(e.to_string().starts_with("--interval"), "{e}");
        let e = plans(&["status", "--cert", "/x/c.crt"]).unwrap_err();
        assert!(e.to_string().starts_with("--cert /x/c.crt"), "{e}");
        let e = plans(&["status", "--manifest", "/nonexistent/etcd.yaml"]).unwrap_err();
        assert!(
            e.to_string()
                .starts_with("--manifest /nonexistent/etcd.yaml"),
            "{e}"
        );
    }

    #[test]
    fn flags_override_discovery_and_pairs_stay_together() {
        let mut found = Discovery::empty(crate::discover::Source::Kubeadm);
        found.endpoints = vec!["http://10.0.0.5:2379".into()];
        found.tls.cert = Some("/pki/healthcheck-client.crt".into());
        found.tls.key = Some("/pki/healthcheck-client.key".into());
        let args = |endpoints: Option<&str>| ConnArgs {
            endpoints: endpoints.map(|e| vec![e.to_string()]),
            cacert: None,
            cert: None,
            key: Some("/mine.key".into()),
            insecure_skip_tls_verify: false,
            dial_timeout: Duration::from_secs(2),
            command_timeout: Duration::from_secs(5),
        };
        // --key alone does not borrow kubeadm's certificate.
        let e = args(None).into_plan(Some(&found)).unwrap_err();
        assert_eq!(e.to_string(), "--key /mine.key given without --cert");
        let mut no_tls = args(Some("http://127.0.0.1:1"));
        no_tls.key = None;
        let mut bare = found.clone();
        (bare.tls.cert, bare.tls.key) = (None, None);
        let plan = no_tls.clone().into_plan(Some(&bare)).unwrap();
        assert_eq!(plan.endpoints[0].url, "http://127.0.0.1:1");
        no_tls.endpoints = None;
        let plan = no_tls.into_plan(Some(&bare)).unwrap();
        assert_eq!(plan.endpoints[0].url, "http://10.0.0.5:2379");
    }
}
