//! The body of every fuzz target, one function per parser of outside
//! input. `fuzz/` (a cargo-fuzz crate outside the workspace, nightly)
//! calls them from libFuzzer; the stable test below replays the checked-in
//! seed corpus (`fuzz/corpus/<target>/`) through the same functions, so
//! what the fuzzer once found stays fixed in every CI run.
//!
//! A target's only assertion is the house rule: no input panics, hangs or
//! allocates without bound; a parser may refuse anything.

use std::path::Path;

/// A target's body.
pub type Target = fn(&[u8]);

/// Every target by name, as the fuzz crate and the corpus name them.
pub const TARGETS: &[(&str, Target)] = &[
    ("snapshot", snapshot),
    ("log_lines", log_lines),
    ("log_stream", log_stream),
    ("report_json", report_json),
    ("manifest", manifest),
    ("profile", profile),
    ("metrics", metrics),
    ("bundle", bundle),
    ("discovery", discovery),
    ("flags", flags),
];

/// The target called `name`, as `TARGETS` names it.
pub fn by_name(name: &str) -> Option<Target> {
    TARGETS.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}

/// Every target in one body: the first byte picks the target (modulo
/// their number), the rest is its input. The combined fuzz binary
/// (`fuzz/fuzz_targets/all.rs`) runs this when no single target is chosen,
/// so one link serves all parsers.
pub fn any(data: &[u8]) {
    if let Some((target, rest)) = pick(data) {
        target(rest);
    }
}

/// The target the first byte picks and the rest of the input.
fn pick(data: &[u8]) -> Option<(Target, &[u8])> {
    let (&first, rest) = data.split_first()?;
    Some((TARGETS[usize::from(first) % TARGETS.len()].1, rest))
}

/// Snapshot and db file pages: verify, inspect-db and analyze.
pub fn snapshot(data: &[u8]) {
    use crate::snapshot::verify::TrailerCheck;
    let path = Path::new("fuzz.db");
    let _ = crate::snapshot::verify::verify_bytes(path, data);
    let _ = crate::snapshot::dbstate::inspect_bytes(path, data);
    let plan = crate::snapshot::analyze::AnalyzePlan {
        grouping: crate::keyspace::Grouping::default(),
        trailer: TrailerCheck::IfPresent,
        // Small, so that fuzzed files reach the limit too.
        max_keys: 4,
    };
    let _ = crate::snapshot::analyze::analyze_bytes(path, data, &plan);
}

/// One line through every line parser: zap JSON and console, CRI,
/// docker, journald, capnslog and Go log.
pub fn log_lines(data: &[u8]) {
    use crate::logs::{capnslog, console, cri, docker, golog, journald, zap};
    let Ok(line) = std::str::from_utf8(data) else {
        return;
    };
    let _ = zap::parse(line);
    let _ = console::parse(line);
    let _ = capnslog::parse(line);
    let _ = golog::parse(line);
    let _ = cri::parse(line);
    let _ = docker::parse(line);
    let _ = journald::parse(line);
    let _ = crate::logs::time::parse_timestamp(line);
    let _ = crate::logs::time::parse_go_duration_ms(line);
}

/// Bytes as a log source through the scanner (chunks, pre-filter,
/// identity and stale-member lines, timeline bounds).
pub fn log_stream(data: &[u8]) {
    let mut scanner = crate::logs::Scanner::new(Default::default());
    scanner.scan("fuzz", &mut &data[..]);
    let _ = scanner.finish();
}

/// Report JSON as `diagnose --history`/`compare` and `merge` read it.
pub fn report_json(data: &[u8]) {
    let _ = crate::compare::parse(data, Path::new("fuzz.json"));
    let mut budget = crate::fleet::stream::Budget::new(8);
    let _ = crate::fleet::stream::each_document(&mut &data[..], &mut budget, &mut |_, doc| {
        let _ = crate::fleet::to_report(doc);
    });
}

/// A kubeadm static pod manifest.
pub fn manifest(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = crate::cluster::kubeadm::from_text(Path::new("fuzz.yaml"), text);
    }
}

/// A `--profile` TOML file.
pub fn profile(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = crate::rules::Profile::parse(text, "fuzz.toml");
    }
}

/// A member's /metrics page.
pub fn metrics(data: &[u8]) {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = crate::cluster::metrics::parse(text);
    }
}

/// A `diagnose --bundle` archive (gzip tar) read back.
pub fn bundle(data: &[u8]) {
    let _ = crate::archive::read::parse(data);
}

/// Discovery's parsers: a process's argv (NUL-separated) and environ, an
/// env file and a config YAML.
pub fn discovery(data: &[u8]) {
    use crate::discover::parse;
    let argv: Vec<String> = data
        .split(|&b| b == 0)
        .map(|a| String::from_utf8_lossy(a).into_owned())
        .collect();
    let _ = parse::parse_argv(&argv);
    let _ = parse::parse_environ(data);
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = parse::parse_env_file(text);
        let _ = parse::parse_config_yaml(text);
    }
}

/// Flag values: durations, look-backs, `--since`, sizes.
pub fn flags(data: &[u8]) {
    use crate::cli::duration;
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = duration::parse_go_duration(text);
    let _ = duration::parse_lookback(text);
    let _ = duration::parse_duration(text);
    let _ = duration::parse_duration_ms(text);
    let _ = crate::cli::logs::parse_time("--since", text, 1_700_000_000_000);
    let _ = crate::load::plan::parse_size(text);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_are_found_by_name_and_by_first_byte() {
        let addr = |t: Target| t as usize;
        for (i, (name, target)) in TARGETS.iter().enumerate() {
            assert_eq!(by_name(name).map(addr), Some(addr(*target)));
            // Byte i and i + len pick the same target and pass the rest.
            let first = u8::try_from(i).unwrap();
            let again = u8::try_from(i + TARGETS.len()).unwrap();
            let picked = |data: &[u8]| pick(data).map(|(t, rest)| (addr(t), rest.to_vec()));
            assert_eq!(picked(&[first, 7]), Some((addr(*target), vec![7])));
            assert_eq!(picked(&[again]), Some((addr(*target), vec![])));
        }
        assert!(by_name("nope").is_none());
        assert!(pick(&[]).is_none());
    }

    /// Every seed of `fuzz/corpus/<target>/` through its target, on
    /// stable; each target has seeds.
    #[test]
    fn the_seed_corpus_replays_without_a_panic() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
        for (name, target) in TARGETS {
            let dir = root.join(name);
            let mut seeds = 0;
            for entry in
                std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
            {
                let path = entry.unwrap().path();
                target(&std::fs::read(&path).unwrap());
                seeds += 1;
            }
            assert!(seeds > 0, "no seeds in {}", dir.display());
        }
    }
}
