//! Network probes: RTT, throughput and RTT under load between this host and
//! `etcd-doctor agent` peers.

pub mod result;

pub use result::{NetProbeKind, NetResult};
