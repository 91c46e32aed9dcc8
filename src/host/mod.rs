//! Host context: facts about the machine the probes ran on (procfs, sysfs),
//! which rules use to tell hardware problems from contention.

pub mod activity;
pub mod device;
pub mod etcd;
pub mod peersock;
pub mod proc;
pub mod virt;

use std::path::Path;

use serde::{Deserialize, Serialize};

use activity::ActivitySampler;
use device::DeviceFacts;

/// Facts about this host.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct HostFacts {
    /// Host name.
    pub hostname: String,
    /// Kernel release (`uname -r`).
    pub kernel: String,
    /// Online CPUs.
    pub cpus: usize,
    /// The device and filesystem holding the probed directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device: Option<device::DeviceFacts>,
    /// Hypervisor and cloud vendor.
    #[serde(default)]
    pub virtualization: virt::Virtualization,
    /// CPU, device and other processes' IO while the probes ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub activity: Option<activity::HostActivity>,
    /// The host's own addresses (every interface's, loopback and IPv6
    /// link-local left out): the addresses its probes ran from and the
    /// ones its peers name it by, so `merge` can tell which report's host
    /// another report's peer is.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub addresses: Vec<std::net::IpAddr>,
}

/// Host facts being gathered while a command runs: identity and device
/// facts from the start, activity from [`HostFacts::watch`] to
/// [`HostWatch::finish`].
pub struct HostWatch {
    facts: HostFacts,
    sampler: ActivitySampler,
}

impl HostWatch {
    /// The facts, with the activity since the watch started.
    pub fn finish(self) -> HostFacts {
        HostFacts {
            activity: Some(self.sampler.finish()),
            ..self.facts
        }
    }
}

impl HostFacts {
    /// Starts watching this host: collects its facts and those of the
    /// device holding `dir` (left out when `dir` cannot be read: the probe
    /// reports that with its own message), and samples activity from now on.
    pub fn watch(dir: Option<&Path>) -> HostWatch {
        let mut facts = HostFacts::collect();
        facts.device = dir.and_then(|d| DeviceFacts::for_dir(d).ok());
        HostWatch {
            sampler: ActivitySampler::start(facts.device.as_ref()),
            facts,
        }
    }

    /// Reads the identity facts of this host.
    pub fn collect() -> HostFacts {
        let uts = nix::sys::utsname::uname().ok();
        HostFacts {
            hostname: uts
                .as_ref()
                .map(|u| u.nodename().to_string_lossy().into_owned())
                .unwrap_or_default(),
            kernel: uts
                .as_ref()
                .map(|u| u.release().to_string_lossy().into_owned())
                .unwrap_or_default(),
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            device: None,
            virtualization: virt::Virtualization::collect(),
            activity: None,
            addresses: own_addresses(),
        }
    }
}

/// Every interface address of this host a peer could name it by.
fn own_addresses() -> Vec<std::net::IpAddr> {
    let mut addresses: Vec<std::net::IpAddr> = pnet::datalink::interfaces()
        .iter()
        .flat_map(|i| i.ips.iter().map(|n| n.ip()))
        .filter(|ip| !ip.is_loopback() && !is_link_local_v6(ip))
        .collect();
    addresses.sort();
    addresses.dedup();
    addresses
}

/// IPv6 fe80::/10: valid only with a zone, never how a peer names a host.
fn is_link_local_v6(ip: &std::net::IpAddr) -> bool {
    matches!(ip, std::net::IpAddr::V6(v6) if (v6.segments()[0] & 0xffc0) == 0xfe80)
}
