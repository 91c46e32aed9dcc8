//! Fleets: many hosts' reports merged into one (`etcd-doctor merge`).
//!
//! Qualifying one host answers "is this disk fast enough"; an operator with
//! five control-plane nodes (or forty) asks "which one is the outlier" and
//! "which path between them is slow". Each report already says which host
//! wrote it (hostname, its addresses) and which peers it measured (the net
//! results' `peer`), so the merged view needs no other input: per host and
//! probe the key percentiles with the fleet median, the all-pairs RTT and
//! throughput matrix, the fleet rules' findings (added by [`crate::rules::fleet::judge`])
//! and one verdict.
//!
//! Input problems (a document that is not a report, another schema
//! version, the same host twice, a cut-off stream) become notes in the
//! fleet report; only when no report at all can be merged is it an error.

mod input;
pub mod matrix;
pub mod notes;
pub mod stream;
pub mod validate;

use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

use anyhow::{Context, Result};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use crate::compare::{MAX_REPORTS, OLDEST_SCHEMA_VERSION};
use crate::facts::{Report, SCHEMA_VERSION};
use crate::findings::{Finding, Severity, Verdict};
use crate::measure::median;
use crate::probe::disk::DiskProbeKind;
use input::name_of;
pub use input::Input;
pub use matrix::PathEntry;
pub use notes::Notes;

/// Where reports are read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A report file (it may hold several concatenated documents).
    File(PathBuf),
    /// Standard input: concatenated documents, as `kubectl logs` prints them.
    Stdin,
}

/// Nothing could be merged.
#[derive(Debug, Error)]
#[error("no report could be merged: {}", notes.summary())]
pub struct NothingToMerge {
    /// Why each input was left out.
    pub notes: Notes,
}

/// One host of the fleet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct FleetHost {
    /// The name the fleet report uses: the hostname, with its first
    /// address appended when two hosts share a hostname.
    pub name: String,
    /// Where its report came from.
    pub origin: String,
    /// The command that wrote the report, e.g. `qualify`.
    pub command: String,
    /// The host's addresses as its report recorded them.
    #[serde(default)]
    pub addresses: Vec<std::net::IpAddr>,
    /// The host report's own verdict.
    pub verdict: Verdict,
    /// Ids of the host report's warn and fail findings.
    #[serde(default)]
    pub findings: Vec<String>,
}

/// One host's percentiles of one disk probe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct HostLatency {
    /// The host ([`FleetHost::name`]).
    pub host: String,
    /// Median latency, milliseconds.
    pub p50_ms: f64,
    /// 99th-percentile latency, milliseconds.
    pub p99_ms: f64,
}

/// One disk probe across the fleet.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct DiskRow {
    /// The probe, e.g. `fsync`.
    #[schemars(with = "String")]
    pub probe: DiskProbeKind,
    /// Each host that ran it.
    pub hosts: Vec<HostLatency>,
    /// Median over the hosts of their p50, milliseconds.
    pub fleet_p50_ms: f64,
    /// Median over the hosts of their p99, milliseconds.
    pub fleet_p99_ms: f64,
}

/// Everything `merge` produced (the fleet JSON contract).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct FleetReport {
    /// Schema version of the host reports merged ([`SCHEMA_VERSION`]).
    pub schema_version: u32,
    /// etcd-doctor version that merged them.
    pub tool_version: String,
    /// Always `merge`.
    pub command: String,
    /// The profile the fleet rules used.
    pub profile: String,
    /// The hosts, by name.
    pub hosts: Vec<FleetHost>,
    /// Disk percentiles per probe, per host, with the fleet median.
    #[serde(default)]
    pub disk: Vec<DiskRow>,
    /// Every measured ordered pair of hosts (the all-pairs matrix).
    #[serde(default)]
    pub paths: Vec<PathEntry>,
    /// The fleet rules' findings, most severe first.
    #[serde(default)]
    pub findings: Vec<Finding>,
    /// Input problems that did not stop the merge.
    #[serde(default)]
    pub notes: Vec<String>,
    /// Worst of the host verdicts and the fleet findings.
    pub verdict: Verdict,
}

