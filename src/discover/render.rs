//! The discovery as a short table for stderr: what was found and from
//! where, so an operator sees which etcd the run is about before any
//! result. Paths only; no file content, no environment value.

use std::fmt::Write;

use super::model::{Discovery, LogPlace};

/// The table, one row per line, `etcd-doctor: discovered ...` first.
pub fn table(d: &Discovery) -> String {
    let mut out = String::new();
    let pid = d.pid.map(|p| format!(", pid {p}")).unwrap_or_default();
    let _ = writeln!(
        out,
        "etcd-doctor: discovered etcd ({}{pid}) from {}",
        d.source.name(),
        if d.read.is_empty() {
            "-".to_string()
        } else {
            d.read.join(", ")
        }
    );
    let mut row = |k: &str, v: String| {
        let _ = writeln!(out, "  {k:<10} {v}");
    };
    row("endpoints", or_dash(d.endpoints.join(", ")));
    let path = |p: &Option<std::path::PathBuf>| {
        p.as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| "-".to_string())
    };
    if d.tls.cacert.is_some() || d.tls.cert.is_some() {
        let why = d
            .tls
            .chosen
            .as_deref()
            .map(|c| format!(" ({c})"))
            .unwrap_or_default();
        row("cacert", path(&d.tls.cacert));
        row("cert", format!("{}{why}", path(&d.tls.cert)));
        row("key", path(&d.tls.key));
    } else {
        row("tls", "none".to_string());
    }
    row("data dir", path(&d.data_dir));
    if d.wal_dir.is_some() {
        row("wal dir", path(&d.wal_dir));
    }
    let logs: Vec<String> = d.logs.iter().map(log_name).collect();
    row("logs", or_dash(logs.join(", ")));
    row("settings", or_dash(settings(d)));
    for note in &d.notes {
        row("note", note.clone());
    }
    out
}

/// A log place as the table names it.
pub fn log_name(l: &LogPlace) -> String {
    match l {
        LogPlace::File(p) => p.display().to_string(),
        LogPlace::Journal(unit) => format!("journal {unit}"),
    }
}

fn settings(d: &Discovery) -> String {
    let s = &d.settings;
    let mut parts = Vec::new();
    if let Some(n) = &s.name {
        parts.push(format!("name {n}"));
    }
    if let Some(v) = s.heartbeat_ms {
        parts.push(format!("heartbeat {v} ms"));
    }
    if let Some(v) = s.election_ms {
        parts.push(format!("election {v} ms"));
    }
    if let Some(v) = s.quota_backend_bytes {
        parts.push(format!("quota {v} B"));
    }
    if let Some(v) = s.snapshot_count {
        parts.push(format!("snapshot-count {v}"));
    }
    if !s.feature_gates.is_empty() {
        parts.push(format!("feature-gates {}", s.feature_gates.written()));
    }
    match (&s.auto_compaction_mode, &s.auto_compaction_retention) {
        (None, None) => {}
        (m, r) => parts.push(format!(
            "auto-compaction {} {}",
            m.as_deref().unwrap_or("periodic"),
            r.as_deref().unwrap_or("0")
        )),
    }
    parts.join(", ")
}

fn or_dash(s: String) -> String {
    if s.is_empty() {
        "-".to_string()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::discover::settings::from_settings;
    use crate::discover::Source;

    #[test]
    fn the_table_names_source_paths_and_settings() {
        let s = [
            ("listen-client-urls", "https://0.0.0.0:2379"),
            ("data-dir", "/var/lib/etcd"),
            ("trusted-ca-file", "/pki/ca.crt"),
            ("cert-file", "/pki/s.crt"),
            ("key-file", "/pki/s.key"),
            ("heartbeat-interval", "250"),
            ("experimental-initial-corrupt-check", "true"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let mut d = from_settings(Source::Process, &s, std::path::Path::new("/"));
        d.pid = Some(42);
        d.read = vec!["/proc/42/cmdline".to_string()];
        d.logs = vec![LogPlace::Journal("etcd.service".to_string())];
        let t = table(&d);
        assert!(
            t.starts_with("etcd-doctor: discovered etcd (process, pid 42) from /proc/42/cmdline"),
            "{t}"
        );
        assert!(t.contains("https://127.0.0.1:2379"), "{t}");
        assert!(t.contains("/pki/s.key"), "{t}");
        assert!(t.contains("journal etcd.service"), "{t}");
        assert!(t.contains("heartbeat 250 ms"), "{t}");
        assert!(t.contains("feature-gates InitialCorruptCheck=true"), "{t}");
    }
}
