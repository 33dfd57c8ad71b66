//! A line chart drawn on the server as SVG: axes with units, one line per series (split at
//! gaps), and a hover column per point whose `<title>` carries the values, so the chart
//! reads without any script (the console's small script only shows the same text beside
//! the chart). No chart library: the drawing is a few scales and polylines.

use steward_core::Timestamp;
use steward_core::history::{Point, Unit};

use crate::console::format;

/// The drawing's size in SVG units (it scales to the card's width).
pub const WIDTH: f64 = 720.0;
pub const HEIGHT: f64 = 190.0;
const LEFT: f64 = 62.0;
const RIGHT: f64 = 10.0;
const TOP: f64 = 10.0;
const BOTTOM: f64 = 24.0;
/// Most lines on one chart; the rest are named as not shown.
pub const MAX_LINES: usize = 8;

/// One series to draw.
pub struct Input {
    pub label: String,
    pub step_ms: i64,
    pub points: Vec<Point>,
}

/// A chart ready for the template.
pub struct ChartView {
    /// The element id (`chart-cpu`).
    pub id: String,
    pub title: &'static str,
    pub empty: bool,
    pub y_ticks: Vec<Tick>,
    pub x_ticks: Vec<Tick>,
    pub lines: Vec<Line>,
    pub hovers: Vec<Hover>,
    /// How many series were left out (beyond [`MAX_LINES`]).
    pub hidden: usize,
    pub width: f64,
    pub height: f64,
    pub plot_left: f64,
    pub plot_right: f64,
    pub plot_top: f64,
    pub plot_bottom: f64,
}

pub struct Tick {
    /// x for a time tick, y for a value tick.
    pub at: String,
    pub label: String,
}

pub struct Line {
    /// Its colour (`series-0` …).
    pub class: String,
    pub label: String,
    /// The latest average, for the legend.
    pub latest: String,
    /// `points` attributes of the polylines (one per stretch without a gap).
    pub segments: Vec<String>,
}

/// A column the pointer can rest on: the values at one time.
pub struct Hover {
    pub x: String,
    pub width: String,
    pub text: String,
}

/// Draws `series` over `[from, to)`.
pub fn draw(
    id: &str,
    title: &'static str,
    unit: Unit,
    from: Timestamp,
    to: Timestamp,
    series: Vec<Input>,
) -> ChartView {
    let hidden = series.len().saturating_sub(MAX_LINES);
    let series: Vec<Input> = series.into_iter().take(MAX_LINES).collect();
    let empty = series.iter().all(|s| s.points.is_empty());
    let span = to.since(from).max(1) as f64;
    let x = |t: Timestamp| {
        LEFT + (t.since(from) as f64 / span).clamp(0.0, 1.0) * (WIDTH - LEFT - RIGHT)
    };
    let top = y_max(unit, &series);
    let y = |v: f64| HEIGHT - BOTTOM - (v / top).clamp(0.0, 1.0) * (HEIGHT - BOTTOM - TOP);
    let y_ticks = (0..=4)
        .map(|i| {
            let v = top * f64::from(i) / 4.0;
            Tick {
                at: fixed(y(v)),
                label: value(unit, v),
            }
        })
        .collect();
    let x_ticks = time_ticks(from, to)
        .into_iter()
        .map(|(t, label)| Tick {
            at: fixed(x(t)),
            label,
        })
        .collect();
    let lines = series
        .iter()
        .enumerate()
        .map(|(i, s)| Line {
            class: format!("series-{i}"),
            label: s.label.clone(),
            latest: s
                .points
                .last()
                .map(|p| value(unit, p.avg))
                .unwrap_or_default(),
            segments: segments(&s.points, s.step_ms)
                .into_iter()
                .map(|run| {
                    run.iter()
                        .map(|p| format!("{},{}", fixed(x(p.at)), fixed(y(p.avg))))
                        .collect::<Vec<_>>()
                        .join(" ")
                })
                .collect(),
        })
        .collect();
    ChartView {
        id: id.to_string(),
        title,
        empty,
        y_ticks,
        x_ticks,
        lines,
        hovers: hovers(&series, unit, &x),
        hidden,
        width: WIDTH,
        height: HEIGHT,
        plot_left: LEFT,
        plot_right: WIDTH - RIGHT,
        plot_top: TOP,
        plot_bottom: HEIGHT - BOTTOM,
    }
}

