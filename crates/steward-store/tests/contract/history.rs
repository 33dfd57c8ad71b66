//! Contract: metrics history — samples written with a check-in, a device's series read back
//! through a scope, roll-ups claimed, written and pruned.

use steward_core::history::keeping::{HOUR_MS, MINUTE_MS, next_step};
use steward_core::history::{History, Point, Resolution, Sample, SeriesName};
use steward_store::{MAX_SERIES_PER_DEVICE, MetricHistoryWrite, RollupClaim, RollupWrite};

use super::*;

/// 2026-01-05 00:00 UTC: hours and 5-minute buckets start here.
const T0: i64 = 1_767_571_200_000;

fn minute(m: i64) -> Timestamp {
    ts(T0 + m * MINUTE_MS)
}

fn name(s: &str) -> SeriesName {
    SeriesName::parse(s).unwrap()
}

fn sample(m: i64, values: &[(&str, f64)]) -> Sample {
    Sample {
        at: minute(m),
        values: values.iter().map(|(n, v)| (name(n), *v)).collect(),
    }
}

/// Commits a check-in carrying `samples` (and `reroll_from`) for the device.
async fn record(db: &Store, id: &str, samples: Vec<Sample>, reroll_from: Option<Timestamp>) {
    let seq = db.device_ingest_state(id).await.unwrap().unwrap().last_seq;
    let seen = samples.iter().map(|s| s.at.0).max().unwrap_or(T0);
    let mut c = bare_commit(id, seq, seq + 1, seen);
    // The latest metrics go with the samples (on SQLite in one statement call).
    c.metrics = Some((ts(seen), metrics(seq as f32, seq + 1)));
    c.history = MetricHistoryWrite {
        samples,
        reroll_from,
    };
    db.commit_ingest(&c).await.unwrap();
}

async fn points(
    db: &Store,
    id: &str,
    series: &[&str],
    resolution: Resolution,
    from: Timestamp,
    to: Timestamp,
) -> Vec<Vec<Point>> {
    let view = db.all();
    let catalog = view.metric_catalog(id).await.unwrap().unwrap();
    let names: Vec<SeriesName> = series.iter().map(|s| name(s)).collect();
    view.metric_points(id, &catalog, &names, resolution, from, to)
        .await
        .unwrap()
}

fn values(points: &[Point]) -> Vec<(i64, f64)> {
    points
        .iter()
        .map(|p| ((p.at.0 - T0) / MINUTE_MS, p.avg))
        .collect()
}

contract_test!(
    a_check_in_keeps_every_sample_and_its_series,
    |db: TestDb| async move {
        enroll(&db, "d1", "one").await;
        assert_eq!(db.all().metric_catalog("d1").await.unwrap(), None);
        record(
            &db,
            "d1",
            vec![
                sample(0, &[("cpu", 12.346), ("fs:/", 40.0)]),
                sample(
                    1,
                    &[("cpu", 50.0), ("fs:/", 40.5), ("net_rx:eth0", 123_456.0)],
                ),
            ],
            None,
        )
        .await;
        // A later check-in brings another series; a sample sent twice is kept once.
        record(
            &db,
            "d1",
            vec![
                sample(1, &[("cpu", 99.0)]),
                sample(2, &[("cpu", 7.0), ("disk_write:sda", 4096.0)]),
            ],
            None,
        )
        .await;
        let (at, latest) = db.all().metrics("d1").await.unwrap().unwrap();
        assert_eq!((at, latest.memory_used_bytes), (minute(2), 2));
        let catalog = db.all().metric_catalog("d1").await.unwrap().unwrap();
        let listed: Vec<&str> = catalog.names().iter().map(|n| n.as_str()).collect();
        assert_eq!(listed, ["cpu", "fs:/", "net_rx:eth0", "disk_write:sda"]);
        // The watermark starts at the first sample's bucket.
        assert_eq!(catalog.rolled_until, minute(0));

        let read = points(
            &db,
            "d1",
            &["cpu", "fs:/", "net_rx:eth0", "disk_write:sda", "swap"],
            Resolution::Raw,
            minute(0),
            minute(60),
        )
        .await;
        assert_eq!(values(&read[0]), [(0, 12.35), (1, 50.0), (2, 7.0)]);
        assert_eq!(values(&read[1]), [(0, 40.0), (1, 40.5)]);
        assert_eq!(values(&read[2]), [(1, 123_456.0)]);
        assert_eq!(values(&read[3]), [(2, 4096.0)]);
        assert!(read[4].is_empty(), "a series the device does not have");
        // The range is [from, to).
        let narrow = points(&db, "d1", &["cpu"], Resolution::Raw, minute(1), minute(2)).await;
        assert_eq!(values(&narrow[0]), [(1, 50.0)]);
    }
);

