//! Disk probes: how long etcd would wait on this directory's disk.

pub mod result;

pub use result::{DiskProbeKind, DiskResult, EngineKind, StopReason, TimelinePoint};