/// One decimal place is plenty for a drawing.
fn fixed(v: f64) -> String {
    format!("{v:.1}")
}

/// The top of the value axis: 100 for shares, else a round number above every maximum.
fn y_max(unit: Unit, series: &[Input]) -> f64 {
    if unit == Unit::Percent {
        return 100.0;
    }
    let highest = series
        .iter()
        .flat_map(|s| &s.points)
        .map(|p| p.avg)
        .fold(0.0_f64, f64::max);
    match unit {
        Unit::BytesPerSecond => round_up_bytes(highest),
        _ => round_up(highest.max(1.0)),
    }
}

/// The next 1, 2, 2.5 or 5 × 10ⁿ at or above `v` (so quarters are round too).
fn round_up(v: f64) -> f64 {
    let power = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 2.5, 5.0, 10.0]
        .into_iter()
        .map(|m| m * power)
        .find(|c| *c >= v)
        .unwrap_or(10.0 * power)
}

/// Like [`round_up`] in the binary unit the value reads in (so ticks read `2 MiB/s`).
fn round_up_bytes(v: f64) -> f64 {
    if v <= 1024.0 {
        return round_up(v.max(1.0));
    }
    let unit = 1024f64.powf((v.log2() / 10.0).floor());
    round_up(v / unit) * unit
}

/// A value with its unit, short: `42 %`, `0.75`, `1.5 MiB/s`.
pub fn value(unit: Unit, v: f64) -> String {
    match unit {
        Unit::Percent if v >= 10.0 || v == 0.0 => format!("{v:.0} %"),
        Unit::Percent => format!("{v:.1} %"),
        Unit::Load => format!("{v:.2}"),
        Unit::BytesPerSecond => format!("{}/s", format::bytes(v.round() as u64)),
    }
}

/// Runs of points without a gap: a gap is more than two and a half steps without a point
/// (the device was off, or not reporting).
fn segments(points: &[Point], step_ms: i64) -> Vec<&[Point]> {
    let mut runs = Vec::new();
    let mut start = 0;
    for i in 1..points.len() {
        if points[i].at.since(points[i - 1].at) > step_ms.max(1) * 5 / 2 {
            runs.push(&points[start..i]);
            start = i;
        }
    }
    if start < points.len() {
        runs.push(&points[start..]);
    }
    runs
}

/// One column per time that has a point, reaching halfway to its neighbours.
fn hovers(series: &[Input], unit: Unit, x: &impl Fn(Timestamp) -> f64) -> Vec<Hover> {
    let mut times: Vec<Timestamp> = series
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.at))
        .collect();
    times.sort();
    times.dedup();
    let xs: Vec<f64> = times.iter().map(|t| x(*t)).collect();
    times
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let left = if i == 0 {
                LEFT
            } else {
                (xs[i - 1] + xs[i]) / 2.0
            };
            let right = xs
                .get(i + 1)
                .map_or(WIDTH - RIGHT, |next| (xs[i] + next) / 2.0);
            let values: Vec<String> = series
                .iter()
                .filter_map(|s| {
                    let p = s.points.iter().find(|p| p.at == *t)?;
                    let reading = if p.weight > 1 && p.max > p.avg {
                        format!("{} (max {})", value(unit, p.avg), value(unit, p.max))
                    } else {
                        value(unit, p.avg)
                    };
                    Some(format!("{} {reading}", s.label))
                })
                .collect();
            Hover {
                x: fixed(left),
                width: fixed((right - left).max(0.5)),
                text: format!("{} · {}", format::utc(*t), values.join(" · ")),
            }
        })
        .collect()
}

