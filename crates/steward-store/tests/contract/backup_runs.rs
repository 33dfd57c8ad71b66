//! Contract: backups over time — the schedule and its claims, drills, repository
//! maintenance, the fleet overview, and what a deleted device takes along.

use super::*;
use backups::{finish, policy, repository, snap, summary};
use steward_store::{BackupDue, DrillOutcome};

contract_test!(
    a_scheduled_run_is_claimed_and_queued_once,
    |db: TestDb| async move {
        enroll(&db, "d1", "web").await;
        enroll(&db, "d2", "db").await;
        enroll(&db, "d3", "mail").await;
        db.create_backup_policy("p1", &policy("servers"), ts(1))
            .await
            .unwrap();
        db.track_backups(
            "p1",
            &[
                ("d1".into(), ts(100)),
                ("d2".into(), ts(200)),
                ("d3".into(), ts(900)),
            ],
        )
        .await
        .unwrap();
        // Tracked already: the due time stays.
        db.track_backups("p1", &[("d1".into(), ts(5_000))])
            .await
            .unwrap();
        assert!(matches!(
            db.track_backups("p1", &[("ghost".into(), ts(1))]).await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            db.set_backup_due("nope", "d1", ts(1)).await,
            Err(StoreError::NotFound)
        ));
        let due = |p: &str, d: &str, at: i64| BackupDue {
            policy_id: p.into(),
            device_id: d.into(),
            due_at: ts(at),
        };

        let claimed = db.claim_backups_due(ts(250), ts(10_250), 10).await.unwrap();
        assert_eq!(claimed, [due("p1", "d1", 100), due("p1", "d2", 200)]);
        // Held: nobody claims them again while the lease lasts.
        assert!(
            db.claim_backups_due(ts(300), ts(10_300), 10)
                .await
                .unwrap()
                .is_empty()
        );

        // d1 is queued: the job and the schedule move together.
        let j1 = job("job-1", "d1", 260);
        assert!(
            db.record_backup_queued(&claimed[0], &j1, ts(86_400_100))
                .await
                .unwrap()
        );
        assert_eq!(
            db.job("job-1").await.unwrap().map(|j| j.device_id),
            Some("d1".into())
        );
        // The same run again (a server whose lease lapsed): nothing queued.
        assert!(
            !db.record_backup_queued(&claimed[0], &job("job-1b", "d1", 270), ts(86_400_100))
                .await
                .unwrap()
        );
        assert_eq!(db.job("job-1b").await.unwrap(), None);
        assert!(matches!(
            db.record_backup_queued(&claimed[1], &job("job-x", "d1", 270), ts(1))
                .await,
            Err(StoreError::InvalidInput(_))
        ));

        // d2's claim lapses (its server died): claimable again once the lease is over.
        assert!(
            db.claim_backups_due(ts(800), ts(10_800), 10)
                .await
                .unwrap()
                .is_empty()
        );
        let again = db
            .claim_backups_due(ts(10_300), ts(20_300), 10)
            .await
            .unwrap();
        assert_eq!(again, [due("p1", "d2", 200), due("p1", "d3", 900)]);

        let schedule = db.backup_schedule("p1").await.unwrap();
        assert_eq!(schedule.len(), 3);
        assert_eq!(schedule[0].due_at, ts(86_400_100));
        assert_eq!(schedule[0].last_queued_at, Some(ts(260)));
        assert_eq!(schedule[0].last_job_id.as_deref(), Some("job-1"));
        assert_eq!(
            (schedule[1].due_at, schedule[1].last_job_id.as_deref()),
            (ts(200), None)
        );

        // A disabled policy's runs are not claimed.
        let mut off = policy("servers");
        off.enabled = false;
        db.update_backup_policy("p1", &off, ts(2)).await.unwrap();
        db.set_backup_due("p1", "d1", ts(50)).await.unwrap();
        assert!(
            db.claim_backups_due(ts(90_000_000), ts(90_010_000), 10)
                .await
                .unwrap()
                .is_empty()
        );
        db.update_backup_policy("p1", &policy("servers"), ts(3))
            .await
            .unwrap();
        let now_due = db
            .claim_backups_due(ts(30_000), ts(40_000), 1)
            .await
            .unwrap();
        assert_eq!(now_due, [due("p1", "d1", 50)]);

        // Devices the policy no longer covers are dropped.
        assert_eq!(
            db.retain_backup_schedule("p1", &["d2".into()])
                .await
                .unwrap(),
            2
        );
        assert_eq!(
            db.retain_backup_schedule("p1", &["d2".into()])
                .await
                .unwrap(),
            0
        );
        let left: Vec<String> = db
            .backup_schedule("p1")
            .await
            .unwrap()
            .into_iter()
            .map(|s| s.device_id)
            .collect();
        assert_eq!(left, ["d2"]);
        // And a deleted policy takes its schedule with it.
        db.delete_backup_policy("p1").await.unwrap();
        assert!(db.backup_schedule("p1").await.unwrap().is_empty());
    }
);

