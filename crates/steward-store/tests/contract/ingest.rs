//! Contract: ingest.

use super::*;

/// 500 ordinary packages (three insert chunks) and a few whose names test the search.
fn big_package_list() -> Vec<Package> {
    let mut pkgs: Vec<Package> = (0..500)
        .map(|i| deb(&format!("pkg-{i:04}"), &format!("1.{i}")))
        .collect();
    pkgs.push(deb("LibFoo-Bar", "2.0"));
    pkgs.push(deb("100%_pure", "1"));
    pkgs.push(deb("50%off", "1"));
    pkgs.push(deb("a_b", "1"));
    pkgs.push(deb("axb", "1"));
    pkgs.push(deb("back\\slash", "1"));
    // Same name, another architecture and another source: three distinct rows.
    pkgs.push(pkg("zlib", "1.3", "amd64", PackageSource::Dpkg));
    pkgs.push(pkg("zlib", "1.3", "i386", PackageSource::Dpkg));
    pkgs.push(pkg("zlib", "1.2", "x86_64", PackageSource::Rpm));
    pkgs
}

contract_test!(ingest_full_inventory, |db: TestDb| async move {
    enroll(&db, "d1", "server-1").await;
    let inv = inventory("Debian GNU/Linux", "12", big_package_list());
    assert_eq!(inv.packages.len(), 509);
    let m = metrics(12.5, 4 << 30);
    let commit = IngestCommit {
        device_id: "d1".into(),
        expected_last_seq: 0,
        new_last_seq: 3,
        seen_at: ts(5_000),
        inventory: Some(InventoryWrite::new(inv.clone(), SoftwareWrite::Replace)),
        metrics: Some((ts(4_900), m.clone())),
        history: Default::default(),
        changes: vec![
            (
                ts(4_000),
                event(ChangeKind::PackageInstalled, "pkg-0001", None, Some("1.1")),
            ),
            (
                ts(4_100),
                event(
                    ChangeKind::OsChanged,
                    "os",
                    Some(""),
                    Some("Debian GNU/Linux 12"),
                ),
            ),
        ],
        software_in_step: true,
        detections: Vec::new(),
        agent_stopping: None,
    };
    db.commit_ingest(&commit).await.unwrap();

    assert_eq!(db.all().inventory("d1").await.unwrap(), Some(inv.clone()));
    assert_eq!(db.all().metrics("d1").await.unwrap(), Some((ts(4_900), m)));
    let state = db.device_ingest_state("d1").await.unwrap().unwrap();
    assert_eq!(state.last_seq, 3);
    assert_eq!(state.inventory_hash, inv.hash().0);
    let d = db.all().device("d1").await.unwrap().unwrap();
    assert_eq!(d.os_name, "Debian GNU/Linux");
    assert_eq!(d.os_version, "12");
    assert_eq!(d.last_seen_at, Some(ts(5_000)));

    // Software: everything stored, ordered by name then arch, paged with the full total.
    let (page, total) = db.all().software("d1", None, 0, 1_000).await.unwrap();
    assert_eq!(total, 509);
    assert_eq!(page.len(), 509);
    let zlib: Vec<&SoftwareRecord> = page.iter().filter(|s| s.name == "zlib").collect();
    assert_eq!(zlib.len(), 3);
    assert_eq!(
        zlib[2],
        &SoftwareRecord {
            name: "zlib".into(),
            version: "1.2".into(),
            arch: "x86_64".into(),
            source: "rpm".into(),
        }
    );
    let (page, total) = db.all().software("d1", None, 500, 100).await.unwrap();
    assert_eq!(total, 509);
    assert_eq!(page.len(), 9);
    let (page, total) = db
        .all()
        .software("d1", Some("pkg-00"), 10, 5)
        .await
        .unwrap();
    assert_eq!(total, 100);
    let names: Vec<&str> = page.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        ["pkg-0010", "pkg-0011", "pkg-0012", "pkg-0013", "pkg-0014"]
    );
    assert_eq!(page[0].version, "1.10");
    assert_eq!(page[0].arch, "amd64");
    assert_eq!(page[0].source, "dpkg");
    let (page, total) = db
        .all()
        .software("d1", Some("pkg-00"), 200, 5)
        .await
        .unwrap();
    assert_eq!((page.len(), total), (0, 100));

    // Search is case-insensitive and takes %, _ and \ literally.
    assert_eq!(
        software_names(&db, "d1", Some("libfoo")).await,
        ["LibFoo-Bar"]
    );
    assert_eq!(
        software_names(&db, "d1", Some("FOO-b")).await,
        ["LibFoo-Bar"]
    );
    let mut percent = software_names(&db, "d1", Some("%")).await;
    percent.sort();
    assert_eq!(percent, ["100%_pure", "50%off"]);
    let mut underscore = software_names(&db, "d1", Some("_")).await;
    underscore.sort();
    assert_eq!(underscore, ["100%_pure", "a_b"]);
    assert_eq!(software_names(&db, "d1", Some("a_b")).await, ["a_b"]);
    assert_eq!(software_names(&db, "d1", Some("%_")).await, ["100%_pure"]);
    assert_eq!(software_names(&db, "d1", Some("\\")).await, ["back\\slash"]);
    assert!(software_names(&db, "d1", Some("nothing")).await.is_empty());
    // An empty search is no search.
    assert_eq!(software_names(&db, "d1", Some("")).await.len(), 509);

    // Timeline: the enrollment and both events, newest first, fields round-tripped.
    let changes = all_changes(&db, "d1").await;
    assert_eq!(changes.len(), 3);
    assert_eq!(changes[0].at, ts(4_100));
    assert_eq!(
        changes[0].event,
        event(
            ChangeKind::OsChanged,
            "os",
            Some(""),
            Some("Debian GNU/Linux 12")
        )
    );
    assert_eq!(
        changes[1].event,
        event(ChangeKind::PackageInstalled, "pkg-0001", None, Some("1.1"))
    );
    assert_eq!(changes[2].event.kind, ChangeKind::Enrolled);
    assert!(changes[0].id > changes[1].id && changes[1].id > changes[2].id);

    // Other devices see none of it.
    enroll(&db, "d2", "server-2").await;
    assert_eq!(db.all().software("d2", None, 0, 10).await.unwrap().1, 0);
    assert_eq!(db.all().inventory("d2").await.unwrap(), None);
    assert_eq!(db.all().metrics("d2").await.unwrap(), None);
});

