//! Network probes: is the path between this host and its etcd peers fast
//! enough, and does it stay fast when a bulk transfer shares it (the field
//! guide's shared business/etcd NIC)?
//!
//! `etcd-doctor agent` ([`agent`]) runs on each peer host and answers the
//! tests of a tiny versioned protocol ([`proto`]). A [`NetPlan`] names the
//! peers and probes; [`run`] measures, per peer:
//! - `rtt` ([`rtt`]): paced ping-pong latency, counted from each ping's
//!   scheduled send time;
//! - `throughput` ([`bulk`]): a bulk transfer each way;
//! - `loaded-rtt`: idle RTT, then RTT while an upload saturates the path;
//!
//! with the local interface's rates, drops, errors and TCP retransmits
//! sampled around each measurement ([`nic`]), and for loaded-rtt in the
//! second before the run's first probe, with the other TCP flows on it
//! ([`flows`]). Every wait is bounded by the
//! plan's timeout and every probe by [`NetPlan::row_time_bound`]; a peer
//! that fails is a result row with `error` set.

pub mod agent;
pub mod baseline;
mod bulk;
mod client;
mod flows;
pub mod nic;
mod plan;
pub mod proto;
pub mod result;
pub mod rtt;
mod runner;
pub mod tcpinfo;
mod threads;

pub use client::PeerError;
pub use plan::{
    NetPlan, NetPlanError, Peer, Token, HEARTBEAT_MESSAGE_BYTES, MAX_DURATION_SECS,
    MAX_MESSAGE_BYTES, MAX_RATE_HZ, MAX_TIMEOUT_SECS,
};
pub use result::{
    BeforeProbe, CeilingSource, FlowRate, NetProbeKind, NetResult, NicUsage, PathLoss, Schedule,
    SocketLoss,
};
pub use runner::run;
