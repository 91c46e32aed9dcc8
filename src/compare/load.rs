//! Reading the reports `compare` judges: single files, several files, or
//! a directory of baselines, each of any schema this version reads.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

use crate::facts::{Report, SCHEMA_VERSION};

/// Oldest report schema this version reads.
pub const OLDEST_SCHEMA_VERSION: u32 = 1;
/// Most reports one `compare` reads (baselines of a directory included).
pub const MAX_REPORTS: usize = 1000;
/// Largest report `compare` reads: a full run's report is a few hundred KiB.
pub const MAX_REPORT_BYTES: u64 = 64 << 20;
/// Most report bytes one command reads in all (`compare`'s baselines and
/// current runs, `diagnose --history`'s windows): [`MAX_REPORTS`] of
/// [`MAX_REPORT_BYTES`] each would be 64 GiB.
pub const MAX_TOTAL_REPORT_BYTES: u64 = 1 << 30;

/// Reads a JSON report written by `-w json` or `--report`, of schema
/// [`OLDEST_SCHEMA_VERSION`] to [`SCHEMA_VERSION`]; a report past
/// [`MAX_REPORT_BYTES`] or with a histogram no run can write is refused,
/// naming the file and field, before anything is allocated from it.
pub fn load(path: &Path) -> Result<Report> {
    load_counted(path, &mut 0)
}

/// [`load`], adding the report's size to `total`, which may not pass
/// [`MAX_TOTAL_REPORT_BYTES`] (the error names the file that passed it).
pub fn load_counted(path: &Path, total: &mut u64) -> Result<Report> {
    let text = crate::files::read_input("report", path, MAX_REPORT_BYTES)?;
    *total += text.len() as u64;
    if *total > MAX_TOTAL_REPORT_BYTES {
        bail!(
            "{}: the reports read reach {} MiB, more than the {} MiB one command reads in all",
            path.display(),
            *total >> 20,
            MAX_TOTAL_REPORT_BYTES >> 20
        );
    }
    parse(&text, path)
}

/// Parses and checks the report text of `path` (see [`load`]).
pub fn parse(text: &[u8], path: &Path) -> Result<Report> {
    let report: Report = serde_json::from_slice(text)
        .with_context(|| format!("{}: not an etcd-doctor JSON report", path.display()))?;
    if !(OLDEST_SCHEMA_VERSION..=SCHEMA_VERSION).contains(&report.schema_version) {
        bail!(
            "{}: report schema_version {} is not {OLDEST_SCHEMA_VERSION} to {SCHEMA_VERSION}",
            path.display(),
            report.schema_version
        );
    }
    for (subject, facts) in super::runs::runs(&report) {
        if let Some(h) = facts.histogram {
            h.check()
                .with_context(|| format!("{}: {subject}", path.display()))?;
        }
    }
    Ok(report)
}

/// The report files `paths` name: files as given, directories as their
/// `*.json` files in name order. At most [`MAX_REPORTS`].
pub fn expand(paths: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for path in paths {
        if path.is_dir() {
            let before = files.len();
            for entry in std::fs::read_dir(path)
                .with_context(|| format!("cannot read {}", path.display()))?
            {
                let p = entry
                    .with_context(|| format!("cannot read {}", path.display()))?
                    .path();
                if p.extension().is_some_and(|e| e == "json") && p.is_file() {
                    files.push(p);
                }
                if files.len() > MAX_REPORTS {
                    bail!("more than {MAX_REPORTS} reports to compare");
                }
            }
            files[before..].sort();
            if files.len() == before {
                bail!("{}: no *.json reports in this directory", path.display());
            }
        } else {
            files.push(path.clone());
        }
    }
    if files.len() > MAX_REPORTS {
        bail!("more than {MAX_REPORTS} reports to compare");
    }
    Ok(files)
}

/// Reads every report `paths` name, at most [`MAX_TOTAL_REPORT_BYTES`]
/// in all.
pub fn load_all(paths: &[PathBuf]) -> Result<Vec<Report>> {
    let mut total = 0;
    expand(paths)?
        .iter()
        .map(|p| load_counted(p, &mut total))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_past_the_total_are_refused_naming_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("r.json");
        std::fs::write(&path, b"{}").unwrap();
        let mut total = MAX_TOTAL_REPORT_BYTES - 1;
        let e = load_counted(&path, &mut total).unwrap_err().to_string();
        assert!(e.starts_with(&path.display().to_string()), "{e}");
        assert!(e.contains("1024 MiB"), "{e}");
        let mut total = 0;
        // Under the total, the report itself is judged (here: not one).
        let e = load_counted(&path, &mut total).unwrap_err().to_string();
        assert!(e.contains("not an etcd-doctor JSON report"), "{e}");
        assert_eq!(total, 2);
    }

    #[test]
    fn a_directory_is_its_json_files_in_order() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["b.json", "a.json", "notes.txt"] {
            std::fs::write(dir.path().join(name), "{}").unwrap();
        }
        let files = expand(&[dir.path().to_path_buf()]).unwrap();
        let names: Vec<_> = files.iter().map(|f| f.file_name().unwrap()).collect();
        assert_eq!(names, ["a.json", "b.json"]);
        let empty = tempfile::tempdir().unwrap();
        let err = expand(&[empty.path().to_path_buf()]).unwrap_err();
        assert!(err.to_string().contains("no *.json reports"), "{err}");
    }

    fn valid() -> Vec<u8> {
        let r = Report::new("disk", crate::host::HostFacts::default());
        serde_json::to_vec(&r).unwrap()
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]
        /// Any bytes, and a valid report with bytes flipped or cut: an
        /// error naming the file or a report, never a panic.
        #[test]
        fn damaged_reports_never_panic(
            noise in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512),
            flips in proptest::collection::vec((proptest::prelude::any::<usize>(), proptest::prelude::any::<u8>()), 0..8),
            cut in proptest::prelude::any::<usize>(),
        ) {
            let p = Path::new("r.json");
            if let Err(e) = parse(&noise, p) {
                proptest::prop_assert!(e.to_string().starts_with("r.json"));
            }
            let mut text = valid();
            for (at, b) in flips {
                let n = text.len();
                text[at % n] = b;
            }
            text.truncate(cut % (text.len() + 1));
            let _ = parse(&text, p);
        }
    }
}
