//! `etcd-doctor merge`: host reports in, one fleet report out; exit 1 when
//! the merged verdict reaches `--fail-on`, 2 only when nothing could be
//! merged.

use anyhow::Result;

use crate::cli::merge::MergeArgs;
use crate::fleet;
use crate::report::{self, format::fleet as render};
use crate::Outcome;

/// Runs `merge`.
pub fn run(args: MergeArgs) -> Result<Outcome> {
    let plan = args.into_plan()?;
    let (inputs, notes) = fleet::read(&plan.sources)?;
    let mut merged = fleet::merge(inputs, notes, &plan.profile.name)?;
    merged.judge(&plan.profile);
    report::emit_with(&plan.output, |w| {
        if plan.html {
            render::html::render(&merged, w)
        } else {
            render::render(&merged, plan.output.format, w)
        }
    })?;
    Ok(Outcome::judged(merged.verdict.fails_at(plan.fail_on)))
}
