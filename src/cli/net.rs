//! `etcd-doctor agent` and `etcd-doctor net` arguments and their conversion
//! into an [`AgentPlan`] and a [`NetPlan`] (with the rules' thresholds).

use std::net::SocketAddr;
use std::time::Duration;

use clap::{Args, ValueEnum};
use thiserror::Error;

use super::duration::{parse_duration, parse_duration_ms};
use super::judge::{JudgeArgs, JudgePlan};
use super::output::OutputArgs;
use crate::probe::net::agent::{AgentLimits, AgentPlan};
use crate::probe::net::{NetPlan, NetPlanError, NetProbeKind, Peer, Token};
use crate::report::OutputPlan;
use crate::rules::net::{NetThresholds, MAX_ELECTION_TIMEOUT_MS};
use crate::rules::ProfileError;

/// Most concurrent clients `--max-clients` accepts.
pub const MAX_CLIENTS: usize = 1024;
/// Longest `--max-seconds` accepted.
pub const MAX_TEST_SECS: u64 = 3600;
/// Most `--max-bytes` accepted: 1 TiB.
pub const MAX_TEST_BYTES: u64 = 1 << 40;

/// `agent` arguments.
#[derive(Debug, Args)]
pub struct AgentArgs {
    /// Address to listen on, IP:PORT (required: the agent binds only where told).
    #[arg(long, value_name = "IP:PORT")]
    pub listen: String,
    /// Shared secret clients must present.
    #[arg(long, env = "ETCD_DOCTOR_TOKEN", hide_env_values = true)]
    pub token: String,
    /// Tests served at once; more clients are told the agent is busy [default: 4].
    #[arg(long, value_name = "N")]
    pub max_clients: Option<usize>,
    /// Longest one test may last, whatever the client asks; Go duration or seconds [default: 60s].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub max_seconds: Option<Duration>,
    /// Most bytes one test may move, whatever the client asks [default: 64 GiB].
    #[arg(long, value_name = "BYTES")]
    pub max_bytes: Option<u64>,
}

/// `agent` arguments that cannot make a plan; each names its flag.
#[derive(Debug, Error, PartialEq)]
pub enum AgentArgsError {
    /// `--listen` is not an IP:PORT.
    #[error("--listen: {0:?} is not IP:PORT")]
    Listen(String),
    /// `--max-clients` out of range.
    #[error("--max-clients must be 1 to {MAX_CLIENTS}, got {0}")]
    MaxClients(usize),
    /// `--max-seconds` out of range.
    #[error("--max-seconds must be 1 to {MAX_TEST_SECS} seconds, got {0}")]
    MaxSeconds(f64),
    /// `--max-bytes` out of range.
    #[error("--max-bytes must be 1 to {MAX_TEST_BYTES}, got {0}")]
    MaxBytes(u64),
    /// A bad `--token`.
    #[error(transparent)]
    Token(#[from] NetPlanError),
}

impl AgentArgs {
    /// The agent plan these arguments ask for.
    pub fn into_plan(self) -> Result<AgentPlan, AgentArgsError> {
        let listen: SocketAddr = self
            .listen
            .parse()
            .map_err(|_| AgentArgsError::Listen(self.listen.clone()))?;
        let mut limits = AgentLimits::default();
        if let Some(n) = self.max_clients {
            if !(1..=MAX_CLIENTS).contains(&n) {
                return Err(AgentArgsError::MaxClients(n));
            }
            limits.max_clients = n;
        }
        if let Some(d) = self.max_seconds {
            if d < Duration::from_secs(1) || d > Duration::from_secs(MAX_TEST_SECS) {
                return Err(AgentArgsError::MaxSeconds(d.as_secs_f64()));
            }
            limits.max_test_duration = d;
        }
        if let Some(bytes) = self.max_bytes {
            if !(1..=MAX_TEST_BYTES).contains(&bytes) {
                return Err(AgentArgsError::MaxBytes(bytes));
            }
            limits.max_test_bytes = bytes;
        }
        Ok(AgentPlan {
            listen,
            token: Token::new(self.token)?,
            limits,
        })
    }
}

/// `--probe` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum NetProbeArg {
    /// Paced ping-pong latency.
    Rtt,
    /// Bulk transfer each way.
    Throughput,
    /// RTT while a bulk upload saturates the path.
    LoadedRtt,
}

