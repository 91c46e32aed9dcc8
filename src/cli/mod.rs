//! Command-line types (clap derive) and their conversion into typed plans.
//!
//! Nothing outside this module sees a clap type: each subcommand's
//! arguments are converted at once into a plan (ripgrep's lowargs -> hiargs),
//! and validation errors name the flag that was wrong.

pub mod cluster;
pub mod disk;
pub mod duration;
pub mod judge;
pub mod keyspace;
pub mod load;
pub mod logs;
pub mod merge;
pub mod net;
pub mod output;
pub mod packaging;
pub mod snapshot;
pub mod verdict;
pub mod watch;

use clap::{Parser, Subcommand};

/// etcd-doctor: qualify hosts for etcd, diagnose live clusters, catch regressions.
#[derive(Debug, Parser)]
#[command(name = "etcd-doctor", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Measure fdatasync, WAL-like and backend-commit latency of a directory's disk.
    Disk(disk::DiskArgs),
    /// Serve RTT and throughput tests for `etcd-doctor net` on a peer host.
    Agent(net::AgentArgs),
    /// Measure RTT, throughput and RTT under load to agent peers.
    Net(net::NetArgs),
    /// Inspect a live cluster: status, members, health, alarms, metrics.
    Cluster(cluster::ClusterArgs),
    /// Save and verify snapshots; print restore runbooks.
    Snapshot(snapshot::SnapshotArgs),
    /// Qualify a host for etcd: PASS/WARN/FAIL against a profile.
    Qualify(verdict::QualifyArgs),
    /// Diagnose a live cluster and this host: findings, most severe first.
    Diagnose(Box<verdict::DiagnoseArgs>),
    /// Compare baseline JSON reports with current ones; exit 1 on a regression beyond noise.
    Compare(verdict::CompareArgs),
    /// Read etcd's logs: a timeline of the messages that matter, and findings.
    Logs(logs::LogsArgs),
    /// Load a live cluster as etcdctl check perf does, with open-loop percentiles and the cause of a shortfall.
    Load(load::LoadArgs),
    /// Merge host reports (files, or `-` for `kubectl logs` output) into one fleet report.
    Merge(merge::MergeArgs),
    /// Run continuously: an fsync canary, rolling-window findings, a Prometheus /metrics endpoint and a history.
    Watch(Box<watch::WatchArgs>),
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(packaging::CompletionsArgs),
    /// Print the man page (roff), or one subcommand's.
    Man(packaging::ManArgs),
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn every_subcommand_is_a_valid_clap_definition() {
        // Catches duplicate flag names across flattened groups (e.g. two
        // `--probe`s) that clap reports only when that subcommand runs.
        super::Cli::command().debug_assert();
    }

    fn compare(args: &[&str]) -> Result<super::verdict::CompareRequest, String> {
        use clap::Parser;
        let mut argv = vec!["etcd-doctor", "compare"];
        argv.extend_from_slice(args);
        match super::Cli::try_parse_from(argv)
            .map_err(|e| e.to_string())?
            .command
        {
            super::Command::Compare(a) => a.into_plans().map(|p| p.0).map_err(|e| e.to_string()),
            _ => unreachable!("compare parses as compare"),
        }
    }

    #[test]
    fn compare_takes_two_reports_or_baselines_and_current() {
        let two = compare(&["a.json", "b.json"]).unwrap();
        assert_eq!(two.baseline, ["a.json"].map(std::path::PathBuf::from));
        assert_eq!(two.current, ["b.json"].map(std::path::PathBuf::from));
        let many = compare(&["a.json", "dir", "--current", "c.json", "--strict"]).unwrap();
        assert_eq!(many.baseline.len(), 2);
        assert!(many.plan.strict);
        let err = compare(&["a.json", "b.json", "c.json"]).unwrap_err();
        assert!(
            err.contains("--current") && err.contains("3 report"),
            "{err}"
        );
        assert!(compare(&["--current", "c.json"]).is_err());
    }
}
