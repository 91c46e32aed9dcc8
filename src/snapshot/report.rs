//! Output of `snapshot save` and `snapshot verify`: the status table with
//! `etcdutl snapshot status`'s columns (so operators can compare the two at a
//! glance), Markdown, or one JSON object in the report contract's envelope.

use std::io::{self, Write};

use comfy_table::{presets::ASCII_FULL, CellAlignment, ContentArrangement, Table};
use serde::Serialize;

use super::SnapshotStatus;
use crate::report::{Format, SCHEMA_VERSION};

/// The JSON object `snapshot save|verify -w json` prints.
#[derive(Debug, Serialize)]
struct StatusReport<'a> {
    /// JSON schema version.
    schema_version: u32,
    /// etcd-doctor version.
    tool_version: &'static str,
    /// `snapshot save` or `snapshot verify`.
    command: &'a str,
    /// The verified snapshot.
    snapshot: &'a SnapshotStatus,
}

/// The cells of the status row: hash as etcdutl prints it (`%x`), revision,
/// total keys, total size in etcdutl's decimal units.
fn cells(s: &SnapshotStatus) -> [String; 4] {
    [
        format!("{:x}", s.hash),
        s.revision.to_string(),
        s.total_keys.to_string(),
        humanize_bytes(s.total_size_bytes),
    ]
}

/// Formats bytes as etcdutl does (go-humanize `Bytes`): decimal units, one
/// decimal below 10, none above (`250 kB`, `2.1 MB`).
pub fn humanize_bytes(bytes: u64) -> String {
    const UNITS: [&str; 7] = ["B", "kB", "MB", "GB", "TB", "PB", "EB"];
    if bytes < 10 {
        return format!("{bytes} B");
    }
    let exp = ((bytes as f64).ln() / 1000f64.ln()).floor() as usize;
    let value = (bytes as f64 / 1000f64.powi(exp as i32) * 10.0 + 0.5).floor() / 10.0;
    if value < 10.0 {
        format!("{value:.1} {}", UNITS[exp])
    } else {
        format!("{value:.0} {}", UNITS[exp])
    }
}

const HEADERS: [&str; 4] = ["HASH", "REVISION", "TOTAL KEYS", "TOTAL SIZE"];

/// Writes `status` (from `command`) in `format` to `w`.
pub fn render(
    status: &SnapshotStatus,
    command: &str,
    format: Format,
    w: &mut dyn Write,
) -> io::Result<()> {
    match format {
        Format::Json => {
            let report = StatusReport {
                schema_version: SCHEMA_VERSION,
                tool_version: env!("CARGO_PKG_VERSION"),
                command,
                snapshot: status,
            };
            serde_json::to_writer_pretty(&mut *w, &report)?;
            writeln!(w)
        }
        Format::Table => {
            let mut table = Table::new();
            table
                .load_preset(ASCII_FULL)
                .set_content_arrangement(ContentArrangement::Disabled)
                .set_header(HEADERS);
            table.add_row(cells(status));
            for col in 1..3 {
                if let Some(c) = table.column_mut(col) {
                    c.set_cell_alignment(CellAlignment::Right);
                }
            }
            writeln!(w, "{table}")?;
            writeln!(w, "{}", integrity_line(status))
        }
        Format::Markdown => {
            writeln!(w, "| {} |", HEADERS.join(" | "))?;
            writeln!(w, "|---|---:|---:|---:|")?;
            writeln!(w, "| {} |", cells(status).join(" | "))?;
            writeln!(w, "\n{}", integrity_line(status))
        }
    }
}

fn integrity_line(s: &SnapshotStatus) -> String {
    format!(
        "{}: {} bytes, sha256 {} ok, bbolt structure ok ({} B pages, txid {})",
        s.file.display(),
        s.file_size_bytes,
        s.sha256,
        s.page_size_bytes,
        s.txid
    )
}

#[cfg(test)]
mod tests {
    use super::humanize_bytes;

    #[test]
    fn sizes_read_like_etcdutl() {
        assert_eq!(humanize_bytes(5), "5 B");
        assert_eq!(humanize_bytes(249_856), "250 kB");
        assert_eq!(humanize_bytes(2_105_344), "2.1 MB");
        assert_eq!(humanize_bytes(20_480), "20 kB");
    }
}
