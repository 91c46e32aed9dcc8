//! SVG plots for the HTML report, drawn with plotters from finished
//! results: per disk probe a latency CDF, a latency histogram and latency
//! over time (stalls marked); per peer idle vs loaded RTT; for a load run
//! request latency and each member's WAL fdatasync over time. Each plot is
//! a self-contained `<svg>` string, so the report needs no external files.

use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::prelude::*;

use crate::load::result::{LoadResult, MemberLoad};
use crate::measure::{LatencyHistogram, LatencySummary};
use crate::probe::disk::{DiskResult, StallSummary, TimelinePoint};
use crate::probe::net::{NetProbeKind, NetResult};
use crate::units::{Micros, Millis, Nanos};

/// Plot size in pixels.
const SIZE: (u32, u32) = (560, 300);
/// Log-spaced bins of the latency histogram.
const HISTOGRAM_BINS: usize = 40;

/// A plot that could not be drawn (plotters' error, as text).
pub type PlotResult = Result<String, String>;

/// A plotters error as text.
pub fn err(e: impl std::fmt::Debug) -> String {
    format!("{e:?}")
}

/// Draws into a fresh SVG string.
pub(super) fn svg(
    draw: impl FnOnce(DrawingArea<SVGBackend, plotters::coord::Shift>) -> Result<(), String>,
) -> PlotResult {
    svg_sized(SIZE, draw)
}

/// Draws into a fresh SVG string of `size` pixels.
pub fn svg_sized(
    size: (u32, u32),
    draw: impl FnOnce(DrawingArea<SVGBackend, plotters::coord::Shift>) -> Result<(), String>,
) -> PlotResult {
    let mut out = String::new();
    {
        let root = SVGBackend::with_string(&mut out, size).into_drawing_area();
        root.fill(&WHITE).map_err(err)?;
        draw(root.clone())?;
        root.present().map_err(err)?;
    }
    Ok(out)
}

/// An axis: its label and how its tick values are written.
struct Axis<'s> {
    desc: &'s str,
    fmt: fn(&f64) -> String,
}

/// Tick label for a latency in microseconds: `250µs`, `1.5ms`, `2s`.
fn tick_us(v: &f64) -> String {
    if *v >= 1e6 {
        format!("{}s", trim(Micros(*v).as_secs_f64()))
    } else if *v >= 1e3 {
        format!("{}ms", trim(Micros(*v).as_ms()))
    } else {
        format!("{}µs", trim(*v))
    }
}

/// Tick label for a plain number, without needless decimals.
fn tick(v: &f64) -> String {
    trim(*v)
}