contract_test!(
    software_pages_cover_every_row_once,
    |db: TestDb| async move {
        // Same name and arch from both sources: the order must still be total, or pages overlap
        // and skip rows (PostgreSQL's top-N sort breaks ties differently per LIMIT/OFFSET).
        enroll(&db, "d1", "a").await;
        let mut pkgs = Vec::new();
        for i in 0..100 {
            pkgs.push(pkg(&format!("n{i:03}"), "1", "amd64", PackageSource::Dpkg));
            pkgs.push(pkg(&format!("n{i:03}"), "2", "amd64", PackageSource::Rpm));
        }
        let mut c = bare_commit("d1", 0, 1, 1_000);
        c.inventory = Some(InventoryWrite::new(
            inventory("x", "1", pkgs),
            SoftwareWrite::Replace,
        ));
        db.commit_ingest(&c).await.unwrap();
        let (all, total) = db.all().software("d1", None, 0, 1_000).await.unwrap();
        assert_eq!(total, 200);
        for size in [1, 3, 7] {
            let mut paged = Vec::new();
            let mut offset = 0;
            while offset < total {
                let (page, page_total) = db.all().software("d1", None, offset, size).await.unwrap();
                assert_eq!(page_total, total);
                paged.extend(page);
                offset += size;
            }
            assert_eq!(paged, all, "pages of {size}");
        }
        let keys: BTreeSet<(String, String)> =
            all.into_iter().map(|s| (s.name, s.source)).collect();
        assert_eq!(keys.len(), 200);
    }
);

