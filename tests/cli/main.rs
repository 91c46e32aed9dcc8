//! Command-line, rendering and rule tests that need no root, no etcd and no
//! timing: fixed models, bad input, and snapshots of every output format.
//! One test binary per area (as ripgrep does): every module here links
//! the crate once, and the modules share `support`.

#[path = "../support/mod.rs"]
mod support;

mod bad_input;
mod cluster_cli;
mod cluster_render;
mod cluster_rules;
mod compare_render;
mod consistency_rules;
mod contract;
mod deploy_manifests;
mod disk_render;
mod disk_signal;
mod durations;
mod load_render;
mod logs_cli;
mod merge_cli;
mod net_agent;
mod net_cli;
mod net_render;
mod packaging_cli;
mod qualify_cli;
mod report_html;
mod snapshot_plan_render;
mod verdict_render;
mod watch_cli;
