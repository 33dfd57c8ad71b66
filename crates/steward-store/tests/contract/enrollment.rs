//! Contract: enrollment.

use super::*;

contract_test!(enrollment_spends_token, |db: TestDb| async move {
    db.create_enroll_token(&token("et1", "hash-1", 2, 10_000))
        .await
        .unwrap();

    let d = db
        .enroll_device("hash-1", &new_device("d1", "laptop-1", 300), ts(1_000))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        d,
        DeviceRecord {
            id: "d1".into(),
            name: "laptop-1".into(),
            enrolled_at: ts(1_000),
            last_seen_at: None,
            revoked_at: None,
            os_name: String::new(),
            os_version: String::new(),
            checkin_interval_secs: 300,
            tags: Vec::new(),
            group_id: None,
            group_name: None,
        }
    );
    assert_eq!(db.all().device("d1").await.unwrap(), Some(d.clone()));

    let state = db.device_ingest_state("d1").await.unwrap().unwrap();
    assert_eq!(state.device_id, "d1");
    assert_eq!(state.credential_hash, "cred-d1");
    assert_eq!(state.revoked_at, None);
    assert_eq!(state.last_seq, 0);
    assert_eq!(state.inventory_hash, "");

    let (changes, total) = db.all().changes("d1", None, 0, 10).await.unwrap();
    assert_eq!(total, 1);
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].device_id, "d1");
    assert_eq!(changes[0].device_name, "laptop-1");
    assert_eq!(changes[0].at, ts(1_000));
    assert_eq!(
        changes[0].event,
        event(ChangeKind::Enrolled, "laptop-1", None, None)
    );

    // The second (last) use, then the token is spent.
    db.enroll_device("hash-1", &new_device("d2", "laptop-2", 60), ts(2_000))
        .await
        .unwrap()
        .unwrap();
    let third = db
        .enroll_device("hash-1", &new_device("d3", "laptop-3", 60), ts(3_000))
        .await
        .unwrap();
    assert_eq!(third, Err(TokenProblem::UsedUp));
    assert_eq!(db.all().device("d3").await.unwrap(), None);
    assert_eq!(device_count(&db).await, 2);
    assert_eq!(
        db.scoped(&Scope::AllDevices)
            .recent_changes(10)
            .await
            .unwrap()
            .len(),
        2
    );
});

contract_test!(enrollment_refuses_bad_tokens, |db: TestDb| async move {
    db.create_enroll_token(&token("expired", "hash-expired", 5, 1_000))
        .await
        .unwrap();
    db.create_enroll_token(&token("empty", "hash-empty", 0, 1_000_000))
        .await
        .unwrap();

    let unknown = db
        .enroll_device("no-such-hash", &new_device("d1", "a", 60), ts(500))
        .await
        .unwrap();
    assert_eq!(unknown, Err(TokenProblem::Unknown));

    // Expiry is exclusive: a token expiring at 1000 no longer enrolls at 1000.
    let expired = db
        .enroll_device("hash-expired", &new_device("d2", "b", 60), ts(1_000))
        .await
        .unwrap();
    assert_eq!(expired, Err(TokenProblem::Expired));

    let used_up = db
        .enroll_device("hash-empty", &new_device("d3", "c", 60), ts(500))
        .await
        .unwrap();
    assert_eq!(used_up, Err(TokenProblem::UsedUp));

    assert_eq!(device_count(&db).await, 0);
    for id in ["d1", "d2", "d3"] {
        assert_eq!(db.all().device(id).await.unwrap(), None);
        assert!(db.device_ingest_state(id).await.unwrap().is_none());
    }
    assert!(
        db.scoped(&Scope::AllDevices)
            .recent_changes(10)
            .await
            .unwrap()
            .is_empty()
    );

    // A refused attempt spent nothing: the expired token still enrolls before its expiry.
    db.enroll_device("hash-expired", &new_device("d4", "d", 60), ts(999))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(device_count(&db).await, 1);
});

contract_test!(
    enrollment_race_spends_last_use_once,
    |db: TestDb| async move {
        db.create_enroll_token(&token("et", "race", 1, i64::MAX))
            .await
            .unwrap();
        let mut tasks = Vec::new();
        for i in 0..8 {
            let store = db.store.clone();
            tasks.push(tokio::spawn(async move {
                store
                    .enroll_device(
                        "race",
                        &new_device(&format!("d{i}"), "racer", 60),
                        ts(1_000),
                    )
                    .await
            }));
        }
        let mut enrolled = 0;
        let mut refused = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(Ok(_)) => enrolled += 1,
                Ok(Err(TokenProblem::UsedUp)) => refused += 1,
                other => panic!("unexpected enrollment outcome: {other:?}"),
            }
        }
        assert_eq!((enrolled, refused), (1, 7));
        assert_eq!(device_count(&db).await, 1);
        assert_eq!(db.all().devices_named("racer").await.unwrap().len(), 1);
        assert_eq!(
            db.scoped(&Scope::AllDevices)
                .recent_changes(100)
                .await
                .unwrap()
                .len(),
            1
        );
    }
);