fn trim(v: f64) -> String {
    let s = format!("{v:.2}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

/// A chart on an SVG drawing area.
type Chart<'a, 'b, X, Y> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<X, Y>>;

/// A line of the timeline plot: name, colour, value.
type TimelineLine = (&'static str, RGBColor, fn(&TimelinePoint) -> f64);

/// A chart with a caption, axis label areas and a light mesh.
fn chart<'a, 'b, X, Y>(
    root: &'a DrawingArea<SVGBackend<'b>, plotters::coord::Shift>,
    caption: &str,
    x: (X, Axis),
    y: (Y, Axis),
) -> Result<Chart<'a, 'b, X::CoordDescType, Y::CoordDescType>, String>
where
    X: AsRangedCoord<Value = f64>,
    Y: AsRangedCoord<Value = f64>,
    X::CoordDescType: ValueFormatter<f64>,
    Y::CoordDescType: ValueFormatter<f64>,
{
    let ((x, x_axis), (y, y_axis)) = (x, y);
    let mut chart = ChartBuilder::on(root)
        .caption(caption, ("sans-serif", 16))
        .margin(8)
        .x_label_area_size(36)
        .y_label_area_size(56)
        .build_cartesian_2d(x, y)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc(x_axis.desc)
        .y_desc(y_axis.desc)
        .x_labels(6)
        .y_labels(6)
        .x_label_formatter(&x_axis.fmt)
        .y_label_formatter(&y_axis.fmt)
        .light_line_style(WHITE.mix(0.0))
        .draw()
        .map_err(err)?;
    Ok(chart)
}

/// Draws the series labels in a framed box.
fn legend<'a, 'b: 'a, X: Ranged, Y: Ranged>(c: &mut Chart<'a, 'b, X, Y>) -> Result<(), String> {
    c.configure_series_labels()
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .draw()
        .map_err(err)
}

/// A latency axis in microseconds.
const LATENCY: Axis<'static> = Axis {
    desc: "latency",
    fmt: tick_us,
};

/// Latency range of a histogram in µs, padded so a single value still plots.
fn range_us(h: &LatencyHistogram) -> (f64, f64) {
    let s = h.summary();
    let lo = (s.min.max(0.1)) * 0.9;
    let hi = (s.max.max(lo * 1.2)) * 1.1;
    (lo, hi)
}

/// Cumulative distribution of a probe's latency (log latency axis).
pub fn latency_cdf(r: &DiskResult) -> PlotResult {
    let h = r.latency_histogram.decode().map_err(|e| format!("{e:#}"))?;
    let (lo, hi) = range_us(&h);
    let total = h.len().max(1) as f64;
    let mut seen = 0u64;
    let points: Vec<(f64, f64)> = h
        .raw()
        .iter_recorded()
        .map(|v| {
            seen += v.count_at_value();
            (
                Nanos(v.value_iterated_to() as f64).as_us(),
                seen as f64 / total,
            )
        })
        .collect();
    svg(|root| {
        let mut c = chart(
            &root,
            &format!("{} latency CDF", r.probe.as_str()),
            ((lo..hi).log_scale(), LATENCY),
            (
                0f64..1.0,
                Axis {
                    desc: "fraction of ops",
                    fmt: tick,
                },
            ),
        )?;
        c.draw_series(LineSeries::new(points, BLUE.stroke_width(2)))
            .map_err(err)?;
        Ok(())
    })
}

/// Counts of a histogram in log-spaced bins between its min and max.
fn log_bins(h: &LatencyHistogram) -> Vec<(f64, f64, u64)> {
    let (lo, hi) = range_us(h);
    let step = (hi / lo).ln() / HISTOGRAM_BINS as f64;
    let mut bins: Vec<(f64, f64, u64)> = (0..HISTOGRAM_BINS)
        .map(|i| {
            (
                lo * (step * i as f64).exp(),
                lo * (step * (i + 1) as f64).exp(),
                0,
            )
        })
        .collect();
    for v in h.raw().iter_recorded() {
        let us = Nanos(v.value_iterated_to() as f64).as_us();
        let i = (((us / lo).ln() / step) as usize).min(HISTOGRAM_BINS - 1);
        bins[i].2 += v.count_at_value();
    }
    bins
}

/// Histogram of a probe's latency (log-spaced bins).
pub fn latency_histogram(r: &DiskResult) -> PlotResult {
    let h = r.latency_histogram.decode().map_err(|e| format!("{e:#}"))?;
    let bins = log_bins(&h);
    let (lo, hi) = (bins[0].0, bins[HISTOGRAM_BINS - 1].1);
    let top = bins.iter().map(|b| b.2).max().unwrap_or(1).max(1) as f64 * 1.1;
    svg(|root| {
        let mut c = chart(
            &root,
            &format!("{} latency histogram", r.probe.as_str()),
            ((lo..hi).log_scale(), LATENCY),
            (
                0f64..top,
                Axis {
                    desc: "ops",
                    fmt: tick,
                },
            ),
        )?;
        c.draw_series(
            bins.iter().map(|&(a, b, n)| {
                Rectangle::new([(a, 0.0), (b, n as f64)], BLUE.mix(0.6).filled())
            }),
        )
        .map_err(err)?;
        Ok(())
    })
}

/// Colour of the stall markers.
const STALL: RGBColor = RGBColor(150, 0, 150);

/// p50, p99 and max latency per interval of the run; each stall event a
/// marker at its start and longest wait, over a line at the stall level.
pub fn latency_over_time(r: &DiskResult) -> PlotResult {
    let stalls = &r.stalls;
    let caption = match stalls.events_count {
        0 => format!("{} latency over time", r.probe.as_str()),
        n => format!(
            "{} latency over time: {n} stalls > {} ms",
            r.probe.as_str(),
            trim(stalls.heartbeat_ms)
        ),
    };
    timeline(&caption, &r.timeline, Some(stalls))
}

/// p50, p99 and max request latency per second of a load run.
pub fn load_latency_over_time(l: &LoadResult) -> PlotResult {
    timeline(
        "request latency over time (from the scheduled send)",
        &l.timeline,
        None,
    )
}

/// Each member's WAL fdatasync p99 between consecutive /metrics scrapes.
pub fn wal_fsync_over_time(server: &[MemberLoad]) -> PlotResult {
    let colors = [BLUE, RGBColor(230, 120, 0), RED, GREEN, MAGENTA];
    let lines = server
        .iter()
        .zip(colors.iter().cycle())
        .map(|(m, color)| {
            let name = m.member_id.as_deref().unwrap_or(&m.url).to_string();
            let points = m
                .wal_fsync_p99_ms_over_time
                .iter()
                .map(|&(t, ms)| (t, Millis(ms).as_us()));
            (name, *color, points.collect())
        })
        .collect();
    lines_over_time(
        "WAL fdatasync p99 per member (etcd's /metrics)",
        lines,
        None,
    )
}

/// p50, p99 and max latency of each point of `t`, with `stalls` marked.
fn timeline(caption: &str, t: &[TimelinePoint], stalls: Option<&StallSummary>) -> PlotResult {
    let lines: [TimelineLine; 3] = [
        ("p50", BLUE, |p| p.p50_us),
        ("p99", RGBColor(230, 120, 0), |p| p.p99_us),
        ("max", RED, |p| p.max_us),
    ];
    let lines = lines
        .into_iter()
        .map(|(name, color, value)| {
            (
                name.to_string(),
                color,
                t.iter().map(|p| (p.t_s, value(p))).collect(),
            )
        })
        .collect();
    lines_over_time(caption, lines, stalls)
}

/// A named line: legend text, colour, (seconds into the run, latency µs) points.
type Line = (String, RGBColor, Vec<(f64, f64)>);

/// Latency lines over the seconds of a run, with points and a legend; the
/// stall events of `stalls`, when there are some, as markers over a line
/// at the stall level.
fn lines_over_time(caption: &str, lines: Vec<Line>, stalls: Option<&StallSummary>) -> PlotResult {
    let events = stalls.map_or(&[][..], |s| &s.events[..]);
    let all = || lines.iter().flat_map(|l| &l.2);
    let t_end = all().map(|p| p.0).fold(0.001, f64::max);
    let top = all()
        .map(|p| p.1)
        .chain(events.iter().map(|e| Millis(e.longest_ms).as_us()))
        .fold(1.0, f64::max)
        * 1.1;
    svg(|root| {
        let mut c = chart(
            &root,
            caption,
            (
                0f64..t_end,
                Axis {
                    desc: "seconds into the run",
                    fmt: tick,
                },
            ),
            (0f64..top, LATENCY),
        )?;
        for (name, color, points) in &lines {
            let color = *color;
            c.draw_series(LineSeries::new(points.iter().copied(), color))
                .map_err(err)?
                .label(name.as_str())
                .legend(move |(x, y)| PathElement::new([(x, y), (x + 16, y)], color));
            // Points too, so a run of one or two intervals still shows.
            c.draw_series(points.iter().map(|&p| Circle::new(p, 2, color.filled())))
                .map_err(err)?;
        }
        if let Some(s) = stalls.filter(|s| !s.events.is_empty()) {
            let level = Millis(s.heartbeat_ms).as_us();
            c.draw_series(DashedLineSeries::new(
                [(0.0, level), (t_end, level)],
                4,
                4,
                STALL.into(),
            ))
            .map_err(err)?;
            c.draw_series(events.iter().map(|e| {
                TriangleMarker::new((e.at_s, Millis(e.longest_ms).as_us()), 5, STALL.filled())
            }))
            .map_err(err)?
            .label("stall")
            .legend(|(x, y)| TriangleMarker::new((x + 8, y), 5, STALL.filled()));
        }
        legend(&mut c)
    })
}

/// The idle and loaded RTT of each peer (p50 and p99 bars).
pub fn rtt_idle_vs_loaded(results: &[NetResult]) -> PlotResult {
    let rows: Vec<(&str, Option<LatencySummary>, Option<LatencySummary>)> = results
        .iter()
        .filter(|r| r.latency_us.is_some() || r.idle_latency_us.is_some())
        .map(|r| match r.probe {
            NetProbeKind::LoadedRtt => (r.peer.as_str(), r.idle_latency_us, r.latency_us),
            _ => (r.peer.as_str(), r.latency_us, None),
        })
        .collect();
    let top = rows
        .iter()
        .flat_map(|(_, i, l)| [i, l])
        .filter_map(|s| s.map(|s| s.p99))
        .fold(1.0, f64::max)
        * 1.2;
    let n = rows.len().max(1) as f64;
    svg(|root| {
        let mut c = chart(
            &root,
            "RTT per peer: idle vs loaded (p50 solid, p99 light)",
            (
                0f64..n,
                Axis {
                    desc: "peer",
                    fmt: |_| String::new(),
                },
            ),
            (
                0f64..top,
                Axis {
                    desc: "RTT",
                    fmt: tick_us,
                },
            ),
        )?;
        let bars = [(BLUE, 0.05), (RED, 0.5)];
        for (i, (_, idle, loaded)) in rows.iter().enumerate() {
            for ((color, offset), s) in bars.iter().zip([idle, loaded]) {
                let Some(s) = s else { continue };
                let x0 = i as f64 + offset;
                let x1 = x0 + 0.4;
                c.draw_series([
                    Rectangle::new([(x0, 0.0), (x1, s.p99)], color.mix(0.3).filled()),
                    Rectangle::new([(x0, 0.0), (x1, s.p50)], color.filled()),
                ])
                .map_err(err)?;
            }
        }
        for (i, (peer, _, _)) in rows.iter().enumerate() {
            c.draw_series([Text::new(
                peer.to_string(),
                (i as f64 + 0.05, top * 0.95),
                ("sans-serif", 12),
            )])
            .map_err(err)?;
        }
        Ok(())
    })
}

/// Catalogued log events per minute, one line per kind (the `logs` timeline).
pub fn log_timeline(logs: &crate::logs::LogsReport) -> PlotResult {
    let minutes = logs.events.iter().flat_map(|k| &k.per_minute);
    let start = minutes.clone().map(|m| m.minute_unix_ms).min().unwrap_or(0);
    let end = minutes.clone().map(|m| m.minute_unix_ms).max().unwrap_or(0);
    let x_end = ((end - start) as f64 / 60_000.0).max(1.0);
    let top = minutes.map(|m| m.count).max().unwrap_or(1) as f64 * 1.1;
    let caption = format!(
        "events per minute from {}",
        crate::logs::time::format_timestamp(start)
    );
    let palette = [
        BLUE,
        RED,
        RGBColor(230, 120, 0),
        GREEN,
        MAGENTA,
        CYAN,
        BLACK,
    ];
    svg(|root| {
        let mut c = chart(
            &root,
            &caption,
            (
                0f64..x_end,
                Axis {
                    desc: "minutes",
                    fmt: tick,
                },
            ),
            (
                0f64..top,
                Axis {
                    desc: "lines per minute",
                    fmt: tick,
                },
            ),
        )?;
        for (k, color) in logs.events.iter().zip(palette.iter().cycle()) {
            let points: Vec<(f64, f64)> = k
                .per_minute
                .iter()
                .map(|m| ((m.minute_unix_ms - start) as f64 / 60_000.0, m.count as f64))
                .collect();
            c.draw_series(points.iter().map(|p| Circle::new(*p, 3, color.filled())))
                .map_err(err)?
                .label(k.kind.as_str())
                .legend(move |(x, y)| Circle::new((x + 8, y), 3, color.filled()));
            c.draw_series(LineSeries::new(points, color)).map_err(err)?;
        }
        legend(&mut c)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::probe::disk::{DiskProbeKind, EngineKind, StopReason};
    use std::time::Duration;

    fn result() -> DiskResult {
        let mut h = LatencyHistogram::new();
        for us in 1..=2000u64 {
            h.record(Duration::from_micros(500 + us % 700));
        }
        DiskResult {
            probe: DiskProbeKind::Fsync,
            run: 0,
            engine: EngineKind::Sync,
            dir: "/d".into(),
            block_size_bytes: 2300,
            ops: 2000,
            duration_s: 2.0,
            iops: 1000.0,
            throughput_mib_s: 2.2,
            latency_us: h.summary(),
            write_latency_us: None,
            stop_reason: StopReason::Stable,
            timeline: (1..=4)
                .map(|i| TimelinePoint {
                    t_s: i as f64 * 0.5,
                    ops: 500,
                    p50_us: 800.0,
                    p90_us: None,
                    p99_us: 1150.0,
                    p999_us: None,
                    max_us: 1200.0,
                })
                .collect(),
            latency_histogram: h.encode(),
            stalls: Default::default(),
        }
    }

    #[test]
    fn stalls_are_marked_on_the_timeline() {
        let mut r = result();
        let plain = latency_over_time(&r).unwrap();
        r.stalls = crate::probe::disk::StallSummary {
            heartbeat_ms: 100.0,
            events_count: 2,
            events: [0.4, 1.4]
                .map(|at_s| crate::probe::disk::StallEvent {
                    at_s,
                    longest_ms: 300.0,
                    ops: 1,
                })
                .to_vec(),
            ..Default::default()
        };
        let marked = latency_over_time(&r).unwrap();
        assert!(marked.contains("2 stalls &gt; 100 ms"), "caption missing");
        assert!(marked.contains(">\nstall\n</text>"), "legend missing");
        assert!(marked.matches("<polygon").count() >= plain.matches("<polygon").count() + 2);
    }

    #[test]
    fn every_disk_plot_is_an_svg_with_its_data() {
        let r = result();
        for svg in [
            latency_cdf(&r).unwrap(),
            latency_histogram(&r).unwrap(),
            latency_over_time(&r).unwrap(),
        ] {
            assert!(svg.starts_with("<svg"), "{}", &svg[..40]);
            assert!(svg.contains("fsync latency"), "caption missing");
            assert!(
                svg.contains("<polyline") || svg.contains("<rect"),
                "no data drawn"
            );
        }
    }

    #[test]
    fn histogram_bins_hold_every_sample() {
        let h = result().latency_histogram.decode().unwrap();
        let bins = log_bins(&h);
        assert_eq!(bins.len(), HISTOGRAM_BINS);
        assert_eq!(bins.iter().map(|b| b.2).sum::<u64>(), 2000);
        assert!(bins.windows(2).all(|w| (w[0].1 - w[1].0).abs() < 1e-9));
    }
}
