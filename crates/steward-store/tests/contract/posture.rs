//! Contract: posture results and evaluations (the score history, checklist answers and
//! exceptions are in `posture_records.rs`).

use super::*;
use steward_store::{
    PostureDeviceRecord, PostureResultRecord, PostureResultWrite, PostureTransition,
};

fn result(check_id: &str, state: &str) -> PostureResultWrite {
    PostureResultWrite {
        check_id: check_id.into(),
        state: state.into(),
        evidence: format!("{check_id} seen {state}"),
        reason: format!("{check_id} is {state}"),
    }
}

fn transition(check_id: &str, from: Option<&str>, to: &str) -> PostureTransition {
    PostureTransition {
        check_id: check_id.into(),
        from: from.map(str::to_string),
        to: to.into(),
    }
}

/// The device's results as (check, state, since, evaluated at).
async fn states(db: &Store, device_id: &str) -> Vec<(String, String, i64, i64)> {
    db.all()
        .posture_results(Some(device_id))
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.check_id, r.state, r.since.0, r.evaluated_at.0))
        .collect()
}

fn state(check: &str, state: &str, since: i64, at: i64) -> (String, String, i64, i64) {
    (check.into(), state.into(), since, at)
}

contract_test!(
    an_evaluation_keeps_unchanged_states_and_reports_transitions,
    |db: TestDb| async move {
        enroll(&db, "d1", "web").await;
        let first = [
            result("ssh-no-root-password-login", "pass"),
            result("firewall-enabled", "fail"),
            result("disk-encryption", "unknown"),
        ];
        let moved = db.record_posture("d1", ts(1_000), &first).await.unwrap();
        assert_eq!(
            moved,
            vec![
                transition("ssh-no-root-password-login", None, "pass"),
                transition("firewall-enabled", None, "fail"),
                transition("disk-encryption", None, "unknown"),
            ]
        );
        let full = db.all().posture_results(Some("d1")).await.unwrap();
        assert_eq!(
            full[1],
            PostureResultRecord {
                device_id: "d1".into(),
                check_id: "firewall-enabled".into(),
                state: "fail".into(),
                evidence: "firewall-enabled seen fail".into(),
                reason: "firewall-enabled is fail".into(),
                since: ts(1_000),
                evaluated_at: ts(1_000),
            }
        );

        // One state unchanged (its since stays), one changed, one new, one gone.
        let second = [
            result("ssh-no-root-password-login", "pass"),
            result("firewall-enabled", "pass"),
            result("auto-updates", "not_applicable"),
        ];
        let moved = db.record_posture("d1", ts(2_000), &second).await.unwrap();
        assert_eq!(
            moved,
            vec![
                transition("firewall-enabled", Some("fail"), "pass"),
                transition("auto-updates", None, "not_applicable"),
            ]
        );
        assert_eq!(
            states(&db, "d1").await,
            vec![
                state("auto-updates", "not_applicable", 2_000, 2_000),
                state("firewall-enabled", "pass", 2_000, 2_000),
                state("ssh-no-root-password-login", "pass", 1_000, 2_000),
            ]
        );

        // The same report again (a retry at the same time): nothing moves.
        assert!(
            db.record_posture("d1", ts(2_000), &second)
                .await
                .unwrap()
                .is_empty()
        );
        // A check repeated counts once, its last occurrence.
        let repeated = [
            result("firewall-enabled", "fail"),
            result("firewall-enabled", "pass"),
        ];
        assert!(
            db.record_posture("d1", ts(3_000), &repeated)
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            states(&db, "d1").await,
            vec![state("firewall-enabled", "pass", 2_000, 3_000)]
        );

        // Reporting nothing clears the results; the device stays evaluated.
        assert!(
            db.record_posture("d1", ts(4_000), &[])
                .await
                .unwrap()
                .is_empty()
        );
        assert!(states(&db, "d1").await.is_empty());
        assert_eq!(
            db.posture_devices().await.unwrap(),
            vec![PostureDeviceRecord {
                device_id: "d1".into(),
                first_evaluated_at: ts(1_000),
                last_evaluated_at: ts(4_000),
            }]
        );

        // An unknown device is NotFound, and nothing is stored for it.
        assert!(matches!(
            db.record_posture("nope", ts(1), &first).await,
            Err(StoreError::NotFound)
        ));
        assert_eq!(db.posture_devices().await.unwrap().len(), 1);
    }
);

contract_test!(a_late_evaluation_is_ignored, |db: TestDb| async move {
    enroll(&db, "d1", "web").await;
    db.record_posture("d1", ts(5_000), &[result("firewall-enabled", "pass")])
        .await
        .unwrap();
    let late = [
        result("firewall-enabled", "fail"),
        result("disk-encryption", "fail"),
    ];
    assert!(
        db.record_posture("d1", ts(4_999), &late)
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        states(&db, "d1").await,
        vec![state("firewall-enabled", "pass", 5_000, 5_000)]
    );
    let devices = db.posture_devices().await.unwrap();
    assert_eq!(
        (devices[0].first_evaluated_at, devices[0].last_evaluated_at),
        (ts(5_000), ts(5_000))
    );
});

