//! `etcd-doctor completions SHELL` and `etcd-doctor man`: shell completion
//! scripts (clap_complete) and roff man pages (clap_mangen) written to
//! standard output from the same clap definitions the parser uses, so they
//! never drift from the flags.

use anyhow::{Context, Result};
use clap::CommandFactory;

use crate::cli::packaging::{CompletionsArgs, ManArgs};
use crate::cli::Cli;
use crate::report::to_stdout;
use crate::Outcome;

/// Writes the completion script for the shell.
pub fn completions(args: CompletionsArgs) -> Result<Outcome> {
    let mut cmd = Cli::command();
    // clap_complete panics on a write error: generate into memory first.
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut cmd, "etcd-doctor", &mut script);
    to_stdout(false, |w| w.write_all(&script))?;
    Ok(Outcome::Healthy)
}

/// Writes the man page of etcd-doctor or of one subcommand.
pub fn man(args: ManArgs) -> Result<Outcome> {
    let mut cmd = Cli::command();
    cmd.build();
    let (page, title) = match &args.subcommand {
        None => (cmd, "etcd-doctor".to_string()),
        Some(name) => {
            let known: Vec<String> = cmd
                .get_subcommands()
                .map(|s| s.get_name().to_string())
                .collect();
            let sub = cmd
                .find_subcommand(name)
                .with_context(|| {
                    format!(
                        "man {name}: no such subcommand (known: {})",
                        known.join(", ")
                    )
                })?
                .clone();
            (sub, format!("etcd-doctor-{name}"))
        }
    };
    to_stdout(false, |w| {
        clap_mangen::Man::new(page).title(title).render(w)
    })?;
    Ok(Outcome::Healthy)
}
