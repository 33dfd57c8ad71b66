//! The binary records of `metric_samples.vals` and `metric_rollups.vals`.
//!
//! Every number is an unsigned LEB128 varint (7 bits a byte; values below 128 take one
//! byte), and values are whole numbers of their unit's step (`Unit::steps_per_unit`: 0.01 %
//! or 0.01 of load, whole bytes per second), so a typical sample of ten to twenty series is
//! 30–60 bytes:
//!
//! - a sample: `(series, value)` pairs, series ascending;
//! - a roll-up bucket: the number of samples, then `(series, average, maximum − average)`
//!   triples (the maximum is never below the average, and the difference is small for
//!   steady series).
//!
//! `series` is the position of the series' name in the device's `metric_series.names`.
//! LEB128 is written out here rather than taken from a crate: it is a dozen lines, and the
//! crates that offer it bring framing and formats this record does not use.

use steward_core::history::{Rolled, Stat, Unit};

use crate::{Result, StoreError};

fn put(buf: &mut Vec<u8>, mut n: u64) {
    loop {
        let byte = (n & 0x7f) as u8;
        n >>= 7;
        if n == 0 {
            buf.push(byte);
            return;
        }
        buf.push(byte | 0x80);
    }
}

/// Reads one varint at `*pos`, moving past it.
fn take(bytes: &[u8], pos: &mut usize) -> Result<u64> {
    let mut n: u64 = 0;
    for shift in (0..64).step_by(7) {
        let Some(&byte) = bytes.get(*pos) else {
            break;
        };
        *pos += 1;
        n |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(n);
        }
    }
    Err(StoreError::Corrupt(
        "a metrics record ends inside a number".into(),
    ))
}

/// A value as a whole number of its unit's steps (values reach here finite and not
/// negative; a cast saturates anything else).
fn to_steps(unit: Unit, value: f64) -> u64 {
    (value * unit.steps_per_unit()).round() as u64
}

/// Divided rather than multiplied by the step, so 1235 steps of 0.01 read 12.35 exactly
/// as written, not 12.350000000000001.
fn from_steps(unit: Unit, steps: u64) -> f64 {
    steps as f64 / unit.steps_per_unit()
}

fn series_number(n: u64) -> Result<u32> {
    u32::try_from(n).map_err(|_| StoreError::Corrupt(format!("series number {n}")))
}

/// A sample's record. `values` are `(series number, value)`, in ascending series order;
/// `unit` gives each series' unit.
pub(crate) fn encode_sample(values: &[(u32, f64)], unit: impl Fn(u32) -> Unit) -> Vec<u8> {
    let mut buf = Vec::with_capacity(values.len() * 4);
    for (series, value) in values {
        put(&mut buf, u64::from(*series));
        put(&mut buf, to_steps(unit(*series), *value));
    }
    buf
}

pub(crate) fn decode_sample(
    bytes: &[u8],
    unit: impl Fn(u32) -> Option<Unit>,
) -> Result<Vec<(u32, f64)>> {
    let mut pos = 0;
    let mut out = Vec::new();
    while pos < bytes.len() {
        let series = series_number(take(bytes, &mut pos)?)?;
        let steps = take(bytes, &mut pos)?;
        let unit = unit(series).ok_or_else(|| unknown(series))?;
        out.push((series, from_steps(unit, steps)));
    }
    Ok(out)
}

pub(crate) fn encode_rollup(rolled: &Rolled<u32>, unit: impl Fn(u32) -> Unit) -> Vec<u8> {
    let mut buf = Vec::with_capacity(1 + rolled.series.len() * 6);
    put(&mut buf, u64::from(rolled.samples));
    for (series, stat) in &rolled.series {
        let unit = unit(*series);
        let avg = to_steps(unit, stat.avg);
        let max = to_steps(unit, stat.max);
        put(&mut buf, u64::from(*series));
        put(&mut buf, avg);
        put(&mut buf, max.saturating_sub(avg));
    }
    buf
}

/// A roll-up bucket's sample count and its series' statistics.
pub(crate) fn decode_rollup(
    bytes: &[u8],
    unit: impl Fn(u32) -> Option<Unit>,
) -> Result<(u32, Vec<(u32, Stat)>)> {
    let mut pos = 0;
    let samples = u32::try_from(take(bytes, &mut pos)?).unwrap_or(u32::MAX);
    let mut out = Vec::new();
    while pos < bytes.len() {
        let series = series_number(take(bytes, &mut pos)?)?;
        let avg = take(bytes, &mut pos)?;
        let above = take(bytes, &mut pos)?;
        let unit = unit(series).ok_or_else(|| unknown(series))?;
        out.push((
            series,
            Stat {
                avg: from_steps(unit, avg),
                max: from_steps(unit, avg.saturating_add(above)),
            },
        ));
    }
    Ok((samples, out))
}

fn unknown(series: u32) -> StoreError {
    StoreError::Corrupt(format!(
        "a metrics record names series {series}, which its device does not list"
    ))
}

#[cfg(test)]
mod tests {
    use steward_core::Timestamp;

    use super::*;

    fn units(n: u32) -> Unit {
        match n {
            0 => Unit::Percent,
            1 => Unit::Load,
            _ => Unit::BytesPerSecond,
        }
    }

    #[test]
    fn samples_round_trip_to_their_unit_step() {
        let values = vec![(0, 12.346), (1, 0.5), (2, 123_456_789.4), (300, 0.0)];
        let bytes = encode_sample(&values, units);
        let back = decode_sample(&bytes, |n| Some(units(n))).unwrap();
        assert_eq!(
            back,
            vec![(0, 12.35), (1, 0.5), (2, 123_456_789.0), (300, 0.0)]
        );
        // Small: one byte for each series number below 128, two for a share.
        assert_eq!(encode_sample(&[(0, 99.99)], units).len(), 3);
    }

    #[test]
    fn roll_ups_round_trip() {
        let rolled = Rolled {
            at: Timestamp(0),
            samples: 5,
            series: vec![
                (
                    0,
                    Stat {
                        avg: 25.5,
                        max: 80.0,
                    },
                ),
                (
                    2,
                    Stat {
                        avg: 1000.0,
                        max: 1000.0,
                    },
                ),
            ],
        };
        let bytes = encode_rollup(&rolled, units);
        let (samples, stats) = decode_rollup(&bytes, |n| Some(units(n))).unwrap();
        assert_eq!(samples, 5);
        assert_eq!(stats, rolled.series);
    }

    #[test]
    fn damaged_records_are_refused_not_misread() {
        let bytes = encode_sample(&[(0, 50.0)], units);
        assert!(decode_sample(&bytes[..bytes.len() - 1], |n| Some(units(n))).is_err());
        // A series the device does not list.
        assert!(decode_sample(&bytes, |_| None).is_err());
        assert!(decode_sample(&[0xff; 12], |n| Some(units(n))).is_err());
        assert_eq!(decode_sample(&[], |n| Some(units(n))).unwrap(), vec![]);
    }
}
