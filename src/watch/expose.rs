//! `/metrics` of `watch`: the canary's fsync latency as a Prometheus
//! histogram with etcd's own `wal_fsync_duration_seconds` bucket layout
//! (so one panel can put both side by side and `histogram_quantile`
//! treats them alike), the stall counters, one `etcd_doctor_finding`
//! series per active finding, what could not be read, and the tool's own
//! cost (CPU seconds, RSS, IO bytes). Counters count since `watch`
//! started; findings are those of the current windows.

use std::fmt::Write as _;

use crate::facts::Report;
use crate::findings::Severity;
use crate::measure::LatencyHistogram;
use crate::probe::disk::StallSummary;
use crate::text::prometheus_label as label;

/// etcd's `etcd_disk_wal_fsync_duration_seconds` buckets: 1 ms doubling
/// to 8.192 s (`prometheus.ExponentialBuckets(0.001, 2, 14)`).
pub fn wal_fsync_buckets() -> impl Iterator<Item = f64> {
    (0..14).map(|i| 0.001 * f64::from(1u32 << i))
}

/// What the canary measured since `watch` started.
#[derive(Debug, Default)]
pub struct Totals {
    /// Every write's latency.
    pub latency: LatencyHistogram,
    /// Stall events.
    pub stall_events: u64,
    /// Writes slower than the heartbeat interval.
    pub ops_over_heartbeat: u64,
    /// Writes slower than half the election timeout.
    pub ops_over_half_election: u64,
    /// Ticks done.
    pub ticks: u64,
    /// Configuration reloads done (SIGHUP).
    pub reloads: u64,
    /// Whether the latest SIGHUP's configuration could not be read (the
    /// running one kept).
    pub reload_failed: bool,
}

impl Totals {
    /// Adds one segment's ledger and histogram.
    pub fn add(&mut self, hist: &LatencyHistogram, stalls: &StallSummary) {
        self.latency += hist;
        self.stall_events += stalls.events_count;
        self.ops_over_heartbeat += stalls.ops_over_heartbeat;
        self.ops_over_half_election += stalls.ops_over_half_election;
    }
}

/// What the latest tick could not read, by part.
#[derive(Debug, Default, Clone)]
pub struct Unread {
    /// Member /metrics URLs and whether the page was read.
    pub pages: Vec<(String, bool)>,
    /// Whether any member answered the cluster views.
    pub cluster_answered: Option<bool>,
    /// Agent peers and whether their RTT was measured.
    pub peers: Vec<(String, bool)>,
    /// Log files and whether they were read.
    pub logs: Vec<(String, bool)>,
    /// Whether the canary measured during the tick.
    pub canary: bool,
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

/// The whole page.
pub fn render(totals: &Totals, windows: &[Report], unread: &Unread, member: &str) -> String {
    let mut out = String::new();
    canary(&mut out, totals);
    findings(&mut out, windows, member);
    reads(&mut out, unread);
    own_cost(&mut out);
    out
}

fn canary(out: &mut String, t: &Totals) {
    let name = "etcd_doctor_canary_fsync_duration_seconds";
    family(
        out,
        name,
        "histogram",
        "Canary write+fdatasync latency, counted from each write's scheduled time, etcd's wal_fsync buckets.",
    );
    let raw = t.latency.raw();
    for b in wal_fsync_buckets() {
        let ns = (b * 1e9) as u64;
        let n = if raw.is_empty() {
            0
        } else {
            raw.count_between(0, ns)
        };
        let _ = writeln!(out, "{name}_bucket{{le=\"{b}\"}} {n}");
    }
    let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {}", raw.len());
    let _ = writeln!(out, "{name}_sum {}", raw.mean() * raw.len() as f64 / 1e9);
    let _ = writeln!(out, "{name}_count {}", raw.len());
    let counters = [
        (
            "etcd_doctor_canary_stalls_total",
            "Canary stall events (overlapping writes slower than the heartbeat interval).",
            t.stall_events,
        ),
        (
            "etcd_doctor_canary_writes_over_heartbeat_total",
            "Canary writes slower than the heartbeat interval.",
            t.ops_over_heartbeat,
        ),
        (
            "etcd_doctor_canary_writes_over_half_election_total",
            "Canary writes slower than half the election timeout.",
            t.ops_over_half_election,
        ),
        ("etcd_doctor_watch_ticks_total", "Ticks done.", t.ticks),
        (
            "etcd_doctor_config_reloads_total",
            "Configurations read again on SIGHUP and taken.",
            t.reloads,
        ),
    ];
    for (name, help, v) in counters {
        family(out, name, "counter", help);
        let _ = writeln!(out, "{name} {v}");
    }
    let name = "etcd_doctor_config_last_reload_successful";
    family(
        out,
        name,
        "gauge",
        "0 when the latest SIGHUP's configuration could not be read (the running one kept), else 1.",
    );
    let _ = writeln!(out, "{name} {}", u8::from(!t.reload_failed));
}

fn severity(s: Severity) -> &'static str {
    match s {
        Severity::Info => "info",
        Severity::Warn => "warn",
        Severity::Fail => "fail",
    }
}

