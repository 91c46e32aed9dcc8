//! The all-pairs path matrix: every host's net results, with each peer
//! address resolved to the host whose report lists that address. One
//! entry per ordered pair (from, to): the RTT `from` measured to `to` and
//! the rate each way as `from` measured it. A host's results against its
//! own agent (one peer list for the whole fleet) are left out.

use std::collections::HashMap;
use std::net::IpAddr;

use serde::{Deserialize, Serialize};

use super::input::{name_of, Input};
use crate::measure::LatencySummary;
use crate::probe::net::{NetProbeKind, NetResult};

/// One measured ordered pair of hosts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PathEntry {
    /// The host that ran the probes.
    pub from: String,
    /// The peer: a host name when a merged report lists its address, else
    /// the peer as `from` named it (`ADDR:PORT`).
    pub to: String,
    /// Idle RTT median, milliseconds (rtt probe).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rtt_p50_ms: Option<f64>,
    /// Idle RTT 99th percentile, milliseconds (rtt probe).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rtt_p99_ms: Option<f64>,
    /// Rate `from` -> `to`, Mbit/s (throughput probe, as `to` received it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upload_mbit_s: Option<f64>,
    /// Rate `to` -> `from`, Mbit/s (throughput probe, as `from` received it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub download_mbit_s: Option<f64>,
    /// Faster direction over the slower one, when both were measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asymmetry_ratio: Option<f64>,
    /// Why a probe on this pair failed, if one did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The matrix: one entry per (host, peer) the reports measured, sorted.
/// Linear in the results: pairs and addresses are looked up by hash.
pub fn paths(inputs: &[Input]) -> Vec<PathEntry> {
    let hosts = HostIndex::new(inputs);
    let mut out: Vec<PathEntry> = Vec::new();
    let mut at: HashMap<(String, String), usize> = HashMap::new();
    for input in inputs {
        let from = name_of(input);
        for r in &input.report.net {
            let to = hosts.resolve(&r.peer);
            if to == from {
                // Its own agent (a fleet-wide peer list): the loopback path.
                continue;
            }
            let i = *at.entry((from.clone(), to.clone())).or_insert_with(|| {
                out.push(PathEntry::new(&from, &to));
                out.len() - 1
            });
            out[i].add(r);
        }
    }
    out.sort_by(|a, b| (&a.from, &a.to).cmp(&(&b.from, &b.to)));
    out
}

impl PathEntry {
    fn new(from: &str, to: &str) -> PathEntry {
        PathEntry {
            from: from.to_string(),
            to: to.to_string(),
            rtt_p50_ms: None,
            rtt_p99_ms: None,
            upload_mbit_s: None,
            download_mbit_s: None,
            asymmetry_ratio: None,
            error: None,
        }
    }

    /// Takes in one net result of this pair.
    fn add(&mut self, r: &NetResult) {
        if let Some(e) = &r.error {
            self.error = Some(format!("{}: {e}", r.probe.as_str()));
        }
        match r.probe {
            NetProbeKind::Rtt => {
                self.rtt_p50_ms = r.latency_us.as_ref().map(LatencySummary::p50_ms);
                self.rtt_p99_ms = r.latency_us.as_ref().map(LatencySummary::p99_ms);
            }
            NetProbeKind::Throughput => {
                self.upload_mbit_s = r.upload_mbit_s;
                self.download_mbit_s = r.download_mbit_s;
                self.asymmetry_ratio = match (r.upload_mbit_s, r.download_mbit_s) {
                    (Some(u), Some(d)) if u > 0.0 && d > 0.0 => Some(u.max(d) / u.min(d)),
                    _ => None,
                };
            }
            NetProbeKind::LoadedRtt => {}
        }
    }
}

/// The merged hosts by address and by hostname (the first report naming
/// each wins, as a scan in input order would find).
struct HostIndex {
    by_addr: HashMap<IpAddr, String>,
    by_name: HashMap<String, String>,
}

impl HostIndex {
    fn new(inputs: &[Input]) -> HostIndex {
        let mut by_addr = HashMap::new();
        let mut by_name = HashMap::new();
        for i in inputs {
            for a in &i.report.host.addresses {
                by_addr.entry(*a).or_insert_with(|| name_of(i));
            }
            by_name
                .entry(i.report.host.hostname.clone())
                .or_insert_with(|| name_of(i));
        }
        HostIndex { by_addr, by_name }
    }

    /// The host a peer `ADDR:PORT` (or `NAME:PORT`) is: the merged report
    /// whose addresses hold ADDR, or whose hostname is NAME.
    fn resolve(&self, peer: &str) -> String {
        let host = peer.rsplit_once(':').map_or(peer, |(h, _)| h);
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let found = match host.parse::<IpAddr>() {
            Ok(ip) => self.by_addr.get(&ip),
            Err(_) => self.by_name.get(host),
        };
        found.cloned().unwrap_or_else(|| peer.to_string())
    }
}
