//! The diagnosis bundle (`diagnose --bundle FILE.tar.gz`): the raw inputs
//! of one diagnosis beside its report, in one archive an operator can hand
//! to someone else, and `diagnose --from-bundle FILE` to judge it again
//! offline (on another machine, with a newer version of the tool).
//!
//! What goes in: `report.json` (the judged report: status, members,
//! alarms, versions, the metrics summaries, the logs' events, the probes'
//! histograms, host facts), the same sections as their own files for
//! reading by hand, each member's raw /metrics page, and the log lines
//! the diagnosis could use (those holding a catalogue needle). What never
//! goes in: keys, certificates, tokens (only the TLS files' paths, as the
//! report has them) and anything read from the keyspace (the `--keyspace`
//! section is left out). `bundle.json` lists every file with its size and
//! SHA-256, so a bundle cut short or edited is refused.
//!
//! Reading is bounded before anything is allocated from the archive: its
//! size, the number of entries, each entry's size and the total, and
//! only plain files at plain relative paths (no `..`, no absolute path,
//! no links).

pub mod read;
pub mod write;

use serde::{Deserialize, Serialize};

/// Version of the bundle layout.
pub const FORMAT: u32 = 1;
/// The manifest's name.
pub const MANIFEST: &str = "bundle.json";
/// The report's name.
pub const REPORT: &str = "report.json";
/// Largest bundle read, bytes (compressed).
pub const MAX_BUNDLE_BYTES: u64 = 128 << 20;
/// Most entries in a bundle.
pub const MAX_ENTRIES: usize = 256;
/// Largest entry, bytes (uncompressed).
pub const MAX_ENTRY_BYTES: u64 = 64 << 20;
/// Largest sum of the entries, bytes (uncompressed).
pub const MAX_TOTAL_BYTES: u64 = 256 << 20;
/// Deepest entry path (components).
pub const MAX_DEPTH: usize = 3;
/// Longest entry path, bytes.
pub const MAX_PATH_BYTES: usize = 200;

/// One file of the bundle, as the manifest lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// Path inside the archive.
    pub name: String,
    /// Size, bytes.
    pub bytes: u64,
    /// SHA-256 of the content, hex.
    pub sha256: String,
}

/// `bundle.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`FORMAT`].
    pub format: u32,
    /// The etcd-doctor version that wrote it.
    pub tool_version: String,
    /// When it was written, Unix seconds.
    pub created_unix_s: u64,
    /// Every other file of the bundle.
    pub files: Vec<FileEntry>,
}

/// SHA-256 of `data` in hex.
pub fn sha256(data: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(data))
}
