//! Every fuzz target of `etcd_doctor::fuzzing` in one binary, built the
//! cheap way: `scripts/fuzz-short` compiles it with `--cfg fuzzing` and
//! sanitizer-coverage flags for this crate only, so it reuses the
//! dependencies the test build compiled and links once for all targets
//! (docs/inputs.md has the figures).
//!
//! Under `--cfg fuzzing` it is a libFuzzer binary: the target named by
//! `ETCD_DOCTOR_FUZZ_TARGET` gets each whole input (so the corpora of
//! `fuzz/corpus/<target>/` replay unchanged); without it the first byte
//! picks the target. Without `--cfg fuzzing` (the test build) it replays
//! files: `cargo run --example fuzz -- TARGET FILE...`.
#![cfg_attr(fuzzing, no_main)]

use etcd_doctor::fuzzing::{by_name, Target, TARGETS};

const VAR: &str = "ETCD_DOCTOR_FUZZ_TARGET";

/// The target `name` or one line naming the known ones.
fn target(name: &str) -> Result<Target, String> {
    by_name(name).ok_or_else(|| {
        let names: Vec<&str> = TARGETS.iter().map(|(n, _)| *n).collect();
        format!("{name}: not a fuzz target (one of {})", names.join(", "))
    })
}

#[cfg(fuzzing)]
mod fuzz {
    use super::*;
    use std::sync::OnceLock;

    static CHOSEN: OnceLock<Option<Target>> = OnceLock::new();

    libfuzzer_sys::fuzz_target!(
        init: {
            let chosen = std::env::var(VAR).ok().map(|name| {
                target(&name).unwrap_or_else(|e| {
                    eprintln!("{VAR}={e}");
                    std::process::exit(2)
                })
            });
            CHOSEN.get_or_init(|| chosen);
        },
        |data: &[u8]| match CHOSEN.get().copied().flatten() {
            Some(target) => target(data),
            None => etcd_doctor::fuzzing::any(data),
        }
    );
}

#[cfg(not(fuzzing))]
fn main() -> std::process::ExitCode {
    let mut args = std::env::args().skip(1);
    let run = || -> Result<usize, String> {
        let name = args.next().ok_or(format!(
            "usage: fuzz TARGET FILE... ({VAR} is for fuzz builds)"
        ))?;
        let target = target(&name)?;
        let mut inputs = 0;
        for file in args {
            // Corpus files are small; a limit keeps a stray path harmless.
            let data = etcd_doctor::files::read_input("input", file.as_ref(), 1 << 20)
                .map_err(|e| e.to_string())?;
            target(&data);
            inputs += 1;
        }
        Ok(inputs)
    };
    match run() {
        Ok(n) => {
            eprintln!("fuzz: {n} inputs replayed without a panic");
            std::process::ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("fuzz: {e}");
            std::process::ExitCode::from(2)
        }
    }
}
