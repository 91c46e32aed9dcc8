//! The view of the fleet report (`merge`): the same sections for every
//! format, and the path matrices as host-by-host grids. The renderers in
//! `format/fleet/` lay them out. Fed a finished [`FleetReport`].

use std::collections::HashMap;

use super::section::Section;
use crate::fleet::{FleetReport, PathEntry};
use crate::measure::round2;

/// A host-by-host grid: one row per measuring host, one column per peer.
#[derive(Debug, Clone, PartialEq)]
pub struct Grid {
    /// Title shown above it.
    pub title: String,
    /// Every host that appears on either side, in name order.
    pub hosts: Vec<String>,
    /// `cells[row][column]`: the value, or empty when not measured.
    pub cells: Vec<Vec<String>>,
    /// Hosts left out of the grid (past [`MAX_GRID_HOSTS`]; every pair is
    /// in the Paths section and the JSON).
    pub more_hosts: usize,
}

/// Most hosts a grid shows: a fleet of 40 fits a wide terminal; 3,000
/// peers would be 9 million cells.
pub const MAX_GRID_HOSTS: usize = 40;

impl Grid {
    /// The line under a grid that left hosts out, if it did.
    pub fn more_line(&self) -> Option<String> {
        (self.more_hosts > 0).then(|| {
            format!(
                "and {} more host(s), not in this grid: every pair is in the Paths section and -w json",
                self.more_hosts
            )
        })
    }
}

/// One-line summary: verdict, hosts, findings.
pub fn headline(report: &FleetReport) -> String {
    format!(
        "etcd-doctor merge: {} ({} host(s), {} fleet finding(s), profile {})",
        report.verdict,
        report.hosts.len(),
        report.findings.len(),
        report.profile
    )
}

/// The hosts, disk and path sections, in reading order.
pub fn sections(report: &FleetReport) -> Vec<Section> {
    let mut out = vec![Section {
        title: "Hosts".into(),
        headers: vec![
            "host",
            "from",
            "command",
            "addresses",
            "verdict",
            "findings",
        ],
        rows: report
            .hosts
            .iter()
            .map(|h| {
                let addrs: Vec<String> = h.addresses.iter().map(|a| a.to_string()).collect();
                vec![
                    h.name.clone(),
                    h.origin.clone(),
                    h.command.clone(),
                    addrs.join(" "),
                    h.verdict.to_string(),
                    h.findings.join(" "),
                ]
            })
            .collect(),
    }];
    if !report.disk.is_empty() {
        out.push(disk_section(report));
    }
    if !report.paths.is_empty() {
        out.push(path_section(&report.paths));
    }
    if !report.notes.is_empty() {
        out.push(Section {
            title: "Notes".into(),
            headers: vec!["note"],
            rows: report.notes.iter().map(|n| vec![n.clone()]).collect(),
        });
    }
    out
}

fn ms(v: f64) -> String {
    format!("{}", round2(v))
}

fn opt(v: Option<f64>) -> String {
    v.map(ms).unwrap_or_default()
}

fn disk_section(report: &FleetReport) -> Section {
    let mut rows = Vec::new();
    for row in &report.disk {
        for h in &row.hosts {
            rows.push(vec![
                row.probe.as_str().to_string(),
                h.host.clone(),
                ms(h.p50_ms),
                ms(h.p99_ms),
                format!("{}x", round2(h.p99_ms / row.fleet_p99_ms.max(1e-6))),
            ]);
        }
        rows.push(vec![
            row.probe.as_str().to_string(),
            "fleet median".into(),
            ms(row.fleet_p50_ms),
            ms(row.fleet_p99_ms),
            "1x".into(),
        ]);
    }
    Section {
        title: "Disk latency per host (ms)".into(),
        headers: vec!["probe", "host", "p50 ms", "p99 ms", "p99 / median"],
        rows,
    }
}

fn path_section(paths: &[PathEntry]) -> Section {
    Section {
        title: "Paths".into(),
        headers: vec![
            "from",
            "to",
            "RTT p50 ms",
            "RTT p99 ms",
            "up Mbit/s",
            "down Mbit/s",
            "asymmetry",
            "error",
        ],
        rows: paths
            .iter()
            .map(|p| {
                vec![
                    p.from.clone(),
                    p.to.clone(),
                    opt(p.rtt_p50_ms),
                    opt(p.rtt_p99_ms),
                    opt(p.upload_mbit_s),
                    opt(p.download_mbit_s),
                    p.asymmetry_ratio
                        .map(|r| format!("{}x", round2(r)))
                        .unwrap_or_default(),
                    p.error.clone().unwrap_or_default(),
                ]
            })
            .collect(),
    }
}

