//! Following etcd's log files as `tail -F` does: each tick reads what was
//! appended since the last one, from where it stopped; a file replaced
//! (rotated: another inode) or cut shorter (truncated) is read again from
//! its start. Only the lines holding one of the catalogue's needles are
//! kept (the rest cannot become an event), so an hour of ticks stays small.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use crate::logs::catalogue;

/// Most bytes read from one file per tick; the rest waits for the next
/// tick (a burst of logging is read over several).
pub const MAX_READ_BYTES: u64 = 4 << 20;
/// Most lines kept from one file per tick.
pub const MAX_KEPT_LINES: usize = 2000;
/// Longest line kept, bytes (longer ones are cut).
pub const MAX_LINE_BYTES: usize = 16 << 10;

/// One followed file.
#[derive(Debug)]
pub struct Follower {
    path: PathBuf,
    inode: Option<u64>,
    offset: u64,
    needles: Vec<&'static str>,
}

/// What one tick read from one file.
#[derive(Debug, Clone, Default)]
pub struct Excerpt {
    /// The source's name (its path).
    pub source: String,
    /// The kept lines, each ending in a newline.
    pub lines: String,
    /// Why the file could not be read this tick.
    pub error: Option<String>,
}

impl Follower {
    /// Follows `path` from its current end: only what is written from now
    /// on is read (a file that does not exist yet is read from its start
    /// once it appears).
    pub fn new(path: PathBuf) -> Follower {
        let meta = std::fs::metadata(&path).ok();
        Follower {
            inode: meta.as_ref().map(MetadataExt::ino),
            offset: meta.map_or(0, |m| m.len()),
            path,
            needles: catalogue::needles().collect(),
        }
    }

    /// Follows `path` from its start (a bundle's excerpt of a whole file).
    pub fn from_start(path: PathBuf) -> Follower {
        Follower {
            inode: std::fs::metadata(&path).ok().map(|m| m.ino()),
            offset: 0,
            path,
            needles: catalogue::needles().collect(),
        }
    }

    /// Reads what was appended since the last call.
    pub fn read(&mut self) -> Excerpt {
        let source = self.path.display().to_string();
        match self.read_new() {
            Ok(lines) => Excerpt {
                source,
                lines,
                error: None,
            },
            Err(e) => Excerpt {
                error: Some(format!("{source}: {e}")),
                source,
                lines: String::new(),
            },
        }
    }

    fn read_new(&mut self) -> std::io::Result<String> {
        let mut file = File::open(&self.path)?;
        let meta = file.metadata()?;
        if !meta.is_file() {
            return Err(std::io::Error::other("not a regular file"));
        }
        if self.inode != Some(meta.ino()) || meta.len() < self.offset {
            (self.inode, self.offset) = (Some(meta.ino()), 0);
        }
        file.seek(SeekFrom::Start(self.offset))?;
        let mut reader = BufReader::new(file.take(MAX_READ_BYTES));
        let (mut out, mut kept, mut line) = (String::new(), 0usize, Vec::new());
        loop {
            line.clear();
            let n = reader.read_until(b'\n', &mut line)?;
            // A line still being written waits for the next tick.
            if n == 0 || line.last() != Some(&b'\n') {
                break;
            }
            self.offset += n as u64;
            let text = String::from_utf8_lossy(&line);
            if kept < MAX_KEPT_LINES && self.needles.iter().any(|n| text.contains(n)) {
                let cut = floor_char_boundary(&text, MAX_LINE_BYTES);
                out.push_str(text[..cut].trim_end_matches('\n'));
                out.push('\n');
                kept += 1;
            }
        }
        Ok(out)
    }
}

/// The largest char boundary of `s` at or below `at`.
fn floor_char_boundary(s: &str, at: usize) -> usize {
    let mut i = at.min(s.len());
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::*;

    const SLOW: &str =
        "2024-03-01 12:00:00.123456 W | wal: sync duration of 1.5s, expected less than 1s\n";

    #[test]
    fn appended_lines_are_read_once_and_rotation_starts_again() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("etcd.log");
        std::fs::write(&path, SLOW).unwrap();
        let mut f = Follower::new(path.clone());
        assert_eq!(f.read().lines, "", "what was there before is not read");
        let mut w = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        write!(w, "noise line\n{SLOW}half a li").unwrap();
        let e = f.read();
        assert_eq!(e.lines, SLOW);
        writeln!(w, "ne").unwrap();
        assert_eq!(f.read().lines, "");
        // Rotated: a new file under the name.
        std::fs::rename(&path, dir.path().join("etcd.log.1")).unwrap();
        std::fs::write(&path, SLOW).unwrap();
        assert_eq!(f.read().lines, SLOW);
        // Truncated in place (copytruncate): seen as shorter, read from 0.
        std::fs::File::create(&path).unwrap();
        assert_eq!(f.read().lines, "");
        std::fs::write(&path, SLOW).unwrap();
        assert_eq!(f.read().lines, SLOW);
    }

    #[test]
    fn a_missing_file_is_an_error_row_then_read_from_its_start() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("later.log");
        let mut f = Follower::new(path.clone());
        assert!(f.read().error.unwrap().contains("later.log"));
        std::fs::write(&path, SLOW).unwrap();
        assert_eq!(f.read().lines, SLOW);
    }
}
