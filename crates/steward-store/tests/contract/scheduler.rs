//! Contract: what a scheduler at scale relies on — claiming ahead, many results in one
//! transaction, and the revision that tells when definitions changed.

use super::monitoring::{channel, check_def, result_write};
use super::*;
use steward_store::{NoticeWrite, Recorded, RouteRecord, TrackWrite, WindowRecord};

contract_test!(
    checks_due_soon_are_claimed_ahead_with_leases_judged_now,
    |db: TestDb| async move {
        for (id, due) in [("a", 1_000), ("b", 1_200), ("c", 5_000)] {
            db.save_check(&check_def(id, id)).await.unwrap();
            db.track_check(id, "", "{}", ts(0), ts(due)).await.unwrap();
        }
        // At 900, looking 400 ms ahead: a and b, oldest first; c is not due by then.
        let claimed = db
            .claim_checks_due_by("s1", ts(900), ts(1_300), 10, 10_000)
            .await
            .unwrap();
        assert_eq!(
            claimed
                .iter()
                .map(|c| (c.check_id.as_str(), c.next_run_at))
                .collect::<Vec<_>>(),
            [("a", ts(1_000)), ("b", ts(1_200))]
        );
        // Leased until 10,900: not claimable before then, whatever the look-ahead.
        assert!(
            db.claim_checks_due_by("s1", ts(10_899), ts(20_000), 10, 10_000)
                .await
                .unwrap()
                .iter()
                .all(|c| c.check_id == "c")
        );
        // A look-ahead before `now` is read as `now`: d (due at 30,000) is claimed, e (due a
        // millisecond later) is not.
        for (id, due) in [("d", 30_000), ("e", 30_001)] {
            db.save_check(&check_def(id, id)).await.unwrap();
            db.track_check(id, "", "{}", ts(0), ts(due)).await.unwrap();
        }
        let at_now: Vec<String> = db
            .claim_checks_due_by("s1", ts(30_000), ts(0), 10, 1_000)
            .await
            .unwrap()
            .into_iter()
            .map(|c| c.check_id)
            .collect();
        assert!(at_now.contains(&"d".to_string()), "{at_now:?}");
        assert!(!at_now.contains(&"e".to_string()), "{at_now:?}");
    }
);

contract_test!(
    many_results_are_stored_in_one_transaction_each_with_its_notices,
    |db: TestDb| async move {
        db.save_channel(&channel("w", "ops-webhook")).await.unwrap();
        for id in ["a", "b", "c"] {
            db.save_check(&check_def(id, id)).await.unwrap();
            db.track_check(id, "", "{}", ts(0), ts(0)).await.unwrap();
        }
        let notice = |key: &str| {
            vec![NoticeWrite {
                key: key.into(),
                channel_id: "w".into(),
                payload: format!("{{\"key\":\"{key}\"}}"),
            }]
        };
        let batch = vec![
            result_write("a", 0, 100, true, notice("transition:{history}")),
            result_write("gone", 0, 100, true, notice("transition:{history}")),
            result_write("b", 0, 100, false, Vec::new()),
            result_write("c", 0, 100, true, notice("transition:{history}")),
        ];
        let outcomes = db.record_check_results(&batch).await.unwrap();
        assert_eq!(outcomes.len(), 4);
        assert_eq!(
            outcomes[1],
            Recorded::Skipped,
            "skipped, not failing the rest"
        );
        assert_eq!(outcomes[2], Recorded::Stored { history: None });
        let (Recorded::Stored { history: Some(ha) }, Recorded::Stored { history: Some(hc) }) =
            (outcomes[0], outcomes[3])
        else {
            panic!("a and c confirmed changes: {outcomes:?}");
        };
        assert_ne!(ha, hc);
        assert_eq!(db.check_history("a", "", 10).await.unwrap()[0].id, ha);
        assert_eq!(db.check_history("c", "", 10).await.unwrap()[0].id, hc);
        for id in ["a", "b", "c"] {
            let state = db.check_state(id, "").await.unwrap().unwrap();
            assert_eq!(
                (state.status.as_str(), state.next_run_at),
                ("critical", ts(5_100))
            );
        }
        let mut keys: Vec<String> = db
            .notifications(10)
            .await
            .unwrap()
            .into_iter()
            .map(|n| n.notice_key)
            .collect();
        keys.sort();
        let mut expected = vec![format!("transition:{ha}"), format!("transition:{hc}")];
        expected.sort();
        assert_eq!(keys, expected);
        // Each result released its claim: all three are claimable when due again.
        assert_eq!(
            db.claim_due_checks("s1", ts(5_100), 10, 1_000)
                .await
                .unwrap()
                .len(),
            3
        );
        assert!(db.record_check_results(&[]).await.unwrap().is_empty());
    }
);

