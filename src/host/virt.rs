//! Is this host a virtual machine, and whose? The guide's Section 3 blames
//! much etcd trouble on "k8s clusters built on a virtualization layer" that
//! cannot isolate one VM from its neighbours; knowing the hypervisor and
//! cloud vendor lets findings speak the operator's terms (ESSD on Alibaba
//! Cloud, dedicated hosts elsewhere). Read from the CPU's `hypervisor` flag
//! (/proc/cpuinfo) and the firmware's DMI strings (/sys/class/dmi/id).

use std::fs;
use std::path::Path;

use serde::{Deserialize, Serialize};

/// What the host runs on.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Virtualization {
    /// True when the CPU reports the `hypervisor` flag (a guest).
    pub hypervisor: bool,
    /// DMI system vendor, e.g. `Alibaba Cloud`, `Amazon EC2`, `QEMU`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vendor: Option<String>,
    /// DMI product name, e.g. `Alibaba Cloud ECS`, `m5.large`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    /// The cloud the DMI strings name, if they name one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud: Option<String>,
}

/// DMI vendor or product substrings and the cloud they belong to.
const CLOUDS: [(&str, &str); 9] = [
    ("alibaba", "Alibaba Cloud"),
    ("amazon", "AWS"),
    ("google", "Google Cloud"),
    ("microsoft", "Azure"),
    ("tencent", "Tencent Cloud"),
    ("huawei", "Huawei Cloud"),
    ("openstack", "OpenStack"),
    ("digitalocean", "DigitalOcean"),
    ("hetzner", "Hetzner"),
];

impl Virtualization {
    /// Reads the facts of this host.
    pub fn collect() -> Virtualization {
        Virtualization::from_sources(
            &fs::read_to_string("/proc/cpuinfo").unwrap_or_default(),
            Path::new("/sys/class/dmi/id"),
        )
    }

    fn from_sources(cpuinfo: &str, dmi: &Path) -> Virtualization {
        let read = |name: &str| {
            fs::read_to_string(dmi.join(name))
                .ok()
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
        };
        let vendor = read("sys_vendor");
        let product = read("product_name");
        let hay = format!(
            "{} {}",
            vendor.as_deref().unwrap_or(""),
            product.as_deref().unwrap_or("")
        )
        .to_lowercase();
        Virtualization {
            hypervisor: cpuinfo
                .lines()
                .filter(|l| l.starts_with("flags"))
                .any(|l| l.split_whitespace().any(|f| f == "hypervisor")),
            cloud: CLOUDS
                .iter()
                .find(|(needle, _)| hay.contains(needle))
                .map(|(_, cloud)| cloud.to_string()),
            vendor,
            product,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dmi_strings_name_the_cloud() {
        let dmi = tempfile::tempdir().unwrap();
        fs::write(dmi.path().join("sys_vendor"), "Alibaba Cloud\n").unwrap();
        fs::write(dmi.path().join("product_name"), "Alibaba Cloud ECS\n").unwrap();
        let v = Virtualization::from_sources("flags\t: fpu vme hypervisor lahf_lm\n", dmi.path());
        assert!(v.hypervisor);
        assert_eq!(v.vendor.as_deref(), Some("Alibaba Cloud"));
        assert_eq!(v.cloud.as_deref(), Some("Alibaba Cloud"));
    }

    #[test]
    fn bare_metal_without_dmi_is_plain() {
        let v = Virtualization::from_sources("flags\t: fpu vme\n", Path::new("/nonexistent-dmi"));
        assert_eq!(v, Virtualization::default());
    }
}
