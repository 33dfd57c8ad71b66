//! Contract: devices.

use super::*;

/// Four devices: distinct names (mixed case), enrollment times, check-ins and OSes, and tags.
async fn seed_fleet(store: &Store) {
    enroll_at(store, "d1", "web-1", 4_000, 60).await;
    enroll_at(store, "d2", "Web-2", 1_000, 60).await;
    enroll_at(store, "d3", "db_main", 3_000, 60).await;
    enroll_at(store, "d4", "dbxmain", 2_000, 60).await;
    report_os(store, "d1", "Debian GNU/Linux", "12", 10_000).await;
    report_os(store, "d2", "Debian GNU/Linux", "11", 30_000).await;
    report_os(store, "d3", "Alpine Linux", "3.19", 20_000).await;
    // d4 never checks in: no OS, no last_seen.
    store
        .set_device_tags("d1", &["prod".into(), "web".into()])
        .await
        .unwrap();
    store.set_device_tags("d2", &["web".into()]).await.unwrap();
    store
        .set_device_tags("d3", &["prod".into(), "db".into()])
        .await
        .unwrap();
}

async fn list(store: &Store, filter: DeviceFilter) -> (Vec<String>, u64) {
    let (devices, total) = store.all().list_devices(&filter).await.unwrap();
    (devices.into_iter().map(|d| d.id).collect(), total)
}

fn filter() -> DeviceFilter {
    DeviceFilter {
        limit: 100,
        ..Default::default()
    }
}

contract_test!(list_devices_filters, |db: TestDb| async move {
    seed_fleet(&db).await;

    let by_name = |n: &str| DeviceFilter {
        name: Some(n.to_string()),
        ..filter()
    };
    assert_eq!(
        list(&db, by_name("WEB")).await,
        (vec!["d1".into(), "d2".into()], 2)
    );
    assert_eq!(list(&db, by_name("b-2")).await, (vec!["d2".into()], 1));
    // `_` is a literal underscore, not "any character".
    assert_eq!(list(&db, by_name("db_")).await, (vec!["d3".into()], 1));
    assert_eq!(list(&db, by_name("%")).await, (vec![], 0));
    assert_eq!(list(&db, by_name("")).await.1, 4);

    let by_os = |o: &str| DeviceFilter {
        os: Some(o.to_string()),
        ..filter()
    };
    // Matched against "os_name os_version".
    assert_eq!(list(&db, by_os("linux 12")).await, (vec!["d1".into()], 1));
    assert_eq!(
        list(&db, by_os("DEBIAN")).await,
        (vec!["d1".into(), "d2".into()], 2)
    );
    assert_eq!(list(&db, by_os("linux")).await.1, 3);

    let by_tag = |t: &str| DeviceFilter {
        tag: Some(t.to_string()),
        ..filter()
    };
    assert_eq!(
        list(&db, by_tag("prod")).await,
        (vec!["d3".into(), "d1".into()], 2)
    );
    // Tags match exactly.
    assert_eq!(list(&db, by_tag("pro")).await, (vec![], 0));
    assert_eq!(list(&db, by_tag("PROD")).await, (vec![], 0));

    let combined = DeviceFilter {
        name: Some("web".into()),
        os: Some("debian".into()),
        tag: Some("prod".into()),
        ..filter()
    };
    assert_eq!(list(&db, combined).await, (vec!["d1".into()], 1));

    // Tags come with every listed device.
    let (devices, _) = db.all().list_devices(&filter()).await.unwrap();
    let tags: Vec<(&str, Vec<&str>)> = devices
        .iter()
        .map(|d| (d.id.as_str(), d.tags.iter().map(String::as_str).collect()))
        .collect();
    assert_eq!(
        tags,
        [
            ("d3", vec!["db", "prod"]),
            ("d4", vec![]),
            ("d1", vec!["prod", "web"]),
            ("d2", vec!["web"]),
        ]
    );
});

