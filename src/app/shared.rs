//! What every command's last steps share: saying which etcd discovery
//! found, the tokio runtime, judging and writing the report, the outcome.
//! A leaf of `app`: the command files use it, it uses none of them.

use anyhow::Result;

use crate::cli::judge::JudgePlan;
use crate::facts::Report;
use crate::report::{self, OutputPlan};
use crate::Outcome;

/// Says on stderr what discovery found and from where, before any result:
/// the operator sees which etcd the run is about.
pub(crate) fn say_found(found: Option<&crate::discover::Discovery>) {
    if let Some(d) = found {
        eprint!("{}", crate::discover::render::table(d));
    }
}

/// Builds the multi-threaded tokio runtime that network commands run on.
pub(crate) fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?)
}

/// Builds a tokio runtime on this thread alone, for `load` and the
/// `cluster` views: `load`'s client sits beside the members it loads, and
/// with worker threads a tenth of its CPU went to waking them (futex,
/// context switches); one thread drives far more requests than etcd on
/// the same cores answers. The views' few requests gain nothing from
/// workers that cost a millisecond to start.
pub(crate) fn runtime_one_thread() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?)
}

/// Judges a finished report against the plan's profile, writes it (and the
/// report bundle when asked), and maps the findings to the exit outcome.
pub(crate) fn conclude(
    mut report: Report,
    judge: &JudgePlan,
    output: &OutputPlan,
) -> Result<Outcome> {
    report.judge(&judge.profile);
    emit_judged(report, judge, output)
}

/// Writes an already judged report (and the report bundle when asked)
/// and maps its findings to the exit outcome.
pub(crate) fn emit_judged(
    report: Report,
    judge: &JudgePlan,
    output: &OutputPlan,
) -> Result<Outcome> {
    report::emit(&report, output)?;
    if let Some(dir) = &judge.report_dir {
        report::bundle::write(&report, dir)?;
    }
    Ok(Outcome::judged(report.verdict.fails_at(judge.fail_on)))
}
