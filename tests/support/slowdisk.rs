//! Real slow and odd disks for integration tests.
//!
//! [`LoopFs`]: a sparse image file attached to a loop device (or a fresh
//! zram device), formatted (`mkfs.ext4`, `mkfs.ext2`, ...) and mounted in
//! a temporary directory.
//! [`SlowDisk`]: a [`LoopFs`] whose writes are throttled by a cgroup v1
//! blkio cgroup (`blkio.throttle.write_iops_device`); commands started
//! with [`SlowDisk::command`] run inside that cgroup, so their writes to
//! the loop device are limited to the set IOPS.
//!
//! Every resource is released on drop, in reverse order, whether set-up
//! finished or failed half-way: processes left in the cgroup are moved
//! out, the cgroup removed, the filesystem unmounted (lazily if busy), the
//! loop device detached and the image deleted. Names carry the process id
//! and a counter (`etcd-doctor-<pid>-<n>`), so parallel tests never
//! collide. Needs root; call `support::privileged` first.

use std::ffi::CString;
use std::fs;
use std::io;
use std::os::unix::fs::FileTypeExt;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use super::{run, unique_name};

/// Root of the cgroup v1 blkio hierarchy.
pub const BLKIO_ROOT: &str = "/sys/fs/cgroup/blkio";
/// Where zram devices are added and removed.
const ZRAM_CONTROL: &str = "/sys/class/zram-control";
/// Image size of [`SlowDisk::new`]: room for every probe's footprint plus
/// headroom, and sparse, so it costs nothing until written.
pub const DEFAULT_SIZE_BYTES: u64 = 512 * 1024 * 1024;

/// A filesystem on a loop device, mounted in a temporary directory.
#[derive(Debug)]
pub struct LoopFs {
    work: tempfile::TempDir,
    mount_point: PathBuf,
    device: Option<String>,
    zram: Option<u32>,
    mounted: bool,
    major_minor: String,
}

impl LoopFs {
    /// Creates a sparse image of `size_bytes`, attaches it, runs
    /// `mkfs.<fs_type>` and mounts it.
    pub fn new(size_bytes: u64, fs_type: &str) -> io::Result<LoopFs> {
        LoopFs::new_in(&std::env::temp_dir(), size_bytes, fs_type)
    }

    /// As [`LoopFs::new`], the image in `parent` (e.g. `/dev/shm`: a loop
    /// device in memory, which a blkio cgroup throttles as any other, and
    /// which the machine's shared disk does not slow).
    pub fn new_in(parent: &Path, size_bytes: u64, fs_type: &str) -> io::Result<LoopFs> {
        let mut me = LoopFs::unformatted_in(parent)?;
        let image = me.work.path().join("disk.img");
        fs::File::create_new(&image)?.set_len(size_bytes)?;
        let device = run(Command::new("losetup")
            .args(["--find", "--show"])
            .arg(&image))?;
        me.device = Some(device);
        me.format_and_mount(fs_type)
    }

    /// A fresh zram device (memory, bios handled in the writer's own
    /// context: no loop worker thread that a busy CPU could hold up) of
    /// `size_bytes`, formatted and mounted like [`LoopFs::new`]; removed
    /// on drop.
    pub fn zram(size_bytes: u64, fs_type: &str) -> io::Result<LoopFs> {
        let mut me = LoopFs::unformatted()?;
        let id: u32 = fs::read_to_string(ZRAM_CONTROL.to_owned() + "/hot_add")?
            .trim()
            .parse()
            .map_err(io::Error::other)?;
        me.zram = Some(id);
        fs::write(
            format!("/sys/block/zram{id}/disksize"),
            size_bytes.to_string(),
        )?;
        me.device = Some(format!("/dev/zram{id}"));
        me.format_and_mount(fs_type)
    }

    /// The work directory and mount point, no device yet.
    fn unformatted() -> io::Result<LoopFs> {
        LoopFs::unformatted_in(&std::env::temp_dir())
    }

    /// The same, the work directory in `parent`.
    fn unformatted_in(parent: &Path) -> io::Result<LoopFs> {
        let work = tempfile::Builder::new()
            .prefix(&format!("{}-", unique_name()))
            .tempdir_in(parent)?;
        let mount_point = work.path().join("mnt");
        fs::create_dir(&mount_point)?;
        Ok(LoopFs {
            work,
            mount_point,
            device: None,
            zram: None,
            mounted: false,
            major_minor: String::new(),
        })
    }

    /// Runs `mkfs.<fs_type>` on the device and mounts it.
    fn format_and_mount(mut self, fs_type: &str) -> io::Result<LoopFs> {
        let device = self.device.clone().unwrap_or_default();
        let meta = fs::metadata(&device)?;
        if !meta.file_type().is_block_device() {
            return Err(io::Error::other(format!("{device} is not a block device")));
        }
        self.major_minor = format!("{}:{}", libc::major(meta.rdev()), libc::minor(meta.rdev()));
        let mut mkfs = Command::new(format!("mkfs.{fs_type}"));
        mkfs.args(["-q", "-F"]);
        if fs_type == "ext4" {
            // No lazy init: a background inode-table writer would add IO of
            // its own to every measurement.
            mkfs.args(["-E", "lazy_itable_init=0,lazy_journal_init=0"]);
        }
        run(mkfs.arg(&device))?;
        run(Command::new("mount").arg(&device).arg(&self.mount_point))?;
        self.mounted = true;
        Ok(self)
    }

