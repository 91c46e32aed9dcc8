//! One report taken into a merge, and the name its host goes by: what
//! the merge and the path matrices both read.

use crate::facts::Report;

/// One report taken into the merge, and what it was called.
#[derive(Debug, Clone)]
pub struct Input {
    /// `FILE`, `FILE#2` (second document of a file) or `stdin#3`.
    pub origin: String,
    /// The report.
    pub report: Report,
}

/// The name each input's host goes by: its hostname (which `dedup` in
/// mod.rs has made `hostname/ADDR` where two hosts share one).
pub fn name_of(input: &Input) -> String {
    input.report.host.hostname.clone()
}
