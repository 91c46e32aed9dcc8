//! Thin entry point: parse, run, print the error chain once, map to an exit code.
use std::process::ExitCode;

use clap::Parser;
use etcd_doctor::{cli::Cli, Outcome};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match etcd_doctor::run(cli) {
        Ok(outcome) => outcome.exit_code(),
        Err(err) => {
            eprintln!(
                "etcd-doctor: error: {}",
                etcd_doctor::text::error_line(&format!("{err:#}"))
            );
            Outcome::CouldNotRun.exit_code()
        }
    }
}
