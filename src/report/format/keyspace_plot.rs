//! The HTML report's bar chart of space by prefix: one horizontal bar per
//! group, largest first, split into live values, uncompacted history and
//! the rest (keys and revision keys); live counts plot keys instead.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use super::plots::{err, svg, PlotResult};
use crate::keyspace::{KeyspaceReport, PrefixStats, Source};
use crate::report::view::fmt_bytes;

/// Bars drawn (the largest groups).
const BARS: usize = 12;
/// Pixels left of the bars for the group names.
const LABEL_PX: i32 = 230;

/// The parts of one bar: (value, colour), and its label.
fn parts(k: &KeyspaceReport, p: &PrefixStats) -> ([(u64, RGBColor); 3], String) {
    match k.source {
        Source::Live => (
            [(p.live_keys, BLUE), (0, BLUE), (0, BLUE)],
            format!("{} keys", p.live_keys),
        ),
        Source::Snapshot => {
            let rest = p
                .total_bytes
                .saturating_sub(p.live_value_bytes + p.history_bytes);
            (
                [
                    (p.live_value_bytes, BLUE),
                    (p.history_bytes, RGBColor(239, 108, 0)),
                    (rest, RGBColor(160, 160, 160)),
                ],
                fmt_bytes(p.total_bytes),
            )
        }
    }
}

/// Space (or live keys) by prefix as horizontal bars.
pub fn space_by_prefix(k: &KeyspaceReport) -> PlotResult {
    let shown = &k.prefixes[..k.prefixes.len().min(BARS)];
    let max = shown
        .iter()
        .map(|p| parts(k, p).0.iter().map(|(v, _)| v).sum::<u64>())
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let caption = match k.source {
        Source::Live => "live keys by prefix",
        Source::Snapshot => "space by prefix: live values (blue), history (orange), keys (grey)",
    };
    svg(|root| {
        let (w, _) = root.dim_in_pixel();
        let font = ("sans-serif", 12).into_font();
        root.draw(&Text::new(caption, (8, 6), font.clone()))
            .map_err(err)?;
        let span = (w as i32 - LABEL_PX - 80).max(10) as f64;
        for (i, p) in shown.iter().enumerate() {
            let y = 28 + i as i32 * 22;
            let name: String = p.prefix.chars().take(34).collect();
            let label = TextStyle::from(font.clone()).pos(Pos::new(HPos::Right, VPos::Center));
            root.draw(&Text::new(name, (LABEL_PX - 6, y + 8), label))
                .map_err(err)?;
            let (bars, text) = parts(k, p);
            let mut x = LABEL_PX;
            for (v, colour) in bars {
                let len = (v as f64 / max * span).round() as i32;
                if len > 0 {
                    root.draw(&Rectangle::new(
                        [(x, y), (x + len, y + 16)],
                        colour.filled(),
                    ))
                    .map_err(err)?;
                }
                x += len;
            }
            root.draw(&Text::new(text, (x + 4, y + 2), font.clone()))
                .map_err(err)?;
        }
        Ok(())
    })
}
