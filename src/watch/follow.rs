//! Following etcd's log files as `tail -F` does: each tick reads what was
//! appended since the last one, from where it stopped. The file is
//! followed by name and kept open: when the name points at another inode
//! (rotated: kubelet renames a pod's `0.log` to `0.log.<time>` and the
//! runtime creates a new `0.log`; logrotate renames to `.1`) the rest of
//! the old file is read through the open handle first, then the new file
//! from its start; a file cut shorter (copytruncate) is read again from its
//! start. CRI lines split by the runtime (`P` parts up to the `F` one) are
//! joined before anything is kept, so a needle split across parts is still
//! seen. Only the lines holding one of the catalogue's needles are kept
//! (the rest cannot become an event), so an hour of ticks stays small.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use crate::logs::{catalogue, cri};

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
    /// The file being read, kept open across a rotation.
    open: Option<File>,
    /// The CRI `P` parts read so far of a line not yet finished.
    partial: String,
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
            open: None,
            partial: String::new(),
            path,
            needles: catalogue::needles().collect(),
        }
    }

    /// Follows `path` from its start (a bundle's excerpt of a whole file).
    pub fn from_start(path: PathBuf) -> Follower {
        Follower {
            inode: std::fs::metadata(&path).ok().map(|m| m.ino()),
            offset: 0,
            open: None,
            partial: String::new(),
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
        let file = File::open(&self.path)?;
        let meta = file.metadata()?;
        if !meta.is_file() {
            return Err(std::io::Error::other("not a regular file"));
        }
        let mut out = Kept::default();
        if self.inode != Some(meta.ino()) {
            // Rotated: what was appended to the old file before it was
            // renamed is read through the handle kept open.
            if let Some(old) = self.open.take() {
                self.read_from(old, &mut out)?;
            }
            (self.inode, self.offset) = (Some(meta.ino()), 0);
            self.partial.clear();
        } else if meta.len() < self.offset {
            self.offset = 0;
            self.partial.clear();
        }
        let file = match self.open.take() {
            Some(held) if held.metadata().is_ok_and(|m| m.ino() == meta.ino()) => held,
            _ => file,
        };
        self.read_from(file, &mut out)?;
        Ok(out.text)
    }

    /// Reads `file` from the offset, keeps it open for the next call.
    fn read_from(&mut self, mut file: File, out: &mut Kept) -> std::io::Result<()> {
        file.seek(SeekFrom::Start(self.offset))?;
        let budget = MAX_READ_BYTES.saturating_sub(out.read);
        let mut reader = BufReader::new((&file).take(budget));
        let mut line = Vec::new();
        loop {
            line.clear();
            let n = reader.read_until(b'\n', &mut line)?;
            // A line still being written waits for the next tick.
            if n == 0 || line.last() != Some(&b'\n') {
                break;
            }
            self.offset += n as u64;
            out.read += n as u64;
            let text = String::from_utf8_lossy(&line);
            if let Some(whole) = self.join_cri(text.trim_end_matches('\n')) {
                out.keep(&whole, &self.needles);
            }
        }
        drop(reader);
        self.open = Some(file);
        Ok(())
    }

    /// A whole line: `line` itself, or a CRI `F` line carrying the parts
    /// before it; `None` for a `P` part (held until its line ends).
    fn join_cri(&mut self, line: &str) -> Option<String> {
        let Some(w) = cri::parse(line) else {
            self.partial.clear();
            return Some(line.to_string());
        };
        if w.partial {
            if self.partial.len() < MAX_LINE_BYTES {
                self.partial.push_str(&w.content);
            }
            return None;
        }
        if self.partial.is_empty() {
            return Some(line.to_string());
        }
        let head = &line[..line.len() - w.content.len()];
        let whole = format!("{head}{}{}", self.partial, w.content);
        self.partial.clear();
        Some(whole)
    }
}

/// The lines kept by one read and the bytes it read.
#[derive(Default)]
struct Kept {
    text: String,
    lines: usize,
    read: u64,
}

impl Kept {
    /// Keeps `line` (cut to [`MAX_LINE_BYTES`]) when it holds a needle.
    fn keep(&mut self, line: &str, needles: &[&str]) {
        if self.lines < MAX_KEPT_LINES && needles.iter().any(|n| line.contains(n)) {
            let cut = floor_char_boundary(line, MAX_LINE_BYTES);
            self.text.push_str(&line[..cut]);
            self.text.push('\n');
            self.lines += 1;
        }
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

    #[test]
    fn cri_parts_are_joined_and_a_rotation_loses_no_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("0.log");
        std::fs::write(&path, "").unwrap();
        let mut f = Follower::new(path.clone());
        let ts = "2024-03-01T12:00:00.123456789Z stderr";
        let mut w = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        // The needle ("sync duration") split across a P part and the F one.
        write!(
            w,
            "{ts} P W | wal: sync dur\n{ts} F ation of 1.5s, expected less than 1s\n"
        )
        .unwrap();
        write!(w, "{ts} P W | wal: sync duration of 2").unwrap();
        let e = f.read();
        assert_eq!(
            e.lines,
            format!("{ts} F W | wal: sync duration of 1.5s, expected less than 1s\n")
        );
        // The rest of the line, then kubelet's rotation: renamed, a new file.
        writeln!(w, "s\n{ts} F , expected less than 1s").unwrap();
        writeln!(
            w,
            "{ts} F W | wal: sync duration of 3s, expected less than 1s"
        )
        .unwrap();
        drop(w);
        std::fs::rename(&path, dir.path().join("0.log.20240301-120000")).unwrap();
        std::fs::write(
            &path,
            format!("{ts} F W | wal: sync duration of 4s, expected less than 1s\n"),
        )
        .unwrap();
        let got = f.read().lines;
        let kept: Vec<&str> = got.lines().collect();
        assert_eq!(kept.len(), 3, "{got}");
        assert!(
            kept[0].ends_with("sync duration of 2s, expected less than 1s"),
            "{got}"
        );
        assert!(
            kept[1].contains("of 3s") && kept[2].contains("of 4s"),
            "{got}"
        );
        assert_eq!(f.read().lines, "");
    }
}
