use std::collections::BTreeMap;

use super::keeping::{
    DAY_MS, FIVE_MINUTES_MS, HOUR_MS, MINUTE_MS, ROLLUP_GRACE_MS, next_step, reroll_from,
    rollup_target,
};
use super::*;
use crate::metrics::{DiskIo, FilesystemUsage, Metrics, NetThroughput};
use crate::{LimitError, Timestamp};

/// 2026-01-05 00:00 UTC, a Monday: buckets of every width start here.
const T0: i64 = 1_767_571_200_000;

fn at(minutes: i64) -> Timestamp {
    Timestamp(T0 + minutes * MINUTE_MS)
}

fn name(s: &str) -> SeriesName {
    SeriesName::parse(s).unwrap()
}

#[test]
fn series_names_are_parsed_and_explained() {
    for ok in [
        "cpu",
        "memory",
        "swap",
        "load",
        "fs:/",
        "fs:/var/lib/a b",
        "disk_read:sda",
        "disk_write:nvme0n1",
        "net_rx:eth0",
        "net_tx:br-1:2",
    ] {
        assert_eq!(name(ok).as_str(), ok);
    }
    assert_eq!(name("fs:/home").subject(), Some("/home"));
    assert_eq!(name("net_tx:br-1:2").subject(), Some("br-1:2"));
    assert_eq!(name("cpu").subject(), None);
    assert_eq!(name("disk_read:sda").unit(), Unit::BytesPerSecond);
    assert_eq!(name("fs:/").unit(), Unit::Percent);
    assert_eq!(name("load").unit(), Unit::Load);
    assert!(matches!(
        SeriesName::parse("temperature"),
        Err(SeriesNameError::Unknown(_))
    ));
    assert!(matches!(
        SeriesName::parse("cpu:0"),
        Err(SeriesNameError::Unknown(_))
    ));
    for no_subject in ["fs", "fs:", "net_rx"] {
        assert!(
            matches!(
                SeriesName::parse(no_subject),
                Err(SeriesNameError::NoSubject(_))
            ),
            "{no_subject}"
        );
    }
    assert_eq!(
        SeriesName::parse("fs:/a\nb"),
        Err(SeriesNameError::BadSubject(LimitError::ControlCharacter {
            field: "series subject"
        }))
    );
    let message = SeriesName::parse("bogus").unwrap_err().to_string();
    assert!(message.contains("fs:MOUNT") && message.contains("net_rx:INTERFACE"));
    // On the wire a name is its text, and a bad one is refused when read.
    assert_eq!(serde_json::to_string(&name("fs:/")).unwrap(), r#""fs:/""#);
    assert!(serde_json::from_str::<SeriesName>(r#""nope""#).is_err());
}

#[test]
fn a_sample_becomes_series_values() {
    let m = Metrics {
        cpu_percent: 12.5,
        memory_used_bytes: 3 << 30,
        memory_total_bytes: 12 << 30,
        swap_used_bytes: 0,
        swap_total_bytes: 0,
        load_1m: 0.75,
        uptime_secs: 10,
        filesystems: vec![
            FilesystemUsage {
                mount_point: "/".into(),
                total_bytes: 200,
                used_bytes: 50,
            },
            FilesystemUsage {
                mount_point: "/empty".into(),
                total_bytes: 0,
                used_bytes: 0,
            },
        ],
        disks: vec![DiskIo {
            device: "sda".into(),
            read_bytes_per_sec: 4096,
            write_bytes_per_sec: 512,
        }],
        networks: vec![NetThroughput {
            interface: "eth0".into(),
            rx_bytes_per_sec: 1000,
            tx_bytes_per_sec: 20,
        }],
    };
    let sample = Sample::of(at(0), &m);
    let values: BTreeMap<&str, f64> = sample
        .values
        .iter()
        .map(|(n, v)| (n.as_str(), *v))
        .collect();
    let expected: BTreeMap<&str, f64> = [
        ("cpu", 12.5),
        ("memory", 25.0),
        ("load", 0.75),
        ("fs:/", 25.0),
        ("disk_read:sda", 4096.0),
        ("disk_write:sda", 512.0),
        ("net_rx:eth0", 1000.0),
        ("net_tx:eth0", 20.0),
    ]
    .into_iter()
    .collect();
    // No swap (size 0) and an empty filesystem have no series.
    assert_eq!(values, expected);
}

#[test]
fn sample_values_are_kept_in_range() {
    let m = Metrics {
        cpu_percent: f32::NAN,
        memory_used_bytes: 20,
        memory_total_bytes: 10,
        swap_used_bytes: 1,
        swap_total_bytes: 4,
        load_1m: -3.0,
        filesystems: vec![
            FilesystemUsage {
                mount_point: "/".into(),
                total_bytes: 10,
                used_bytes: 5,
            },
            // Twice the same mount point: one series, the first value.
            FilesystemUsage {
                mount_point: "/".into(),
                total_bytes: 10,
                used_bytes: 10,
            },
        ],
        ..Default::default()
    };
    let sample = Sample::of(at(0), &m);
    let get = |s: &str| {
        sample
            .values
            .iter()
            .find(|(n, _)| n.as_str() == s)
            .map(|(_, v)| *v)
    };
    assert_eq!(get("cpu"), Some(0.0));
    assert_eq!(get("memory"), Some(100.0));
    assert_eq!(get("swap"), Some(25.0));
    assert_eq!(get("load"), Some(0.0));
    assert_eq!(get("fs:/"), Some(50.0));
    assert_eq!(sample.values.len(), 5);
}

fn sample(minute: i64, values: &[(&str, f64)]) -> Sample {
    Sample {
        at: at(minute),
        values: values.iter().map(|(n, v)| (name(n), *v)).collect(),
    }
}

#[test]
fn roll_up_averages_and_maxima_per_bucket() {
    let samples = vec![
        sample(0, &[("cpu", 10.0), ("load", 1.0)]),
        sample(1, &[("cpu", 30.0), ("load", 3.0)]),
        // A disk that appears mid-bucket averages over its own samples.
        sample(4, &[("cpu", 20.0), ("load", 2.0), ("disk_read:sda", 100.0)]),
        sample(5, &[("cpu", 90.0)]),
        // Out of order: placed by its time.
        sample(2, &[("cpu", 40.0)]),
    ];
    let rolled = roll_up(&samples, FIVE_MINUTES_MS);
    assert_eq!(rolled.len(), 2);
    assert_eq!(rolled[0].at, at(0));
    assert_eq!(rolled[0].samples, 4);
    let stats: BTreeMap<&str, Stat> = rolled[0]
        .series
        .iter()
        .map(|(n, s)| (n.as_str(), *s))
        .collect();
    assert_eq!(
        stats["cpu"],
        Stat {
            avg: 25.0,
            max: 40.0
        }
    );
    assert_eq!(stats["load"], Stat { avg: 2.0, max: 3.0 });
    assert_eq!(
        stats["disk_read:sda"],
        Stat {
            avg: 100.0,
            max: 100.0
        }
    );
    assert_eq!(rolled[1].at, at(5));
    assert_eq!(rolled[1].samples, 1);
    assert_eq!(
        rolled[1].series,
        vec![(
            name("cpu"),
            Stat {
                avg: 90.0,
                max: 90.0
            }
        )]
    );
    assert!(roll_up::<SeriesName>(&[], HOUR_MS).is_empty());
}

#[test]
fn buckets_are_aligned_to_the_epoch_in_utc() {
    assert_eq!(
        bucket_start(Timestamp(T0 + 7 * MINUTE_MS + 5), FIVE_MINUTES_MS),
        at(5)
    );
    assert_eq!(bucket_start(at(59), HOUR_MS), at(0));
    assert_eq!(bucket_start(at(60), HOUR_MS), at(60));
    // Before 1970 too (floor, not truncation toward zero).
    assert_eq!(
        bucket_start(Timestamp(-1), FIVE_MINUTES_MS),
        Timestamp(-FIVE_MINUTES_MS)
    );
}

fn point(minute: i64, avg: f64, max: f64, weight: u32) -> Point {
    Point {
        at: at(minute),
        avg,
        max,
        weight,
    }
}

#[test]
fn merging_weights_averages_and_keeps_maxima() {
    // A bucket rolled with 4 samples, and a late sample of the same bucket.
    let merged = merge(
        &[
            point(0, 10.0, 20.0, 4),
            point(3, 60.0, 60.0, 1),
            point(5, 1.0, 1.0, 5),
        ],
        FIVE_MINUTES_MS,
    );
    assert_eq!(merged, vec![point(0, 20.0, 60.0, 5), point(5, 1.0, 1.0, 5)]);
}

#[test]
fn downsampling_bounds_the_points_and_keeps_peaks() {
    // A day of samples a minute apart with one spike.
    let points: Vec<Point> = (0..1440)
        .map(|m| {
            let v = if m == 700 { 100.0 } else { 10.0 };
            Point::sample(at(m), v)
        })
        .collect();
    let (width, out) = downsample(&points, at(0), at(1440), MINUTE_MS, 500);
    assert!(out.len() <= 500, "{}", out.len());
    assert_eq!(width, 3 * MINUTE_MS);
    assert_eq!(out.len(), 480);
    assert!(out.iter().all(|p| p.weight == 3));
    let spike = out.iter().find(|p| p.max == 100.0).unwrap();
    assert_eq!(spike.at, at(699));
    assert!((spike.avg - 40.0).abs() < 1e-9);
    // Few enough already: unchanged.
    let (width, same) = downsample(&points[..60], at(0), at(60), MINUTE_MS, 500);
    assert_eq!((width, same.len()), (MINUTE_MS, 60));
    // Whatever the alignment, the bound holds.
    for max in [1, 2, 7, 499] {
        let (_, out) = downsample(&points[13..1000], at(13), at(1000), MINUTE_MS, max);
        assert!(out.len() <= max, "{max}: {}", out.len());
    }
}

fn days(n: i64) -> i64 {
    n * DAY_MS
}

#[test]
fn each_range_is_read_at_the_resolution_it_needs() {
    let keep = History::default();
    let now = Timestamp(T0 + days(400));
    let range = |ms: i64| keep.resolution_for(Timestamp(now.0 - ms), now, now);
    assert_eq!(range(HOUR_MS), Resolution::Raw);
    assert_eq!(range(days(1)), Resolution::Raw);
    assert_eq!(range(days(7)), Resolution::FiveMinutes);
    assert_eq!(range(days(30)), Resolution::Hourly);
    assert_eq!(range(days(365)), Resolution::Hourly);
    // Short, but older than full resolution is kept: the finest still kept.
    let old_hour = |ago: i64| {
        let from = Timestamp(now.0 - ago);
        keep.resolution_for(from, from.plus_millis(HOUR_MS), now)
    };
    assert_eq!(old_hour(days(3)), Resolution::FiveMinutes);
    assert_eq!(old_hour(days(40)), Resolution::Hourly);
    assert_eq!(old_hour(days(900)), Resolution::Hourly);
    // Retention decides: six hours three days ago read samples when they are kept a week.
    let long_raw = History {
        raw_ms: days(7),
        ..History::default()
    };
    let from = Timestamp(now.0 - days(3));
    let to = from.plus_millis(6 * HOUR_MS);
    assert_eq!(keep.resolution_for(from, to, now), Resolution::FiveMinutes);
    assert_eq!(long_raw.resolution_for(from, to, now), Resolution::Raw);
}

#[test]
fn retention_settings_are_checked() {
    assert_eq!(History::default().validate(), Ok(()));
    let short = History {
        raw_ms: HOUR_MS,
        ..History::default()
    };
    assert_eq!(
        short.validate(),
        Err(RetentionError::RawTooShort("[retention] metrics_raw_hours"))
    );
    let upside_down = History {
        hourly_ms: days(7),
        ..History::default()
    };
    assert!(
        upside_down
            .validate()
            .unwrap_err()
            .to_string()
            .contains("metrics_hourly_days")
    );
}

#[test]
fn roll_ups_wait_for_the_grace_and_go_in_bounded_steps() {
    // At 00:06:59 the bucket 00:00–00:05 is not rolled yet; at 00:07 it is.
    assert_eq!(
        rollup_target(Timestamp(at(7).0 - 1)),
        at(0),
        "grace {ROLLUP_GRACE_MS}"
    );
    assert_eq!(rollup_target(at(7)), at(5));
    assert_eq!(next_step(at(5), at(7)), None);
    let step = next_step(at(55), at(72)).unwrap();
    assert_eq!(
        (step.rolled_until, step.read_from, step.until),
        (at(55), at(0), at(70))
    );
    // Far behind: six hours at a time.
    let step = next_step(at(0), at(3 * 24 * 60)).unwrap();
    assert_eq!(step.until, at(6 * 60));
}

#[test]
fn late_samples_move_the_watermark_back_and_old_ones_are_not_kept() {
    let now = at(600);
    assert_eq!(reroll_from([now, Timestamp(now.0 - 5_000)], now), None);
    assert_eq!(
        reroll_from([now, at(593), at(512), at(560)], now),
        Some(at(510))
    );
    let keep = History::default();
    assert!(keep.accepts(now, now));
    assert!(!keep.accepts(now.plus_millis(1), now));
    assert!(keep.accepts(Timestamp(now.0 - 47 * HOUR_MS), now));
    assert!(!keep.accepts(Timestamp(now.0 - 47 * HOUR_MS - 1), now));
}

#[test]
fn pruning_keeps_what_the_next_step_reads() {
    let keep = History::default();
    let now = Timestamp(T0 + days(400));
    let up_to_date = keep.prune(now, rollup_target(now));
    assert_eq!(up_to_date.raw_before, Timestamp(now.0 - 48 * HOUR_MS));
    assert_eq!(up_to_date.five_minutes_before, Timestamp(now.0 - days(30)));
    assert_eq!(up_to_date.hourly_before, Timestamp(now.0 - days(365)));
    // A watermark moved back three days: its hour's samples stay.
    let behind = Timestamp(now.0 - days(3) + 25 * MINUTE_MS);
    assert_eq!(
        keep.prune(now, behind).raw_before,
        bucket_start(behind, HOUR_MS)
    );
}

/// The whole schedule against a model store: samples arrive (some late), steps run every
/// minute, and in the end every bucket equals the roll-up of all its samples at once.
#[test]
fn steps_and_late_samples_end_in_the_roll_up_of_everything() {
    let keep = History::default();
    let mut stored: Vec<Sample> = Vec::new();
    let mut five: BTreeMap<Timestamp, Rolled<SeriesName>> = BTreeMap::new();
    let mut hourly: BTreeMap<Timestamp, Rolled<SeriesName>> = BTreeMap::new();
    let mut watermark = at(0);
    let value = |m: i64| ((m * 37) % 100) as f64;
    // A device checks in every minute for three hours; between minutes 70 and 100 its
    // reports are queued and arrive together at minute 100.
    let mut queued = Vec::new();
    for minute in 0..180 {
        let s = sample(minute, &[("cpu", value(minute))]);
        let arriving = if (70..100).contains(&minute) {
            queued.push(s);
            Vec::new()
        } else if minute == 100 {
            queued.push(s);
            std::mem::take(&mut queued)
        } else {
            vec![s]
        };
        let now = at(minute).plus_millis(500);
        let times: Vec<Timestamp> = arriving.iter().map(|s| s.at).collect();
        assert!(times.iter().all(|t| keep.accepts(*t, now)));
        if let Some(back) = reroll_from(times, now) {
            watermark = watermark.min(back);
        }
        stored.extend(arriving);
        while let Some(step) = next_step(watermark, now) {
            let rolled = step.roll(&stored);
            for r in rolled.five_minutes {
                five.insert(r.at, r);
            }
            for r in rolled.hourly {
                hourly.insert(r.at, r);
            }
            watermark = step.until;
        }
    }
    let end = rollup_target(at(179).plus_millis(500));
    let done: Vec<Sample> = stored.iter().filter(|s| s.at < end).cloned().collect();
    let expected_five: Vec<_> = roll_up(&done, FIVE_MINUTES_MS);
    assert_eq!(five.into_values().collect::<Vec<_>>(), expected_five);
    let expected_hourly: Vec<_> = roll_up(&done, HOUR_MS);
    assert_eq!(hourly.into_values().collect::<Vec<_>>(), expected_hourly);
    assert_eq!(watermark, end);
}