contract_test!(
    ingest_with_stale_sequence_conflicts,
    |db: TestDb| async move {
        enroll(&db, "d1", "server-1").await;
        let inv = inventory("Debian GNU/Linux", "12", vec![deb("a", "1"), deb("b", "1")]);
        let mut first = bare_commit("d1", 0, 3, 5_000);
        first.inventory = Some(InventoryWrite::new(inv.clone(), SoftwareWrite::Replace));
        first.metrics = Some((ts(5_000), metrics(1.0, 1)));
        first.changes = vec![(ts(5_000), event(ChangeKind::Rebooted, "boot", None, None))];
        db.commit_ingest(&first).await.unwrap();

        // A second delivery decided against sequence 0, as if it raced the first.
        let other = inventory("Ubuntu", "24.04", vec![deb("c", "1")]);
        let stale = IngestCommit {
            device_id: "d1".into(),
            expected_last_seq: 0,
            new_last_seq: 7,
            seen_at: ts(9_000),
            inventory: Some(InventoryWrite::new(other.clone(), SoftwareWrite::Replace)),
            metrics: Some((ts(9_000), metrics(99.0, 2))),
            history: Default::default(),
            changes: vec![(
                ts(9_000),
                event(ChangeKind::HostnameChanged, "hostname", None, None),
            )],
            software_in_step: true,
            detections: Vec::new(),
            agent_stopping: None,
        };
        let err = db.commit_ingest(&stale).await.unwrap_err();
        assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");

        // Nothing of it was written.
        let state = db.device_ingest_state("d1").await.unwrap().unwrap();
        assert_eq!(state.last_seq, 3);
        assert_eq!(state.inventory_hash, inv.hash().0);
        let d = db.all().device("d1").await.unwrap().unwrap();
        assert_eq!(
            (d.os_name.as_str(), d.os_version.as_str()),
            ("Debian GNU/Linux", "12")
        );
        assert_eq!(d.last_seen_at, Some(ts(5_000)));
        assert_eq!(db.all().inventory("d1").await.unwrap(), Some(inv.clone()));
        assert_eq!(software_names(&db, "d1", None).await, ["a", "b"]);
        assert_eq!(
            db.all().metrics("d1").await.unwrap(),
            Some((ts(5_000), metrics(1.0, 1)))
        );
        assert_eq!(all_changes(&db, "d1").await.len(), 2);

        // Decided again against the current sequence, it lands.
        let mut fresh = stale.clone();
        fresh.expected_last_seq = 3;
        db.commit_ingest(&fresh).await.unwrap();
        assert_eq!(
            db.device_ingest_state("d1")
                .await
                .unwrap()
                .unwrap()
                .last_seq,
            7
        );
        assert_eq!(software_names(&db, "d1", None).await, ["c"]);
        assert_eq!(db.all().inventory("d1").await.unwrap(), Some(other));
        assert_eq!(all_changes(&db, "d1").await.len(), 3);

        // An unknown device is a conflict too (nothing to move).
        let err = db
            .commit_ingest(&bare_commit("nope", 0, 1, 1))
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    }
);

contract_test!(ingest_software_delta, |db: TestDb| async move {
    enroll(&db, "d1", "server-1").await;
    let base = vec![
        deb("a", "1.0"),
        deb("b", "1.0"),
        pkg("c", "1.0", "amd64", PackageSource::Dpkg),
        pkg("c", "1.0", "i386", PackageSource::Dpkg),
        pkg("c", "1.0", "amd64", PackageSource::Rpm),
    ];
    let mut c = bare_commit("d1", 0, 1, 1_000);
    c.inventory = Some(InventoryWrite::new(
        inventory("Debian GNU/Linux", "12", base),
        SoftwareWrite::Replace,
    ));
    db.commit_ingest(&c).await.unwrap();
    assert_eq!(db.all().software("d1", None, 0, 100).await.unwrap().1, 5);

    let after = vec![
        deb("b", "2.0"),
        pkg("c", "1.0", "amd64", PackageSource::Dpkg),
        pkg("c", "1.0", "amd64", PackageSource::Rpm),
        deb("d", "1.0"),
    ];
    let mut c = bare_commit("d1", 1, 2, 2_000);
    c.inventory = Some(InventoryWrite::new(
        inventory("Debian GNU/Linux", "12", after.clone()),
        SoftwareWrite::Delta {
            upsert: vec![deb("b", "2.0"), deb("d", "1.0")],
            remove: vec![
                ("a".into(), "amd64".into(), PackageSource::Dpkg),
                ("c".into(), "i386".into(), PackageSource::Dpkg),
                // Not installed: removing it is not an error.
                ("ghost".into(), "amd64".into(), PackageSource::Dpkg),
            ],
        },
    ));
    db.commit_ingest(&c).await.unwrap();

    let (items, total) = db.all().software("d1", None, 0, 100).await.unwrap();
    assert_eq!(total, 4);
    let got: BTreeSet<(String, String, String, String)> = items
        .into_iter()
        .map(|s| (s.name, s.arch, s.source, s.version))
        .collect();
    let want: BTreeSet<(String, String, String, String)> = after
        .iter()
        .map(|p| {
            (
                p.name.clone(),
                p.arch.clone(),
                p.source.as_str().to_string(),
                p.version.clone(),
            )
        })
        .collect();
    assert_eq!(got, want);
    assert_eq!(
        db.all().inventory("d1").await.unwrap().unwrap().packages,
        inventory("", "", after).packages
    );

    // A later Replace drops whatever the new list lacks.
    let mut c = bare_commit("d1", 2, 3, 3_000);
    c.inventory = Some(InventoryWrite::new(
        inventory("Debian GNU/Linux", "12", vec![deb("e", "1")]),
        SoftwareWrite::Replace,
    ));
    db.commit_ingest(&c).await.unwrap();
    assert_eq!(software_names(&db, "d1", None).await, ["e"]);
});

