//! The `logs` section of a report as titled rows, shared by the terminal,
//! Markdown and HTML formats: the sources read, per kind of event the
//! count, first and last time and the worst duration, and the timeline
//! (events per minute by kind). The JSON carries the same data whole.

use std::collections::BTreeMap;

use super::section::Section;
use crate::logs::time::format_timestamp;
use crate::logs::LogsReport;

/// Rows of the timeline table at most; the JSON has every minute.
const TIMELINE_ROWS: usize = 60;

/// The log sections of a report.
pub fn sections(logs: &LogsReport) -> Vec<Section> {
    vec![sources(logs), events(logs), timeline(logs)]
}

fn sources(logs: &LogsReport) -> Section {
    Section {
        title: "Log sources".to_string(),
        headers: vec![
            "source", "lines", "zap", "capnslog", "cri", "docker", "journald", "unparsed", "error",
        ],
        rows: logs
            .sources
            .iter()
            .map(|s| {
                vec![
                    s.name.clone(),
                    s.lines.to_string(),
                    (s.zap_lines + s.zap_console_lines).to_string(),
                    s.capnslog_lines.to_string(),
                    s.cri_lines.to_string(),
                    s.docker_lines.to_string(),
                    s.journald_lines.to_string(),
                    s.unparsed_lines.to_string(),
                    s.error.clone().unwrap_or_default(),
                ]
            })
            .collect(),
    }
}

fn events(logs: &LogsReport) -> Section {
    Section {
        title: format!("Log events ({} elections)", logs.elections.len()),
        headers: vec!["event", "count", "first", "last", "worst", "worst at"],
        rows: logs
            .events
            .iter()
            .map(|k| {
                vec![
                    k.kind.as_str().to_string(),
                    k.count.to_string(),
                    format_timestamp(k.first_unix_ms),
                    format_timestamp(k.last_unix_ms),
                    k.worst_ms
                        .map_or_else(String::new, |ms| format!("{ms:.1} ms")),
                    k.worst_at_unix_ms
                        .map_or_else(String::new, format_timestamp),
                ]
            })
            .collect(),
    }
}

/// Minutes with events, busiest last kept when there are too many rows.
fn timeline(logs: &LogsReport) -> Section {
    let mut minutes: BTreeMap<i64, Vec<String>> = BTreeMap::new();
    for k in &logs.events {
        for m in &k.per_minute {
            minutes.entry(m.minute_unix_ms).or_default().push(format!(
                "{} {}",
                k.kind.as_str(),
                m.count
            ));
        }
    }
    let skip = minutes.len().saturating_sub(TIMELINE_ROWS);
    Section {
        title: if skip > 0 {
            format!("Log timeline (last {TIMELINE_ROWS} minutes with events; -w json has all)")
        } else {
            "Log timeline (events per minute)".to_string()
        },
        headers: vec!["minute", "events"],
        rows: minutes
            .into_iter()
            .skip(skip)
            .map(|(minute, kinds)| vec![format_timestamp(minute), kinds.join(", ")])
            .collect(),
    }
}