contract_test!(
    two_hundred_results_are_written_in_one_evaluation,
    |db: TestDb| async move {
        enroll(&db, "d1", "web").await;
        let many: Vec<_> = (0..200)
            .map(|i| result(&format!("check-{i:03}"), "pass"))
            .collect();
        assert_eq!(
            db.record_posture("d1", ts(1), &many).await.unwrap().len(),
            200
        );
        // Half change, the other half are no longer reported.
        let half: Vec<_> = (0..100)
            .map(|i| result(&format!("check-{i:03}"), "fail"))
            .collect();
        assert_eq!(
            db.record_posture("d1", ts(2), &half).await.unwrap().len(),
            100
        );
        let now = states(&db, "d1").await;
        assert_eq!(now.len(), 100);
        assert!(
            now.iter()
                .all(|(_, s, since, _)| s == "fail" && *since == 2)
        );
    }
);

contract_test!(results_go_with_their_device, |db: TestDb| async move {
    enroll(&db, "d1", "web").await;
    enroll(&db, "d2", "db").await;
    for id in ["d1", "d2"] {
        db.record_posture(id, ts(1), &[result("firewall-enabled", "pass")])
            .await
            .unwrap();
    }
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
    let left = db.all().posture_results(None).await.unwrap();
    assert_eq!(
        left.iter()
            .map(|r| r.device_id.as_str())
            .collect::<Vec<_>>(),
        ["d2"]
    );
    let devices = db.posture_devices().await.unwrap();
    assert_eq!(
        devices
            .iter()
            .map(|d| d.device_id.as_str())
            .collect::<Vec<_>>(),
        ["d2"]
    );
});

contract_test!(
    scoped_results_leave_out_devices_outside_the_scope,
    |db: TestDb| async move {
        for (id, name) in [("d1", "web"), ("d2", "till"), ("d3", "spare")] {
            enroll(&db, id, name).await;
            db.record_posture(
                id,
                ts(1),
                &[
                    result("firewall-enabled", "pass"),
                    result("auto-updates", "fail"),
                ],
            )
            .await
            .unwrap();
        }
        db.create_group("g1", "Shop", ts(1)).await.unwrap();
        db.set_device_group("d2", Some("g1")).await.unwrap();

        let everything = db.all().posture_results(None).await.unwrap();
        assert_eq!(
            everything
                .iter()
                .map(|r| (r.device_id.as_str(), r.check_id.as_str()))
                .collect::<Vec<_>>(),
            [
                ("d1", "auto-updates"),
                ("d1", "firewall-enabled"),
                ("d2", "auto-updates"),
                ("d2", "firewall-enabled"),
                ("d3", "auto-updates"),
                ("d3", "firewall-enabled"),
            ]
        );

        let shop = Scope::Groups(vec!["g1".into()]);
        let scoped = db.scoped(&shop);
        let in_shop = scoped.posture_results(None).await.unwrap();
        assert_eq!(in_shop, everything[2..4].to_vec());
        assert_eq!(scoped.posture_results(Some("d2")).await.unwrap(), in_shop);
        assert!(scoped.posture_results(Some("d1")).await.unwrap().is_empty());
        let nobody = Scope::Groups(Vec::new());
        assert!(
            db.scoped(&nobody)
                .posture_results(None)
                .await
                .unwrap()
                .is_empty()
        );
    }
);

contract_test!(
    racing_reports_of_one_device_end_with_the_newest,
    |db: TestDb| async move {
        enroll(&db, "d1", "web").await;
        // Eight servers (connections of their own) store reports of one device at once,
        // each report's states its own; whatever order they commit in, the newest wins.
        let mut tasks = Vec::new();
        for n in 1..=8_i64 {
            let url = db.url.clone();
            tasks.push(tokio::spawn(async move {
                let server = Store::connect(&url).await.unwrap();
                let report: Vec<_> = (0..50)
                    .map(|i| result(&format!("check-{i:02}"), &format!("state-{n}")))
                    .collect();
                server
                    .record_posture("d1", ts(n * 1_000), &report)
                    .await
                    .unwrap();
                server.close().await;
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let now = states(&db, "d1").await;
        assert_eq!(now.len(), 50);
        assert!(
            now.iter()
                .all(|(_, s, since, at)| s == "state-8" && *since == 8_000 && *at == 8_000),
            "{now:?}"
        );
        assert_eq!(
            db.posture_devices().await.unwrap()[0].last_evaluated_at,
            ts(8_000)
        );
    }
);
