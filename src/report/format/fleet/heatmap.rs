//! A host-by-host heatmap (plotters SVG): one square per ordered pair,
//! shaded from the grid's lowest value (light) to its highest (dark red),
//! the value written in it; unmeasured pairs stay grey.

use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::report::format::plots::{err, svg_sized, PlotResult};
use crate::report::view::fleet::Grid;

/// Pixels per cell and for the host-name margins.
const CELL: u32 = 64;
const MARGIN: u32 = 130;

/// Draws `grid` with `values[row][column]` as an SVG heatmap.
pub fn draw(grid: &Grid, values: &[Vec<Option<f64>>]) -> PlotResult {
    let n = grid.hosts.len() as u32;
    let size = (MARGIN + n * CELL + 10, MARGIN + n * CELL + 10);
    let known: Vec<f64> = values.iter().flatten().flatten().copied().collect();
    let lo = known.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = known.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    svg_sized(size, |root| {
        let label = ("sans-serif", 12).into_font();
        for (i, host) in grid.hosts.iter().enumerate() {
            let at = (MARGIN + i as u32 * CELL + CELL / 2) as i32;
            let left = TextStyle::from(label.clone()).pos(Pos::new(HPos::Right, VPos::Center));
            root.draw_text(host, &left, (MARGIN as i32 - 6, at))
                .map_err(err)?;
            let top = TextStyle::from(label.clone()).pos(Pos::new(HPos::Center, VPos::Bottom));
            root.draw_text(host, &top, (at, MARGIN as i32 - 6))
                .map_err(err)?;
        }
        for (r, row) in values.iter().enumerate() {
            for (c, v) in row.iter().enumerate() {
                let x = (MARGIN + c as u32 * CELL) as i32;
                let y = (MARGIN + r as u32 * CELL) as i32;
                let fill = v.map_or(RGBColor(220, 220, 220), |v| shade(v, lo, hi));
                root.draw(&Rectangle::new(
                    [(x, y), (x + CELL as i32 - 2, y + CELL as i32 - 2)],
                    fill.filled(),
                ))
                .map_err(err)?;
                let text = TextStyle::from(label.clone()).pos(Pos::new(HPos::Center, VPos::Center));
                root.draw_text(
                    &grid.cells[r][c],
                    &text,
                    (x + CELL as i32 / 2, y + CELL as i32 / 2),
                )
                .map_err(err)?;
            }
        }
        Ok(())
    })
}

/// Light yellow at `lo` to red at `hi` (log scale: RTTs span decades).
fn shade(v: f64, lo: f64, hi: f64) -> RGBColor {
    let (l, h) = (lo.max(1e-3).ln(), hi.max(1e-3).ln());
    let t = if h > l {
        ((v.max(1e-3).ln() - l) / (h - l)).clamp(0.0, 1.0)
    } else {
        0.0
    };
    let mix = |a: f64, b: f64| (a + (b - a) * t).round() as u8;
    RGBColor(mix(255.0, 198.0), mix(245.0, 40.0), mix(200.0, 40.0))
}