contract_test!(drills_start_running_and_end_once, |db: TestDb| async move {
    enroll(&db, "d1", "web").await;
    enroll(&db, "d2", "spare").await;
    db.start_backup_drill("dr1", "d1", Some("d2"), ts(100))
        .await
        .unwrap();
    db.start_backup_drill("dr2", "d1", None, ts(200))
        .await
        .unwrap();
    db.start_backup_drill("dr3", "d1", Some("d1"), ts(300))
        .await
        .unwrap();
    assert!(matches!(
        db.start_backup_drill("dr1", "d1", None, ts(400)).await,
        Err(StoreError::Conflict(_))
    ));
    assert!(matches!(
        db.start_backup_drill("dr9", "ghost", None, ts(400)).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        db.start_backup_drill("dr9", "d1", Some("ghost"), ts(400))
            .await,
        Err(StoreError::NotFound)
    ));

    let passed = db
        .finish_backup_drill("dr1", &finish(150, true))
        .await
        .unwrap();
    assert_eq!(passed.outcome, DrillOutcome::Passed);
    assert_eq!(passed.runner_device_id.as_deref(), Some("d2"));
    assert_eq!(
        (
            passed.finished_at,
            passed.files_checked,
            passed.bytes_checked,
            passed.duration_ms
        ),
        (Some(ts(150)), 40, 4_096, Some(900))
    );
    assert_eq!(passed.error, None);
    let failed = db
        .finish_backup_drill("dr2", &finish(250, false))
        .await
        .unwrap();
    assert_eq!(failed.outcome, DrillOutcome::Failed);
    assert!(failed.error.is_some());
    // A drill ends once.
    assert!(matches!(
        db.finish_backup_drill("dr2", &finish(260, true)).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        db.finish_backup_drill("nope", &finish(260, true)).await,
        Err(StoreError::NotFound)
    ));

    let drills = db.all().backup_drills("d1", 2).await.unwrap();
    assert_eq!(
        drills
            .iter()
            .map(|d| (d.id.as_str(), d.outcome))
            .collect::<Vec<_>>(),
        [
            ("dr3", DrillOutcome::Running),
            ("dr2", DrillOutcome::Failed)
        ]
    );
    assert_eq!((drills[0].finished_at, drills[0].duration_ms), (None, None));
    assert_eq!(db.all().backup_drills("d1", 10).await.unwrap().len(), 3);
    let nobody = Scope::Groups(Vec::new());
    assert!(
        db.scoped(&nobody)
            .backup_drills("d1", 10)
            .await
            .unwrap()
            .is_empty()
    );
});

contract_test!(
    repository_maintenance_is_held_by_one_server_at_a_time,
    |db: TestDb| async move {
        enroll(&db, "d1", "web").await;
        assert_eq!(db.backup_maintenance("d1").await.unwrap(), None);
        assert!(
            db.claim_backup_maintenance("d1", ts(100), ts(1_100))
                .await
                .unwrap()
        );
        assert!(
            !db.claim_backup_maintenance("d1", ts(500), ts(1_500))
                .await
                .unwrap()
        );
        // The holder died: its lease lapses.
        assert!(
            db.claim_backup_maintenance("d1", ts(1_100), ts(2_100))
                .await
                .unwrap()
        );
        db.record_backup_maintenance("d1", Some(ts(1_200)), None)
            .await
            .unwrap();
        // Released: claimable at once.
        assert!(
            db.claim_backup_maintenance("d1", ts(1_300), ts(2_300))
                .await
                .unwrap()
        );
        db.record_backup_maintenance("d1", None, Some(ts(1_400)))
            .await
            .unwrap();
        let m = db.backup_maintenance("d1").await.unwrap().unwrap();
        assert_eq!(
            (m.last_forget_at, m.last_prune_at),
            (Some(ts(1_200)), Some(ts(1_400)))
        );
        assert!(matches!(
            db.claim_backup_maintenance("ghost", ts(1), ts(2)).await,
            Err(StoreError::NotFound)
        ));
        enroll(&db, "d2", "db").await;
        assert!(matches!(
            db.record_backup_maintenance("d2", Some(ts(1)), None).await,
            Err(StoreError::NotFound)
        ));
    }
);

