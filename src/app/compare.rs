//! `etcd-doctor compare`: baseline reports against current reports; exit
//! 1 when a probe regressed beyond noise and beyond `--max-regression`
//! (or, under `--strict`, when a worsening had not enough evidence).

use anyhow::Result;

use crate::cli::verdict::CompareArgs;
use crate::compare;
use crate::report::{self, format::comparison};
use crate::Outcome;

/// Runs `compare`.
pub fn run(args: CompareArgs) -> Result<Outcome> {
    let (plan, output) = args.into_plans()?;
    let baseline = compare::load_all(&plan.baseline)?;
    let current = compare::load_all(&plan.current)?;
    let result = compare::compare(&baseline, &current, &plan.plan)?;
    report::emit_with(&output, |w| comparison::render(&result, output.format, w))?;
    Ok(Outcome::judged(result.failed()))
}