contract_test!(list_devices_sorting_and_paging, |db: TestDb| async move {
    seed_fleet(&db).await;
    use DeviceSortKey as K;
    // d1 web-1 enrolled 4000 seen 10000 Debian 12; d2 Web-2 1000 30000 Debian 11;
    // d3 db_main 3000 20000 Alpine 3.19; d4 dbxmain 2000 never seen, no OS.
    let cases: [(K, bool, [&str; 4]); 8] = [
        (K::Name, false, ["d3", "d4", "d1", "d2"]),
        (K::Name, true, ["d2", "d1", "d4", "d3"]),
        (K::LastSeen, false, ["d4", "d1", "d3", "d2"]),
        (K::LastSeen, true, ["d2", "d3", "d1", "d4"]),
        (K::Os, false, ["d4", "d3", "d2", "d1"]),
        (K::Os, true, ["d1", "d2", "d3", "d4"]),
        (K::Enrolled, false, ["d2", "d4", "d3", "d1"]),
        (K::Enrolled, true, ["d1", "d3", "d4", "d2"]),
    ];
    for (sort, desc, want) in cases {
        let f = DeviceFilter {
            sort,
            desc,
            ..filter()
        };
        let (got, total) = list(&db, f.clone()).await;
        assert_eq!(got, want, "sort {sort:?} desc {desc}");
        assert_eq!(total, 4);

        // Paging through one at a time gives the same order, with the full total each time.
        let mut paged = Vec::new();
        for offset in 0..5 {
            let (page, total) = list(
                &db,
                DeviceFilter {
                    offset,
                    limit: 1,
                    ..f.clone()
                },
            )
            .await;
            assert_eq!(total, 4);
            paged.extend(page);
        }
        assert_eq!(paged, want, "paged, sort {sort:?} desc {desc}");
    }

    let (page, total) = list(
        &db,
        DeviceFilter {
            offset: 1,
            limit: 2,
            ..filter()
        },
    )
    .await;
    assert_eq!((page, total), (vec!["d4".into(), "d1".into()], 4));
    let (page, total) = list(
        &db,
        DeviceFilter {
            name: Some("web".into()),
            offset: 1,
            limit: 10,
            ..filter()
        },
    )
    .await;
    assert_eq!((page, total), (vec!["d2".into()], 2));
    let (page, total) = list(
        &db,
        DeviceFilter {
            offset: 10,
            ..filter()
        },
    )
    .await;
    assert_eq!((page, total), (vec![], 4));
});

contract_test!(device_tags_are_replaced, |db: TestDb| async move {
    enroll(&db, "d1", "a").await;
    enroll(&db, "d2", "b").await;
    db.set_device_tags("d1", &["zeta".into(), "alpha".into()])
        .await
        .unwrap();
    db.set_device_tags("d2", &["other".into()]).await.unwrap();
    assert_eq!(db.device_tags("d1").await.unwrap(), ["alpha", "zeta"]);
    assert_eq!(
        db.all().device("d1").await.unwrap().unwrap().tags,
        ["alpha", "zeta"]
    );

    db.set_device_tags("d1", &["mid".into()]).await.unwrap();
    assert_eq!(db.device_tags("d1").await.unwrap(), ["mid"]);
    db.set_device_tags("d1", &[]).await.unwrap();
    assert!(db.device_tags("d1").await.unwrap().is_empty());
    assert_eq!(db.device_tags("d2").await.unwrap(), ["other"]);
    assert!(db.device_tags("nope").await.unwrap().is_empty());
});

contract_test!(devices_named_matches_exactly, |db: TestDb| async move {
    enroll_at(&db, "d1", "dup", 2_000, 60).await;
    enroll_at(&db, "d2", "dup", 1_000, 60).await;
    enroll_at(&db, "d3", "Dup", 500, 60).await;
    enroll_at(&db, "d4", "dupe", 500, 60).await;
    assert_eq!(
        ids(&db.all().devices_named("dup").await.unwrap()),
        ["d2", "d1"]
    );
    // Like every read of a device, it carries the tags.
    db.set_device_tags("d1", &["x".into(), "a".into()])
        .await
        .unwrap();
    let named = db.all().devices_named("dup").await.unwrap();
    assert_eq!(named[1], db.all().device("d1").await.unwrap().unwrap());
    assert_eq!(named[1].tags, ["a", "x"]);
    assert!(named[0].tags.is_empty());
    assert_eq!(ids(&db.all().devices_named("Dup").await.unwrap()), ["d3"]);
    assert!(db.all().devices_named("du").await.unwrap().is_empty());
    assert!(db.all().devices_named("du%").await.unwrap().is_empty());
});

