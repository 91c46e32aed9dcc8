//! Which device holds a directory, and what kind it is: the block device
//! and its parent disk (sysfs), the filesystem and mount point (procfs
//! mountinfo), whether the disk is rotational, its IO scheduler, and free
//! space. Rules use these to flag spinning disks and to name the device in
//! findings.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};

/// Facts about the device and filesystem holding a directory.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DeviceFacts {
    /// The directory the facts are for (canonical path).
    pub dir: PathBuf,
    /// `major:minor` of the filesystem holding it (`st_dev`).
    pub dev_major_minor: String,
    /// Mount point of that filesystem.
    pub mount_point: PathBuf,
    /// Filesystem type, e.g. `ext4`, `xfs`, `tmpfs`.
    pub fs_type: String,
    /// Mount source as the kernel reports it, e.g. `/dev/nvme0n1p2`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mount_source: Option<String>,
    /// Block device name in sysfs, e.g. `nvme0n1p2`; absent for filesystems
    /// without one (tmpfs, overlay).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block_device: Option<String>,
    /// The whole disk the block device belongs to, e.g. `nvme0n1`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disk: Option<String>,
    /// True for spinning disks (`queue/rotational`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rotational: Option<bool>,
    /// The active IO scheduler (`queue/scheduler`), e.g. `mq-deadline`, `none`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduler: Option<String>,
    /// Bytes available to unprivileged users on the filesystem.
    pub free_bytes: u64,
    /// Size of the filesystem, bytes.
    pub total_bytes: u64,
    /// What kind of virtual disk `disk` is (`loop`, `virtio_blk`,
    /// `virtio_scsi`, `xen_blkfront`, `nbd`, `rbd`); absent for a physical
    /// disk. A virtual disk's rotational flag says nothing about the medium.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub virtual_disk: Option<String>,
    /// For a loop device: the facts of the directory holding its backing
    /// file (`/sys/block/loopN/loop/backing_file`), whose device is the
    /// real medium.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backing: Option<Box<DeviceFacts>>,
}

impl DeviceFacts {
    /// Collects the facts for `dir`.
    pub fn for_dir(dir: &Path) -> Result<DeviceFacts> {
        DeviceFacts::for_dir_within(dir, MAX_LOOP_DEPTH)
    }

    /// The device whose rotational flag describes the medium: a loop
    /// device's backing device (recursively), else this one.
    pub fn medium(&self) -> &DeviceFacts {
        match &self.backing {
            Some(b) if b.disk.is_some() => b.medium(),
            _ => self,
        }
    }

    /// [`DeviceFacts::for_dir`], following at most `depth` loop devices to
    /// their backing files.
    fn for_dir_within(dir: &Path, depth: usize) -> Result<DeviceFacts> {
        let dir = fs::canonicalize(dir).with_context(|| format!("{}", dir.display()))?;
        let meta = fs::metadata(&dir).with_context(|| format!("{}", dir.display()))?;
        let dev = meta.dev();
        let majmin = format!("{}:{}", libc::major(dev), libc::minor(dev));
        let mut facts = DeviceFacts {
            dev_major_minor: majmin.clone(),
            ..DeviceFacts::default()
        };
        if let Some(m) = mount_of(&dir, &majmin)? {
            facts.mount_point = m.mount_point;
            facts.fs_type = m.fs_type;
            facts.mount_source = m.mount_source;
        }
        if let Some((block, disk)) = block_device(&majmin) {
            let queue = Path::new("/sys/block").join(&disk).join("queue");
            facts.rotational = read_trimmed(&queue.join("rotational")).map(|r| r == "1");
            facts.scheduler = read_trimmed(&queue.join("scheduler")).map(|s| active_scheduler(&s));
            facts.virtual_disk = virtual_kind(&disk);
            if depth > 0 {
                facts.backing = backing_dir(&disk)
                    .and_then(|d| DeviceFacts::for_dir_within(&d, depth - 1).ok())
                    .map(Box::new);
            }
            facts.block_device = Some(block);
            facts.disk = Some(disk);
        }
        let st = nix::sys::statvfs::statvfs(&dir)
            .with_context(|| format!("statvfs {}", dir.display()))?;
        let frag = st.fragment_size() as u64;
        facts.free_bytes = st.blocks_available() as u64 * frag;
        facts.total_bytes = st.blocks() as u64 * frag;
        facts.dir = dir;
        Ok(facts)
    }
}

/// The mount holding `dir`: the entry with its device number whose mount
/// point is the longest prefix of `dir` (the device number alone is
/// ambiguous for bind mounts; the prefix alone for btrfs subvolumes).
fn mount_of(dir: &Path, majmin: &str) -> Result<Option<procfs::process::MountInfo>> {
    let mounts = procfs::process::Process::myself()
        .and_then(|p| p.mountinfo())
        .context("reading /proc/self/mountinfo")?;
    let best = |same_dev: bool| {
        mounts
            .iter()
            .filter(|m| dir.starts_with(&m.mount_point) && (!same_dev || m.majmin == majmin))
            .max_by_key(|m| m.mount_point.as_os_str().len())
            .cloned()
    };
    Ok(best(true).or_else(|| best(false)))
}