/// One series per (finding, severity) active in any window.
fn findings(out: &mut String, windows: &[Report], member: &str) {
    let name = "etcd_doctor_finding";
    family(
        out,
        name,
        "gauge",
        "1 for each finding active in any of the rolling windows.",
    );
    let mut seen: Vec<(String, Severity)> = windows
        .iter()
        .flat_map(|r| &r.findings)
        .map(|f| (f.id.as_str().to_string(), f.severity))
        .collect();
    seen.sort();
    seen.dedup();
    for (id, sev) in seen {
        let _ = writeln!(
            out,
            "{name}{{id=\"{}\",severity=\"{}\",member=\"{}\"}} 1",
            label(&id),
            severity(sev),
            label(member)
        );
    }
    let name = "etcd_doctor_window_findings";
    family(out, name, "gauge", "Findings of each rolling window.");
    for r in windows {
        let window = r.command.trim_start_matches("watch ");
        let _ = writeln!(
            out,
            "{name}{{window=\"{}\"}} {}",
            label(window),
            r.findings.len()
        );
    }
}

fn reads(out: &mut String, u: &Unread) {
    let name = "etcd_doctor_source_up";
    family(
        out,
        name,
        "gauge",
        "1 when the latest tick read the source (a member's /metrics, the cluster, a peer's RTT, a log file, the canary), 0 when it could not.",
    );
    let up = |ok: bool| u8::from(ok);
    for (url, ok) in &u.pages {
        let _ = writeln!(
            out,
            "{name}{{kind=\"metrics\",source=\"{}\"}} {}",
            label(url),
            up(*ok)
        );
    }
    if let Some(ok) = u.cluster_answered {
        let _ = writeln!(out, "{name}{{kind=\"cluster\",source=\"\"}} {}", up(ok));
    }
    for (kind, sources) in [("peer", &u.peers), ("logs", &u.logs)] {
        for (source, ok) in sources {
            let _ = writeln!(
                out,
                "{name}{{kind=\"{kind}\",source=\"{}\"}} {}",
                label(source),
                up(*ok)
            );
        }
    }
    let _ = writeln!(
        out,
        "{name}{{kind=\"canary\",source=\"\"}} {}",
        up(u.canary)
    );
}

