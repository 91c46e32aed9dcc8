//! `etcd-doctor logs`: reads etcd's logs (files, standard input, the
//! journal, the kubeadm static pod's logs), sums the catalogued messages
//! into a timeline and judges them. Exit 2 when no source could be read
//! or nothing read was in a known log format; a source that fails beside
//! others is reported in the sources table.

use anyhow::{bail, Result};

use super::shared;
use crate::cli::logs::LogsArgs;
use crate::facts::Report;
use crate::host::HostFacts;
use crate::logs::source;
use crate::Outcome;

/// Runs `logs`.
pub fn run(args: LogsArgs) -> Result<Outcome> {
    let judge = args.judge.clone().into_plan()?;
    let output = args.output.clone().into();
    let plan = args.into_plan()?;
    let logs = source::read(&plan);
    if !logs.read_anything() {
        let errors: Vec<String> = logs
            .sources
            .iter()
            .filter_map(|s| s.error.clone())
            .collect();
        bail!("no log could be read: {}", errors.join("; "));
    }
    if logs.known_lines() == 0 {
        // Nothing parsed is never a pass (random bytes, another program's
        // log, a journald unit without entries).
        let read: Vec<String> = logs
            .sources
            .iter()
            .map(|s| match &s.error {
                Some(e) => e.clone(),
                None => format!("{}: {} line(s)", s.name, s.lines),
            })
            .collect();
        bail!(
            "no line in a known etcd log format (zap JSON, capnslog, CRI, docker, journald) was read: {}",
            read.join("; ")
        );
    }
    let mut report = Report::new("logs", HostFacts::default());
    report.logs = Some(logs);
    shared::conclude(report, &judge, &output)
}
