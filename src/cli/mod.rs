//! Command-line types (clap derive) and their conversion into typed plans.
//!
//! Nothing outside this module sees a clap type: each subcommand's
//! arguments are converted at once into a plan (ripgrep's lowargs -> hiargs),
//! and validation errors name the flag that was wrong.

pub mod cluster;
pub mod disk;
pub mod duration;
pub mod merge;
pub mod net;
pub mod output;
pub mod packaging;
pub mod snapshot;
pub mod verdict;

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
    Diagnose(verdict::DiagnoseArgs),
    /// Compare two JSON reports; exit 1 on a regression beyond noise.
    Compare(verdict::CompareArgs),
    /// Merge host reports (files, or `-` for `kubectl logs` output) into one fleet report.
    Merge(merge::MergeArgs),
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
}
