//! Output of `snapshot save` and `snapshot verify`: the status table with
//! `etcdutl snapshot status`'s columns (so operators can compare the two at a
//! glance), Markdown, or one JSON object in the report contract's envelope.

use std::io::{self, Write};

use comfy_table::{presets::ASCII_FULL, CellAlignment, ContentArrangement, Table};
use serde::Serialize;

use crate::facts::SCHEMA_VERSION;
use crate::report::plan::Format;
use crate::report::view::fmt_bytes;
use crate::snapshot::dbstate::{DbState, NO_TREE_CHECKED};
use crate::snapshot::SnapshotStatus;

/// The JSON object `snapshot save|verify -w json` prints.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct StatusReport<'a> {
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
/// total keys, total size in etcdutl's decimal units. A snapshot of etcd
/// 3.6 or later (it has a storage version) reads as etcdutl 3.6 shows it:
/// TOTAL KEYS counts the live keys, and VERSION follows.
fn cells(s: &SnapshotStatus) -> Vec<String> {
    let total_keys = match s.storage_version {
        Some(_) => s.live_keys,
        None => s.total_keys,
    };
    let mut cells = vec![
        format!("{:x}", s.hash),
        s.revision.to_string(),
        total_keys.to_string(),
        fmt_bytes(s.total_size_bytes),
    ];
    cells.extend(s.storage_version.clone());
    cells
}

const HEADERS: [&str; 5] = ["HASH", "REVISION", "TOTAL KEYS", "TOTAL SIZE", "VERSION"];

/// Writes `status` (from `command`) in `format` to `w`.
pub fn render(
    status: &SnapshotStatus,
    command: &str,
    format: Format,
    w: &mut dyn Write,
) -> io::Result<()> {
    let report = StatusReport {
        schema_version: SCHEMA_VERSION,
        tool_version: env!("CARGO_PKG_VERSION"),
        command,
        snapshot: status,
    };
    let cells = cells(status);
    let row = Row {
        headers: &HEADERS[..cells.len()],
        cells: &cells,
        right: 1..3,
        note: Some(&integrity_line(status)),
    };
    render_one(&report, &row, format, w)
}

/// One record shown as a one-row table.
pub(super) struct Row<'a> {
    /// Column headers.
    pub headers: &'a [&'a str],
    /// The record's cells, one per header.
    pub cells: &'a [String],
    /// Columns right-aligned in the terminal table (Markdown right-aligns
    /// every column but the first).
    pub right: std::ops::Range<usize>,
    /// A line after the table.
    pub note: Option<&'a str>,
}

/// Writes one record in `format`: `json` as the JSON document, else `row`
/// as a terminal or Markdown table.
pub(super) fn render_one(
    json: &impl Serialize,
    row: &Row,
    format: Format,
    w: &mut dyn Write,
) -> io::Result<()> {
    match format {
        Format::Json => {
            serde_json::to_writer_pretty(&mut *w, json)?;
            writeln!(w)
        }
        Format::Table => {
            let mut table = Table::new();
            table
                .load_preset(ASCII_FULL)
                .set_content_arrangement(ContentArrangement::Disabled)
                .set_header(row.headers);
            table.add_row(row.cells);
            for col in row.right.clone() {
                if let Some(c) = table.column_mut(col) {
                    c.set_cell_alignment(CellAlignment::Right);
                }
            }
            writeln!(w, "{table}")?;
            match row.note {
                Some(note) => writeln!(w, "{note}"),
                None => Ok(()),
            }
        }
        Format::Markdown => {
            let align = vec!["---:"; row.headers.len().saturating_sub(1)];
            writeln!(w, "| {} |", row.headers.join(" | "))?;
            writeln!(w, "|---|{}|", align.join("|"))?;
            writeln!(w, "| {} |", row.cells.join(" | "))?;
            match row.note {
                Some(note) => writeln!(w, "\n{note}"),
                None => Ok(()),
            }
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
    use super::*;

    fn rendered(format: Format, note: Option<&str>) -> String {
        let row = Row {
            headers: &["FILE", "A", "B"],
            cells: &["db".into(), "1".into(), "22".into()],
            right: 1..3,
            note,
        };
        let mut out = Vec::new();
        render_one(&serde_json::json!({"a": 1}), &row, format, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn one_record_as_markdown_table_and_json() {
        assert_eq!(
            rendered(Format::Markdown, Some("ok")),
            "| FILE | A | B |\n|---|---:|---:|\n| db | 1 | 22 |\n\nok\n"
        );
        assert_eq!(
            rendered(Format::Markdown, None),
            "| FILE | A | B |\n|---|---:|---:|\n| db | 1 | 22 |\n"
        );
        let table = rendered(Format::Table, Some("ok"));
        assert!(table.contains("| db   | 1 | 22 |"), "{table}");
        assert!(table.ends_with("+\nok\n"), "{table}");
        assert_eq!(rendered(Format::Json, None), "{\n  \"a\": 1\n}\n");
    }
}

/// The JSON object `snapshot inspect-db -w json` prints.
#[derive(Debug, Serialize, schemars::JsonSchema)]
pub struct StateReport<'a> {
    /// JSON schema version.
    schema_version: u32,
    /// etcd-doctor version.
    tool_version: &'static str,
    /// `snapshot inspect-db`.
    command: &'static str,
    /// What the file says.
    db: &'a DbState,
}

const DB_HEADERS: [&str; 5] = ["FILE", "CONSISTENT INDEX", "TERM", "REVISION", "TXID"];

fn db_cells(s: &DbState) -> [String; 5] {
    let opt = |v: Option<String>| v.unwrap_or_else(|| "-".into());
    [
        s.file.display().to_string(),
        opt(s.consistent_index.map(|v| v.to_string())),
        opt(s.term.map(|v| v.to_string())),
        opt(s.revision.map(|v| v.to_string())),
        s.txid.to_string(),
    ]
}

/// Writes `state` in `format` to `w`.
pub fn render_db(state: &DbState, format: Format, w: &mut dyn Write) -> io::Result<()> {
    let report = StateReport {
        schema_version: SCHEMA_VERSION,
        tool_version: env!("CARGO_PKG_VERSION"),
        command: "snapshot inspect-db",
        db: state,
    };
    let row = Row {
        headers: &DB_HEADERS,
        cells: &db_cells(state),
        right: 0..0,
        note: Some(NO_TREE_CHECKED),
    };
    render_one(&report, &row, format, w)
}