/// Reads every source, streaming: each report found (at most
/// [`MAX_REPORTS`] and [`stream::MAX_KEPT_BYTES`] of documents in all), and
/// notes on what was skipped.
pub fn read(sources: &[Source]) -> Result<(Vec<Input>, Notes)> {
    let mut inputs = Vec::new();
    let mut notes = Notes::default();
    let mut budget = stream::Budget::new(MAX_REPORTS);
    for source in sources {
        // Each document becomes a report at once (its bytes dropped);
        // origins and notes are named once the count is known.
        let mut read: Vec<Result<Report, String>> = Vec::new();
        let (name, docs) = read_source(source, &mut budget, &mut |_, doc| {
            read.push(to_report(doc));
        })?;
        source_notes(&name, &docs, &mut notes);
        let several = read.len() > 1;
        for (i, doc) in read.into_iter().enumerate() {
            let origin = if several || matches!(source, Source::Stdin) {
                format!("{name}#{}", i + 1)
            } else {
                name.clone()
            };
            match doc {
                Ok(report) => inputs.push(Input { origin, report }),
                Err(why) => notes.push(format!("{origin}: {why}: left out")),
            }
        }
    }
    Ok((inputs, notes))
}

/// Notes on what a pass over source `name` skipped.
fn source_notes(name: &str, docs: &stream::Documents, notes: &mut Notes) {
    if docs.skipped_lines > 0 {
        notes.push(format!(
            "{name}: skipped {} line(s) that were not JSON",
            docs.skipped_lines
        ));
    }
    if let Some(at) = docs.truncated_at {
        notes.push(format!(
            "{name}: document at byte {at} is cut off: left out"
        ));
    }
    if docs.too_large > 0 {
        notes.push(format!(
            "{name}: {} document(s) larger than {} bytes: left out",
            docs.too_large,
            stream::MAX_DOCUMENT_BYTES
        ));
    }
    if docs.over_limit > 0 {
        notes.push(format!(
            "{name}: {} document(s) past the limit of {MAX_REPORTS} reports or {} bytes in all: left out",
            docs.over_limit,
            stream::MAX_KEPT_BYTES
        ));
    }
    if docs.stopped {
        notes.push(format!(
            "{name}: read stopped after {} bytes: the rest left out",
            stream::MAX_INPUT_BYTES
        ));
    }
}

/// Streams `source` through [`stream::each_document`]; its name and counts.
fn read_source(
    source: &Source,
    budget: &mut stream::Budget,
    each: &mut dyn FnMut(u64, &[u8]),
) -> Result<(String, stream::Documents)> {
    match source {
        Source::File(path) => {
            let mut file = crate::files::open_input("merge", path)?;
            let docs = stream::each_document(&mut file, budget, each)
                .with_context(|| format!("cannot read {}", path.display()))?;
            Ok((path.display().to_string(), docs))
        }
        Source::Stdin => {
            crate::files::stdin_is_a_stream("merge")?;
            let docs = stream::each_document(&mut std::io::stdin().lock(), budget, each)
                .context("cannot read standard input")?;
            Ok(("stdin".to_string(), docs))
        }
    }
}

/// The fields of a document looked at before it is read as a report.
#[derive(Deserialize)]
struct Head {
    schema_version: Option<serde_json::Value>,
    command: Option<serde_json::Value>,
}

/// A JSON document as a host report of a schema this version reads (the
/// same range as `compare`), or why it is not one.
pub fn to_report(doc: &[u8]) -> Result<Report, String> {
    let head: Head =
        serde_json::from_slice(doc).map_err(|e| format!("not an etcd-doctor report ({e})"))?;
    let readable = u64::from(OLDEST_SCHEMA_VERSION)..=u64::from(SCHEMA_VERSION);
    match head.schema_version.as_ref().and_then(|v| v.as_u64()) {
        None => return Err("not an etcd-doctor report (no schema_version)".into()),
        Some(v) if !readable.contains(&v) => {
            return Err(format!(
                "schema_version {v}, this etcd-doctor reads {OLDEST_SCHEMA_VERSION} to {SCHEMA_VERSION}"
            ))
        }
        Some(_) => {}
    }
    if head.command.as_ref().and_then(|c| c.as_str()) == Some("merge") {
        return Err("a fleet report, not a host report".into());
    }
    let report: Report =
        serde_json::from_slice(doc).map_err(|e| format!("not an etcd-doctor report ({e})"))?;
    match validate::implausible(&report) {
        Some(why) => Err(format!("{why}, no run writes that")),
        None => Ok(report),
    }
}

