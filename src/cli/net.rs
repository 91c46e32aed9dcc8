//! `etcd-doctor agent` and `etcd-doctor net` arguments.

use clap::Args;

use super::output::OutputArgs;

/// `agent` arguments.
#[derive(Debug, Args)]
pub struct AgentArgs {
    /// Address to listen on, ADDR:PORT.
    #[arg(long, value_name = "ADDR:PORT")]
    pub listen: String,
    /// Shared secret clients must present.
    #[arg(long, env = "ETCD_DOCTOR_TOKEN", hide_env_values = true)]
    pub token: String,
}

/// `net` arguments.
#[derive(Debug, Args)]
pub struct NetArgs {
    /// Agent peers, ADDR:PORT[,...].
    #[arg(long, value_name = "ADDR:PORT,...", value_delimiter = ',')]
    pub peers: Vec<String>,
    /// Shared secret of the agents.
    #[arg(long, env = "ETCD_DOCTOR_TOKEN", hide_env_values = true)]
    pub token: String,
    #[command(flatten)]
    pub output: OutputArgs,
}
