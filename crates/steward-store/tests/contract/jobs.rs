//! Contract: jobs.

use super::*;

contract_test!(
    jobs_are_claimed_oldest_first_once,
    |db: TestDb| async move {
        enroll(&db, "a", "a").await;
        enroll(&db, "b", "b").await;
        db.create_job(&job("j-late", "a", 3_000)).await.unwrap();
        db.create_job(&job("j-first", "a", 1_000)).await.unwrap();
        db.create_job(&job("j-mid", "a", 2_000)).await.unwrap();
        db.create_job(&job("j-b", "b", 500)).await.unwrap();
        assert_eq!(
            db.job("j-first").await.unwrap(),
            Some(job("j-first", "a", 1_000))
        );

        let first = db.claim_next_job("a", ts(10_000)).await.unwrap().unwrap();
        assert_eq!(first.id, "j-first");
        assert_eq!(first.state, JobState::Dispatched);
        assert_eq!(first.updated_at, ts(10_000));
        assert_eq!(first.params, job("x", "a", 0).params);
        assert_eq!(db.job("j-first").await.unwrap(), Some(first.clone()));

        let second = db.claim_next_job("a", ts(11_000)).await.unwrap().unwrap();
        assert_eq!(second.id, "j-mid");
        let third = db.claim_next_job("a", ts(12_000)).await.unwrap().unwrap();
        assert_eq!(third.id, "j-late");
        assert_eq!(db.claim_next_job("a", ts(13_000)).await.unwrap(), None);

        // b's job was never offered to a.
        let b = db.claim_next_job("b", ts(14_000)).await.unwrap().unwrap();
        assert_eq!(b.id, "j-b");
        assert_eq!(db.claim_next_job("b", ts(15_000)).await.unwrap(), None);
        assert_eq!(db.claim_next_job("nobody", ts(15_000)).await.unwrap(), None);
    }
);

contract_test!(
    concurrent_claims_hand_out_each_job_once,
    |db: TestDb| async move {
        enroll(&db, "a", "a").await;
        for i in 0..3 {
            db.create_job(&job(&format!("j{i}"), "a", 1_000 + i))
                .await
                .unwrap();
        }
        let mut tasks = Vec::new();
        for i in 0..8 {
            let store = db.store.clone();
            tasks.push(tokio::spawn(async move {
                store.claim_next_job("a", ts(5_000 + i)).await
            }));
        }
        let mut claimed = Vec::new();
        for t in tasks {
            if let Some(j) = t.await.unwrap().unwrap() {
                claimed.push(j.id);
            }
        }
        claimed.sort();
        assert_eq!(claimed, ["j0", "j1", "j2"]);
    }
);

contract_test!(job_updates_follow_the_rules, |db: TestDb| async move {
    enroll(&db, "a", "a").await;
    enroll(&db, "b", "b").await;
    db.create_job(&job("j1", "a", 1_000)).await.unwrap();
    db.claim_next_job("a", ts(2_000)).await.unwrap().unwrap();

    // Another device cannot touch it, nor learn that it exists.
    let outcome = db
        .update_job("b", "j1", JobState::Failed, "nope", "", ts(2_500))
        .await
        .unwrap();
    assert_eq!(outcome, JobUpdateOutcome::NotFound);
    assert_eq!(
        db.job("j1").await.unwrap().unwrap().state,
        JobState::Dispatched
    );
    let outcome = db
        .update_job("a", "no-such-job", JobState::Running, "", "", ts(2_500))
        .await
        .unwrap();
    assert_eq!(outcome, JobUpdateOutcome::NotFound);

    let JobUpdateOutcome::Updated(running) = db
        .update_job("a", "j1", JobState::Running, "collecting", "", ts(3_000))
        .await
        .unwrap()
    else {
        panic!("dispatched → running must be allowed");
    };
    assert_eq!(running.state, JobState::Running);
    assert_eq!(running.message, "collecting");
    assert_eq!(running.updated_at, ts(3_000));
    assert_eq!(db.job("j1").await.unwrap(), Some(running));

    let JobUpdateOutcome::Updated(done) = db
        .update_job(
            "a",
            "j1",
            JobState::Succeeded,
            "done",
            "3 packages\nok",
            ts(4_000),
        )
        .await
        .unwrap()
    else {
        panic!("running → succeeded must be allowed");
    };
    assert_eq!(db.job("j1").await.unwrap(), Some(done.clone()));
    assert_eq!(done.output, "3 packages\nok");
    assert_eq!(done.created_at, ts(1_000));

    let outcome = db
        .update_job("a", "j1", JobState::Running, "again", "", ts(5_000))
        .await
        .unwrap();
    assert_eq!(
        outcome,
        JobUpdateOutcome::InvalidTransition {
            current: JobState::Succeeded
        }
    );
    assert_eq!(db.job("j1").await.unwrap(), Some(done));
});

