//! Noisy neighbours for contention tests: processes writing to a
//! [`SlowDisk`] from inside its throttling cgroup, killed on drop.

use std::path::Path;
use std::process::Child;

use super::slowdisk::SlowDisk;

/// A child process killed (and reaped) on drop.
pub struct Killed(pub Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A writer: `dd` copied under the name `name` (so findings must name it,
/// not dd), writing `count` blocks of `bs` with O_DSYNC to `file` on
/// `disk`, inside its cgroup. The copy lives in `tools`.
pub fn synced_dd(
    disk: &SlowDisk,
    tools: &Path,
    name: &str,
    file: &str,
    bs: &str,
    count: u32,
) -> Killed {
    let bin = tools.join(name);
    std::fs::copy("/bin/dd", &bin).expect("copy dd");
    Killed(
        disk.command(&bin)
            .arg("if=/dev/zero")
            .arg(format!("of={}", disk.path().join(file).display()))
            .args([
                format!("bs={bs}"),
                format!("count={count}"),
                "oflag=dsync".into(),
                "status=none".into(),
            ])
            .spawn()
            .expect("spawn the writer"),
    )
}