/// `net` arguments.
#[derive(Debug, Args)]
pub struct NetArgs {
    /// Agent peers, ADDR:PORT[,...] (ADDR an IP address or a host name).
    #[arg(
        long,
        value_name = "ADDR:PORT,...",
        value_delimiter = ',',
        required = true
    )]
    pub peers: Vec<String>,
    /// Shared secret of the agents.
    #[arg(long, env = "ETCD_DOCTOR_TOKEN", hide_env_values = true)]
    pub token: String,
    /// Probes to run, comma-separated.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "rtt,throughput,loaded-rtt"
    )]
    pub probe: Vec<NetProbeArg>,
    /// Read counters of IFACE instead of the interface each peer is routed through.
    #[arg(long, value_name = "IFACE")]
    pub iface: Option<String>,
    /// Length of each measuring phase (each rtt size, each transfer
    /// direction, each half of loaded-rtt); Go duration or seconds [default: 5s].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Longest any wait may last (connect, reply, unanswered ping, stalled
    /// transfer) before the peer counts as failed; Go duration or seconds [default: 10s].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub timeout: Option<Duration>,
    /// Ping sizes for rtt, bytes; loaded-rtt uses the smallest [default: 100,
    /// an etcd heartbeat; appends are 4096-65536].
    #[arg(long, value_name = "BYTES,...", value_delimiter = ',')]
    pub message_size: Option<Vec<u32>>,
    /// Pings per second; they leave on schedule whatever their size, so keep
    /// size x rate well below the link rate [default: 200].
    #[arg(long, value_name = "HZ")]
    pub rate: Option<u32>,
    /// The cluster's etcd --heartbeat-interval: the RTT rules' yardstick; a bare number is milliseconds, as etcd's flag (100, 100ms) [default: the profile's, 100ms].
    #[arg(long, value_name = "MS", value_parser = parse_duration_ms)]
    pub heartbeat_interval: Option<Duration>,
    /// Run the probes N times, one after another (a baseline set for `compare`).
    #[arg(long, value_name = "N", default_value_t = 1, value_parser = super::disk::repeat_range())]
    pub repeat: u32,
    /// An earlier `net` or `qualify` JSON report of the same peers, taken
    /// at a quiet time: loaded-rtt compares its idle RTT with this
    /// unloaded one (the link may already be busy when `net` starts).
    #[arg(long, value_name = "REPORT")]
    pub rtt_baseline: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub judge: JudgeArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// Network probe flags of `qualify` and `diagnose`: without `--peers`, no
/// network probe runs.
#[derive(Debug, Clone, Args)]
pub struct PeerArgs {
    #[command(flatten)]
    pub agents: AgentPeers,
    /// Network probes to run against the peers, comma-separated.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "rtt,throughput,loaded-rtt"
    )]
    pub net_probe: Vec<NetProbeArg>,
    /// Length of each network measuring phase; Go duration or seconds [default: 5s].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub net_duration: Option<Duration>,
    /// The cluster's etcd --heartbeat-interval: the RTT rules' yardstick; a bare number is milliseconds, as etcd's flag (100, 100ms) [default: the profile's, 100ms].
    #[arg(long, value_name = "MS", value_parser = parse_duration_ms)]
    pub heartbeat_interval: Option<Duration>,
}

/// The agent peers and their token (`qualify`, `diagnose`, `watch`).
#[derive(Debug, Clone, Args)]
pub struct AgentPeers {
    /// Agent peers to probe the network to, ADDR:PORT[,...] (`etcd-doctor agent` on each).
    #[arg(
        long,
        value_name = "ADDR:PORT,...",
        value_delimiter = ',',
        requires = "token"
    )]
    pub peers: Vec<String>,
    /// Shared secret of the agents.
    #[arg(long, env = "ETCD_DOCTOR_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

impl AgentPeers {
    /// The peers and the token, when peers were given with one.
    pub fn given(self) -> Option<(Vec<String>, String)> {
        let token = self.token.filter(|_| !self.peers.is_empty())?;
        Some((self.peers, token))
    }
}

