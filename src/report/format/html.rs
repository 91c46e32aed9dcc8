//! HTML renderer: one self-contained page (inline CSS and SVG plots, no
//! scripts, no external files) that a person opens from a CI artifact: the
//! verdict, the findings with their evidence and fix, the plots, then the
//! same tables as the terminal view.

use std::io::{self, Write};

use super::keyspace_plot;
use super::plots::{self, PlotResult};
use crate::facts::Report;
use crate::findings::Finding;
use crate::report::view::{self, sections};

/// The page style, shared with the fleet page.
pub const STYLE: &str = "body{font-family:sans-serif;margin:2em auto;max-width:1200px;color:#222}\
h1 .verdict{padding:.1em .5em;border-radius:.3em;color:#fff}\
.pass{background:#2e7d32}.warn{background:#ef6c00}.fail{background:#c62828}.info{background:#1565c0}\
table{border-collapse:collapse;margin:.5em 0 1.5em;font-size:.9em}\
td,th{border:1px solid #ccc;padding:.25em .6em;text-align:left}th{background:#f3f3f3}\
.finding{border-left:.4em solid #999;padding:.2em 1em;margin:1em 0}\
.finding.fail{border-color:#c62828;background:#fdecea}.finding.warn{border-color:#ef6c00;background:#fff4e5}\
.finding.info{border-color:#1565c0;background:#e8f0fe}\
pre{background:#272822;color:#f8f8f2;padding:.6em;overflow-x:auto}\
.plots{display:flex;flex-wrap:wrap;gap:1em}.plots figure{margin:0}";

/// Escapes text for HTML element content and attribute values
/// ([`crate::text::markup`]: entities and control characters).
pub use crate::text::markup as esc;

/// Writes `report` as a self-contained HTML page.
pub fn render(report: &Report, w: &mut dyn Write) -> io::Result<()> {
    let verdict = view::verdict_text(report);
    writeln!(
        w,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <title>etcd-doctor {cmd}: {verdict}</title><style>{STYLE}</style></head><body>",
        cmd = esc(&report.command),
    )?;
    writeln!(
        w,
        "<h1>etcd-doctor {} <span class=\"verdict {}\">{verdict}</span></h1>",
        esc(&report.command),
        match report.profile {
            Some(_) => report.verdict.to_string().to_lowercase(),
            None => "info".to_string(),
        }
    )?;
    writeln!(
        w,
        "<p>Host <code>{}</code>, kernel {}, {} CPUs{}, etcd-doctor {}{}.</p>",
        esc(&report.host.hostname),
        esc(&report.host.kernel),
        report.host.cpus,
        report
            .host
            .virtualization
            .cloud
            .as_deref()
            .map(|c| format!(", {}", esc(c)))
            .unwrap_or_default(),
        esc(&report.tool_version),
        report
            .profile
            .as_deref()
            .map(|p| format!(", profile <code>{}</code>", esc(p)))
            .unwrap_or_default(),
    )?;
    findings(report, w)?;
    plots_section(report, w)?;
    write_tables(&sections(report), w)?;
    writeln!(w, "</body></html>")
}

/// Writes each section as an `<h2>` and a table.
pub fn write_tables(sections: &[view::Section], w: &mut dyn Write) -> io::Result<()> {
    for section in sections {
        writeln!(w, "<h2>{}</h2>\n<table><tr>", esc(&section.title))?;
        for h in &section.headers {
            write!(w, "<th>{}</th>", esc(h))?;
        }
        writeln!(w, "</tr>")?;
        for row in &section.rows {
            write!(w, "<tr>")?;
            for cell in row {
                write!(w, "<td>{}</td>", esc(cell))?;
            }
            writeln!(w, "</tr>")?;
        }
        writeln!(w, "</table>")?;
    }
    Ok(())
}

fn findings(report: &Report, w: &mut dyn Write) -> io::Result<()> {
    if report.profile.is_none() {
        return writeln!(w, "<p>{}</p>", esc(view::NO_VERDICT));
    }
    write_findings(&report.findings, w)
}