contract_test!(a_batch_that_fails_stores_nothing, |db: TestDb| async move {
    db.save_check(&check_def("a", "a")).await.unwrap();
    db.track_check("a", "", "{}", ts(0), ts(0)).await.unwrap();
    db.save_check(&check_def("b", "b")).await.unwrap();
    db.track_check("b", "", "{}", ts(0), ts(0)).await.unwrap();
    // A notice for a channel that does not exist breaks the foreign key.
    let broken = result_write(
        "b",
        0,
        100,
        true,
        vec![NoticeWrite {
            key: "transition:{history}".into(),
            channel_id: "no-such-channel".into(),
            payload: "{}".into(),
        }],
    );
    let batch = vec![result_write("a", 0, 100, true, Vec::new()), broken];
    assert!(db.record_check_results(&batch).await.is_err());
    assert_eq!(db.check_state("a", "").await.unwrap().unwrap().status, "ok");
    assert!(db.check_history("a", "", 10).await.unwrap().is_empty());
    assert!(db.check_history("b", "", 10).await.unwrap().is_empty());
});

contract_test!(
    every_change_to_a_definition_raises_the_revision,
    |db: TestDb| async move {
        let mut seen = db.monitoring_revision().await.unwrap();
        let mut raised = |now: i64, what: &str| {
            assert!(now > seen, "{what}: the revision stayed at {seen}");
            seen = now;
        };
        db.save_check(&check_def("a", "a")).await.unwrap();
        raised(db.monitoring_revision().await.unwrap(), "a new check");
        let mut edited = check_def("a", "a");
        edited.interval_ms = 60_000;
        db.save_check(&edited).await.unwrap();
        raised(db.monitoring_revision().await.unwrap(), "an edited check");
        db.save_channel(&channel("w", "ops-webhook")).await.unwrap();
        raised(db.monitoring_revision().await.unwrap(), "a new channel");
        let mut resealed = channel("w", "ops-webhook");
        resealed.settings = "resealed".into();
        db.save_channel(&resealed).await.unwrap();
        raised(db.monitoring_revision().await.unwrap(), "an edited channel");
        db.delete_check("a").await.unwrap();
        raised(db.monitoring_revision().await.unwrap(), "a deleted check");
        db.save_window(&WindowRecord {
            id: "w1".into(),
            name: "patch night".into(),
            target: "all".into(),
            schedule: "{}".into(),
            comment: String::new(),
            source: "console".into(),
            created_by: "alice".into(),
            created_at: ts(5),
        })
        .await
        .unwrap();
        raised(db.monitoring_revision().await.unwrap(), "a new window");
        db.delete_window("w1").await.unwrap();
        raised(db.monitoring_revision().await.unwrap(), "a deleted window");
        db.save_route(&RouteRecord {
            id: "r1".into(),
            channel_id: "w".into(),
            min_status: "critical".into(),
            devices: "all".into(),
            source: "console".into(),
            created_at: ts(5),
        })
        .await
        .unwrap();
        raised(db.monitoring_revision().await.unwrap(), "a new route");
        db.delete_route("r1").await.unwrap();
        raised(db.monitoring_revision().await.unwrap(), "a deleted route");
        // What is not a change to definitions leaves it alone: state, results, refusals.
        db.save_check(&check_def("b", "b")).await.unwrap();
        let before = db.monitoring_revision().await.unwrap();
        db.track_check("b", "", "{}", ts(0), ts(0)).await.unwrap();
        db.record_check_result(&result_write("b", 0, 10, true, Vec::new()))
            .await
            .unwrap();
        assert!(matches!(
            db.save_check(&check_def("c", "b")).await,
            Err(StoreError::Conflict(_))
        ));
        assert!(db.delete_check("missing").await.is_err());
        assert_eq!(db.monitoring_revision().await.unwrap(), before);
    }
);

contract_test!(
    many_checks_are_saved_and_tracked_in_few_transactions,
    |db: TestDb| async move {
        let before = db.monitoring_revision().await.unwrap();
        let checks: Vec<_> = (0..1_203)
            .map(|i| check_def(&format!("c{i:04}"), &format!("check-{i:04}")))
            .collect();
        db.save_checks(&checks).await.unwrap();
        assert_eq!(db.checks().await.unwrap().len(), 1_203);
        let raised = db.monitoring_revision().await.unwrap() - before;
        assert!((1..=3).contains(&raised), "one raise a chunk: {raised}");
        // Saving again replaces: an edited one reads back edited.
        let mut edited = checks[7].clone();
        edited.interval_ms = 60_000;
        db.save_checks(std::slice::from_ref(&edited)).await.unwrap();
        assert_eq!(
            db.checks().await.unwrap().iter().find(|c| c.id == "c0007"),
            Some(&edited)
        );
        let tracks: Vec<TrackWrite> = checks
            .iter()
            .enumerate()
            .map(|(i, c)| TrackWrite {
                check_id: c.id.clone(),
                subject: String::new(),
                initial_state: "{}".into(),
                now: ts(0),
                first_run_at: ts(i64::try_from(i).unwrap()),
            })
            .collect();
        db.track_checks(&tracks).await.unwrap();
        // Tracking again keeps each state as it is.
        db.record_check_result(&result_write("c0001", 1, 50, false, Vec::new()))
            .await
            .unwrap();
        db.track_checks(&tracks).await.unwrap();
        assert_eq!(
            db.check_state("c0001", "")
                .await
                .unwrap()
                .unwrap()
                .next_run_at,
            ts(5_050)
        );
        assert_eq!(
            db.check_state("c1202", "")
                .await
                .unwrap()
                .unwrap()
                .next_run_at,
            ts(1_202)
        );
        // A name taken by another id is refused by name.
        let clash = check_def("other", "check-0003");
        assert!(matches!(
            db.save_checks(&[clash]).await,
            Err(StoreError::Conflict(m)) if m.contains("check-0003")
        ));
    }
);

