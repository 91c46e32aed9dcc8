//! Prometheus textfile renderer: the report's numbers in the exposition
//! format that node_exporter's textfile collector reads, so a periodic
//! `etcd-doctor qualify --report /var/lib/node_exporter/textfile` run is
//! graphed and alerted on like any other metric. Latencies are in seconds,
//! rates in base units, as Prometheus conventions ask.

use std::io::{self, Write};

use crate::facts::Report;
use crate::findings::{Severity, Verdict};
use crate::measure::{SummaryField, PERCENTILES};
use crate::text::prometheus_label as label;
use crate::units::{Micros, Millis};

/// One metric family: HELP and TYPE lines, then its samples.
struct Family<'a> {
    name: &'a str,
    help: &'a str,
    samples: Vec<(String, f64)>,
}

impl Family<'_> {
    fn write(&self, w: &mut dyn Write) -> io::Result<()> {
        if self.samples.is_empty() {
            return Ok(());
        }
        writeln!(w, "# HELP {} {}", self.name, self.help)?;
        writeln!(w, "# TYPE {} gauge", self.name)?;
        for (labels, value) in &self.samples {
            writeln!(w, "{}{{{labels}}} {value}", self.name)?;
        }
        Ok(())
    }
}

/// Summary statistics as (quantile label, field): the shared percentiles,
/// then max as quantile 1 and the mean.
fn quantiles() -> impl Iterator<Item = (String, SummaryField)> {
    PERCENTILES
        .iter()
        .map(|&(_, q, f)| (q.to_string(), f))
        .chain([
            ("1".to_string(), (|l| l.max) as SummaryField),
            ("mean".to_string(), |l| l.mean),
        ])
}

/// Writes `report` in the Prometheus text exposition format.
pub fn render(report: &Report, w: &mut dyn Write) -> io::Result<()> {
    let base = format!(
        "command=\"{}\",host=\"{}\"",
        label(&report.command),
        label(&report.host.hostname)
    );
    let verdict = match report.verdict {
        Verdict::Pass => 0.0,
        Verdict::Warn => 1.0,
        Verdict::Fail => 2.0,
    };
    let profile = report.profile.as_deref().unwrap_or("");
    let mut families = vec![Family {
        name: "etcd_doctor_verdict",
        help: "Overall verdict of the run: 0 pass, 1 warn, 2 fail.",
        samples: vec![(format!("{base},profile=\"{}\"", label(profile)), verdict)],
    }];
    families.extend(disk_families(report, &base));
    families.extend(net_families(report, &base));
    families.push(rule_family(report, &base));
    for f in &families {
        f.write(w)?;
    }
    Ok(())
}

fn disk_families<'a>(report: &Report, base: &str) -> [Family<'a>; 5] {
    let mut latency = Vec::new();
    let mut iops = Vec::new();
    let mut bytes = Vec::new();
    let mut stalls = Vec::new();
    let mut longest = Vec::new();
    for r in &report.disk {
        let l = format!(
            "{base},probe=\"{}\",engine=\"{}\",dir=\"{}\"",
            r.probe.as_str(),
            r.engine.as_str(),
            label(&r.dir.display().to_string())
        );
        for (q, f) in quantiles() {
            latency.push((
                format!("{l},quantile=\"{q}\""),
                Micros(f(&r.latency_us)).as_secs_f64(),
            ));
        }
        iops.push((l.clone(), r.iops));
        bytes.push((l.clone(), r.throughput_mib_s * 1024.0 * 1024.0));
        stalls.push((l.clone(), r.stalls.events_count as f64));
        longest.push((l, Millis(r.stalls.longest_ms).as_secs_f64()));
    }
    [
        Family {
            name: "etcd_doctor_disk_latency_seconds",
            help:
                "Latency etcd waits on per disk probe op (fdatasync, or the whole backend commit).",
            samples: latency,
        },
        Family {
            name: "etcd_doctor_disk_ops_per_second",
            help: "Disk probe operations per second.",
            samples: iops,
        },
        Family {
            name: "etcd_doctor_disk_write_bytes_per_second",
            help: "Bytes written per second by the disk probe.",
            samples: bytes,
        },
        Family {
            name: "etcd_doctor_disk_stalls",
            help: "Stalls (ops longer than the heartbeat interval, overlapping ones merged) per disk probe.",
            samples: stalls,
        },
        Family {
            name: "etcd_doctor_disk_longest_op_seconds",
            help: "Longest op of the disk probe (the longest stall when above the heartbeat interval).",
            samples: longest,
        },
    ]
}

fn net_families<'a>(report: &Report, base: &str) -> [Family<'a>; 2] {
    let mut rtt = Vec::new();
    let mut throughput = Vec::new();
    for r in &report.net {
        let l = format!(
            "{base},probe=\"{}\",peer=\"{}\"",
            r.probe.as_str(),
            label(&r.peer)
        );
        if let Some(s) = &r.latency_us {
            for (q, f) in quantiles() {
                rtt.push((format!("{l},quantile=\"{q}\""), Micros(f(s)).as_secs_f64()));
            }
        }
        if let Some(t) = r.throughput_mbit_s {
            throughput.push((l, t * 1e6));
        }
    }
    [
        Family {
            name: "etcd_doctor_net_rtt_seconds",
            help: "Round-trip time to a peer agent (loaded RTT for the loaded-rtt probe).",
            samples: rtt,
        },
        Family {
            name: "etcd_doctor_net_throughput_bits_per_second",
            help: "Bulk transfer rate to a peer agent.",
            samples: throughput,
        },
    ]
}

fn rule_family<'a>(report: &Report, base: &str) -> Family<'a> {
    let samples = report
        .rules_checked
        .iter()
        .map(|id| {
            let worst = report
                .findings
                .iter()
                .filter(|f| f.id == *id)
                .map(|f| f.severity)
                .max();
            let value = match worst {
                None | Some(Severity::Info) => 0.0,
                Some(Severity::Warn) => 1.0,
                Some(Severity::Fail) => 2.0,
            };
            (format!("{base},rule=\"{}\"", label(id.as_str())), value)
        })
        .collect();
    Family {
        name: "etcd_doctor_rule_status",
        help: "Outcome of each rule checked: 0 ok, 1 warn, 2 fail.",
        samples,
    }
}
