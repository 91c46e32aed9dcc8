//! Following etcd's journald unit: `journalctl --follow --output=json
//! --lines=0 [--unit U] [--file F]` as a child process, its stdout read by
//! a thread that keeps only the entries whose message holds a catalogue
//! needle, each line at most [`MAX_ENTRY_BYTES`], at most
//! [`MAX_QUEUED`] waiting for the loop (more are counted and dropped). Each
//! tick takes what came. The child dies with the follower (killed and
//! reaped on drop, and by the kernel should `watch` itself die:
//! `PR_SET_PDEATHSIG`); one that exits is started again on the next tick
//! and its exit said as the source's error.
//!
//! Kept entries are written back as `{"__REALTIME_TIMESTAMP":..,"MESSAGE":..}`
//! lines, the shape the logs scanner reads as journald's, whatever order
//! journalctl printed the fields in.

use std::io::{BufRead, BufReader, Read};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, SyncSender, TrySendError};
use std::sync::Arc;

use super::follow::{Excerpt, MAX_KEPT_LINES};
use crate::logs::{catalogue, journald};

/// Longest journal entry line read (longer ones are skipped).
pub const MAX_ENTRY_BYTES: u64 = 64 << 10;
/// Most kept entries waiting for the next tick.
pub const MAX_QUEUED: usize = 2 * MAX_KEPT_LINES;

/// Which journal to follow.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JournalSource {
    /// `--unit`: the systemd unit (`etcd.service`), or every entry.
    pub unit: Option<String>,
    /// `--file`: a journal file instead of the system journal.
    pub file: Option<PathBuf>,
}

impl JournalSource {
    /// The source's name in reports: `journald:UNIT` or `journald:FILE`.
    pub fn name(&self) -> String {
        let unit = self.unit.as_deref().unwrap_or("*");
        match &self.file {
            Some(f) => format!("journald:{unit}@{}", f.display()),
            None => format!("journald:{unit}"),
        }
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new("journalctl");
        cmd.args(["--follow", "--output=json", "--lines=0", "--no-pager"]);
        if let Some(u) = &self.unit {
            cmd.arg(format!("--unit={u}"));
        }
        if let Some(f) = &self.file {
            cmd.arg("--file").arg(f);
        }
        cmd.stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // SAFETY: prctl is async-signal-safe; nothing else runs between
        // fork and exec.
        unsafe {
            cmd.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
                Ok(())
            });
        }
        cmd
    }
}

/// A running `journalctl --follow`.
struct Running {
    child: Child,
    lines: Receiver<String>,
    dropped: Arc<AtomicU64>,
}

/// One followed journal.
pub struct JournalFollower {
    source: JournalSource,
    running: Option<Running>,
}

impl JournalFollower {
    /// Starts following `source` from now on.
    pub fn new(source: JournalSource) -> JournalFollower {
        let mut me = JournalFollower {
            source,
            running: None,
        };
        // An error now is said by the first read.
        let _ = me.ensure_running();
        me
    }

    /// The entries kept since the last call.
    pub fn read(&mut self) -> Excerpt {
        let source = self.source.name();
        let mut error = self.ensure_running().err();
        let mut lines = String::new();
        if let Some(r) = &mut self.running {
            for l in r.lines.try_iter().take(MAX_KEPT_LINES) {
                lines.push_str(&l);
                lines.push('\n');
            }
            let dropped = r.dropped.swap(0, Ordering::Relaxed);
            if dropped > 0 {
                eprintln!(
                    "etcd-doctor watch: {source}: {dropped} entries over the queue's bound dropped"
                );
            }
            if let Ok(Some(status)) = r.child.try_wait() {
                let mut why = String::new();
                if let Some(e) = r.child.stderr.take() {
                    let _ = e.take(512).read_to_string(&mut why);
                }
                error = Some(format!("journalctl exited ({status}): {}", why.trim()));
                self.running = None;
            }
        }
        Excerpt {
            source: source.clone(),
            lines,
            error: error.map(|e| format!("{source}: {e}")),
        }
    }