/// The RTT p99 and the upload grids of the path matrix.
pub fn grids(paths: &[PathEntry]) -> Vec<(Grid, Vec<Vec<Option<f64>>>)> {
    let value = |f: fn(&PathEntry) -> Option<f64>| f;
    [
        ("RTT p99 (ms), row -> column", value(|p| p.rtt_p99_ms)),
        (
            "Throughput (Mbit/s), row -> column",
            value(|p| p.upload_mbit_s),
        ),
    ]
    .into_iter()
    .map(|(title, f)| grid(title, paths, f))
    .collect()
}

fn grid(
    title: &str,
    paths: &[PathEntry],
    f: fn(&PathEntry) -> Option<f64>,
) -> (Grid, Vec<Vec<Option<f64>>>) {
    let mut hosts: Vec<&str> = paths
        .iter()
        .flat_map(|p| [p.from.as_str(), p.to.as_str()])
        .collect();
    hosts.sort_unstable();
    hosts.dedup();
    let more_hosts = hosts.len().saturating_sub(MAX_GRID_HOSTS);
    hosts.truncate(MAX_GRID_HOSTS);
    let by_pair: HashMap<(&str, &str), &PathEntry> = paths
        .iter()
        .map(|p| ((p.from.as_str(), p.to.as_str()), p))
        .collect();
    let values: Vec<Vec<Option<f64>>> = hosts
        .iter()
        .map(|from| {
            hosts
                .iter()
                .map(|to| by_pair.get(&(*from, *to)).and_then(|p| f(p)))
                .collect()
        })
        .collect();
    let cells = values
        .iter()
        .map(|row| row.iter().map(|v| opt(*v)).collect())
        .collect();
    let g = Grid {
        title: title.to_string(),
        hosts: hosts.into_iter().map(str::to_string).collect(),
        cells,
        more_hosts,
    };
    (g, values)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(from: &str, to: &str, rtt: f64) -> PathEntry {
        PathEntry {
            from: from.into(),
            to: to.into(),
            rtt_p50_ms: Some(rtt / 2.0),
            rtt_p99_ms: Some(rtt),
            upload_mbit_s: Some(900.0),
            download_mbit_s: Some(900.0),
            asymmetry_ratio: Some(1.0),
            error: None,
        }
    }

    #[test]
    fn grids_place_each_pair_and_leave_unmeasured_cells_empty() {
        let paths = [
            path("a", "b", 0.5),
            path("b", "a", 0.6),
            path("a", "c", 90.0),
        ];
        let g = grids(&paths);
        let (rtt, values) = &g[0];
        assert_eq!(rtt.hosts, ["a", "b", "c"]);
        assert_eq!(values[0][2], Some(90.0));
        assert_eq!(values[2][0], None);
        assert_eq!(rtt.cells[1][0], "0.6");
        assert_eq!(rtt.more_line(), None);
        let svg = crate::report::format::fleet::heatmap::draw(rtt, values).unwrap();
        assert_eq!(svg.matches("<rect").count(), 1 + 9, "{svg}");
        assert_eq!(svg.matches("<text").count(), 2 * 3 + 9, "{svg}");
        // The slowest pair in the darkest shade, the fastest in the lightest.
        assert_eq!(svg.matches("#C62828").count(), 1, "{svg}");
        assert_eq!(svg.matches("#FFF5C8").count(), 1, "{svg}");
    }

    /// 3,000 peers make a grid of the first hosts and one line for the
    /// rest, in linear time (the pairs are looked up by hash).
    #[test]
    fn grids_of_many_hosts_are_bounded() {
        let paths: Vec<PathEntry> = (0..3_000)
            .map(|i| path("a", &format!("peer-{i:04}"), 1.0))
            .collect();
        let start = std::time::Instant::now();
        let (rtt, values) = grids(&paths).swap_remove(0);
        assert!(start.elapsed() < std::time::Duration::from_secs(2));
        assert_eq!(rtt.hosts.len(), MAX_GRID_HOSTS);
        assert_eq!(values.len(), MAX_GRID_HOSTS);
        assert_eq!(rtt.more_hosts, 3_001 - MAX_GRID_HOSTS);
        assert!(rtt
            .more_line()
            .unwrap()
            .starts_with("and 2961 more host(s)"));
        assert_eq!(values[0][1], Some(1.0));
    }
}
