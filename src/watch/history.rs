//! The on-disk history: one JSON report per history window (the middle
//! window, 10 minutes by default), each the same contract `compare` and
//! every renderer read, with its canary histogram serialized (mergeable).
//! A ring: the oldest of *our* files (`watch-<unix seconds>-<window>.json`)
//! go when they are older than the keep time, when ours take more than the
//! size cap, or when there are more than [`MAX_FILES`]. Files are created
//! new (never replacing one), written beside their name then renamed;
//! nothing else in the directory is touched.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::plan::HistoryPlan;
use crate::facts::Report;

/// Prefix of the history files.
pub const PREFIX: &str = "watch-";
/// Most history files kept (what one `compare` reads).
pub const MAX_FILES: usize = crate::compare::MAX_REPORTS;

/// One of our files: its path, time and size.
#[derive(Debug, Clone, PartialEq)]
struct Entry {
    path: PathBuf,
    at_unix_s: u64,
    bytes: u64,
}

/// The Unix time in a name of ours (`watch-1733400000-10m.json`).
pub fn time_of(name: &str) -> Option<u64> {
    let rest = name.strip_prefix(PREFIX)?.strip_suffix(".json")?;
    let (secs, window) = rest.split_once('-')?;
    let window_ok = !window.is_empty()
        && window.len() <= 8
        && window.bytes().all(|b| b.is_ascii_alphanumeric());
    (window_ok && !secs.is_empty() && secs.bytes().all(|b| b.is_ascii_digit()))
        .then(|| secs.parse().ok())
        .flatten()
}

/// Our files in `dir`, oldest first.
fn entries(dir: &Path) -> Result<Vec<Entry>> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).with_context(|| format!("--history {}", dir.display()))? {
        let Ok(e) = e else { continue };
        let Some(at) = time_of(&e.file_name().to_string_lossy()) else {
            continue;
        };
        // symlink_metadata: a link under our name is not ours.
        match e.path().symlink_metadata() {
            Ok(m) if m.is_file() => out.push(Entry {
                path: e.path(),
                at_unix_s: at,
                bytes: m.len(),
            }),
            _ => {}
        }
    }
    out.sort_by(|a, b| (a.at_unix_s, &a.path).cmp(&(b.at_unix_s, &b.path)));
    Ok(out)
}

/// Creates the history directory when missing.
pub fn prepare(plan: &HistoryPlan) -> Result<()> {
    fs::create_dir_all(&plan.dir)
        .with_context(|| format!("--history {}: cannot create it", plan.dir.display()))?;
    let meta = fs::metadata(&plan.dir)?;
    anyhow::ensure!(
        meta.is_dir(),
        "--history {}: not a directory",
        plan.dir.display()
    );
    Ok(())
}

/// Writes `report` as the summary of the window ending at `at_unix_s`,
/// then trims the ring. Returns the file written.
pub fn append(
    plan: &HistoryPlan,
    report: &Report,
    window: &str,
    at_unix_s: u64,
) -> Result<PathBuf> {
    let path = plan.dir.join(format!("{PREFIX}{at_unix_s}-{window}.json"));
    let tmp = plan
        .dir
        .join(format!(".{PREFIX}{at_unix_s}-{window}.json.tmp"));
    let mut file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&tmp)
        .with_context(|| format!("--history: cannot create {}", tmp.display()))?;
    let written = serde_json::to_writer(&mut file, report)
        .map_err(anyhow::Error::from)
        .and_then(|()| Ok(file.flush()?));
    // A name taken (by anything) is never replaced: link(2) fails on it.
    let linked = written.and_then(|()| Ok(fs::hard_link(&tmp, &path)?));
    let _ = fs::remove_file(&tmp);
    linked.with_context(|| format!("--history: cannot write {}", path.display()))?;
    trim(plan, at_unix_s)?;
    Ok(path)
}

/// Removes our oldest files beyond the keep time, the size cap and
/// [`MAX_FILES`].
pub fn trim(plan: &HistoryPlan, now_unix_s: u64) -> Result<()> {
    let all = entries(&plan.dir)?;
    let mut total: u64 = all.iter().map(|e| e.bytes).sum();
    let mut count = all.len();
    let oldest_kept = now_unix_s.saturating_sub(plan.keep.as_secs());
    for e in all {
        let stale = e.at_unix_s < oldest_kept;
        if !(stale || total > plan.max_bytes || count > MAX_FILES) {
            break;
        }
        if fs::remove_file(&e.path).is_ok() {
            total -= e.bytes;
            count -= 1;
        }
    }
    Ok(())
}

/// The history files of `dir` from `since_unix_s` on, oldest first.
pub fn since(dir: &Path, since_unix_s: u64) -> Result<Vec<PathBuf>> {
    Ok(entries(dir)?
        .into_iter()
        .filter(|e| e.at_unix_s >= since_unix_s)
        .map(|e| e.path)
        .collect())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::host::HostFacts;

    fn plan(dir: &Path, max_bytes: u64) -> HistoryPlan {
        HistoryPlan {
            dir: dir.to_path_buf(),
            keep: Duration::from_secs(3600),
            max_bytes,
        }
    }

    #[test]
    fn names_of_ours_and_not() {
        assert_eq!(time_of("watch-1733400000-10m.json"), Some(1_733_400_000));
        for other in [
            "watch-x-10m.json",
            "watch-1-.json",
            "watch-1-10m.json.tmp",
            "report.json",
            "watch-1-../x.json",
        ] {
            assert_eq!(time_of(other), None, "{other}");
        }
    }

    #[test]
    fn the_ring_keeps_its_bounds_and_touches_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let other = dir.path().join("watch-notes.json");
        fs::write(&other, "mine").unwrap();
        let report = Report::new("watch 10m", HostFacts::default());
        let p = plan(dir.path(), u64::MAX);
        for t in [1000u64, 2000, 3000, 5000] {
            append(&p, &report, "10m", t).unwrap();
        }
        // 1000 is older than an hour before 5000.
        let left = since(dir.path(), 0).unwrap();
        assert_eq!(left.len(), 3, "{left:?}");
        assert!(other.exists());
        // The same name again is refused, never replaced.
        assert!(append(&p, &report, "10m", 5000).is_err());
        // A size cap of one file's bytes keeps the newest only.
        let one = fs::metadata(&left[0]).unwrap().len();
        append(&plan(dir.path(), one), &report, "10m", 5001).unwrap();
        assert_eq!(since(dir.path(), 0).unwrap().len(), 1);
        assert_eq!(since(dir.path(), 5001).unwrap().len(), 1);
        assert!(other.exists());
        let loaded = crate::compare::load(&since(dir.path(), 0).unwrap()[0]).unwrap();
        assert_eq!(loaded.command, "watch 10m");
    }
}
