//! etcd's own logs as incident history. Probes and metrics see the present;
//! the elections at 03:12 and the slow fdatasync warnings that came and
//! went are only in the logs. This module reads them in any of the formats
//! they reach an operator in (zap JSON or console, capnslog text, wrapped by the CRI
//! format, docker's json-file or journald), keeps the messages of the
//! [`catalogue`], and sums them into a [`timeline`] the rules judge.
//!
//! Reading streams in bounded memory: sources are read in chunks cut at
//! line ends ([`chunk`]) and scanned on several threads, lines are capped
//! at [`MAX_LINE_BYTES`], and a line is decoded only when the pre-filter,
//! run over the whole chunk, finds a catalogue needle in it.

pub mod capnslog;
pub mod catalogue;
pub mod chunk;
pub mod console;
pub mod cri;
pub mod docker;
pub mod golog;
pub mod identity;
pub mod journald;
pub mod needles;
pub mod request;
pub mod scan;
pub mod source;
pub mod stale;
pub mod time;
pub mod timeline;
pub mod zap;
pub mod zapscan;

mod model;
mod report;

pub use catalogue::EventKind;
pub use model::*;
pub use report::{LogsReport, SourceSummary};
pub use scan::Scanner;
pub use source::{LogSource, LogsPlan};
pub use stale::StaleMemberLog;
pub use timeline::{KindSummary, Timeline};

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn terms() {
        assert_eq!(
            term_in("raft.node: 1 elected leader 2 at term 17"),
            Some(17)
        );
        assert_eq!(term_in("at term x"), None);
        assert_eq!(term_in(" at term 99999999999999999999999"), None);
    }

    proptest! {
        #[test]
        fn term_never_panics(s in "\\PC{0,60}") {
            let _ = term_in(&s);
        }
    }
}