/// Writes the findings as boxes with their evidence, fix and commands.
pub fn write_findings(findings: &[Finding], w: &mut dyn Write) -> io::Result<()> {
    writeln!(w, "<h2>Findings</h2>")?;
    if findings.is_empty() {
        writeln!(w, "<p>None: every rule checked passed.</p>")?;
    }
    for f in findings {
        let sev = f.severity.to_string();
        writeln!(
            w,
            "<div class=\"finding {}\"><h3><span class=\"verdict {0}\">{sev}</span> <code>{}</code></h3><p>{}</p>",
            sev.to_lowercase(),
            f.id,
            esc(&f.summary)
        )?;
        writeln!(
            w,
            "<table><tr><th>evidence</th><th>observed</th><th>threshold</th></tr>"
        )?;
        for e in &f.evidence {
            writeln!(
                w,
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&e.metric),
                esc(&view::fmt_value(e.observed, e.unit)),
                esc(&view::fmt_value(e.threshold, e.unit))
            )?;
        }
        writeln!(
            w,
            "</table><p><strong>Fix:</strong> {}</p>",
            esc(&f.recommendation)
        )?;
        if !f.commands.is_empty() {
            writeln!(w, "<pre>{}</pre>", esc(&f.commands.join("\n")))?;
        }
        writeln!(w, "</div>")?;
    }
    Ok(())
}

/// Writes a plot as a `<figure>`, or why it was not drawn.
pub fn figure(w: &mut dyn Write, plot: PlotResult) -> io::Result<()> {
    match plot {
        // plotters writes entities for the text it draws (host names,
        // key prefixes, member ids) but leaves control characters.
        Ok(svg) => writeln!(w, "<figure>{}</figure>", crate::text::xml_chars(&svg)),
        Err(e) => writeln!(w, "<figure><p>plot not drawn: {}</p></figure>", esc(&e)),
    }
}

fn plots_section(report: &Report, w: &mut dyn Write) -> io::Result<()> {
    if report.disk.is_empty()
        && report.net.is_empty()
        && report.keyspace.is_none()
        && report.logs.is_none()
        && report.load.is_none()
    {
        return Ok(());
    }
    writeln!(w, "<h2>Plots</h2>")?;
    if let Some(l) = &report.load {
        writeln!(
            w,
            "<h3>Load run and the server side</h3><div class=\"plots\">"
        )?;
        figure(w, plots::load_latency_over_time(l))?;
        figure(w, plots::wal_fsync_over_time(&l.server))?;
        writeln!(w, "</div>")?;
    }
    if let Some(k) = &report.keyspace {
        writeln!(w, "<h3>Keyspace</h3><div class=\"plots\">")?;
        figure(w, keyspace_plot::space_by_prefix(k))?;
        writeln!(w, "</div>")?;
    }
    for r in &report.disk {
        writeln!(
            w,
            "<h3>Disk probe <code>{}</code> ({} engine)</h3><div class=\"plots\">",
            r.probe.as_str(),
            r.engine.as_str()
        )?;
        figure(w, plots::latency_cdf(r))?;
        figure(w, plots::latency_histogram(r))?;
        figure(w, plots::latency_over_time(r))?;
        writeln!(w, "</div>")?;
    }
    if report
        .net
        .iter()
        .any(|r| r.latency_us.is_some() || r.idle_latency_us.is_some())
    {
        writeln!(w, "<h3>Network</h3><div class=\"plots\">")?;
        figure(w, plots::rtt_idle_vs_loaded(&report.net))?;
        writeln!(w, "</div>")?;
    }
    if let Some(logs) = report.logs.as_ref().filter(|l| !l.events.is_empty()) {
        writeln!(w, "<h3>etcd's logs</h3><div class=\"plots\">")?;
        figure(w, plots::log_timeline(logs))?;
        writeln!(w, "</div>")?;
    }
    Ok(())
}