    /// The mounted filesystem's root directory.
    pub fn path(&self) -> &Path {
        &self.mount_point
    }

    /// The device, e.g. `/dev/loop3` or `/dev/zram1`.
    pub fn device(&self) -> &str {
        self.device.as_deref().unwrap_or_default()
    }

    /// `major:minor` of the loop device.
    pub fn major_minor(&self) -> &str {
        &self.major_minor
    }
}

impl Drop for LoopFs {
    fn drop(&mut self) {
        if self.mounted {
            let ok = Command::new("umount").arg(&self.mount_point).status();
            if !ok.is_ok_and(|s| s.success()) {
                let _ = Command::new("umount")
                    .arg("-l")
                    .arg(&self.mount_point)
                    .status();
            }
        }
        match (self.zram, &self.device) {
            (Some(id), _) => {
                let _ = fs::write(ZRAM_CONTROL.to_owned() + "/hot_remove", id.to_string());
            }
            (None, Some(device)) => {
                let _ = Command::new("losetup").args(["-d", device]).status();
            }
            (None, None) => {}
        }
        // `work` (image and mount point) is removed when the field drops.
    }
}

/// A [`LoopFs`] whose writes are throttled for processes in its blkio cgroup.
#[derive(Debug)]
pub struct SlowDisk {
    cgroup: PathBuf,
    // Dropped after the cgroup is removed (fields drop in order after Drop).
    fs: LoopFs,
}

impl SlowDisk {
    /// An ext4 filesystem of [`DEFAULT_SIZE_BYTES`] limited to `write_iops`
    /// writes per second.
    pub fn new(write_iops: u32) -> io::Result<SlowDisk> {
        SlowDisk::on(LoopFs::new(DEFAULT_SIZE_BYTES, "ext4")?, write_iops)
    }

    /// Throttles an existing loop filesystem to `write_iops` writes per second.
    pub fn on(fs: LoopFs, write_iops: u32) -> io::Result<SlowDisk> {
        let cgroup = Path::new(BLKIO_ROOT).join(unique_name());
        fs::create_dir(&cgroup)?;
        let me = SlowDisk { cgroup, fs };
        me.set_write_iops(write_iops)?;
        Ok(me)
    }

    /// Changes the limit to `write_iops` writes per second.
    pub fn set_write_iops(&self, write_iops: u32) -> io::Result<()> {
        fs::write(
            self.cgroup.join("blkio.throttle.write_iops_device"),
            format!("{} {write_iops}", self.fs.major_minor()),
        )
    }

    /// The throttled filesystem's root directory.
    pub fn path(&self) -> &Path {
        self.fs.path()
    }

    /// The loop filesystem underneath.
    pub fn loop_fs(&self) -> &LoopFs {
        &self.fs
    }

    /// The blkio cgroup directory.
    pub fn cgroup(&self) -> &Path {
        &self.cgroup
    }

    /// A command for `program` that starts inside the throttling cgroup.
    pub fn command(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new(program);
        self.enter(&mut cmd);
        cmd
    }

    /// Makes `cmd` join the throttling cgroup before it execs.
    pub fn enter<'c>(&self, cmd: &'c mut Command) -> &'c mut Command {
        join_cgroup(cmd, &self.cgroup)
    }
}

/// Makes `cmd` join the cgroup (v1 directory) `cgroup` before it execs.
pub fn join_cgroup<'c>(cmd: &'c mut Command, cgroup: &Path) -> &'c mut Command {
    let procs = CString::new(
        cgroup
            .join("cgroup.procs")
            .into_os_string()
            .into_encoded_bytes(),
    )
    .expect("cgroup path has no NUL");
    // SAFETY: the closure runs between fork and exec and only calls
    // async-signal-safe functions (open, write, close) on memory
    // prepared before the fork.
    unsafe {
        cmd.pre_exec(move || {
            let fd = libc::open(procs.as_ptr(), libc::O_WRONLY);
            if fd < 0 {
                return Err(io::Error::last_os_error());
            }
            // "0" moves the writing process itself.
            let n = libc::write(fd, b"0".as_ptr().cast(), 1);
            let err = io::Error::last_os_error();
            libc::close(fd);
            if n != 1 {
                return Err(err);
            }
            Ok(())
        })
    }
}

impl Drop for SlowDisk {
    fn drop(&mut self) {
        // Processes still in the cgroup (a test that failed before reaping
        // its child) are moved to the root so the cgroup can go.
        if let Ok(pids) = fs::read_to_string(self.cgroup.join("cgroup.procs")) {
            for pid in pids.lines() {
                let _ = fs::write(Path::new(BLKIO_ROOT).join("cgroup.procs"), pid);
            }
        }
        let _ = fs::remove_dir(&self.cgroup);
    }
}