contract_test!(
    series_are_read_only_within_the_scope,
    |db: TestDb| async move {
        enroll(&db, "d1", "shop-pc").await;
        db.create_group("g1", "Shop", ts(1)).await.unwrap();
        db.create_group("g2", "Office", ts(1)).await.unwrap();
        db.set_device_group("d1", Some("g1")).await.unwrap();
        record(&db, "d1", vec![sample(0, &[("cpu", 1.0)])], None).await;
        let office = Scope::Groups(vec!["g2".into()]);
        assert_eq!(db.scoped(&office).metric_catalog("d1").await.unwrap(), None);
        let shop = Scope::Groups(vec!["g1".into()]);
        let catalog = db
            .scoped(&shop)
            .metric_catalog("d1")
            .await
            .unwrap()
            .unwrap();
        // A catalog read in one scope gives nothing through another.
        let through_office = db
            .scoped(&office)
            .metric_points(
                "d1",
                &catalog,
                &[name("cpu")],
                Resolution::Raw,
                minute(0),
                minute(9),
            )
            .await
            .unwrap();
        assert!(through_office[0].is_empty());
        let through_shop = db
            .scoped(&shop)
            .metric_points(
                "d1",
                &catalog,
                &[name("cpu")],
                Resolution::Raw,
                minute(0),
                minute(9),
            )
            .await
            .unwrap();
        assert_eq!(through_shop[0].len(), 1);
    }
);

contract_test!(
    late_samples_move_the_watermark_back_only,
    |db: TestDb| async move {
        enroll(&db, "d1", "one").await;
        record(&db, "d1", vec![sample(60, &[("cpu", 1.0)])], None).await;
        let watermark = |db: Store| async move {
            db.all()
                .metric_catalog("d1")
                .await
                .unwrap()
                .unwrap()
                .rolled_until
        };
        assert_eq!(watermark(db.store.clone()).await, minute(60));
        record(
            &db,
            "d1",
            vec![sample(12, &[("cpu", 2.0)])],
            Some(minute(10)),
        )
        .await;
        assert_eq!(watermark(db.store.clone()).await, minute(10));
        record(
            &db,
            "d1",
            vec![sample(61, &[("cpu", 3.0)])],
            Some(minute(30)),
        )
        .await;
        assert_eq!(watermark(db.store.clone()).await, minute(10));
    }
);

contract_test!(
    a_device_keeps_a_bounded_number_of_series,
    |db: TestDb| async move {
        enroll(&db, "d1", "one").await;
        let many: Vec<(String, f64)> = (0..MAX_SERIES_PER_DEVICE + 10)
            .map(|i| (format!("fs:/mnt/{i:04}"), 1.0))
            .collect();
        let refs: Vec<(&str, f64)> = many.iter().map(|(n, v)| (n.as_str(), *v)).collect();
        record(&db, "d1", vec![sample(0, &refs)], None).await;
        let catalog = db.all().metric_catalog("d1").await.unwrap().unwrap();
        assert_eq!(catalog.names().len(), MAX_SERIES_PER_DEVICE);
        let kept = points(
            &db,
            "d1",
            &["fs:/mnt/0000", "fs:/mnt/0265"],
            Resolution::Raw,
            minute(0),
            minute(1),
        )
        .await;
        assert_eq!(kept[0].len(), 1);
        assert!(kept[1].is_empty());
    }
);