contract_test!(
    ingest_metrics_only_keeps_inventory,
    |db: TestDb| async move {
        enroll(&db, "d1", "server-1").await;
        let inv = inventory("Debian GNU/Linux", "12", vec![deb("a", "1")]);
        let mut c = bare_commit("d1", 0, 1, 1_000);
        c.inventory = Some(InventoryWrite::new(inv.clone(), SoftwareWrite::Replace));
        c.metrics = Some((ts(1_000), metrics(10.0, 100)));
        db.commit_ingest(&c).await.unwrap();

        // No inventory this time (NULL parameters): the OS and hash stay, the metrics move.
        let mut c = bare_commit("d1", 1, 2, 2_000);
        c.metrics = Some((ts(1_900), metrics(20.25, 200)));
        db.commit_ingest(&c).await.unwrap();
        assert_eq!(
            db.all().metrics("d1").await.unwrap(),
            Some((ts(1_900), metrics(20.25, 200)))
        );
        let state = db.device_ingest_state("d1").await.unwrap().unwrap();
        assert_eq!(state.last_seq, 2);
        assert_eq!(state.inventory_hash, inv.hash().0);
        let d = db.all().device("d1").await.unwrap().unwrap();
        assert_eq!(
            (d.os_name.as_str(), d.os_version.as_str()),
            ("Debian GNU/Linux", "12")
        );
        assert_eq!(d.last_seen_at, Some(ts(2_000)));
        assert_eq!(db.all().inventory("d1").await.unwrap(), Some(inv));
        assert_eq!(software_names(&db, "d1", None).await, ["a"]);

        // Nothing but a check-in.
        db.commit_ingest(&bare_commit("d1", 2, 3, 3_000))
            .await
            .unwrap();
        assert_eq!(
            db.all().metrics("d1").await.unwrap(),
            Some((ts(1_900), metrics(20.25, 200)))
        );
        assert_eq!(
            db.all().device("d1").await.unwrap().unwrap().last_seen_at,
            Some(ts(3_000))
        );
    }
);

contract_test!(
    ingest_for_revoked_device_conflicts,
    |db: TestDb| async move {
        enroll(&db, "d1", "server-1").await;
        check_in(&db, "d1", 1_500).await;
        db.revoke_device("d1", ts(2_000)).await.unwrap();
        let state = db.device_ingest_state("d1").await.unwrap().unwrap();
        assert_eq!(state.revoked_at, Some(ts(2_000)));
        let mut c = bare_commit("d1", state.last_seq, state.last_seq + 1, 3_000);
        c.inventory = Some(InventoryWrite::new(
            inventory("Debian GNU/Linux", "12", vec![deb("a", "1")]),
            SoftwareWrite::Replace,
        ));
        c.changes = vec![(ts(3_000), event(ChangeKind::Rebooted, "boot", None, None))];
        let err = db.commit_ingest(&c).await.unwrap_err();
        assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
        assert_eq!(db.all().inventory("d1").await.unwrap(), None);
        assert_eq!(db.all().software("d1", None, 0, 10).await.unwrap().1, 0);
        assert_eq!(all_changes(&db, "d1").await.len(), 1);
        let d = db.all().device("d1").await.unwrap().unwrap();
        assert_eq!(d.last_seen_at, Some(ts(1_500)));
        assert_eq!(d.os_name, "");
    }
);
