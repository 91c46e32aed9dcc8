//! The shared view of a report: sections of titled rows that every
//! human-readable format (terminal table, Markdown, HTML) lays out its own
//! way. Keeping the choice of columns and number formatting here means the
//! formats cannot drift apart. This file builds a report's sections from
//! the per-kind views beside it (load, cluster consistency, keyspace,
//! logs); `section.rs` is the model they all share, and `fleet.rs` and
//! `comparison.rs` are the views of `merge`'s and `compare`'s documents.

use crate::cluster::model::{EndpointStatus, HistogramPercentiles};
use crate::cluster::ClusterReport;
use crate::host::device::DeviceFacts;
use crate::measure::LatencySummary;
use crate::probe::disk::{DiskResult, StallSummary};
use crate::probe::net::{CeilingSource, NetResult};
use crate::units::Millis;

use crate::facts::Report;

pub mod comparison;
pub mod consistency;
pub mod fleet;
pub mod keyspace;
pub mod load;
pub mod logs;
pub mod section;

pub use section::{fmt_bytes, fmt_us, fmt_value, latency_cells, Section, MAX_SECTION_ROWS};

/// The sections of `report` that have data, in reading order.
pub fn sections(report: &Report) -> Vec<Section> {
    let mut out = Vec::new();
    if let Some(device) = &report.host.device {
        out.push(device_section(device));
    }
    if !report.disk.is_empty() {
        out.push(disk_section(&report.disk));
    }
    if !report.net.is_empty() {
        out.push(net_section(&report.net));
        out.push(nic_section(&report.net));
    }
    if let Some(load) = &report.load {
        out.extend(load::sections(load));
    }
    if let Some(cluster) = &report.cluster {
        out.extend(cluster_sections(cluster));
    }
    if let Some(k) = &report.keyspace {
        out.extend(keyspace::sections(k));
    }
    if let Some(logs) = &report.logs {
        out.extend(logs::sections(logs));
    }
    out.retain(|s| !s.rows.is_empty());
    out
}

/// The verdict as a heading says it: `PASS`, `FAIL`, or, for a report no
/// rules judged (`disk`), that there is none.
pub fn verdict_text(report: &Report) -> String {
    match report.profile {
        Some(_) => report.verdict.to_string(),
        None => "measurements only".to_string(),
    }
}

/// What a report no rules judged says instead of a verdict.
pub const NO_VERDICT: &str =
    "No verdict: measurements only. `etcd-doctor qualify` judges them against a profile.";

fn opt<T: ToString>(v: Option<T>) -> String {
    v.map(|v| v.to_string()).unwrap_or_default()
}

fn device_section(d: &DeviceFacts) -> Section {
    let rotational = d.rotational.map(|r| if r { "yes" } else { "no" });
    Section {
        title: "Device".into(),
        headers: vec![
            "DIR",
            "MOUNT",
            "FS",
            "DEVICE",
            "DISK",
            "ROTATIONAL",
            "SCHEDULER",
            "FREE",
            "SIZE",
        ],
        rows: vec![vec![
            d.dir.display().to_string(),
            d.mount_point.display().to_string(),
            d.fs_type.clone(),
            opt(d.block_device.as_ref()),
            opt(d.disk.as_ref()),
            opt(rotational),
            opt(d.scheduler.as_ref()),
            fmt_bytes(d.free_bytes),
            fmt_bytes(d.total_bytes),
        ]],
    }
}

/// A probe's name, with its run number when the report holds several runs.
fn probe_name(name: &str, run: u32, repeated: bool) -> String {
    if repeated {
        format!("{name} #{}", run + 1)
    } else {
        name.to_string()
    }
}

