//! Bounded reads of small kernel files (/proc, /sys/fs/cgroup): each read
//! takes at most [`MAX_PROC_BYTES`] and only from a regular file, so a
//! strange mount or a huge file can neither hang nor exhaust the tool.

use std::fs::File;
use std::io::Read;
use std::path::Path;

/// The most bytes read from one kernel file: /proc/<pid>/status and
/// cgroup stat files are a few KiB.
pub const MAX_PROC_BYTES: u64 = 64 * 1024;

/// The text of a small kernel file, or `None` when it cannot be read, is
/// not a regular file or is not UTF-8.
pub fn read_small(path: &Path) -> Option<String> {
    let file = File::open(path).ok()?;
    if !file.metadata().ok()?.is_file() {
        return None;
    }
    let mut text = String::new();
    file.take(MAX_PROC_BYTES).read_to_string(&mut text).ok()?;
    Some(text)
}

/// The value of `key` in a `key value` per line file (cgroup `cpu.stat`,
/// `/proc/meminfo` with its `key:` form, `/proc/<pid>/status`): the first
/// number after the key.
pub fn keyed_u64(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let rest = line.strip_prefix(key)?;
        let rest = rest.strip_prefix(':').unwrap_or(rest);
        if !rest.starts_with(char::is_whitespace) {
            return None;
        }
        rest.split_whitespace().next()?.parse().ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keyed_values_match_whole_keys_only() {
        let stat = "nr_periods 10\nnr_throttled 4\nthrottled_time 900\n";
        assert_eq!(keyed_u64(stat, "nr_throttled"), Some(4));
        assert_eq!(keyed_u64(stat, "throttled_time"), Some(900));
        assert_eq!(keyed_u64(stat, "nr_"), None);
        let meminfo = "MemTotal:       16316412 kB\nMemAvailable:    8123456 kB\n";
        assert_eq!(keyed_u64(meminfo, "MemAvailable"), Some(8123456));
        assert_eq!(keyed_u64("VmSwap:\t   12 kB\n", "VmSwap"), Some(12));
    }

    #[test]
    fn a_directory_or_a_missing_file_reads_as_nothing() {
        assert_eq!(read_small(Path::new("/proc")), None);
        assert_eq!(read_small(Path::new("/proc/no-such-file")), None);
        assert!(read_small(Path::new("/proc/self/stat")).is_some());
    }
}