contract_test!(
    the_overview_sums_up_each_devices_backups,
    |db: TestDb| async move {
        enroll(&db, "d1", "web").await;
        enroll(&db, "d2", "db").await;
        enroll(&db, "d3", "no backups").await;
        enroll(&db, "d4", "archive").await;
        db.create_backup_policy("p1", &policy("servers"), ts(1))
            .await
            .unwrap();
        let mut off = policy("off");
        off.enabled = false;
        db.create_backup_policy("p2", &off, ts(1)).await.unwrap();

        // d1: a repository, three snapshots (one forgotten), a drill, a schedule.
        db.create_backup_repository(&repository("d1", "s"))
            .await
            .unwrap();
        for (n, at, stored) in [(1, 100, 1_000), (2, 200, 300), (3, 300, 50)] {
            db.record_snapshot_received("d1", &snap(n), ts(at))
                .await
                .unwrap();
            db.record_snapshot_summary(
                "d1",
                &snap(n),
                &summary(10 * n as i64, 5_000, 2 * stored, stored),
            )
            .await
            .unwrap();
        }
        db.mark_snapshots_forgotten("d1", &[snap(1)], ts(400))
            .await
            .unwrap();
        db.start_backup_drill("old", "d1", None, ts(10))
            .await
            .unwrap();
        db.finish_backup_drill("old", &finish(20, false))
            .await
            .unwrap();
        db.start_backup_drill("new", "d1", None, ts(30))
            .await
            .unwrap();
        db.finish_backup_drill("new", &finish(40, true))
            .await
            .unwrap();
        db.track_backups("p1", &[("d1".into(), ts(9_000))])
            .await
            .unwrap();
        db.track_backups("p2", &[("d1".into(), ts(5_000))])
            .await
            .unwrap();
        // d2: a repository, nothing else yet. d4: a snapshot received, not summarised, and
        // a drill still running.
        db.create_backup_repository(&repository("d2", "s"))
            .await
            .unwrap();
        db.record_snapshot_received("d4", &snap(7), ts(700))
            .await
            .unwrap();
        db.start_backup_drill("running", "d4", None, ts(50))
            .await
            .unwrap();

        let overview = db.all().backup_overview().await.unwrap();
        assert_eq!(
            overview
                .iter()
                .map(|o| o.device_id.as_str())
                .collect::<Vec<_>>(),
            ["d4", "d2", "d1"],
            "by name; a device without backups is left out"
        );
        let d1 = &overview[2];
        assert_eq!(d1.device_name, "web");
        assert_eq!(
            (d1.storage.as_deref(), d1.repository_created_at),
            (Some("local"), Some(ts(5)))
        );
        assert_eq!(d1.last_received_at, Some(ts(300)));
        assert_eq!(
            (
                d1.last_files,
                d1.last_bytes,
                d1.last_added_bytes,
                d1.last_stored_bytes
            ),
            (Some(30), Some(5_000), Some(100), Some(50))
        );
        assert_eq!(
            (d1.live_snapshots, d1.live_added_bytes, d1.live_stored_bytes),
            (2, 700, 350)
        );
        assert_eq!(
            d1.next_due_at,
            Some(ts(9_000)),
            "the disabled policy's run does not count"
        );
        assert_eq!(
            (d1.last_drill_outcome, d1.last_drill_finished_at),
            (Some(DrillOutcome::Passed), Some(ts(40)))
        );

        let d2 = &overview[1];
        assert_eq!(d2.storage.as_deref(), Some("local"));
        assert_eq!(
            (d2.last_received_at, d2.live_snapshots, d2.live_stored_bytes),
            (None, 0, 0)
        );
        assert_eq!((d2.next_due_at, d2.last_drill_outcome), (None, None));

        let d4 = &overview[0];
        assert_eq!(
            (d4.storage.as_deref(), d4.last_received_at),
            (None, Some(ts(700)))
        );
        assert_eq!(
            (d4.last_files, d4.live_snapshots, d4.live_added_bytes),
            (None, 1, 0)
        );
        assert_eq!(
            (d4.last_drill_outcome, d4.last_drill_finished_at),
            (Some(DrillOutcome::Running), None)
        );

        // Within a scope, only its devices.
        db.create_group("g1", "Shop", ts(1)).await.unwrap();
        db.set_device_group("d2", Some("g1")).await.unwrap();
        let shop = Scope::Groups(vec!["g1".into()]);
        let scoped = db.scoped(&shop).backup_overview().await.unwrap();
        assert_eq!(scoped.len(), 1);
        assert_eq!(scoped[0], overview[1]);

        // One device's, as the fleet's says, within the scope only.
        assert_eq!(
            db.all().backup_overview_of("d1").await.unwrap().as_ref(),
            Some(d1)
        );
        assert_eq!(
            db.scoped(&shop).backup_overview_of("d2").await.unwrap(),
            Some(overview[1].clone())
        );
        assert_eq!(
            db.scoped(&shop).backup_overview_of("d1").await.unwrap(),
            None
        );
        assert_eq!(db.all().backup_overview_of("d3").await.unwrap(), None);
    }
);

