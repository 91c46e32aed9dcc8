//! The table model every human-readable format lays out: a titled
//! section of rows, and the number formatting all formats share. The
//! per-kind views build on this file alone.

use crate::findings::Unit;
use crate::measure::LatencySummary;
use crate::units::{Micros, Millis};

/// One titled table of a report.
#[derive(Debug, Clone, PartialEq)]
pub struct Section {
    /// Title shown above the table.
    pub title: String,
    /// Column headers.
    pub headers: Vec<&'static str>,
    /// Cells, one `Vec` per row, as many cells as headers.
    pub rows: Vec<Vec<String>>,
}

/// Most rows a table or markdown section shows; the rest are one line
/// (all rows are in `-w json`).
pub const MAX_SECTION_ROWS: usize = 1000;

impl Section {
    /// The rows shown, and the line standing for the others, if any.
    pub fn shown(&self) -> (&[Vec<String>], Option<String>) {
        if self.rows.len() <= MAX_SECTION_ROWS {
            return (&self.rows, None);
        }
        let more = self.rows.len() - MAX_SECTION_ROWS;
        (
            &self.rows[..MAX_SECTION_ROWS],
            Some(format!("and {more} more row(s): all are in -w json")),
        )
    }
}

/// Formats a latency in microseconds with a unit that keeps 3-4 significant digits.
pub fn fmt_us(us: f64) -> String {
    if us >= 1_000_000.0 {
        format!("{:.2} s", Micros(us).as_secs_f64())
    } else if us >= 1_000.0 {
        format!("{:.2} ms", Micros(us).as_ms())
    } else {
        format!("{us:.1} µs")
    }
}

/// Formats a byte count the way etcdctl and etcdutl do (go-humanize
/// `Bytes`): decimal units, one decimal below 10, none above (`20 kB`,
/// `2.1 MB`), so our tables read like theirs.
pub fn fmt_bytes(bytes: u64) -> String {
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

/// Formats an evidence value with its unit (`ms` values get a readable unit).
pub fn fmt_value(value: f64, unit: Unit) -> String {
    match unit {
        Unit::Ms => fmt_us(Millis(value).as_us()),
        Unit::None => format!("{value}"),
        _ => format!("{value} {unit}"),
    }
}

/// The latency columns of a row: p50, p90, p99, p99.9 and max.
pub fn latency_cells(l: &LatencySummary) -> Vec<String> {
    [l.p50, l.p90, l.p99, l.p999, l.max]
        .into_iter()
        .map(fmt_us)
        .collect()
}
