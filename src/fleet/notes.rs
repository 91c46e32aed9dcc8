//! The notes of a merge, bounded: each note is one line of at most
//! [`MAX_NOTE_CHARS`] characters, at most [`MAX_NOTES`] are kept, and the
//! rest are counted into one last note ("and 2,997 more"), so that ten
//! megabytes of `{}` lines make a short report, not a 271 MB one.

use crate::text::{cap, MAX_NOTE_CHARS};

/// Most notes a fleet report keeps.
pub const MAX_NOTES: usize = 100;

/// Notes shown in the error when nothing could be merged.
const NOTES_IN_ERROR: usize = 5;

/// Notes gathered while reading and merging.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Notes {
    kept: Vec<String>,
    more: usize,
}

impl Notes {
    /// Adds one note (capped), or counts it when [`MAX_NOTES`] are kept.
    pub fn push(&mut self, note: String) {
        if self.kept.len() < MAX_NOTES {
            self.kept.push(cap(&note, MAX_NOTE_CHARS));
        } else {
            self.more += 1;
        }
    }

    /// True when there is no note.
    pub fn is_empty(&self) -> bool {
        self.kept.is_empty()
    }

    /// The notes, the count of the others last.
    pub fn into_vec(self) -> Vec<String> {
        let mut out = self.kept;
        if self.more > 0 {
            out.push(format!("and {} more note(s)", self.more));
        }
        out
    }

    /// The first few notes and how many more, for a one-line error.
    pub fn summary(&self) -> String {
        let shown: Vec<&str> = self
            .kept
            .iter()
            .take(NOTES_IN_ERROR)
            .map(String::as_str)
            .collect();
        let others = self.kept.len() - shown.len() + self.more;
        let mut out = shown.join("; ");
        if others > 0 {
            out.push_str(&format!("; and {others} more"));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn notes_are_capped_in_length_and_number() {
        let mut n = Notes::default();
        for i in 0..3_000 {
            n.push(format!("doc#{i}: {}", "x".repeat(10_000)));
        }
        assert!(n.summary().len() < 2_000);
        assert!(n.summary().ends_with("and 2995 more"));
        let all = n.into_vec();
        assert_eq!(all.len(), MAX_NOTES + 1);
        assert!(all.iter().all(|l| l.chars().count() <= MAX_NOTE_CHARS + 1));
        assert_eq!(all[MAX_NOTES], "and 2900 more note(s)");
    }
}