contract_test!(
    a_deleted_device_takes_its_backup_records_along,
    |db: TestDb| async move {
        enroll(&db, "d1", "web").await;
        enroll(&db, "d2", "spare").await;
        db.create_backup_policy("p1", &policy("servers"), ts(1))
            .await
            .unwrap();
        db.create_backup_repository(&repository("d1", "s"))
            .await
            .unwrap();
        db.record_snapshot_received("d1", &snap(1), ts(100))
            .await
            .unwrap();
        db.track_backups("p1", &[("d1".into(), ts(100)), ("d2".into(), ts(100))])
            .await
            .unwrap();
        db.start_backup_drill("dr1", "d1", None, ts(100))
            .await
            .unwrap();
        db.start_backup_drill("dr2", "d2", Some("d1"), ts(100))
            .await
            .unwrap();
        db.claim_backup_maintenance("d1", ts(100), ts(200))
            .await
            .unwrap();

        // The store deletes no device (they are revoked); an operator's SQL, or a future
        // purge, may.
        {
            use sqlx::Connection;
            sqlx::any::install_default_drivers();
            let mut raw = sqlx::AnyConnection::connect(&db.url).await.unwrap();
            if db.backend == Backend::Sqlite {
                sqlx::query("PRAGMA foreign_keys = ON")
                    .execute(&mut raw)
                    .await
                    .unwrap();
            }
            sqlx::query("DELETE FROM devices WHERE id = 'd1'")
                .execute(&mut raw)
                .await
                .unwrap();
            raw.close().await.unwrap();
        }
        assert_eq!(db.backup_repository("d1").await.unwrap(), None);
        assert!(
            db.all()
                .backup_snapshots("d1", true)
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(db.backup_maintenance("d1").await.unwrap(), None);
        assert!(db.all().backup_drills("d1", 10).await.unwrap().is_empty());
        let schedule = db.backup_schedule("p1").await.unwrap();
        assert_eq!(schedule.len(), 1);
        assert_eq!(schedule[0].device_id, "d2");
        // Another device's drill stays, without the runner that is gone.
        let dr2 = &db.all().backup_drills("d2", 10).await.unwrap()[0];
        assert_eq!(
            (dr2.id.as_str(), dr2.runner_device_id.as_deref()),
            ("dr2", None)
        );
        assert!(db.all().backup_overview().await.unwrap().is_empty());
        assert!(db.backup_policy("p1").await.unwrap().is_some());
    }
);

contract_test!(
    servers_claiming_together_never_share_a_run,
    |db: TestDb| async move {
        db.create_backup_policy("p1", &policy("servers"), ts(1))
            .await
            .unwrap();
        let mut first_due = Vec::new();
        for i in 0..30 {
            let id = format!("d{i:02}");
            enroll(&db, &id, &id).await;
            first_due.push((id, ts(100 + i)));
        }
        db.track_backups("p1", &first_due).await.unwrap();
        // Four servers (connections of their own) claim at once, eight at a time.
        let mut tasks = Vec::new();
        for _ in 0..4 {
            let url = db.url.clone();
            tasks.push(tokio::spawn(async move {
                let server = Store::connect(&url).await.unwrap();
                let claimed = server
                    .claim_backups_due(ts(1_000), ts(61_000), 8)
                    .await
                    .unwrap();
                server.close().await;
                claimed
            }));
        }
        let mut seen = BTreeSet::new();
        let mut total = 0;
        for t in tasks {
            for run in t.await.unwrap() {
                total += 1;
                assert!(
                    seen.insert(run.device_id.clone()),
                    "{} claimed twice",
                    run.device_id
                );
            }
        }
        // Whatever no server took is still there for the next claim: each run once.
        for run in db
            .claim_backups_due(ts(1_000), ts(61_000), 100)
            .await
            .unwrap()
        {
            total += 1;
            assert!(
                seen.insert(run.device_id.clone()),
                "{} claimed twice",
                run.device_id
            );
        }
        assert_eq!(total, 30);
        assert!(
            db.claim_backups_due(ts(1_000), ts(61_000), 100)
                .await
                .unwrap()
                .is_empty()
        );
    }
);