fn disk_section(results: &[DiskResult]) -> Section {
    let repeated = results.iter().any(|r| r.run > 0);
    let rows = results
        .iter()
        .map(|r| {
            let mut row = vec![
                probe_name(r.probe.as_str(), r.run, repeated),
                r.engine.as_str().to_string(),
                r.ops.to_string(),
                format!("{:.1} s", r.duration_s),
                format!("{:.0}", r.iops),
                format!("{:.2}", r.throughput_mib_s),
            ];
            row.extend(latency_cells(&r.latency_us));
            row.push(stall_cell(&r.stalls));
            row.push(r.stop_reason.describe().to_string());
            row
        })
        .collect();
    Section {
        title: "Disk".into(),
        headers: vec![
            "PROBE", "ENGINE", "OPS", "OBSERVED", "IOPS", "MiB/s", "P50", "P90", "P99", "P99.9",
            "MAX", "STALLS", "STOPPED",
        ],
        rows,
    }
}

/// Stall events over the heartbeat level, the longest and the period:
/// `0`, `3 (longest 312.00 ms)`, `5 (longest 301.00 ms, every 2.00 s)`.
fn stall_cell(s: &StallSummary) -> String {
    if s.events_count == 0 {
        return "0".into();
    }
    let period = s
        .period_s
        .map(|p| format!(", every {p:.2} s"))
        .unwrap_or_default();
    format!(
        "{} (longest {}{period})",
        s.events_count,
        fmt_us(Millis(s.longest_ms).as_us())
    )
}

fn net_section(results: &[NetResult]) -> Section {
    let lat = |l: &Option<LatencySummary>, f: fn(&LatencySummary) -> f64| {
        l.as_ref().map(|l| fmt_us(f(l))).unwrap_or_default()
    };
    let mbit = |v: Option<f64>| v.map(|x| format!("{x:.1}")).unwrap_or_default();
    let repeated = results.iter().any(|r| r.run > 0);
    let rows = results
        .iter()
        .map(|r| {
            vec![
                probe_name(r.probe.as_str(), r.run, repeated),
                r.peer.clone(),
                r.schedule.as_str().to_string(),
                opt(r.message_size_bytes.map(|b| format!("{b} B"))),
                lat(&r.idle_latency_us, |l| l.p50),
                lat(&r.idle_latency_us, |l| l.p99),
                lat(&r.latency_us, |l| l.p50),
                lat(&r.latency_us, |l| l.p99),
                lat(&r.latency_us, |l| l.max),
                r.inflation.map(|x| format!("{x:.1}x")).unwrap_or_default(),
                mbit(r.upload_mbit_s),
                mbit(r.download_mbit_s),
                r.error.clone().unwrap_or_default(),
            ]
        })
        .collect();
    Section {
        title: "Network (RTT counted from each ping's scheduled send; INFLATION = loaded P99 / idle P99)"
            .into(),
        headers: vec![
            "PROBE",
            "PEER",
            "RUN",
            "SIZE",
            "IDLE P50",
            "IDLE P99",
            "P50",
            "P99",
            "MAX",
            "INFLATION",
            "UP Mbit/s",
            "DOWN Mbit/s",
            "ERRORS",
        ],
        rows,
    }
}

fn nic_section(results: &[NetResult]) -> Section {
    let rows = results
        .iter()
        .filter_map(|r| Some((r, r.nic.as_ref()?)))
        .map(|(r, n)| {
            let speed = n.link_speed_mbit_s.map(|s| {
                if n.link_speed_nominal {
                    format!("{s} (nominal)")
                } else {
                    s.to_string()
                }
            });
            let rate = |c: Option<f64>| c.map_or("?".to_string(), |c| format!("{c:.1}"));
            let ceiling = n.ceiling_source.map(|source| {
                let (tx, rx) = (rate(n.tx_ceiling_mbit_s), rate(n.rx_ceiling_mbit_s));
                match source {
                    CeilingSource::MeasuredThroughput => format!("{tx} / {rx} (measured)"),
                    CeilingSource::LinkSpeed => format!("{tx} / {rx} (link)"),
                }
            });
            vec![
                r.probe.as_str().to_string(),
                r.peer.clone(),
                n.interface.clone(),
                opt(speed),
                opt(ceiling),
                format!("{:.1}", n.rx_mbit_s),
                format!("{:.1}", n.tx_mbit_s),
                format!("{:.1}", n.peak_rx_mbit_s.max(n.peak_tx_mbit_s)),
                opt(n.utilization_ratio.map(|u| format!("{:.0}%", u * 100.0))),
                (n.rx_dropped_packets + n.tx_dropped_packets).to_string(),
                n.error_packets().to_string(),
                format!("{} / {}", n.tcp_retransmitted_segments, n.tcp_out_segments),
                n.tcp_rto_timeouts.to_string(),
            ]
        })
        .collect();
    Section {
        title: "Network interfaces (while each probe measured; rates in Mbit/s, PEAK over 250 ms)"
            .into(),
        headers: vec![
            "PROBE",
            "PEER",
            "IFACE",
            "SPEED",
            "CEILING TX / RX",
            "RX",
            "TX",
            "PEAK",
            "UTIL",
            "DROPS",
            "ERRS",
            "RETRANS / SEGS",
            "RTO",
        ],
        rows,
    }
}