/// Up to about eight round times across `[from, to)` with labels: clock times for spans
/// under three days, dates beyond.
fn time_ticks(from: Timestamp, to: Timestamp) -> Vec<(Timestamp, String)> {
    const MINUTE: i64 = 60_000;
    const HOUR: i64 = 60 * MINUTE;
    const DAY: i64 = 24 * HOUR;
    let span = to.since(from).max(1);
    let step = [
        5 * MINUTE,
        10 * MINUTE,
        15 * MINUTE,
        30 * MINUTE,
        HOUR,
        3 * HOUR,
        6 * HOUR,
        12 * HOUR,
        DAY,
        2 * DAY,
        5 * DAY,
        7 * DAY,
        14 * DAY,
        30 * DAY,
        61 * DAY,
    ]
    .into_iter()
    .find(|s| span / s <= 8)
    .unwrap_or(91 * DAY);
    let mut ticks = Vec::new();
    let mut t = steward_core::history::bucket_start(from, step);
    if t < from {
        t = t.plus_millis(step);
    }
    while t < to {
        let label = if span < 3 * DAY {
            format::clock(t)
        } else {
            format::month_day(t)
        };
        ticks.push((t, label));
        t = t.plus_millis(step);
    }
    ticks
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(minute: i64, v: f64) -> Point {
        Point::sample(Timestamp(minute * 60_000), v)
    }

    #[test]
    fn lines_break_at_gaps_and_hovers_carry_the_values() {
        let points = vec![p(0, 10.0), p(1, 20.0), p(2, 30.0), p(10, 40.0), p(11, 50.0)];
        let chart = draw(
            "chart-cpu",
            "CPU",
            Unit::Percent,
            Timestamp(0),
            Timestamp(12 * 60_000),
            vec![Input {
                label: "CPU".into(),
                step_ms: 60_000,
                points,
            }],
        );
        assert!(!chart.empty);
        assert_eq!(chart.lines.len(), 1);
        assert_eq!(chart.lines[0].segments.len(), 2);
        assert_eq!(chart.lines[0].latest, "50 %");
        assert_eq!(chart.hovers.len(), 5);
        assert_eq!(chart.hovers[0].text, "1970-01-01 00:00 UTC · CPU 10 %");
        // The first point sits on the left edge; a share's axis runs 0–100.
        assert_eq!(
            chart.lines[0].segments[0].split(' ').next(),
            Some("62.0,150.4")
        );
        assert_eq!(
            chart.y_ticks.last().map(|t| t.label.as_str()),
            Some("100 %")
        );
        assert!(chart.x_ticks.iter().any(|t| t.label == "00:05"));
    }

    #[test]
    fn axes_round_up_in_the_unit_values_read_in() {
        assert_eq!(round_up(0.3), 0.5);
        assert_eq!(round_up(1.0), 1.0);
        assert_eq!(round_up(3.7), 5.0);
        assert_eq!(round_up(2.2), 2.5);
        assert_eq!(round_up_bytes(3.0 * 1048576.0), 5.0 * 1048576.0);
        assert_eq!(value(Unit::BytesPerSecond, 1536.0), "1.5 KiB/s");
        assert_eq!(value(Unit::Load, 0.5), "0.50");
        assert_eq!(value(Unit::Percent, 4.25), "4.2 %");
    }

    #[test]
    fn an_empty_chart_says_so_and_extra_lines_are_counted() {
        let chart = draw(
            "chart-fs",
            "Filesystems",
            Unit::Percent,
            Timestamp(0),
            Timestamp(3_600_000),
            (0..10)
                .map(|i| Input {
                    label: format!("/m{i}"),
                    step_ms: 60_000,
                    points: Vec::new(),
                })
                .collect(),
        );
        assert!(chart.empty);
        assert_eq!(chart.lines.len(), MAX_LINES);
        assert_eq!(chart.hidden, 2);
        assert!(chart.hovers.is_empty());
    }

    #[test]
    fn time_ticks_fit_the_span() {
        let day = 86_400_000;
        let start = Timestamp(1_767_571_200_000);
        let hour = time_ticks(start, start.plus_millis(3_600_000));
        assert_eq!(hour.len(), 6);
        assert_eq!(hour[1].1, "00:10");
        let month = time_ticks(start, start.plus_millis(30 * day));
        assert!(month.len() <= 8 && month.len() >= 4, "{}", month.len());
        assert!(month.iter().all(|(_, l)| l.contains(' ')), "{month:?}");
    }
}
