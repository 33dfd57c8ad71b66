//! Contract: sign-in throttling.

use super::*;

contract_test!(
    login_failures_count_per_key_and_expire,
    |db: TestDb| async move {
        let keys = ["user:john".to_string(), "ip:192.0.2.7".to_string()];
        assert_eq!(
            db.login_failures("user:john", ts(0)).await.unwrap().count,
            0
        );
        for at in [1_000, 2_000, 3_000] {
            db.reserve_login_attempt(&keys, ts(at), ts(0))
                .await
                .unwrap();
        }
        let w = db.login_failures("user:john", ts(1_500)).await.unwrap();
        assert_eq!(
            (w.count, w.oldest, w.newest),
            (2, Some(ts(2_000)), Some(ts(3_000)))
        );
        assert_eq!(
            db.login_failures("ip:192.0.2.7", ts(0))
                .await
                .unwrap()
                .count,
            3
        );
        assert_eq!(
            db.login_failures("user:other", ts(0)).await.unwrap().count,
            0
        );
        // Old failures are forgotten when new ones are recorded.
        db.reserve_login_attempt(&keys[..1], ts(4_000), ts(2_500))
            .await
            .unwrap();
        assert_eq!(
            db.login_failures("user:john", ts(0)).await.unwrap().count,
            2
        );
        // A successful sign-in clears the account, not the address.
        db.clear_login_failures("user:john").await.unwrap();
        assert_eq!(
            db.login_failures("user:john", ts(0)).await.unwrap().count,
            0
        );
        assert_eq!(
            db.login_failures("ip:192.0.2.7", ts(0))
                .await
                .unwrap()
                .count,
            3
        );
    }
);

contract_test!(
    attempts_are_reserved_before_they_are_checked,
    |db: TestDb| async move {
        let keys = ["user:ann".to_string(), "ip:192.0.2.9".to_string()];
        let (first, before) = db
            .reserve_login_attempt(&keys, ts(1_000), ts(0))
            .await
            .unwrap();
        assert_eq!(before[0].count, 0, "nothing before the first attempt");
        // A second attempt, before the first is decided, sees it.
        let (second, before) = db
            .reserve_login_attempt(&keys, ts(1_001), ts(0))
            .await
            .unwrap();
        assert_eq!((before[0].count, before[1].count), (1, 1));
        assert_eq!(before[0].newest, Some(ts(1_000)));
        // The first succeeds (released); the second failed (kept).
        db.release_login_attempt(&first).await.unwrap();
        assert_eq!(db.login_failures("user:ann", ts(0)).await.unwrap().count, 1);
        assert_eq!(
            db.login_failures("ip:192.0.2.9", ts(0))
                .await
                .unwrap()
                .count,
            1
        );
        db.release_login_attempt(&second).await.unwrap();
        assert_eq!(db.login_failures("user:ann", ts(0)).await.unwrap().count, 0);
        // Many at once: every one is counted by the next.
        let mut seen = Vec::new();
        let tasks: Vec<_> = (0..8)
            .map(|i| {
                let db = db.clone();
                let keys = keys.clone();
                tokio::spawn(async move {
                    db.reserve_login_attempt(&keys, ts(2_000 + i), ts(0))
                        .await
                        .unwrap()
                        .1[0]
                        .count
                })
            })
            .collect();
        for t in tasks {
            seen.push(t.await.unwrap());
        }
        seen.sort();
        assert_eq!(
            seen,
            (0..8).collect::<Vec<u32>>(),
            "parallel attempts saw each other"
        );
    }
);