contract_test!(jobs_for_device_newest_first, |db: TestDb| async move {
    enroll(&db, "a", "a").await;
    enroll(&db, "b", "b").await;
    db.create_job(&job("j1", "a", 1_000)).await.unwrap();
    db.create_job(&job("j3", "a", 3_000)).await.unwrap();
    db.create_job(&job("j2a", "a", 2_000)).await.unwrap();
    db.create_job(&job("j2b", "a", 2_000)).await.unwrap();
    db.create_job(&job("jb", "b", 9_000)).await.unwrap();
    let got: Vec<String> = db
        .all()
        .jobs("a", 100)
        .await
        .unwrap()
        .into_iter()
        .map(|j| j.id)
        .collect();
    assert_eq!(got, ["j3", "j2b", "j2a", "j1"]);
    let got: Vec<String> = db
        .all()
        .jobs("a", 2)
        .await
        .unwrap()
        .into_iter()
        .map(|j| j.id)
        .collect();
    assert_eq!(got, ["j3", "j2b"]);
    assert!(db.all().jobs("nobody", 10).await.unwrap().is_empty());
});

contract_test!(devices_with_recently_queued_jobs, |db: TestDb| async move {
    for id in ["a", "b", "c"] {
        enroll(&db, id, id).await;
    }
    db.create_job(&job("ja", "a", 1_000)).await.unwrap();
    db.create_job(&job("jb1", "b", 3_000)).await.unwrap();
    db.create_job(&job("jb2", "b", 4_000)).await.unwrap();
    db.create_job(&job("jc", "c", 5_000)).await.unwrap();
    // c's job is no longer queued once claimed.
    db.claim_next_job("c", ts(6_000)).await.unwrap().unwrap();

    let since = |t: i64| {
        let store = db.store.clone();
        async move {
            let mut v = store.devices_with_jobs_queued_since(ts(t)).await.unwrap();
            v.sort();
            v
        }
    };
    assert_eq!(since(0).await, ["a", "b"]);
    assert_eq!(since(2_000).await, ["b"]);
    // Inclusive bound.
    assert_eq!(since(4_000).await, ["b"]);
    assert!(since(4_001).await.is_empty());
});

