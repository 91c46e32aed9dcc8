//! An intermittent-stall disk: a [`SlowDisk`] left unthrottled except for
//! `stall` every `period`, when a background thread drops its blkio write
//! limit to 1 IOPS (every write of the processes in its cgroup waits) and
//! then lifts it again (the kernel re-evaluates queued writes at once).
//! That is the shape of periodic writeback, a journal commit or a cloud
//! volume out of burst credits: fast on average, a hang now and then.
//!
//! [`ram_disk`] is a zram device: no disk underneath and no loop worker
//! thread a busy CPU could hold up, so the only stalls are the injected ones.
//!
//! The thread stops and the limit is lifted on drop.

use std::io;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::slowdisk::{LoopFs, SlowDisk, DEFAULT_SIZE_BYTES};

/// Writes per second allowed while a stall lasts.
const STALL_IOPS: u32 = 1;
/// Longest the thread sleeps before looking at its stop flag.
const POLL: Duration = Duration::from_millis(20);

/// An unthrottled ext4 [`SlowDisk`] on a zram device.
pub fn ram_disk() -> io::Result<SlowDisk> {
    let fs = LoopFs::zram(DEFAULT_SIZE_BYTES, "ext4")?;
    // 0: no limit (blkio v1) until a stall sets one.
    SlowDisk::on(fs, 0)
}

/// Stalls injected into a [`SlowDisk`] until dropped.
#[derive(Debug)]
pub struct Stalls {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    limit_file: PathBuf,
    major_minor: String,
}

impl Stalls {
    /// Starts stalling `disk` for `stall` at every multiple of `period`
    /// from now (the first after one period).
    pub fn start(disk: &SlowDisk, stall: Duration, period: Duration) -> Stalls {
        assert!(stall < period, "a stall must end before the next one");
        let stop = Arc::new(AtomicBool::new(false));
        let limit_file = disk.cgroup().join("blkio.throttle.write_iops_device");
        let major_minor = disk.loop_fs().major_minor().to_string();
        let (flag, file, mm) = (stop.clone(), limit_file.clone(), major_minor.clone());
        let thread = std::thread::spawn(move || {
            let set = |iops: u32| {
                std::fs::write(&file, format!("{mm} {iops}")).expect("blkio limit");
            };
            let start = Instant::now();
            for k in 1u32.. {
                if !sleep_until(start + period * k, &flag) {
                    return;
                }
                set(STALL_IOPS);
                std::thread::sleep(stall);
                set(0);
            }
        });
        Stalls {
            stop,
            thread: Some(thread),
            limit_file,
            major_minor,
        }
    }
}

/// Sleeps until `t`; false when `stop` was set meanwhile.
fn sleep_until(t: Instant, stop: &AtomicBool) -> bool {
    loop {
        if stop.load(Ordering::Relaxed) {
            return false;
        }
        let now = Instant::now();
        if now >= t {
            return true;
        }
        std::thread::sleep((t - now).min(POLL));
    }
}

impl Drop for Stalls {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
        // 0 removes the limit (blkio v1).
        let _ = std::fs::write(&self.limit_file, format!("{} 0", self.major_minor));
    }
}