/// The tool's own CPU, RSS and IO (procfs of this process).
fn own_cost(out: &mut String) {
    let Ok(me) = procfs::process::Process::myself() else {
        return;
    };
    let tps = procfs::ticks_per_second() as f64;
    if let Ok(stat) = me.stat() {
        family(
            out,
            "etcd_doctor_process_cpu_seconds_total",
            "counter",
            "CPU time etcd-doctor watch used, user and system.",
        );
        let cpu = (stat.utime + stat.stime) as f64 / tps;
        let _ = writeln!(out, "etcd_doctor_process_cpu_seconds_total {cpu}");
    }
    if let Ok(Some(rss)) = me.status().map(|s| s.vmrss) {
        family(
            out,
            "etcd_doctor_process_resident_memory_bytes",
            "gauge",
            "Resident memory of etcd-doctor watch.",
        );
        let _ = writeln!(
            out,
            "etcd_doctor_process_resident_memory_bytes {}",
            rss * 1024
        );
    }
    if let Ok(io) = me.io() {
        for (name, v) in [
            ("etcd_doctor_process_read_bytes_total", io.read_bytes),
            ("etcd_doctor_process_write_bytes_total", io.write_bytes),
        ] {
            family(
                out,
                name,
                "counter",
                "Bytes etcd-doctor watch made the block layer read or write.",
            );
            let _ = writeln!(out, "{name} {v}");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn the_buckets_are_etcds() {
        let b: Vec<f64> = wal_fsync_buckets().collect();
        assert_eq!(b.len(), 14);
        assert_eq!(b[0], 0.001);
        assert_eq!(b[13], 8.192);
    }

    #[test]
    fn the_page_parses_as_prometheus_text_with_a_cumulative_histogram() {
        let mut t = Totals::default();
        let mut h = LatencyHistogram::new();
        for ms in [1u64, 3, 3, 300] {
            h.record(Duration::from_micros(ms * 1000 - 100));
        }
        let stalls = StallSummary {
            events_count: 1,
            ops_over_heartbeat: 1,
            ..StallSummary::default()
        };
        t.add(&h, &stalls);
        let unread = Unread {
            pages: vec![("http://a:2379/metrics".into(), false)],
            canary: true,
            ..Unread::default()
        };
        let text = render(&t, &[], &unread, "node-1");
        let scrape =
            prometheus_parse::Scrape::parse(text.lines().map(|l| Ok(l.to_string()))).unwrap();
        let hist = scrape
            .samples
            .iter()
            .find(|s| s.metric == "etcd_doctor_canary_fsync_duration_seconds")
            .unwrap();
        let prometheus_parse::Value::Histogram(buckets) = &hist.value else {
            panic!("not a histogram: {hist:?}");
        };
        let le = |b: f64| buckets.iter().find(|c| c.less_than == b).unwrap().count;
        assert_eq!(le(0.001), 1.0);
        assert_eq!(le(0.004), 3.0);
        assert_eq!(le(0.512), 4.0);
        let stalls = scrape
            .samples
            .iter()
            .find(|s| s.metric == "etcd_doctor_canary_stalls_total")
            .unwrap();
        assert!(matches!(stalls.value, prometheus_parse::Value::Counter(v) if v == 1.0));
        let up = scrape
            .samples
            .iter()
            .find(|s| {
                s.metric == "etcd_doctor_source_up" && s.labels.get("kind") == Some("metrics")
            })
            .unwrap();
        assert!(matches!(up.value, prometheus_parse::Value::Gauge(v) if v == 0.0));
    }

    /// A member name, URLs, peers and log paths from outside, hostile:
    /// every label reads back (strict exposition parse) as the text with
    /// its control characters made visible.
    #[test]
    fn outside_strings_are_escaped_in_labels() {
        use crate::report::hostile_tests::{parse_exposition, HOSTILE};
        let unread = Unread {
            pages: vec![(HOSTILE.into(), true)],
            peers: vec![(HOSTILE.into(), false)],
            logs: vec![(HOSTILE.into(), true)],
            ..Unread::default()
        };
        let mut window = Report::new(&format!("watch {HOSTILE}"), Default::default());
        window.findings.push(crate::findings::Finding::unchecked(
            crate::findings::RULES[0].id,
            crate::findings::Draft {
                severity: Severity::Warn,
                summary: HOSTILE.into(),
                evidence: Vec::new(),
                recommendation: String::new(),
                commands: Vec::new(),
            },
        ));
        let page = render(&Totals::default(), &[window], &unread, HOSTILE);
        let samples = parse_exposition(&page).unwrap_or_else(|e| panic!("{e}\n{page}"));
        let want = crate::text::printable(HOSTILE);
        let values: Vec<&str> = samples
            .iter()
            .flat_map(|(_, labels, _)| labels)
            .filter(|(k, _)| ["member", "source", "window"].contains(&k.as_str()))
            .map(|(_, v)| v.as_str())
            .collect();
        // member, window, and a metrics page, a peer and a log as sources.
        assert_eq!(values.iter().filter(|v| **v == want).count(), 5, "{page}");
    }
}