contract_test!(
    servers_sharing_a_database_number_series_alike,
    |db: TestDb| async move {
        // Each store keeps its own copy of the series lists: a second server adding a
        // series must not lead the first to number another series the same way.
        let other = Store::connect(&db.url).await.unwrap();
        enroll(&db, "d1", "one").await;
        record(&db, "d1", vec![sample(0, &[("cpu", 1.0)])], None).await;
        record(
            &other,
            "d1",
            vec![sample(1, &[("cpu", 2.0), ("fs:/a", 10.0)])],
            None,
        )
        .await;
        record(
            &db,
            "d1",
            vec![sample(2, &[("cpu", 3.0), ("fs:/b", 20.0)])],
            None,
        )
        .await;
        record(
            &other,
            "d1",
            vec![sample(3, &[("fs:/a", 11.0), ("fs:/b", 21.0)])],
            None,
        )
        .await;
        let read = points(
            &db,
            "d1",
            &["fs:/a", "fs:/b", "cpu"],
            Resolution::Raw,
            minute(0),
            minute(9),
        )
        .await;
        assert_eq!(values(&read[0]), [(1, 10.0), (3, 11.0)]);
        assert_eq!(values(&read[1]), [(2, 20.0), (3, 21.0)]);
        assert_eq!(values(&read[2]), [(0, 1.0), (1, 2.0), (2, 3.0)]);
        other.close().await;
    }
);

/// Runs one roll-up step for every claimed device, as the server's task does.
async fn roll_all(db: &Store, now: Timestamp, keep: &History) -> usize {
    let target = steward_core::history::keeping::rollup_target(now);
    let claims = db
        .claim_metric_rollups(now, target, 100, 60_000)
        .await
        .unwrap();
    let mut steps = Vec::new();
    for claim in claims {
        let step = next_step(claim.rolled_until, now).unwrap();
        let samples = db
            .metric_samples(&claim, step.read_from, step.until)
            .await
            .unwrap();
        steps.push(RollupWrite {
            rollups: step.roll(&samples.samples),
            names: samples.names,
            until: step.until,
            prune: keep.prune(now, step.until),
            claim,
        });
    }
    db.write_metric_rollups(&steps).await.unwrap()
}

