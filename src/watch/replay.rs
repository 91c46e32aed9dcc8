//! `diagnose --history DIR --since 3h`: an incident hours ago judged after
//! the fact from `watch`'s history. Every window report since then is
//! judged again with this version's rules and profile; the canary's
//! results of all of them are joined into one (their histograms merged,
//! their stall ledgers on one clock, so stalls that came every few
//! minutes show their period); the cluster, logs and host sections are
//! the latest window's. The findings are the joined report's, plus every
//! finding of a single window it does not already hold (the most severe
//! of each id), each naming the window it came from.

use std::path::Path;

use anyhow::{bail, Result};

use super::history;
use super::join::{join, Segment};
use crate::facts::Report;
use crate::findings::{Finding, Verdict};
use crate::probe::disk::DiskProbeKind;
use crate::rules::Profile;

/// The report of the history in `dir` from `since_unix_s` on, judged.
pub fn judge_since(dir: &Path, since_unix_s: u64, profile: &Profile) -> Result<Report> {
    let files = history::since(dir, since_unix_s)?;
    if files.is_empty() {
        bail!(
            "--history {}: no watch window reports since Unix time {since_unix_s}",
            dir.display()
        );
    }
    let mut windows = Vec::with_capacity(files.len());
    let mut total = 0;
    for f in &files {
        let mut r = crate::compare::load_counted(f, &mut total)?;
        r.judge(profile);
        windows.push((f.file_name().map(|n| n.to_string_lossy().into_owned()), r));
    }
    let segments: Vec<Segment> = windows
        .iter()
        .flat_map(|(name, r)| {
            let end = name.as_deref().and_then(history::time_of).unwrap_or(0) as f64;
            r.disk
                .iter()
                .filter(|d| d.probe == DiskProbeKind::Paced)
                .map(move |d| Segment {
                    started_unix_s: end - d.duration_s,
                    result: d.clone(),
                })
        })
        .collect();
    let (_, latest) = windows.last().expect("at least one file");
    let mut report = latest.clone();
    report.command = format!("diagnose --since ({} windows)", windows.len());
    let refs: Vec<&Segment> = segments.iter().collect();
    report.disk = join(&refs).into_iter().collect();
    report.judge(profile);
    for (name, w) in &windows {
        for f in &w.findings {
            add(&mut report.findings, f, name.as_deref().unwrap_or("?"));
        }
    }
    report
        .findings
        .sort_by_key(|f| std::cmp::Reverse(f.severity));
    report.verdict = Verdict::from_findings(&report.findings);
    Ok(report)
}

/// Adds `f` of window `name` unless a finding of its id at least as
/// severe is there; a less severe one of its id is replaced.
fn add(findings: &mut Vec<Finding>, f: &Finding, name: &str) {
    match findings.iter().position(|g| g.id == f.id) {
        Some(i) if findings[i].severity >= f.severity => {}
        found => {
            if let Some(i) = found {
                findings.remove(i);
            }
            let mut f = f.clone();
            f.summary = format!("{} (window {name})", f.summary);
            findings.push(f);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::host::HostFacts;
    use crate::watch::join::paced;
    use crate::watch::plan::HistoryPlan;

    /// A 10-minute window of the canary at 10 writes/s, one 700 ms stall
    /// at 300 s when `stall`.
    fn window(stall: bool) -> Report {
        let mut r = Report::new("watch 10m", HostFacts::default());
        r.disk.push(paced(6000, stall.then_some((3000, 700))));
        r
    }

    #[test]
    fn an_incident_hours_ago_is_judged_from_the_history() {
        let dir = tempfile::tempdir().unwrap();
        let plan = HistoryPlan {
            dir: dir.path().to_path_buf(),
            keep: Duration::from_secs(86_400),
            max_bytes: u64::MAX,
        };
        // Six windows, the third with a stall; then quiet.
        for i in 0..6u64 {
            let at = 100_000 + 600 * i;
            history::append(&plan, &window(i == 2), "10m", at).unwrap();
        }
        let profile = Profile::load("etcd-default").unwrap();
        let r = judge_since(dir.path(), 100_000, &profile).unwrap();
        assert_eq!(r.disk[0].ops, 36_000);
        assert_eq!(r.disk[0].stalls.events_count, 1);
        let f = r
            .findings
            .iter()
            .find(|f| f.id == crate::findings::FindingId::DiskFsyncStall)
            .expect("the stall of the third window");
        assert_eq!(f.severity, crate::findings::Severity::Fail);
        assert_eq!(r.verdict, Verdict::Fail);
        // From after the incident: nothing.
        let later = judge_since(dir.path(), 101_300, &profile).unwrap();
        assert!(later
            .findings
            .iter()
            .all(|f| f.id != crate::findings::FindingId::DiskFsyncStall));
        assert!(judge_since(dir.path(), 200_000, &profile).is_err());
    }
}
