//! `etcd-doctor load` arguments: the cluster flags the other cluster
//! commands take, `etcdctl check perf`'s `--load`, the custom workload
//! flags and the safety switches, converted at once into a [`LoadPlan`],
//! a [`ConnPlan`] and a [`Safety`].

use std::time::Duration;

use clap::Args;
use thiserror::Error;

use super::cluster::{reach, ConnArgs, DiscoveryArgs, ReachError};
use super::duration::parse_duration;
use super::judge::{JudgeArgs, JudgePlan};
use super::output::OutputArgs;
use crate::cluster::conn::ConnPlan;
use crate::load::plan::{parse_size, LoadPlan, LoadPlanError, LoadRequest, Mix, Preset};
use crate::load::Safety;
use crate::report::OutputPlan;
use crate::rules::ProfileError;

/// `load` arguments.
#[derive(Debug, Args)]
pub struct LoadArgs {
    /// etcdctl check perf's workload: s (150 puts/s, 50 clients), m (1000, 200),
    /// l (8000, 500), xl (15000, 1000); 60 s, 256-byte keys, 1 KiB values.
    #[arg(long = "load", value_name = "s|m|l|xl", default_value = "s", value_parser = Preset::parse)]
    pub preset: Preset,
    /// Target requests per second [default: the load's].
    #[arg(long, value_name = "N")]
    pub rate: Option<u32>,
    /// Most requests in flight [default: the load's].
    #[arg(long, value_name = "N")]
    pub clients: Option<u32>,
    /// gRPC connections, round-robin over the members [default: one per client, at most 1000].
    #[arg(long, value_name = "N")]
    pub conns: Option<u32>,
    /// How long to send, e.g. 10s, 2m [default: 60s, as check perf].
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub duration: Option<Duration>,
    /// Refuse any --duration longer than this.
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = parse_duration)]
    pub max_duration: Duration,
    /// Key bytes after the prefix, e.g. 256, 1KiB [default: 256].
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub key_size: Option<usize>,
    /// Value bytes of writes [default: 1024].
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub value_size: Option<usize>,
    /// Operation mix: weights of put, range (linearizable), range-serializable and txn,
    /// e.g. put=70,range=20,range-serializable=5,txn=5 [default: put=1].
    #[arg(long, value_name = "KIND=W,...", value_parser = Mix::parse)]
    pub mix: Option<Mix>,
    /// Distinct keys to use [default: random 63-bit keys, as check perf].
    #[arg(long, value_name = "N")]
    pub key_space: Option<u64>,
    /// Prefix of every key written; must be empty before, deleted after.
    #[arg(long, value_name = "PREFIX", default_value = "/etcd-doctor-load/")]
    pub prefix: String,
    /// Time between /metrics scrapes during the run.
    #[arg(long, value_name = "DURATION", default_value = "5s", value_parser = parse_duration)]
    pub scrape_interval: Duration,
    /// Run even with an active alarm or a member down.
    #[arg(long)]
    pub force: bool,
    /// Compact to the revision of the prefix's deletion afterwards.
    #[arg(long)]
    pub compact: bool,
    /// Defragment every member afterwards, one at a time.
    #[arg(long)]
    pub defrag: bool,
    #[command(flatten)]
    pub conn: ConnArgs,
    #[command(flatten)]
    pub discovery: DiscoveryArgs,
    #[command(flatten)]
    pub judge: JudgeArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// `load` arguments that cannot make plans; each names its flag or file.
#[derive(Debug, Error)]
pub enum LoadArgsError {
    /// A workload flag.
    #[error(transparent)]
    Plan(#[from] LoadPlanError),
    /// The kubeadm manifest, a connection flag or TLS file.
    #[error(transparent)]
    Reach(#[from] ReachError),
    /// `--profile`.
    #[error(transparent)]
    Profile(#[from] ProfileError),
}

/// Everything a `load` run needs.
#[derive(Debug)]
pub struct LoadPlans {
    /// What to send.
    pub load: LoadPlan,
    /// What to do around the run.
    pub safety: Safety,
    /// Where and how to connect.
    pub conn: ConnPlan,
    /// How the findings are judged.
    pub judge: JudgePlan,
    /// Where to write the report.
    pub output: OutputPlan,
    /// What discovery found, when it ran.
    pub discovery: Option<crate::discover::Discovery>,
}

impl LoadArgs {
    /// The plans these arguments ask for.
    pub fn into_plans(self) -> Result<LoadPlans, LoadArgsError> {
        let load = LoadPlan::new(LoadRequest {
            preset: self.preset,
            rate: self.rate,
            clients: self.clients,
            conns: self.conns,
            duration: self.duration,
            key_size: self.key_size,
            value_size: self.value_size,
            mix: self.mix,
            key_space: self.key_space,
            max_duration: self.max_duration,
            prefix: self.prefix,
            scrape_interval: self.scrape_interval,
        })?;
        let mut judge = self.judge.into_plan()?;
        let (conn, discovery) = reach(self.conn, &self.discovery)?;
        // The running etcd's heartbeat and election, as diagnose judges.
        if let Some(d) = &discovery {
            judge.profile.adopt(&d.settings);
        }
        Ok(LoadPlans {
            discovery,
            load,
            safety: Safety {
                force: self.force,
                compact: self.compact,
                defrag: self.defrag,
            },
            conn,
            judge,
            output: self.output.into(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Wrap {
        #[command(flatten)]
        args: LoadArgs,
    }

    fn plans(args: &str) -> Result<LoadPlans, String> {
        let argv = std::iter::once("load").chain(args.split_whitespace());
        let wrap = Wrap::try_parse_from(argv).map_err(|e| e.to_string())?;
        wrap.args.into_plans().map_err(|e| e.to_string())
    }

    #[test]
    fn flags_override_the_preset() {
        let p = plans(
            "--load m --duration 5s --rate 300 --mix put=3,range=1 --key-size 1KiB --no-discover",
        )
        .unwrap();
        assert_eq!(
            (p.load.rate_per_s, p.load.clients, p.load.duration_s),
            (300, 200, 5.0)
        );
        assert_eq!(p.load.key_bytes, 1024);
        assert_eq!(p.load.mix.weights, [3, 1, 0, 0]);
        assert_eq!(p.conn.endpoints[0].url, "http://127.0.0.1:2379");
    }

    #[test]
    fn bad_flags_are_named() {
        for (args, needle) in [
            ("--load huge", "--load"),
            ("--mix put=x", "--mix"),
            ("--rate 0", "--rate"),
            ("--duration 2h", "--duration"),
            ("--value-size 2MiB", "--value-size"),
            ("--scrape-interval 1ms", "--scrape-interval"),
        ] {
            let e = plans(args).unwrap_err();
            assert!(e.contains(needle), "{args}: {e}");
        }
    }
}