contract_test!(
    roll_ups_are_claimed_written_read_and_pruned,
    |db: TestDb| async move {
        enroll(&db, "d1", "one").await;
        // Two hours of samples, a minute apart: cpu = the minute within the hour.
        let samples: Vec<Sample> = (0..120)
            .map(|m| sample(m, &[("cpu", (m % 60) as f64), ("disk_read:sda", 1000.0)]))
            .collect();
        for chunk in samples.chunks(100) {
            record(&db, "d1", chunk.to_vec(), None).await;
        }
        let keep = History::default();
        let now = minute(125);
        // Steps of at most six hours: one step reaches 02:00 (the bucket ending at 02:00 is
        // 3 minutes old, past the grace).
        assert_eq!(roll_all(&db, now, &keep).await, 1);
        assert_eq!(roll_all(&db, now, &keep).await, 0, "up to date");
        let catalog = db.all().metric_catalog("d1").await.unwrap().unwrap();
        assert_eq!(catalog.rolled_until, minute(120));

        let five = points(
            &db,
            "d1",
            &["cpu"],
            Resolution::FiveMinutes,
            minute(0),
            minute(200),
        )
        .await;
        assert_eq!(five[0].len(), 24);
        assert_eq!(
            five[0][1],
            Point {
                at: minute(5),
                avg: 7.0,
                max: 9.0,
                weight: 5
            }
        );
        let hourly = points(
            &db,
            "d1",
            &["cpu", "disk_read:sda"],
            Resolution::Hourly,
            minute(0),
            minute(200),
        )
        .await;
        assert_eq!(
            hourly[0],
            [
                Point {
                    at: minute(0),
                    avg: 29.5,
                    max: 59.0,
                    weight: 60
                },
                Point {
                    at: minute(60),
                    avg: 29.5,
                    max: 59.0,
                    weight: 60
                },
            ]
        );
        assert_eq!(hourly[1][0].avg, 1000.0);

        // A claimed device is not claimed again while its lease holds…
        let later = minute(131);
        let target = steward_core::history::keeping::rollup_target(later);
        let claims = db
            .claim_metric_rollups(later, target, 10, 60_000)
            .await
            .unwrap();
        assert_eq!(claims.len(), 1);
        assert!(
            db.claim_metric_rollups(later, target, 10, 60_000)
                .await
                .unwrap()
                .is_empty()
        );
        // …and a step claimed before the watermark moved back applies nothing.
        record(
            &db,
            "d1",
            vec![sample(121, &[("cpu", 5.0)])],
            Some(minute(120)),
        )
        .await;
        let late = Sample {
            at: minute(101).plus_millis(30_000),
            values: vec![(name("cpu"), 5.0)],
        };
        record(&db, "d1", vec![late], Some(minute(100))).await;
        let stale = RollupWrite {
            claim: claims[0].clone(),
            names: Vec::new(),
            until: minute(125),
            rollups: Default::default(),
            prune: keep.prune(later, minute(125)),
        };
        assert_eq!(db.write_metric_rollups(&[stale]).await.unwrap(), 0);
        let catalog = db.all().metric_catalog("d1").await.unwrap().unwrap();
        assert_eq!(catalog.rolled_until, minute(100));

        // Pruning: with everything rolled and the clock three days on, the samples go
        // (below the watermark's hour), the roll-ups stay.
        let far = minute(3 * 24 * 60);
        let short = History {
            raw_ms: 2 * HOUR_MS,
            ..History::default()
        };
        let mut rounds = 0;
        while roll_all(&db, far, &short).await > 0 {
            rounds += 1;
        }
        assert!(rounds >= 12, "three days in six-hour steps: {rounds}");
        let raw = points(&db, "d1", &["cpu"], Resolution::Raw, minute(0), far).await;
        assert!(raw[0].is_empty(), "{} samples left", raw[0].len());
        let hourly = points(&db, "d1", &["cpu"], Resolution::Hourly, minute(0), far).await;
        assert_eq!(hourly[0].len(), 3);
        // The hour the late samples fell in was rolled again with them.
        assert_eq!(hourly[0][1].weight, 61);
        let five = points(&db, "d1", &["cpu"], Resolution::FiveMinutes, minute(0), far).await;
        assert!(five[0].len() >= 24);
        assert!(five[0].iter().all(|p| p.at.0 >= T0 && p.at < minute(125)));
    }
);

contract_test!(
    two_servers_claiming_at_once_split_the_devices,
    |db: TestDb| async move {
        for i in 0..20 {
            let id = format!("d{i:02}");
            enroll(&db, &id, &id).await;
            record(&db, &id, vec![sample(0, &[("cpu", 1.0)])], None).await;
        }
        let now = minute(60);
        let target = steward_core::history::keeping::rollup_target(now);
        let (one, two) = tokio::join!(
            db.claim_metric_rollups(now, target, 15, 60_000),
            db.claim_metric_rollups(now, target, 15, 60_000)
        );
        let mut all: Vec<RollupClaim> = one.unwrap().into_iter().chain(two.unwrap()).collect();
        let claimed = all.len();
        all.sort_by_key(|c| c.device);
        all.dedup_by_key(|c| c.device);
        assert_eq!(all.len(), claimed, "a device claimed twice");
        assert_eq!(claimed, 20);
    }
);
