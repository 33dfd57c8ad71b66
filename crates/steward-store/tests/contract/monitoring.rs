//! Contract: checks, their state and history, channels and the notification outbox.

use super::*;
use steward_store::{ChannelRecord, CheckRecord, CheckResultWrite, NoticeWrite};

pub(super) fn check_def(id: &str, name: &str) -> CheckRecord {
    CheckRecord {
        id: id.into(),
        name: name.into(),
        kind: "http".into(),
        target: String::new(),
        spec: r#"{"url":"http://127.0.0.1:8081/"}"#.into(),
        interval_ms: 5_000,
        rules: r#"{"retries":1}"#.into(),
        runner: "server".into(),
        parent_id: None,
        runbook: "Restart the web server.".into(),
        source: "config".into(),
        enabled: true,
        created_at: ts(1),
        updated_at: ts(1),
    }
}

pub(super) fn channel(id: &str, name: &str) -> ChannelRecord {
    ChannelRecord {
        id: id.into(),
        name: name.into(),
        kind: "webhook".into(),
        settings: "sealed".into(),
        source: "config".into(),
        created_at: ts(1),
    }
}

pub(super) fn result_write(
    check: &str,
    at: i64,
    transition: bool,
    notices: Vec<NoticeWrite>,
) -> CheckResultWrite {
    CheckResultWrite {
        decided_at: ts(at),
        check_id: check.into(),
        subject: String::new(),
        state: "{}".into(),
        status: "critical".into(),
        since: ts(at),
        summary: "HTTP 503".into(),
        next_run_at: ts(at + 5_000),
        transition: transition.then(|| ("ok".to_string(), "critical".to_string(), ts(at))),
        notices,
    }
}

contract_test!(
    checks_are_saved_listed_and_deleted,
    |db: TestDb| async move {
        db.save_check(&check_def("c1", "shop-website"))
            .await
            .unwrap();
        db.save_check(&check_def("c2", "router")).await.unwrap();
        assert!(matches!(
            db.save_check(&check_def("c3", "router")).await,
            Err(StoreError::Conflict(_))
        ));
        let mut changed = check_def("c1", "shop-website");
        changed.interval_ms = 30_000;
        changed.parent_id = Some("c2".into());
        changed.updated_at = ts(2);
        db.save_check(&changed).await.unwrap();
        let checks = db.checks().await.unwrap();
        assert_eq!(
            checks.iter().map(|c| c.name.as_str()).collect::<Vec<_>>(),
            ["router", "shop-website"]
        );
        assert_eq!(checks[1], changed);
        let mut orphan = check_def("c4", "orphan");
        orphan.parent_id = Some("missing".into());
        assert!(matches!(
            db.save_check(&orphan).await,
            Err(StoreError::NotFound)
        ));
        db.track_check("c1", "", "{}", ts(1), ts(1)).await.unwrap();
        db.record_check_result(&result_write("c1", 10, true, Vec::new()))
            .await
            .unwrap();
        db.delete_check("c1").await.unwrap();
        assert!(db.check_state("c1", "").await.unwrap().is_none());
        assert!(db.check_history("c1", "", 10).await.unwrap().is_empty());
        assert!(matches!(
            db.delete_check("c1").await,
            Err(StoreError::NotFound)
        ));
    }
);

contract_test!(
    due_checks_are_claimed_once_until_their_result,
    |db: TestDb| async move {
        for (id, name) in [("a", "alpha"), ("b", "beta"), ("c", "gamma")] {
            db.save_check(&check_def(id, name)).await.unwrap();
        }
        let mut off = check_def("d", "disabled");
        off.enabled = false;
        db.save_check(&off).await.unwrap();
        db.track_check("a", "", "{}", ts(0), ts(100)).await.unwrap();
        db.track_check("b", "", "{}", ts(0), ts(200)).await.unwrap();
        db.track_check("c", "", "{}", ts(0), ts(10_000))
            .await
            .unwrap();
        db.track_check("d", "", "{}", ts(0), ts(0)).await.unwrap();
        // Tracking again changes nothing.
        db.track_check("a", "", "{\"x\":1}", ts(0), ts(999))
            .await
            .unwrap();
        assert_eq!(db.check_state("a", "").await.unwrap().unwrap().state, "{}");

        let claimed = db.claim_due_checks(ts(500), 10, 1_000).await.unwrap();
        let ids: Vec<&str> = claimed.iter().map(|c| c.check_id.as_str()).collect();
        assert_eq!(ids, ["a", "b"], "due and enabled, oldest first");
        assert!(
            db.claim_due_checks(ts(600), 10, 1_000)
                .await
                .unwrap()
                .is_empty(),
            "held by the lease"
        );
        db.record_check_result(&result_write("a", 700, false, Vec::new()))
            .await
            .unwrap();
        let a = db.check_state("a", "").await.unwrap().unwrap();
        assert_eq!((a.status.as_str(), a.next_run_at), ("critical", ts(5_700)));
        // A server that died holding `b`: its lease lapses and another takes it.
        let again = db.claim_due_checks(ts(1_600), 10, 1_000).await.unwrap();
        assert_eq!(
            again
                .iter()
                .map(|c| c.check_id.as_str())
                .collect::<Vec<_>>(),
            ["b"]
        );

        // Two servers claiming at once split the work: no check is claimed twice.
        for i in 0..20 {
            let id = format!("p{i:02}");
            db.save_check(&check_def(&id, &id)).await.unwrap();
            db.track_check(&id, "", "{}", ts(0), ts(0)).await.unwrap();
        }
        let (one, two) = tokio::join!(
            db.claim_due_checks(ts(2_000), 15, 60_000),
            db.claim_due_checks(ts(2_000), 15, 60_000)
        );
        let mut all: Vec<String> = one
            .unwrap()
            .into_iter()
            .chain(two.unwrap())
            .map(|c| c.check_id)
            .filter(|id| id.starts_with('p'))
            .collect();
        let claimed = all.len();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), claimed, "a check claimed twice");
        assert_eq!(claimed, 20);
    }
);