/// The sysfs block device for `majmin` and its parent disk (the device
/// itself when it is a whole disk).
fn block_device(majmin: &str) -> Option<(String, String)> {
    let sys = fs::canonicalize(Path::new("/sys/dev/block").join(majmin)).ok()?;
    let name = sys.file_name()?.to_string_lossy().into_owned();
    let disk = if sys.join("partition").exists() {
        sys.parent()?.file_name()?.to_string_lossy().into_owned()
    } else {
        name.clone()
    };
    Some((name, disk))
}

/// Loop devices followed to their backing files (a loop on a file on a
/// loop ...): enough for any real stack, and a bound on the recursion.
const MAX_LOOP_DEPTH: usize = 3;

/// Drivers of paravirtual disks: the hypervisor decides what the rotational
/// flag says (virtio-blk reports rotational=1 by default).
const VIRTUAL_DRIVERS: [&str; 5] = ["virtio_blk", "xen_blkfront", "vbd", "nbd", "rbd"];

/// The kind of virtual disk `disk` is, if it is one: a loop device, a
/// paravirtual driver, or a SCSI disk behind virtio-scsi.
fn virtual_kind(disk: &str) -> Option<String> {
    if disk.starts_with("loop") {
        return Some("loop".into());
    }
    let sys = Path::new("/sys/block").join(disk);
    let driver = fs::read_link(sys.join("device/driver"))
        .ok()
        .and_then(|p| Some(p.file_name()?.to_string_lossy().into_owned()));
    if let Some(d) = driver.filter(|d| VIRTUAL_DRIVERS.contains(&d.as_str())) {
        return Some(d);
    }
    let path = fs::canonicalize(&sys).ok()?;
    path.to_string_lossy()
        .contains("/virtio")
        .then(|| "virtio_scsi".into())
}

/// The directory holding loop device `disk`'s backing file.
fn backing_dir(disk: &str) -> Option<PathBuf> {
    let file = read_trimmed(&Path::new("/sys/block").join(disk).join("loop/backing_file"))?;
    // A deleted backing file reads as "/path (deleted)": its directory still counts.
    let file = file.strip_suffix(" (deleted)").unwrap_or(&file);
    Path::new(file).parent().map(Path::to_path_buf)
}

/// The bracketed entry of a sysfs scheduler list (`mq-deadline [none]` ->
/// `none`); a single unbracketed entry is the active one.
fn active_scheduler(list: &str) -> String {
    list.split_whitespace()
        .find_map(|s| s.strip_prefix('[').and_then(|s| s.strip_suffix(']')))
        .unwrap_or(list)
        .to_string()
}

fn read_trimmed(path: &Path) -> Option<String> {
    fs::read_to_string(path).ok().map(|s| s.trim().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scheduler_list_yields_the_active_one() {
        assert_eq!(active_scheduler("mq-deadline kyber [bfq] none"), "bfq");
        assert_eq!(active_scheduler("[none] mq-deadline"), "none");
        assert_eq!(active_scheduler("none"), "none");
    }

    #[test]
    fn facts_for_a_real_directory() {
        let dir = tempfile::tempdir().unwrap();
        let f = DeviceFacts::for_dir(dir.path()).unwrap();
        assert!(f.dir.is_absolute());
        assert!(f.dir.starts_with(&f.mount_point), "{f:?}");
        assert!(!f.fs_type.is_empty());
        assert!(f.total_bytes >= f.free_bytes && f.total_bytes > 0);
    }

    #[test]
    fn tmpfs_has_no_block_device() {
        let f = DeviceFacts::for_dir(Path::new("/dev/shm")).unwrap();
        assert_eq!(f.fs_type, "tmpfs");
        assert_eq!(f.block_device, None);
    }

    #[test]
    fn the_root_disk_here_is_virtio_and_physical_disks_are_not_virtual() {
        let f = DeviceFacts::for_dir(Path::new("/")).unwrap();
        if let Some(disk) = &f.disk {
            let driver = fs::read_link(Path::new("/sys/block").join(disk).join("device/driver"));
            let virtio = driver.is_ok_and(|d| d.ends_with("virtio_blk"));
            assert_eq!(
                f.virtual_disk.as_deref() == Some("virtio_blk"),
                virtio,
                "{f:?}"
            );
        }
        assert_eq!(f.backing, None);
        assert_eq!(f.medium(), &f);
    }

    #[test]
    fn missing_dir_is_an_error_naming_it() {
        let err = DeviceFacts::for_dir(Path::new("/no/such/dir")).unwrap_err();
        assert!(format!("{err:#}").contains("/no/such/dir"));
    }
}
