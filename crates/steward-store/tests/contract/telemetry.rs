//! Contract: the queue depths `/metrics` samples.

use super::monitoring::{channel, check_def, result_write};
use super::*;
use steward_store::{NoticeWrite, QueueDepths};

contract_test!(queue_depths_count_what_waits, |db: TestDb| async move {
    assert_eq!(
        db.queue_depths(ts(0), 1_000).await.unwrap(),
        QueueDepths::default()
    );
    // Checks: due at 1,000, 9,500 and 20,000; a disabled one due long ago is not counted.
    for (id, due) in [("a", 1_000), ("b", 9_500), ("c", 20_000)] {
        db.save_check(&check_def(id, id)).await.unwrap();
        db.track_check(id, "", "{}", ts(0), ts(due)).await.unwrap();
    }
    let mut off = check_def("off", "off");
    off.enabled = false;
    db.save_check(&off).await.unwrap();
    db.track_check("off", "", "{}", ts(0), ts(0)).await.unwrap();
    // Notifications: two queued, one of them delivered.
    db.save_channel(&channel("w", "ops-webhook")).await.unwrap();
    for (check, key) in [("a", "k1"), ("c", "k2")] {
        let notice = vec![NoticeWrite {
            key: key.into(),
            channel_id: "w".into(),
            payload: "{}".into(),
        }];
        let due = db
            .check_state(check, "")
            .await
            .unwrap()
            .unwrap()
            .next_run_at;
        // The result answers the run due then and leaves the next one where it was.
        let mut write = result_write(check, due.0, 100, false, notice);
        write.next_run_at = due;
        db.record_check_result(&write).await.unwrap();
    }
    let first = db
        .claim_notifications("s1", ts(100), 1, 1_000)
        .await
        .unwrap();
    db.notification_delivered(first[0].id, ts(150))
        .await
        .unwrap();
    // Jobs: two queued, one taken.
    enroll(&db, "d1", "d1").await;
    db.create_job(&job("j1", "d1", 1_000)).await.unwrap();
    db.create_job(&job("j2", "d1", 2_000)).await.unwrap();
    db.claim_next_job("d1", ts(3_000)).await.unwrap().unwrap();

    let depths = db.queue_depths(ts(10_000), 1_000).await.unwrap();
    assert_eq!(
        depths,
        QueueDepths {
            notifications_pending: 1,
            checks_due: 2,
            checks_overdue: 1,
            jobs_queued: 1,
        }
    );
});
