//! Tests against real etcd 3.4, 3.5, 3.6 and 3.7 clusters started by the
//! tests: status, members, metrics, TLS, logs, snapshots, consistency,
//! signals and a rolling upgrade.
//! One test binary per area (as ripgrep does): every module here links
//! the crate once, and the modules share `support`.

#[path = "../support/mod.rs"]
mod support;

mod cluster_auth;
mod cluster_consistency;
mod cluster_live;
mod cluster_metrics;
mod cluster_rejoin;
mod cluster_tls;
mod discover_hosts;
mod discover_pods;
mod signals;
mod snapshot_analyze;
mod snapshot_analyze_skip_hash;
mod snapshot_save;
mod snapshot_source_choice;
mod snapshot_verify_cli;
mod version_upgrade;
mod watch_live;
