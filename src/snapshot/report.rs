//! Output of `snapshot save` and `snapshot verify`: the status table with
//! `etcdutl snapshot status`'s columns (so operators can compare the two at a
//! glance), Markdown, or one JSON object in the report contract's envelope.

use std::io::{self, Write};

use comfy_table::{presets::ASCII_FULL, CellAlignment, ContentArrangement, Table};
use serde::Serialize;

use super::SnapshotStatus;
use crate::report::view::fmt_bytes;
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
        fmt_bytes(s.total_size_bytes),
    ]
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