/// `net` flags that cannot make a plan.
#[derive(Debug, Error)]
pub enum NetArgsError {
    /// A probe flag.
    #[error(transparent)]
    Plan(#[from] NetPlanError),
    /// `--profile`.
    #[error(transparent)]
    Profile(#[from] ProfileError),
}

/// Everything a `net` run needs.
#[derive(Debug)]
pub struct NetRequest {
    /// What to measure.
    pub plan: NetPlan,
    /// How many times the probes run.
    pub repeat: u32,
    /// A report whose idle RTT is the unloaded baseline (`--rtt-baseline`).
    pub rtt_baseline: Option<std::path::PathBuf>,
    /// How to judge it (the profile, with `--heartbeat-interval` applied).
    pub judge: JudgePlan,
    /// Where the report goes.
    pub output: OutputPlan,
}

/// The plan for `peers` with `token`, `probes` and phase length `duration`.
fn net_plan(
    peers: &[String],
    token: String,
    probes: &[NetProbeArg],
    duration: Option<Duration>,
) -> Result<NetPlan, NetPlanError> {
    let mut parsed = Vec::with_capacity(peers.len());
    for spec in peers {
        let peer = Peer::parse(spec.trim()).map_err(|reason| NetPlanError::BadPeer {
            spec: spec.clone(),
            reason,
        })?;
        parsed.push(peer);
    }
    let mut plan = NetPlan::new(parsed, Token::new(token)?);
    plan.probes = probes
        .iter()
        .map(|p| match p {
            NetProbeArg::Rtt => NetProbeKind::Rtt,
            NetProbeArg::Throughput => NetProbeKind::Throughput,
            NetProbeArg::LoadedRtt => NetProbeKind::LoadedRtt,
        })
        .collect();
    if let Some(d) = duration {
        plan.duration = positive(d).ok_or(NetPlanError::Duration(d.as_secs_f64()))?;
    }
    Ok(plan)
}

/// The RTT probe alone to `peers` for `secs` per run: what `watch`
/// measures each tick (no bulk flow on a production link).
pub(crate) fn rtt_plan(
    peers: &[String],
    token: String,
    secs: f64,
) -> Result<NetPlan, NetPlanError> {
    let plan = net_plan(
        peers,
        token,
        &[NetProbeArg::Rtt],
        Some(Duration::from_secs_f64(secs)),
    )?;
    plan.validate()?;
    Ok(plan)
}

/// Applies `--heartbeat-interval` to the network thresholds.
fn heartbeat(interval: Option<Duration>, t: &mut NetThresholds) -> Result<(), NetPlanError> {
    if let Some(ms) = interval.map(|d| d.as_secs_f64() * 1000.0) {
        if !(ms.is_finite() && ms > 0.0 && ms <= MAX_ELECTION_TIMEOUT_MS) {
            return Err(NetPlanError::HeartbeatInterval(ms));
        }
        t.heartbeat_interval_ms = ms;
    }
    Ok(())
}

impl PeerArgs {
    /// The network plan, when peers were given; applies
    /// `--heartbeat-interval` to `judge`'s profile.
    pub fn into_plan(self, judge: &mut JudgePlan) -> Result<Option<NetPlan>, NetPlanError> {
        heartbeat(self.heartbeat_interval, &mut judge.profile.net)?;
        let Some((peers, token)) = self.agents.given() else {
            return Ok(None);
        };
        let plan = net_plan(&peers, token, &self.net_probe, self.net_duration)?;
        plan.validate()?;
        Ok(Some(plan))
    }
}

impl NetArgs {
    /// The run plan, how to judge it and where the report goes.
    pub fn into_plans(self) -> Result<NetRequest, NetArgsError> {
        let mut plan = net_plan(&self.peers, self.token, &self.probe, self.duration)?;
        plan.iface = self.iface;
        if let Some(d) = self.timeout {
            plan.timeout = positive(d).ok_or(NetPlanError::Timeout(d.as_secs_f64()))?;
        }
        if let Some(sizes) = self.message_size {
            plan.message_sizes = sizes;
        }
        if let Some(rate) = self.rate {
            plan.rate_hz = rate;
        }
        plan.validate()?;
        let mut judge = self.judge.into_plan()?;
        heartbeat(self.heartbeat_interval, &mut judge.profile.net)?;
        Ok(NetRequest {
            plan,
            repeat: self.repeat,
            rtt_baseline: self.rtt_baseline,
            judge,
            output: self.output.into(),
        })
    }
}

/// `d` when it is more than zero.
fn positive(d: Duration) -> Option<Duration> {
    (!d.is_zero()).then_some(d)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Net {
        #[command(flatten)]
        args: NetArgs,
    }

    #[derive(Debug, Parser)]
    struct Agent {
        #[command(flatten)]
        args: AgentArgs,
    }

    /// The plan of `net --token t ARGS`, or the error (clap's or ours).
    fn net(args: &[&str]) -> Result<(NetPlan, NetThresholds), String> {
        let mut argv = vec!["net", "--token", "t"];
        argv.extend_from_slice(args);
        let parsed = Net::try_parse_from(argv).map_err(|e| e.to_string())?;
        let req = parsed.args.into_plans().map_err(|e| e.to_string())?;
        Ok((req.plan, req.judge.profile.net))
    }

    /// The plan of `agent --token t ARGS`, or the error (clap's or ours).
    fn agent(args: &[&str]) -> Result<AgentPlan, String> {
        let mut argv = vec!["agent", "--token", "t"];
        argv.extend_from_slice(args);
        let parsed = Agent::try_parse_from(argv).map_err(|e| e.to_string())?;
        parsed.args.into_plan().map_err(|e| e.to_string())
    }

    #[test]
    fn defaults_are_the_default_plan() {
        let (plan, t) = net(&["--peers", "10.0.0.2:7480,10.0.0.3:7480"]).unwrap();
        let peers = vec![
            Peer::parse("10.0.0.2:7480").unwrap(),
            Peer::parse("10.0.0.3:7480").unwrap(),
        ];
        assert_eq!(plan, NetPlan::new(peers, Token::new("t").unwrap()));
        assert_eq!(t, NetThresholds::default());
    }

    #[test]
    fn flags_shape_the_plan() {
        let (plan, t) = net(&[
            "--peers=10.0.0.2:1",
            "--probe=loaded-rtt,rtt",
            "--duration=1.5",
            "--timeout=2",
            "--message-size=100,4096",
            "--rate=50",
            "--iface=eth1",
            "--heartbeat-interval=250",
        ])
        .unwrap();
        let (again, t2) = net(&[
            "--peers=10.0.0.2:1",
            "--duration=1500ms",
            "--timeout=2s",
            "--heartbeat-interval=0.25s",
        ])
        .unwrap();
        assert_eq!(
            (again.duration, again.timeout),
            (plan.duration, plan.timeout)
        );
        assert_eq!(t2.heartbeat_interval_ms, 250.0);
        assert_eq!(plan.probes, [NetProbeKind::LoadedRtt, NetProbeKind::Rtt]);
        assert_eq!(plan.duration, Duration::from_millis(1500));
        assert_eq!(plan.timeout, Duration::from_secs(2));
        assert_eq!(plan.message_sizes, [100, 4096]);
        assert_eq!(plan.rate_hz, 50);
        assert_eq!(plan.iface.as_deref(), Some("eth1"));
        assert_eq!(t.heartbeat_interval_ms, 250.0);
    }

    #[test]
    fn bad_values_name_the_flag() {
        let msg = |a: &[&str]| net(a).unwrap_err();
        let p = "--peers=10.0.0.2:1";
        assert!(msg(&["--peers=10.0.0.2"]).starts_with("--peers: \"10.0.0.2\""));
        assert!(msg(&["--peers=10.0.0.2:1,nope:x"]).starts_with("--peers: "));
        assert!(msg(&["--peers=10.0.0.2:1,10.0.0.2:1"]).starts_with("--peers "));
        assert!(msg(&[p, "--duration=0"]).starts_with("--duration "));
        assert!(msg(&[p, "--duration=NaN"]).contains("'--duration <DURATION>'"));
        assert!(msg(&[p, "--duration=1e300"]).contains("'--duration <DURATION>'"));
        assert!(msg(&[p, "--duration=2h"]).starts_with("--duration "));
        assert!(msg(&[p, "--timeout=-1"]).contains("'--timeout <DURATION>'"));
        assert!(msg(&[p, "--message-size=2"]).starts_with("--message-size "));
        assert!(msg(&[p, "--rate=0"]).starts_with("--rate "));
        assert!(msg(&[p, "--probe=rtt,rtt"]).starts_with("--probe "));
        assert!(msg(&[p, "--heartbeat-interval=0"]).starts_with("--heartbeat-interval "));
    }

    #[test]
    fn agent_binds_exactly_where_told_within_limits() {
        let plan = agent(&[
            "--listen=10.0.0.2:7480",
            "--max-clients=2",
            "--max-seconds=5",
        ])
        .unwrap();
        assert_eq!(plan.listen, "10.0.0.2:7480".parse().unwrap());
        assert_eq!(plan.limits.max_clients, 2);
        assert_eq!(plan.limits.max_test_duration, Duration::from_secs(5));
        let msg = |a: &[&str]| agent(a).unwrap_err();
        assert!(msg(&["--listen=localhost:7480"]).starts_with("--listen: "));
        assert!(msg(&["--listen=7480"]).starts_with("--listen: "));
        assert!(msg(&["--listen=[::1]:1", "--max-clients=0"]).starts_with("--max-clients "));
        assert!(msg(&["--listen=[::1]:1", "--max-seconds=0"]).starts_with("--max-seconds "));
        assert!(msg(&["--listen=[::1]:1", "--max-seconds=2h"]).starts_with("--max-seconds "));
        let plan = agent(&["--listen=10.0.0.2:7480", "--max-seconds=1m30s"]).unwrap();
        assert_eq!(plan.limits.max_test_duration, Duration::from_secs(90));
        assert!(msg(&["--listen=[::1]:1", "--max-bytes=0"]).starts_with("--max-bytes "));
        assert!(Agent::try_parse_from(["agent", "--token", "t"]).is_err());
    }
}
