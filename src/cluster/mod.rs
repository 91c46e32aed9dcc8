//! The live-cluster inspector: what etcd itself reports (status, members,
//! health, alarms, metrics), read with etcd-client and each member's /metrics.

pub mod model;

pub use model::ClusterReport;