/// One cell of the endpoint status table.
type StatusCell = fn(&EndpointStatus) -> String;

/// `endpoint status` as etcdctl's table, with 3.6's STORAGE VERSION and
/// QUOTA columns where a member reports them and its DOWNGRADE TARGET
/// VERSION while a downgrade is enabled (etcdctl 3.6's columns).
fn endpoint_section(endpoints: &[EndpointStatus]) -> Section {
    let v36 = endpoints
        .iter()
        .any(|e| e.storage_version.is_some() || e.db_size_quota_bytes.is_some());
    let downgrading = endpoints
        .iter()
        .any(|e| e.downgrade.as_ref().is_some_and(|d| d.enabled));
    let mut columns: Vec<(&'static str, StatusCell)> = vec![
        ("ENDPOINT", |e| e.endpoint.clone()),
        ("ID", |e| opt(e.id.as_ref())),
        ("VERSION", |e| opt(e.version.as_ref())),
    ];
    if v36 {
        columns.push(("STORAGE VERSION", |e| opt(e.storage_version.as_ref())));
    }
    columns.push(("DB SIZE", |e| opt(e.db_size_bytes.map(fmt_bytes))));
    columns.push(("DB SIZE IN USE", |e| {
        opt(e.db_size_in_use_bytes.map(fmt_bytes))
    }));
    if v36 {
        columns.push(("QUOTA", |e| opt(e.db_size_quota_bytes.map(fmt_bytes))));
    }
    columns.extend::<[(&'static str, StatusCell); 5]>([
        ("IS LEADER", |e| opt(e.is_leader)),
        ("IS LEARNER", |e| opt(e.is_learner)),
        ("RAFT TERM", |e| opt(e.raft_term)),
        ("RAFT INDEX", |e| opt(e.raft_index)),
        ("RAFT APPLIED INDEX", |e| opt(e.raft_applied_index)),
    ]);
    if downgrading {
        columns.push(("DOWNGRADE TARGET VERSION", |e| {
            opt(e.downgrade.as_ref().map(|d| d.target_version.clone()))
        }));
    }
    columns.push(("ERRORS", |e| e.errors.join(", ")));
    Section {
        title: "Endpoint status".into(),
        headers: columns.iter().map(|(h, _)| *h).collect(),
        rows: endpoints
            .iter()
            .map(|e| columns.iter().map(|(_, cell)| cell(e)).collect())
            .collect(),
    }
}