contract_test!(
    a_result_its_history_and_its_notices_are_written_together,
    |db: TestDb| async move {
        db.save_check(&check_def("c", "shop-website"))
            .await
            .unwrap();
        db.save_channel(&channel("w", "ops-webhook")).await.unwrap();
        db.save_channel(&channel("m", "ops-mail")).await.unwrap();
        assert!(matches!(
            db.save_channel(&channel("x", "ops-mail")).await,
            Err(StoreError::Conflict(_))
        ));
        assert_eq!(db.channels().await.unwrap().len(), 2);
        db.track_check("c", "", "{}", ts(0), ts(0)).await.unwrap();
        let notices = |payload: &str| {
            ["w", "m"]
                .into_iter()
                .map(|ch| NoticeWrite {
                    key: "transition:{history}".into(),
                    channel_id: ch.into(),
                    payload: payload.into(),
                })
                .collect::<Vec<_>>()
        };
        let history = db
            .record_check_result(&result_write("c", 100, true, notices("down")))
            .await
            .unwrap()
            .unwrap();
        let lines = db.check_history("c", "", 10).await.unwrap();
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].id, history);
        assert_eq!(
            (lines[0].from_status.as_str(), lines[0].to_status.as_str()),
            ("ok", "critical")
        );
        let queued = db.notifications(10).await.unwrap();
        assert_eq!(queued.len(), 2);
        assert!(
            queued
                .iter()
                .all(|n| n.notice_key == format!("transition:{history}"))
        );
        // Replaying the same notice (a retried decision) queues nothing more.
        let replay = result_write(
            "c",
            100,
            false,
            ["w", "m"]
                .into_iter()
                .map(|ch| NoticeWrite {
                    key: format!("transition:{history}"),
                    channel_id: ch.into(),
                    payload: "down".into(),
                })
                .collect(),
        );
        db.record_check_result(&replay).await.unwrap();
        assert_eq!(db.notifications(10).await.unwrap().len(), 2);
        // A result for a check nobody tracks writes nothing at all.
        assert!(matches!(
            db.record_check_result(&result_write("nope", 100, true, notices("x")))
                .await,
            Err(StoreError::NotFound)
        ));
        assert_eq!(db.notifications(10).await.unwrap().len(), 2);
    }
);

contract_test!(
    notifications_are_retried_until_delivered_once,
    |db: TestDb| async move {
        db.save_check(&check_def("c", "shop-website"))
            .await
            .unwrap();
        db.save_channel(&channel("w", "ops-webhook")).await.unwrap();
        db.track_check("c", "", "{}", ts(0), ts(0)).await.unwrap();
        let notice = vec![NoticeWrite {
            key: "transition:{history}".into(),
            channel_id: "w".into(),
            payload: "{}".into(),
        }];
        db.record_check_result(&result_write("c", 100, true, notice))
            .await
            .unwrap();
        assert!(
            db.claim_notifications(ts(99), 10, 1_000)
                .await
                .unwrap()
                .is_empty(),
            "not yet"
        );
        let claimed = db.claim_notifications(ts(100), 10, 1_000).await.unwrap();
        assert_eq!(claimed.len(), 1);
        assert!(
            db.claim_notifications(ts(200), 10, 1_000)
                .await
                .unwrap()
                .is_empty(),
            "leased"
        );
        let id = claimed[0].id;
        db.notification_failed(id, "connection refused", ts(5_000))
            .await
            .unwrap();
        assert!(
            db.claim_notifications(ts(4_999), 10, 1_000)
                .await
                .unwrap()
                .is_empty(),
            "backing off"
        );
        let retry = db.claim_notifications(ts(5_000), 10, 1_000).await.unwrap();
        assert_eq!(retry.len(), 1);
        assert_eq!(
            (retry[0].attempts, retry[0].last_error.as_str()),
            (1, "connection refused")
        );
        db.notification_delivered(id, ts(5_100)).await.unwrap();
        assert!(matches!(
            db.notification_delivered(id, ts(5_200)).await,
            Err(StoreError::NotFound)
        ));
        assert!(
            db.claim_notifications(ts(100_000), 10, 1_000)
                .await
                .unwrap()
                .is_empty()
        );
        let all = db.notifications(10).await.unwrap();
        assert_eq!((all[0].attempts, all[0].delivered_at), (2, Some(ts(5_100))));
    }
);
