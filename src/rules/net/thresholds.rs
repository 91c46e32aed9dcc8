//! The thresholds of the network rules (a profile's `[net]` section).

use serde::{Deserialize, Serialize};

use crate::measure::round2;
use crate::rules::bounds::{check_keys, BadKey, Bound};

/// Largest election timeout etcd accepts, ms (`--election-timeout` is
/// capped at 50000).
pub const MAX_ELECTION_TIMEOUT_MS: f64 = 50_000.0;

/// Thresholds of the network rules. `Default` is etcd's guidance; a profile
/// may override any field (unknown fields are refused).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NetThresholds {
    /// The cluster's `--heartbeat-interval`, ms. etcd's default is 100
    /// (etcd docs, "Tuning": the interval should be around the maximum RTT
    /// between members).
    pub heartbeat_interval_ms: f64,
    /// Warn when a peer's RTT p99 reaches this fraction of the heartbeat
    /// interval; fail when it reaches the whole interval. 0.5: etcd's
    /// tuning guide sets the heartbeat at 0.5-1.5x the RTT, so past half
    /// the interval jitter alone can delay a heartbeat past the next one.
    pub rtt_warn_heartbeat_ratio: f64,
    /// Loaded RTT p99 over idle RTT p99 at or above which a bulk flow is
    /// said to inflate the path's latency. 10: a link whose queue adds ten
    /// times its base RTT under load (bufferbloat) rather than a few percent.
    pub inflation_ratio: f64,
    /// A NIC's peak rate over its ceiling at or above which it is said to
    /// be saturated. 0.8: TCP over a full link rarely shows more than
    /// 90-95 % of line rate in goodput.
    pub nic_saturated_ratio: f64,
    /// TCP retransmitted over sent segments, during the rtt probe, above
    /// which the path is said to lose packets. 0.01: a healthy LAN
    /// retransmits well under 0.1 %.
    pub retransmit_ratio: f64,
    /// Interface drops over packets above which the NIC is said to drop.
    /// 0.001: one packet in a thousand.
    pub drop_ratio: f64,
    /// TCP retransmission timeouts tolerated during the rtt probe. 0: each
    /// one stalls a connection for at least 200 ms (Linux's minimum RTO),
    /// two heartbeat intervals at etcd's default.
    pub rto_timeouts_count: u64,
    /// Share of the rtt probe's bytes sent again, either way, from which a
    /// quiet path is called lossy (warn). 0.01: a healthy link loses none
    /// of a ping stream (0 of 100 kB on every healthy run measured); at 1 %
    /// a 200-per-second heartbeat stream stalls for a retransmission
    /// timeout every half second.
    pub lossy_resent_ratio: f64,
    /// The share from which a lossy path fails. 0.05: back-to-back losses
    /// double the timeout (200, 400, 800 ms), past etcd's default 1 s
    /// election timeout; measured RTT p99 0.7 s at 10 % loss.
    pub lossy_fail_resent_ratio: f64,
}

impl Default for NetThresholds {
    fn default() -> Self {
        NetThresholds {
            heartbeat_interval_ms: 100.0,
            rtt_warn_heartbeat_ratio: 0.5,
            inflation_ratio: 10.0,
            nic_saturated_ratio: 0.8,
            retransmit_ratio: 0.01,
            drop_ratio: 0.001,
            rto_timeouts_count: 0,
            lossy_resent_ratio: 0.01,
            lossy_fail_resent_ratio: 0.05,
        }
    }
}

impl NetThresholds {
    /// Checks the values of a profile's `[net]` section.
    pub fn validate(&self) -> Result<(), BadKey> {
        // The RTT fail level is the whole heartbeat interval (ratio 1), so
        // the warn ratio is a fraction of it.
        check_keys(
            "net",
            &[
                (
                    "heartbeat_interval_ms",
                    self.heartbeat_interval_ms,
                    Bound::AtMost(MAX_ELECTION_TIMEOUT_MS),
                ),
                (
                    "rtt_warn_heartbeat_ratio",
                    self.rtt_warn_heartbeat_ratio,
                    Bound::Fraction,
                ),
                ("inflation_ratio", self.inflation_ratio, Bound::Positive),
                (
                    "nic_saturated_ratio",
                    self.nic_saturated_ratio,
                    Bound::Fraction,
                ),
                ("retransmit_ratio", self.retransmit_ratio, Bound::Fraction),
                ("drop_ratio", self.drop_ratio, Bound::Fraction),
                (
                    "lossy_resent_ratio",
                    self.lossy_resent_ratio,
                    Bound::Fraction,
                ),
                (
                    "lossy_fail_resent_ratio",
                    self.lossy_fail_resent_ratio,
                    Bound::Fraction,
                ),
            ],
        )
    }
}

/// A ratio as the percent the findings show.
pub(super) fn pct(ratio: f64) -> f64 {
    round2(ratio * 100.0)
}