contract_test!(revoke_device_once, |db: TestDb| async move {
    enroll(&db, "d1", "a").await;
    db.revoke_device("d1", ts(5_000)).await.unwrap();
    assert_eq!(
        db.all().device("d1").await.unwrap().unwrap().revoked_at,
        Some(ts(5_000))
    );
    assert!(matches!(
        db.revoke_device("d1", ts(6_000)).await,
        Err(StoreError::NotFound)
    ));
    // The first revocation time stands.
    assert_eq!(
        db.all().device("d1").await.unwrap().unwrap().revoked_at,
        Some(ts(5_000))
    );
    assert!(matches!(
        db.revoke_device("nope", ts(6_000)).await,
        Err(StoreError::NotFound)
    ));
});

contract_test!(fleet_stats_counts, |db: TestDb| async move {
    assert_eq!(
        db.scoped(&Scope::AllDevices)
            .fleet_stats(ts(0))
            .await
            .unwrap(),
        Default::default()
    );

    let now: i64 = 10_000_000;
    // Interval 60 s: online while last seen at most 150 s ago.
    enroll_at(&db, "fresh", "fresh", 1_000, 60).await;
    enroll_at(&db, "edge", "edge", 1_000, 60).await;
    enroll_at(&db, "stale", "stale", 1_000, 60).await;
    enroll_at(&db, "slow", "slow", 1_000, 600).await;
    enroll_at(&db, "pending", "pending", 1_000, 60).await;
    enroll_at(&db, "gone", "gone", 1_000, 60).await;
    enroll_at(&db, "gone-pending", "gone-pending", 1_000, 60).await;
    report_os(&db, "fresh", "Debian GNU/Linux", "12", now - 60_000).await;
    report_os(&db, "edge", "Debian GNU/Linux", "12", now - 150_000).await;
    report_os(&db, "stale", "Alpine Linux", "3.19", now - 150_001).await;
    // Interval 600 s: 1000 s ago is still online.
    check_in(&db, "slow", now - 1_000_000).await;
    report_os(&db, "gone", "Debian GNU/Linux", "12", now - 1_000).await;
    db.revoke_device("gone", ts(now)).await.unwrap();
    db.revoke_device("gone-pending", ts(now)).await.unwrap();

    let stats = db
        .scoped(&Scope::AllDevices)
        .fleet_stats(ts(now))
        .await
        .unwrap();
    assert_eq!(stats.total, 7);
    assert_eq!(stats.online, 3, "{stats:?}");
    assert_eq!(stats.revoked, 2);
    assert_eq!(stats.never_seen, 1);
    let offline = stats.total - stats.online - stats.revoked - stats.never_seen;
    assert_eq!(offline, 1);
    // Revoked devices are not in the breakdown; no OS reads "Unknown". Most common first,
    // ties by OS name (the empty one first).
    assert_eq!(
        stats.os_breakdown,
        [
            ("Unknown".to_string(), 2),
            ("Debian GNU/Linux 12".to_string(), 2),
            ("Alpine Linux 3.19".to_string(), 1),
        ]
    );

    // The same answer as the domain rule, device by device.
    let (devices, _) = db.all().list_devices(&filter()).await.unwrap();
    let online = devices
        .iter()
        .filter(|d| {
            DeviceStatus::derive(
                ts(now),
                d.last_seen_at,
                d.checkin_interval_secs,
                d.revoked_at.is_some(),
            ) == DeviceStatus::Online
        })
        .count() as u64;
    assert_eq!(online, stats.online);

    // Later, everyone has gone quiet; earlier, the stale one was still online.
    let later = db
        .scoped(&Scope::AllDevices)
        .fleet_stats(ts(now + 10_000_000))
        .await
        .unwrap();
    assert_eq!((later.online, later.revoked, later.never_seen), (0, 2, 1));
    let earlier = db
        .scoped(&Scope::AllDevices)
        .fleet_stats(ts(now - 1))
        .await
        .unwrap();
    assert_eq!(earlier.online, 4);
});

