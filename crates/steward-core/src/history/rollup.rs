//! Roll-up arithmetic: samples into buckets of a fixed width with each series' average and
//! maximum, and series points merged into wider buckets for a chart or an API answer.
//!
//! Buckets are aligned to multiples of their width since the Unix epoch (UTC), so the same
//! bucket has the same start whoever computes it and whenever.

use std::collections::BTreeMap;

use crate::Timestamp;

use super::series::Sample;

/// The start of the bucket of width `width_ms` holding `at`.
pub fn bucket_start(at: Timestamp, width_ms: i64) -> Timestamp {
    let width = width_ms.max(1);
    Timestamp(at.0.div_euclid(width) * width)
}

/// One series' average and maximum over a bucket.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Stat {
    pub avg: f64,
    pub max: f64,
}

/// One bucket of a device's samples: its start, how many samples fell in it, and the
/// average and maximum of each series that had a value in any of them.
#[derive(Debug, Clone, PartialEq)]
pub struct Rolled<K> {
    pub at: Timestamp,
    pub samples: u32,
    pub series: Vec<(K, Stat)>,
}

/// Rolls `samples` (any order) into buckets of `width_ms`, oldest first; buckets without a
/// sample are absent. A series' average is over the samples that had it (a disk added
/// halfway through a bucket averages over its own samples).
pub fn roll_up<K: Ord + Clone>(samples: &[Sample<K>], width_ms: i64) -> Vec<Rolled<K>> {
    // bucket → (samples, series → (sum, count, max))
    type Sums<K> = BTreeMap<K, (f64, u32, f64)>;
    let mut buckets: BTreeMap<Timestamp, (u32, Sums<K>)> = BTreeMap::new();
    for sample in samples {
        let (count, sums) = buckets
            .entry(bucket_start(sample.at, width_ms))
            .or_default();
        *count += 1;
        for (key, value) in &sample.values {
            let entry = sums
                .entry(key.clone())
                .or_insert((0.0, 0, f64::NEG_INFINITY));
            entry.0 += value;
            entry.1 += 1;
            entry.2 = entry.2.max(*value);
        }
    }
    buckets
        .into_iter()
        .map(|(at, (samples, sums))| Rolled {
            at,
            samples,
            series: sums
                .into_iter()
                .map(|(key, (sum, n, max))| {
                    (
                        key,
                        Stat {
                            avg: sum / f64::from(n.max(1)),
                            max,
                        },
                    )
                })
                .collect(),
        })
        .collect()
}

/// One point of one series: a bucket's start, average and maximum, and how many samples it
/// stands for (its weight when merged with others). A full-resolution sample is a point
/// whose average and maximum are its value and whose weight is 1.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Point {
    pub at: Timestamp,
    pub avg: f64,
    pub max: f64,
    pub weight: u32,
}

impl Point {
    pub fn sample(at: Timestamp, value: f64) -> Point {
        Point {
            at,
            avg: value,
            max: value,
            weight: 1,
        }
    }
}

/// Merges points (sorted by time) into buckets of `width_ms`: the weighted average of the
/// averages and the maximum of the maxima. Points with the same bucket — a bucket rolled up
/// before some of its samples arrived, and those samples — become one.
pub fn merge(points: &[Point], width_ms: i64) -> Vec<Point> {
    let mut out: Vec<Point> = Vec::new();
    let mut sum = 0.0;
    for p in points {
        let at = bucket_start(p.at, width_ms);
        let weight = p.weight.max(1);
        match out.last_mut() {
            Some(last) if last.at == at => {
                sum += p.avg * f64::from(weight);
                last.weight = last.weight.saturating_add(weight);
                last.max = last.max.max(p.max);
                last.avg = sum / f64::from(last.weight);
            }
            _ => {
                sum = p.avg * f64::from(weight);
                out.push(Point {
                    at,
                    avg: p.avg,
                    max: p.max,
                    weight,
                });
            }
        }
    }
    out
}

/// At most `max_points` points for the span `[from, to)` of points about `width_ms` apart:
/// unchanged when there are few enough, else merged into buckets of a whole multiple of
/// `width_ms` (aligned, so the same range asked twice gives the same buckets). Returns the
/// width of the points and the points.
pub fn downsample(
    points: &[Point],
    from: Timestamp,
    to: Timestamp,
    width_ms: i64,
    max_points: usize,
) -> (i64, Vec<Point>) {
    let width_ms = width_ms.max(1);
    let max_points = max_points.max(1) as i64;
    if points.len() as i64 <= max_points {
        return (width_ms, points.to_vec());
    }
    // Aligned buckets of width w over the span: at most span / w + 2.
    let buckets = to.since(from).max(0) / width_ms + 2;
    let mut factor = ((buckets + max_points - 1) / max_points).max(1);
    loop {
        let width = width_ms.saturating_mul(factor);
        let merged = merge(points, width);
        // Alignment can add one bucket at each end; widen until the bound holds.
        if merged.len() as i64 <= max_points {
            return (width, merged);
        }
        factor += 1;
    }
}