contract_test!(
    unanswered_dispatches_and_revoked_devices_jobs_expire,
    |db: TestDb| async move {
        enroll(&db, "a", "a").await;
        enroll(&db, "gone", "gone").await;
        for (id, device, at) in [
            ("old-dispatch", "a", 1_000),
            ("new-dispatch", "a", 2_000),
            ("running", "a", 3_000),
            ("queued", "a", 4_000),
            ("gone-running", "gone", 500),
            ("gone-queued", "gone", 1_000),
        ] {
            db.create_job(&job(id, device, at)).await.unwrap();
        }
        // Claimed at 10 s and 500 s; one reported running; "queued" is never claimed.
        db.claim_next_job("a", ts(10_000)).await.unwrap().unwrap();
        db.claim_next_job("a", ts(500_000)).await.unwrap().unwrap();
        db.claim_next_job("a", ts(500_000)).await.unwrap().unwrap();
        db.update_job("a", "running", JobState::Running, "", "", ts(500_000))
            .await
            .unwrap();
        db.claim_next_job("gone", ts(10_000))
            .await
            .unwrap()
            .unwrap();
        db.update_job(
            "gone",
            "gone-running",
            JobState::Running,
            "",
            "",
            ts(10_000),
        )
        .await
        .unwrap();
        db.store.revoke_device("gone", ts(20_000)).await.unwrap();

        // At 700 s, with dispatches before 100 s counted as unanswered.
        let n = db.expire_jobs(ts(100_000), ts(700_000)).await.unwrap();
        let state = |id: &'static str| {
            let store = db.store.clone();
            async move { store.job(id).await.unwrap().unwrap() }
        };
        let expired = state("old-dispatch").await;
        assert_eq!(expired.state, JobState::Expired);
        assert_eq!(expired.message, steward_core::job::EXPIRED_UNANSWERED);
        assert_eq!(expired.updated_at, ts(700_000));
        assert_eq!(state("new-dispatch").await.state, JobState::Dispatched);
        assert_eq!(state("running").await.state, JobState::Running);
        assert_eq!(state("queued").await.state, JobState::Queued);
        for id in ["gone-queued", "gone-running"] {
            let j = state(id).await;
            assert_eq!(j.state, JobState::Expired, "{id}");
            assert_eq!(j.message, steward_core::job::EXPIRED_DEVICE_REVOKED, "{id}");
        }
        assert_eq!(n, 3);
        // An expired job stays expired: a late report from the agent is refused.
        assert_eq!(
            db.update_job(
                "a",
                "old-dispatch",
                JobState::Succeeded,
                "",
                "",
                ts(800_000)
            )
            .await
            .unwrap(),
            JobUpdateOutcome::InvalidTransition {
                current: JobState::Expired
            }
        );
        assert_eq!(db.expire_jobs(ts(100_000), ts(900_000)).await.unwrap(), 0);
    }
);

contract_test!(
    a_claim_settles_jobs_the_agent_must_not_get,
    |db: TestDb| async move {
        enroll(&db, "a", "a").await;
        let due = JobRecord {
            deadline_at: ts(2_000),
            ..job("past-deadline", "a", 1_000)
        };
        db.create_job(&due).await.unwrap();
        db.create_job(&job("inventory", "a", 3_000)).await.unwrap();
        let rotation = JobRecord {
            kind: JobKind::RotateCredential,
            ..job("rotation", "a", 4_000)
        };
        db.create_job(&rotation).await.unwrap();
        // The agent said it runs credential rotations only.
        db.set_agent_capabilities("a", Some(&["rotate_credential".to_string()]), None, false)
            .await
            .unwrap();

        let got = db.claim_next_job("a", ts(5_000)).await.unwrap().unwrap();
        assert_eq!(got.id, "rotation");
        assert_eq!(got.state, JobState::Dispatched);
        let expired = db.job("past-deadline").await.unwrap().unwrap();
        assert_eq!(expired.state, JobState::Expired);
        assert_eq!(expired.message, steward_core::job::EXPIRED_NEVER_PICKED_UP);
        let refused = db.job("inventory").await.unwrap().unwrap();
        assert_eq!(refused.state, JobState::Unsupported);
        assert_eq!(
            refused.message,
            steward_core::job::unsupported_by_agent(JobKind::CollectInventory)
        );
        assert_eq!(refused.updated_at, ts(5_000));

        // An agent that says nothing (one from before advertising) gets the original kinds.
        db.set_agent_capabilities("a", None, None, false)
            .await
            .unwrap();
        db.create_job(&job("inventory-2", "a", 6_000))
            .await
            .unwrap();
        let got = db.claim_next_job("a", ts(7_000)).await.unwrap().unwrap();
        assert_eq!(got.id, "inventory-2");
        assert_eq!(db.claim_next_job("a", ts(8_000)).await.unwrap(), None);
    }
);