contract_test!(recent_changes_newest_first, |db: TestDb| async move {
    enroll_at(&db, "d1", "first", 1_000, 60).await;
    enroll_at(&db, "d2", "second", 2_000, 60).await;
    let mut c = bare_commit("d1", 0, 1, 3_000);
    // Stored order, not the `at` value, decides "newest".
    c.changes = vec![
        (
            ts(3_000),
            event(ChangeKind::AdminAdded, "mallory", None, None),
        ),
        (
            ts(2_500),
            event(
                ChangeKind::ListenerOpened,
                "tcp/0.0.0.0:4444",
                None,
                Some("nc"),
            ),
        ),
    ];
    db.commit_ingest(&c).await.unwrap();
    let mut c = bare_commit("d2", 0, 1, 4_000);
    c.changes = vec![(
        ts(4_000),
        event(
            ChangeKind::PackageUpgraded,
            "openssl",
            Some("3.0.1"),
            Some("3.0.2"),
        ),
    )];
    db.commit_ingest(&c).await.unwrap();

    let recent = db
        .scoped(&Scope::AllDevices)
        .recent_changes(10)
        .await
        .unwrap();
    let got: Vec<(&str, &str, ChangeKind)> = recent
        .iter()
        .map(|c| (c.device_id.as_str(), c.device_name.as_str(), c.event.kind))
        .collect();
    assert_eq!(
        got,
        [
            ("d2", "second", ChangeKind::PackageUpgraded),
            ("d1", "first", ChangeKind::ListenerOpened),
            ("d1", "first", ChangeKind::AdminAdded),
            ("d2", "second", ChangeKind::Enrolled),
            ("d1", "first", ChangeKind::Enrolled),
        ]
    );
    assert_eq!(recent[0].event.from.as_deref(), Some("3.0.1"));
    assert_eq!(recent[1].event.to.as_deref(), Some("nc"));
    assert_eq!(recent[1].at, ts(2_500));
    assert!(recent.windows(2).all(|w| w[0].id > w[1].id));
    assert_eq!(
        db.scoped(&Scope::AllDevices)
            .recent_changes(2)
            .await
            .unwrap(),
        recent[..2]
    );
});

contract_test!(changes_filter_by_kind_and_page, |db: TestDb| async move {
    enroll(&db, "d1", "a").await;
    enroll(&db, "d2", "b").await;
    let mut c = bare_commit("d1", 0, 1, 3_000);
    c.changes = (0..5)
        .map(|i| {
            (
                ts(3_000 + i),
                event(
                    ChangeKind::PackageInstalled,
                    &format!("p{i}"),
                    None,
                    Some("1"),
                ),
            )
        })
        .chain([(ts(4_000), event(ChangeKind::Rebooted, "boot", None, None))])
        .collect();
    db.commit_ingest(&c).await.unwrap();

    let (all, total) = db.all().changes("d1", None, 0, 100).await.unwrap();
    assert_eq!((all.len(), total), (7, 7));
    let (installed, total) = db
        .all()
        .changes("d1", Some("package_installed"), 0, 100)
        .await
        .unwrap();
    assert_eq!(total, 5);
    let subjects: Vec<&str> = installed.iter().map(|c| c.event.subject.as_str()).collect();
    assert_eq!(subjects, ["p4", "p3", "p2", "p1", "p0"]);
    let (page, total) = db
        .all()
        .changes("d1", Some("package_installed"), 1, 2)
        .await
        .unwrap();
    assert_eq!(total, 5);
    let subjects: Vec<&str> = page.iter().map(|c| c.event.subject.as_str()).collect();
    assert_eq!(subjects, ["p3", "p2"]);
    let (rebooted, total) = db
        .all()
        .changes("d1", Some("rebooted"), 0, 100)
        .await
        .unwrap();
    assert_eq!((rebooted.len(), total), (1, 1));
    // d2's enrollment is not d1's business; an unknown kind matches nothing.
    assert_eq!(
        db.all()
            .changes("d1", Some("enrolled"), 0, 100)
            .await
            .unwrap()
            .1,
        1
    );
    assert_eq!(db.all().changes("d2", None, 0, 100).await.unwrap().1, 1);
    assert_eq!(
        db.all()
            .changes("d1", Some("nonsense"), 0, 100)
            .await
            .unwrap()
            .1,
        0
    );
});
