//! Host context: facts about the machine the probes ran on (procfs, sysfs),
//! which rules use to tell hardware problems from contention.

pub mod activity;
pub mod device;
pub mod virt;

use serde::{Deserialize, Serialize};

/// Facts about this host.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
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
}

impl HostFacts {
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
        }
    }
}