contract_test!(
    unfinished_jobs_expire_at_their_deadline,
    |db: TestDb| async move {
        enroll(&db, "a", "a").await;
        let with_deadline = |id: &str, created: i64, deadline: i64| JobRecord {
            deadline_at: ts(deadline),
            ..job(id, "a", created)
        };
        for (id, created, deadline) in [
            ("dispatched-due", 1_000, 50_000),
            ("running-due", 2_000, 50_000),
            ("running-later", 3_000, 90_000),
            ("finished", 4_000, 50_000),
            ("queued-due", 5_000, 50_000),
        ] {
            db.create_job(&with_deadline(id, created, deadline))
                .await
                .unwrap();
        }
        for _ in 0..4 {
            db.claim_next_job("a", ts(10_000)).await.unwrap().unwrap();
        }
        for id in ["running-due", "running-later"] {
            db.update_job("a", id, JobState::Running, "", "", ts(20_000))
                .await
                .unwrap();
        }
        db.update_job("a", "finished", JobState::Succeeded, "", "", ts(20_000))
            .await
            .unwrap();

        // Before the deadline nothing expires (the unanswered-dispatch rule is far off).
        assert_eq!(db.expire_jobs(ts(0), ts(49_000)).await.unwrap(), 0);
        let n = db.expire_jobs(ts(0), ts(60_000)).await.unwrap();
        assert_eq!(n, 3);
        let state = |id: &'static str| {
            let store = db.store.clone();
            async move { store.job(id).await.unwrap().unwrap() }
        };
        for id in ["dispatched-due", "running-due"] {
            let j = state(id).await;
            assert_eq!(j.state, JobState::Expired, "{id}");
            assert_eq!(j.message, steward_core::job::EXPIRED_PAST_DEADLINE, "{id}");
            assert_eq!(j.updated_at, ts(60_000), "{id}");
        }
        let j = state("queued-due").await;
        assert_eq!(j.state, JobState::Expired);
        assert_eq!(j.message, steward_core::job::EXPIRED_NEVER_PICKED_UP);
        assert_eq!(state("running-later").await.state, JobState::Running);
        assert_eq!(state("finished").await.state, JobState::Succeeded);
    }
);

contract_test!(
    an_agents_capabilities_are_recorded,
    |db: TestDb| async move {
        enroll(&db, "a", "a").await;
        let read = || async { db.device_ingest_state("a").await.unwrap().unwrap() };
        let fresh = read().await;
        assert_eq!(fresh.agent_job_kinds, None);
        assert_eq!(fresh.agent_report_sections, None);
        assert!(!fresh.agent_scripts_allowed);
        let kinds = vec!["collect_inventory".to_string(), "backup".to_string()];
        let sections = vec!["metrics".to_string()];
        db.set_agent_capabilities("a", Some(&kinds), Some(&sections), true)
            .await
            .unwrap();
        let said = read().await;
        assert_eq!(said.agent_job_kinds, Some(kinds.clone()));
        assert_eq!(said.agent_report_sections, Some(sections));
        assert!(said.agent_scripts_allowed);
        let all = db.agent_capabilities().await.unwrap();
        assert_eq!(all.get("a"), Some(&(Some(kinds), true)));
        // An empty list is a statement (it runs nothing), not silence.
        db.set_agent_capabilities("a", Some(&[]), None, false)
            .await
            .unwrap();
        let said = read().await;
        assert_eq!(said.agent_job_kinds, Some(vec![]));
        assert_eq!(said.agent_report_sections, None);
    }
);

contract_test!(
    one_update_install_at_a_time_per_device,
    |db: TestDb| async move {
        enroll(&db, "a", "a").await;
        enroll(&db, "b", "b").await;
        let install = |id: &str, device: &str| {
            let mut j = job(id, device, 1_000);
            j.kind = JobKind::InstallUpdates;
            j
        };
        db.create_job(&install("i1", "a")).await.unwrap();
        // Another device, or another kind, is not held back.
        db.create_job(&install("i-b", "b")).await.unwrap();
        db.create_job(&job("inv", "a", 1_000)).await.unwrap();
        assert!(matches!(
            db.create_job(&install("i2", "a")).await,
            Err(StoreError::Conflict(_))
        ));
        let waiting = db
            .devices_with_unfinished_jobs_of_kind(JobKind::InstallUpdates)
            .await
            .unwrap();
        assert_eq!(waiting.len(), 2);
        db.update_job("a", "i1", JobState::Running, "", "", ts(2_000))
            .await
            .unwrap();
        assert!(db.create_job(&install("i3", "a")).await.is_err());
        db.update_job("a", "i1", JobState::Failed, "broken", "", ts(3_000))
            .await
            .unwrap();
        db.create_job(&install("i4", "a")).await.unwrap();
    }
);
