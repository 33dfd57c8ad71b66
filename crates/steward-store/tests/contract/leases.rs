//! Contract: the leases several servers share checks and notifications by — named holders,
//! renewal while the work is in hand, a lapse when it is not, one result per run, and no
//! notification sent by a server that lost it.

use super::monitoring::{channel, check_def, result_write};
use super::*;
use steward_store::NoticeWrite;

/// A tracked check `c` due at 0 and, when `notify`, one undelivered notification for it.
async fn one_check(db: &Store, notify: bool) -> Option<i64> {
    db.save_check(&check_def("c", "shop-website"))
        .await
        .unwrap();
    db.save_channel(&channel("w", "ops-webhook")).await.unwrap();
    db.track_check("c", "", "{}", ts(0), ts(0)).await.unwrap();
    if !notify {
        return None;
    }
    let notice = vec![NoticeWrite {
        key: "transition:{history}".into(),
        channel_id: "w".into(),
        payload: "{}".into(),
    }];
    db.record_check_result(&result_write("c", 0, 0, true, notice))
        .await
        .unwrap();
    let queued = db.notifications(10).await.unwrap();
    Some(queued[0].id)
}

contract_test!(
    a_result_answers_the_run_it_was_claimed_for_once,
    |db: TestDb| async move {
        one_check(&db, false).await;
        // `a` claims the run due at 0; its lease lapses while it probes and `b` claims the
        // same run.
        assert_eq!(
            db.claim_due_checks("a", ts(0), 10, 1_000)
                .await
                .unwrap()
                .len(),
            1
        );
        let taken = db
            .claim_due_checks("b", ts(1_000), 10, 1_000)
            .await
            .unwrap();
        assert_eq!(taken[0].next_run_at, ts(0), "the same run");
        // The first answer is recorded; the second is refused and changes nothing.
        let mut first = result_write("c", 0, 1_200, true, Vec::new());
        first.summary = "b saw it down".into();
        db.record_check_result(&first).await.unwrap();
        let mut late = result_write("c", 0, 1_300, true, Vec::new());
        late.summary = "a saw it down".into();
        assert!(matches!(
            db.record_check_result(&late).await,
            Err(StoreError::Conflict(_))
        ));
        let state = db.check_state("c", "").await.unwrap().unwrap();
        assert_eq!(
            (state.summary.as_str(), state.next_run_at),
            ("b saw it down", ts(6_200))
        );
        assert_eq!(db.check_history("c", "", 10).await.unwrap().len(), 1);
        // The recorded run released the claim: the next run is claimed when due.
        assert!(
            db.claim_due_checks("a", ts(6_199), 10, 1_000)
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            db.claim_due_checks("a", ts(6_200), 10, 1_000)
                .await
                .unwrap()
                .len(),
            1
        );
    }
);

contract_test!(
    a_holder_renews_its_own_young_leases_only,
    |db: TestDb| async move {
        let id = one_check(&db, true).await.unwrap();
        // The check is due next at 5 000 (the notice's result set it); times from there.
        let t = |ms: i64| ts(5_000 + ms);
        assert_eq!(
            db.claim_due_checks("a", t(100), 10, 1_000)
                .await
                .unwrap()
                .len(),
            1
        );
        assert_eq!(
            db.claim_notifications("a", t(100), 10, 1_000)
                .await
                .unwrap()
                .len(),
            1
        );
        // Another holder renews nothing of `a`'s.
        assert_eq!(db.renew_leases("b", t(900), 1_000, ts(0)).await.unwrap(), 0);
        // `a` renews both: at 1 500, past the first lease, `b` still finds nothing.
        assert_eq!(db.renew_leases("a", t(900), 1_000, ts(0)).await.unwrap(), 2);
        assert!(
            db.claim_due_checks("b", t(1_500), 10, 1_000)
                .await
                .unwrap()
                .is_empty()
        );
        assert!(
            db.claim_notifications("b", t(1_500), 10, 1_000)
                .await
                .unwrap()
                .is_empty()
        );
        // Leases taken before `claimed_since` are not renewed (held too long: lost, not
        // slow), so they lapse with their server alive and another server takes them.
        assert_eq!(
            db.renew_leases("a", t(1_800), 1_000, t(100)).await.unwrap(),
            0
        );
        assert_eq!(
            db.claim_due_checks("b", t(1_900), 10, 1_000)
                .await
                .unwrap()
                .len(),
            1
        );
        let again = db
            .claim_notifications("b", t(1_900), 10, 1_000)
            .await
            .unwrap();
        assert_eq!(again.iter().map(|n| n.id).collect::<Vec<_>>(), [id]);
        // Now they are `b`'s to renew.
        assert_eq!(
            db.renew_leases("b", t(2_500), 1_000, ts(0)).await.unwrap(),
            2
        );
        assert_eq!(
            db.renew_leases("a", t(2_500), 1_000, ts(0)).await.unwrap(),
            0
        );
        // A delivered notification is no longer renewed.
        db.notification_delivered(id, t(2_600)).await.unwrap();
        assert_eq!(
            db.renew_leases("b", t(2_700), 1_000, ts(0)).await.unwrap(),
            1
        );
    }
);

contract_test!(
    a_notification_lapsed_to_another_server_is_not_sent_by_the_first,
    |db: TestDb| async move {
        let id = one_check(&db, true).await.unwrap();
        assert_eq!(
            db.claim_notifications("a", ts(0), 10, 1_000)
                .await
                .unwrap()
                .len(),
            1
        );
        assert!(db.take_notification("a", id, ts(500), 1_000).await.unwrap());
        // `a` stalls past its lease; `b` claims the notification.
        assert_eq!(
            db.claim_notifications("b", ts(1_600), 10, 1_000)
                .await
                .unwrap()
                .len(),
            1
        );
        assert!(
            !db.take_notification("a", id, ts(1_700), 1_000)
                .await
                .unwrap()
        );
        // `a`'s failure is not recorded over `b`'s claim, which still holds.
        assert!(matches!(
            db.notification_failed("a", id, "timed out", ts(60_000))
                .await,
            Err(StoreError::NotFound)
        ));
        assert!(
            db.claim_notifications("c", ts(2_000), 10, 1_000)
                .await
                .unwrap()
                .is_empty()
        );
        assert!(
            db.take_notification("b", id, ts(2_000), 1_000)
                .await
                .unwrap()
        );
        db.notification_failed("b", id, "HTTP 503", ts(10_000))
            .await
            .unwrap();
        // Released by the failure: at the next attempt anyone may claim it, and once
        // delivered nobody takes it.
        assert!(
            !db.take_notification("b", id, ts(2_100), 1_000)
                .await
                .unwrap()
        );
        assert_eq!(
            db.claim_notifications("a", ts(10_000), 10, 1_000)
                .await
                .unwrap()
                .len(),
            1
        );
        assert!(
            db.take_notification("a", id, ts(10_000), 1_000)
                .await
                .unwrap()
        );
        db.notification_delivered(id, ts(10_100)).await.unwrap();
        assert!(
            !db.take_notification("a", id, ts(10_200), 1_000)
                .await
                .unwrap()
        );
        let n = &db.notifications(10).await.unwrap()[0];
        assert_eq!((n.attempts, n.delivered_at), (2, Some(ts(10_100))));
        assert_eq!(n.last_error, "");
    }
);
