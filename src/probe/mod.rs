//! Probes measure the host: disk latency ([`disk`]) and the network path to
//! peers ([`net`]). Probes return facts; they never print.

pub mod disk;
pub mod net;
pub mod pace;
pub mod timeline;