/// Merges host reports into the fleet report, not yet judged: no fleet
/// findings, the verdict the worst host's (`rules::fleet::judge` adds the
/// fleet's own findings with the thresholds of `profile`, named here).
pub fn merge(
    inputs: Vec<Input>,
    mut notes: Notes,
    profile: &str,
) -> Result<FleetReport, NothingToMerge> {
    let inputs = dedup(inputs, &mut notes);
    if inputs.is_empty() {
        if notes.is_empty() {
            notes.push("no JSON documents in the input".into());
        }
        return Err(NothingToMerge { notes });
    }
    let hosts: Vec<FleetHost> = inputs.iter().map(fleet_host).collect();
    let disk = disk_rows(&inputs);
    let paths = matrix::paths(&inputs);
    let verdict = hosts
        .iter()
        .map(|h| h.verdict)
        .max()
        .unwrap_or(Verdict::Pass);
    Ok(FleetReport {
        schema_version: SCHEMA_VERSION,
        tool_version: env!("CARGO_PKG_VERSION").to_string(),
        command: "merge".into(),
        profile: profile.to_string(),
        hosts,
        disk,
        paths,
        findings: Vec::new(),
        notes: notes.into_vec(),
        verdict,
    })
}

/// Drops repeated hosts (same hostname and a shared address, or no
/// addresses: a report given twice, a Job that ran twice) keeping the
/// first, and renames hosts that share a hostname but not an address.
/// Linear: kept hosts are indexed by (hostname, address).
fn dedup(inputs: Vec<Input>, notes: &mut Notes) -> Vec<Input> {
    let mut kept: Vec<Input> = Vec::new();
    // Hostname -> first kept without addresses; (hostname, address) -> first kept.
    let mut bare: HashMap<String, usize> = HashMap::new();
    let mut by_addr: HashMap<(String, std::net::IpAddr), usize> = HashMap::new();
    for input in inputs {
        let name = name_of(&input);
        let first = bare.get(&name).or_else(|| {
            input
                .report
                .host
                .addresses
                .iter()
                .find_map(|a| by_addr.get(&(name.clone(), *a)))
        });
        if let Some(&first) = first {
            notes.push(format!(
                "{}: host {:?} already merged from {}: left out",
                input.origin, name, kept[first].origin
            ));
            continue;
        }
        let at = kept.len();
        if input.report.host.addresses.is_empty() {
            bare.entry(name.clone()).or_insert(at);
        }
        for a in &input.report.host.addresses {
            by_addr.entry((name.clone(), *a)).or_insert(at);
        }
        kept.push(input);
    }
    let mut count: HashMap<String, usize> = HashMap::new();
    for k in &kept {
        *count.entry(name_of(k)).or_default() += 1;
    }
    for k in &mut kept {
        if count[&name_of(k)] > 1 {
            if let Some(addr) = k.report.host.addresses.first() {
                k.report.host.hostname = format!("{}/{addr}", k.report.host.hostname);
            }
        }
    }
    kept.sort_by_key(name_of);
    kept
}

fn fleet_host(input: &Input) -> FleetHost {
    let r = &input.report;
    FleetHost {
        name: name_of(input),
        origin: input.origin.clone(),
        command: r.command.clone(),
        addresses: r.host.addresses.clone(),
        verdict: r.verdict,
        findings: r
            .findings
            .iter()
            .filter(|f| f.severity > Severity::Info)
            .map(|f| f.id.as_str().to_string())
            .collect(),
    }
}

/// Per disk probe, each host's p50/p99 and the fleet medians.
fn disk_rows(inputs: &[Input]) -> Vec<DiskRow> {
    // In name order, as the rows always came.
    let mut by_probe: BTreeMap<&str, (DiskProbeKind, Vec<HostLatency>)> = BTreeMap::new();
    for input in inputs {
        for d in &input.report.disk {
            by_probe
                .entry(d.probe.as_str())
                .or_insert_with(|| (d.probe, Vec::new()))
                .1
                .push(HostLatency {
                    host: name_of(input),
                    p50_ms: d.latency_us.p50_ms(),
                    p99_ms: d.latency_us.p99_ms(),
                });
        }
    }
    by_probe
        .into_iter()
        .map(|(_, (probe, hosts))| DiskRow {
            probe,
            fleet_p50_ms: median(hosts.iter().map(|h| h.p50_ms)).unwrap_or(0.0),
            fleet_p99_ms: median(hosts.iter().map(|h| h.p99_ms)).unwrap_or(0.0),
            hosts,
        })
        .collect()
}

#[cfg(test)]
mod tests;