    fn ensure_running(&mut self) -> Result<(), String> {
        if self.running.is_some() {
            return Ok(());
        }
        let mut child = self
            .source
            .command()
            .spawn()
            .map_err(|e| format!("journalctl: {e}"))?;
        let Some(out) = child.stdout.take() else {
            let _ = child.kill();
            let _ = child.wait();
            return Err("journalctl: no stdout".into());
        };
        let (tx, lines) = mpsc::sync_channel(MAX_QUEUED);
        let dropped = Arc::new(AtomicU64::new(0));
        let d = dropped.clone();
        std::thread::Builder::new()
            .name("journalctl".into())
            .spawn(move || pump(BufReader::new(out), &tx, &d))
            .map_err(|e| format!("journalctl reader: {e}"))?;
        self.running = Some(Running {
            child,
            lines,
            dropped,
        });
        Ok(())
    }
}

impl Drop for JournalFollower {
    fn drop(&mut self) {
        if let Some(mut r) = self.running.take() {
            let _ = r.child.kill();
            let _ = r.child.wait();
        }
    }
}

/// Reads entries until journalctl's stdout closes; keeps those holding a
/// needle, rewritten in the scanner's journald shape.
fn pump(mut out: impl BufRead, tx: &SyncSender<String>, dropped: &AtomicU64) {
    let needles: Vec<&str> = catalogue::needles().collect();
    let mut line = Vec::new();
    loop {
        line.clear();
        match out
            .by_ref()
            .take(MAX_ENTRY_BYTES)
            .read_until(b'\n', &mut line)
        {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        if line.last() != Some(&b'\n') {
            // Over the bound (or cut at the end): skip to the line's end.
            if !skip_line(&mut out) {
                return;
            }
            continue;
        }
        let Some(kept) = keep(&String::from_utf8_lossy(&line), &needles) else {
            continue;
        };
        match tx.try_send(kept) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                dropped.fetch_add(1, Ordering::Relaxed);
            }
            Err(TrySendError::Disconnected(_)) => return,
        }
    }
}

/// Skips past the next newline without holding the line; false at the end.
fn skip_line(out: &mut impl BufRead) -> bool {
    loop {
        let Ok(buf) = out.fill_buf() else {
            return false;
        };
        if buf.is_empty() {
            return false;
        }
        match buf.iter().position(|b| *b == b'\n') {
            Some(i) => {
                out.consume(i + 1);
                return true;
            }
            None => {
                let n = buf.len();
                out.consume(n);
            }
        }
    }
}

/// The entry as the scanner's journald line, when its message holds a needle.
fn keep(line: &str, needles: &[&str]) -> Option<String> {
    let w = journald::parse(line.trim_end())?;
    if !needles.iter().any(|n| w.content.contains(n)) {
        return None;
    }
    let message = serde_json::to_string(&*w.content).ok()?;
    Some(format!(
        "{{\"__REALTIME_TIMESTAMP\":\"{}\",\"MESSAGE\":{message}}}",
        w.at_ms.saturating_mul(1000)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entries_with_a_needle_are_kept_in_the_scanners_shape() {
        let needles: Vec<&str> = catalogue::needles().collect();
        let slow = r#"{"_SYSTEMD_UNIT":"etcd.service","MESSAGE":"W | wal: sync duration of 1.5s, expected less than 1s","__REALTIME_TIMESTAMP":"1709294400123456"}"#;
        let kept = keep(slow, &needles).unwrap();
        assert!(journald::looks_like(&kept), "{kept}");
        let w = journald::parse(&kept).unwrap();
        assert_eq!(w.at_ms, 1_709_294_400_123);
        assert!(w.content.contains("sync duration of 1.5s"));
        let noise = r#"{"MESSAGE":"hello","__REALTIME_TIMESTAMP":"1"}"#;
        assert_eq!(keep(noise, &needles), None);
        assert_eq!(keep("not json", &needles), None);
    }

    #[test]
    fn over_long_entries_are_skipped_and_the_queue_is_bounded() {
        let slow = r#"{"MESSAGE":"W | wal: sync duration of 1.5s, expected less than 1s","__REALTIME_TIMESTAMP":"1"}"#;
        let long = format!(
            "{{\"MESSAGE\":\"sync duration of {}\",\"__REALTIME_TIMESTAMP\":\"1\"}}\n",
            "x".repeat(MAX_ENTRY_BYTES as usize)
        );
        let mut input = long;
        for _ in 0..MAX_QUEUED + 5 {
            input.push_str(slow);
            input.push('\n');
        }
        let (tx, rx) = mpsc::sync_channel(MAX_QUEUED);
        let dropped = AtomicU64::new(0);
        pump(std::io::Cursor::new(input), &tx, &dropped);
        assert_eq!(rx.try_iter().count(), MAX_QUEUED);
        assert_eq!(dropped.load(Ordering::Relaxed), 5);
    }
}