contract_test!(
    a_channels_notifications_are_claimed_together_once_the_oldest_waited,
    |db: TestDb| async move {
        db.save_channel(&channel("w", "ops-webhook")).await.unwrap();
        db.save_channel(&channel("m", "ops-mail")).await.unwrap();
        // Decided at 1,000 and 1,500 for w, at 1,800 for m.
        for (check, at, to) in [("a", 1_000, "w"), ("b", 1_500, "w"), ("c", 1_800, "m")] {
            db.save_check(&check_def(check, check)).await.unwrap();
            db.track_check(check, "", "{}", ts(0), ts(0)).await.unwrap();
            let notice = vec![NoticeWrite {
                key: format!("k-{check}"),
                channel_id: to.into(),
                payload: "{}".into(),
            }];
            db.record_check_result(&result_write(check, 0, at, false, notice))
                .await
                .unwrap();
        }
        let claim = |now: i64| {
            let db = db.clone();
            async move {
                let mut keys: Vec<String> = db
                    .claim_notification_groups("s1", ts(now), 1_000, 10, 10_000)
                    .await
                    .unwrap()
                    .into_iter()
                    .map(|n| n.notice_key)
                    .collect();
                keys.sort();
                keys
            }
        };
        assert!(claim(1_999).await.is_empty(), "the oldest has not waited");
        // w's oldest has waited a second: both of w's, young as the second is; not m's.
        assert_eq!(claim(2_000).await, ["k-a", "k-b"]);
        assert_eq!(claim(2_799).await, Vec::<String>::new());
        assert_eq!(claim(2_800).await, ["k-c"]);
    }
);

contract_test!(
    a_devices_states_read_in_one_row_are_those_read_row_by_row,
    |db: TestDb| async move {
        assert!(db.states_of_device("d1").await.unwrap().is_empty());
        for (id, due) in [("b", i64::MAX), ("a", 5)] {
            db.save_check(&check_def(id, id)).await.unwrap();
            db.track_check(
                id,
                "d1",
                r#"{"status":"ok","note":"quote \" and é"}"#,
                ts(3),
                ts(due),
            )
            .await
            .unwrap();
        }
        db.track_check("a", "d2", "{}", ts(0), ts(0)).await.unwrap();
        let one_row = db.states_of_device("d1").await.unwrap();
        assert_eq!(one_row, db.states_of_subject("d1").await.unwrap());
        assert_eq!(
            one_row
                .iter()
                .map(|s| s.check_id.as_str())
                .collect::<Vec<_>>(),
            ["a", "b"]
        );
        assert_eq!(one_row[1].next_run_at, ts(i64::MAX));
    }
);

contract_test!(
    a_devices_checks_version_counts_the_changes_to_its_states,
    |db: TestDb| async move {
        enroll(&db, "d1", "d1").await;
        let version = |db: steward_store::Store| async move {
            db.device_ingest_state("d1")
                .await
                .unwrap()
                .unwrap()
                .checks_version
        };
        assert_eq!(version(db.clone()).await, 0);
        db.save_check(&check_def("disk", "disk")).await.unwrap();
        let mut write = result_write("disk", 0, 100, false, Vec::new());
        write.subject = "d1".into();
        // Created (expected absent): counted.
        assert_eq!(
            db.record_device_results(&[(None, write.clone())])
                .await
                .unwrap(),
            1
        );
        assert_eq!(version(db.clone()).await, 1);
        // A write whose expected state is not the stored one changes nothing, counts nothing.
        assert_eq!(
            db.record_device_results(&[(Some("stale".into()), write.clone())])
                .await
                .unwrap(),
            0
        );
        assert_eq!(version(db.clone()).await, 1);
        // A network monitor's result is no device's.
        db.save_check(&check_def("web", "web")).await.unwrap();
        db.track_check("web", "", "{}", ts(0), ts(0)).await.unwrap();
        db.record_check_result(&result_write("web", 0, 100, true, Vec::new()))
            .await
            .unwrap();
        assert_eq!(version(db.clone()).await, 1);
    }
);

contract_test!(
    statistics_can_be_refreshed_after_a_large_change,
    |db: TestDb| async move {
        db.save_check(&check_def("a", "a")).await.unwrap();
        db.refresh_monitoring_statistics().await.unwrap();
        assert_eq!(db.checks().await.unwrap().len(), 1);
    }
);