fn cluster_sections(c: &ClusterReport) -> Vec<Section> {
    let endpoints = endpoint_section(&c.endpoints);
    let members = Section {
        title: "Members".into(),
        headers: vec![
            "ID",
            "STATUS",
            "NAME",
            "PEER ADDRS",
            "CLIENT ADDRS",
            "IS LEARNER",
        ],
        rows: c
            .members
            .iter()
            .map(|m| {
                vec![
                    m.id.to_string(),
                    m.status.to_string(),
                    m.name.clone(),
                    m.peer_urls.join(","),
                    m.client_urls.join(","),
                    m.is_learner.to_string(),
                ]
            })
            .collect(),
    };
    let health = Section {
        title: "Health".into(),
        headers: vec!["ENDPOINT", "HEALTH", "TOOK", "ERROR"],
        rows: c
            .health
            .iter()
            .map(|h| {
                vec![
                    h.endpoint.clone(),
                    h.health.to_string(),
                    fmt_us(Millis(h.took_ms).as_us()),
                    h.error.clone().unwrap_or_default(),
                ]
            })
            .collect(),
    };
    let alarms = Section {
        title: "Alarms".into(),
        headers: vec!["MEMBER ID", "ALARM"],
        rows: c
            .alarms
            .iter()
            .map(|a| vec![a.member_id.to_string(), a.alarm.to_string()])
            .collect(),
    };
    let mut out = vec![endpoints, members, health, alarms, metrics_section(c)];
    out.extend(c.consistency.as_ref().map(consistency::section));
    out
}

/// `p50 / p99` of a histogram in ms, with the span it covers.
fn pct_cell(h: &Option<HistogramPercentiles>) -> String {
    h.map(|h| format!("{:.2} / {:.2} ({})", h.p50_ms, h.p99_ms, h.span.as_str()))
        .unwrap_or_default()
}

/// A counter's total, with its change over the window when there was one.
fn counter_cell(total: Option<f64>, change: Option<String>) -> String {
    match (total, change) {
        (Some(t), Some(c)) => format!("{t} ({c})"),
        (Some(t), None) => format!("{t}"),
        (None, _) => String::new(),
    }
}

fn metrics_section(c: &ClusterReport) -> Section {
    Section {
        title: "Metrics (p50 / p99 ms between the two scrapes, or since the member started)".into(),
        headers: vec![
            "MEMBER",
            "URL",
            "WINDOW",
            "WAL FSYNC",
            "BACKEND COMMIT",
            "PEER RTT",
            "LEADER CHANGES",
            "FAILED PROPOSALS",
            "PENDING",
            "SLOW APPLIES",
            "DB SIZE",
            "QUOTA",
            "ERROR",
        ],
        rows: c
            .metrics
            .iter()
            .map(|m| {
                let bytes = |v: Option<f64>| v.map(|b| fmt_bytes(b as u64)).unwrap_or_default();
                let rate = |v: Option<f64>| v.map(|r| format!("{r:.2}/s"));
                vec![
                    opt(m.member_id.as_ref()),
                    m.url.clone(),
                    match (&m.error, m.window_s > 0.0) {
                        (Some(_), _) => String::new(),
                        (None, true) => format!("{:.1} s", m.window_s),
                        (None, false) => "one scrape".to_string(),
                    },
                    pct_cell(&m.wal_fsync),
                    pct_cell(&m.backend_commit),
                    pct_cell(&m.peer_rtt),
                    counter_cell(
                        m.leader_changes_total,
                        m.leader_changes_in_window.map(|d| format!("+{d}")),
                    ),
                    counter_cell(m.proposals_failed_total, rate(m.proposals_failed_per_s)),
                    opt(m.proposals_pending),
                    counter_cell(m.slow_applies_total, rate(m.slow_applies_per_s)),
                    bytes(m.db_size_bytes),
                    bytes(m.quota_bytes),
                    m.error.clone().unwrap_or_default(),
                ]
            })
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_units_keep_significant_digits() {
        assert_eq!(fmt_us(812.34), "812.3 µs");
        assert_eq!(fmt_us(12_345.0), "12.35 ms");
        assert_eq!(fmt_us(2_500_000.0), "2.50 s");
    }

    #[test]
    fn bytes_use_etcdctl_decimal_units() {
        assert_eq!(fmt_bytes(0), "0 B");
        assert_eq!(fmt_bytes(5), "5 B");
        assert_eq!(fmt_bytes(20_480), "20 kB");
        assert_eq!(fmt_bytes(249_856), "250 kB");
        assert_eq!(fmt_bytes(2_105_344), "2.1 MB");
        assert_eq!(fmt_bytes(3_145_728), "3.1 MB");
    }
}
