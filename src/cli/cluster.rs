//! `etcd-doctor cluster` arguments, and the etcdctl-compatible connection
//! flags shared with `snapshot` and `diagnose`.

use std::path::PathBuf;

use clap::{Args, Subcommand};

use super::output::OutputArgs;

/// Connection flags as etcdctl has them; ETCDCTL_* variables are defaults.
#[derive(Debug, Clone, Args)]
pub struct ConnArgs {
    /// Client URLs, comma-separated.
    #[arg(
        long,
        env = "ETCDCTL_ENDPOINTS",
        value_delimiter = ',',
        default_value = "127.0.0.1:2379"
    )]
    pub endpoints: Vec<String>,
    /// CA bundle that verifies the servers' certificates.
    #[arg(long, env = "ETCDCTL_CACERT", value_name = "FILE")]
    pub cacert: Option<PathBuf>,
    /// Client certificate.
    #[arg(long, env = "ETCDCTL_CERT", value_name = "FILE")]
    pub cert: Option<PathBuf>,
    /// Client key.
    #[arg(long, env = "ETCDCTL_KEY", value_name = "FILE")]
    pub key: Option<PathBuf>,
}

/// `cluster` arguments.
#[derive(Debug, Args)]
pub struct ClusterArgs {
    #[command(subcommand)]
    pub view: ClusterView,
    #[command(flatten)]
    pub conn: ConnArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// What to read from the cluster.
#[derive(Debug, Clone, Copy, Subcommand)]
pub enum ClusterView {
    /// Endpoint status, with etcdctl's columns.
    Status,
    /// Member list.
    Members,
    /// Per-endpoint health and linearizable read latency.
    Health,
    /// Active alarms.
    Alarms,
    /// Disk, network and raft metrics from each member's /metrics.
    Metrics,
}
