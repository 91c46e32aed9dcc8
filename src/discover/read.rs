//! Bounded reads of /proc and config files, and the well-known places
//! the readers look: the leaf `process`, `listen` and `layouts` share.

use std::fs::File;
use std::io::Read;
use std::path::Path;

use super::parse::{self, Flags};

/// Most /proc entries looked at.
pub const MAX_PROCESSES: usize = 65_536;

/// Largest config file read.
pub const MAX_CONFIG_FILE: u64 = 1 << 20;

/// Where the CRI writes pod logs.
pub const POD_LOGS: &str = "/var/log/pods";

/// k3s's default data dir: k3s `pkg/datadir/datadir.go`
/// (`DefaultDataDir = "/var/lib/rancher/" + version.Program`).
pub const K3S_DATA_DIR: &str = "/var/lib/rancher/k3s";

/// Reads at most `limit` bytes of a /proc or config file; `Err` keeps the
/// io error kind (PermissionDenied is reported, not fatal).
pub(crate) fn read_bounded(path: &Path, limit: u64) -> std::io::Result<Vec<u8>> {
    let mut buf = Vec::new();
    File::open(path)?.take(limit).read_to_end(&mut buf)?;
    Ok(buf)
}

/// An etcd config file: a regular file under [`MAX_CONFIG_FILE`], YAML.
pub(crate) fn read_config(path: &Path) -> Result<Flags, String> {
    let meta = std::fs::metadata(path).map_err(|e| e.to_string())?;
    if !meta.is_file() {
        return Err("not a regular file".to_string());
    }
    if meta.len() > MAX_CONFIG_FILE {
        return Err(format!("larger than {MAX_CONFIG_FILE} bytes"));
    }
    let raw = read_bounded(path, MAX_CONFIG_FILE).map_err(|e| e.to_string())?;
    let text = String::from_utf8(raw).map_err(|_| "not UTF-8".to_string())?;
    parse::parse_config_yaml(&text).map_err(|e| e.to_string())
}
