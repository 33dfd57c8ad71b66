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

contract_test!(
    known_devices_are_remembered_per_user,
    |db: TestDb| async move {
        db.create_user(&new_user("u1", "alice"), ts(1))
            .await
            .unwrap();
        db.create_user(&new_user("u2", "bob"), ts(1)).await.unwrap();
        assert_eq!(db.known_device("k1").await.unwrap(), None);
        db.remember_known_device("k1", "u1", ts(1_000))
            .await
            .unwrap();
        db.remember_known_device("k1", "u1", ts(5_000))
            .await
            .unwrap();
        let k = db.known_device("k1").await.unwrap().unwrap();
        assert_eq!(
            (k.user_id.as_str(), k.created_at, k.last_used_at),
            ("u1", ts(1_000), ts(5_000))
        );
        // A token belongs to the account it was made for: another account cannot take it over.
        db.remember_known_device("k1", "u2", ts(6_000))
            .await
            .unwrap();
        let k = db.known_device("k1").await.unwrap().unwrap();
        assert_eq!((k.user_id.as_str(), k.last_used_at), ("u1", ts(5_000)));
        db.remember_known_device("k2", "u2", ts(2_000))
            .await
            .unwrap();
        assert_eq!(db.forget_known_devices_before(ts(3_000)).await.unwrap(), 1);
        assert!(db.known_device("k2").await.unwrap().is_none());
        // Deleting the user forgets their devices.
        db.create_user(&new_user("u3", "carol"), ts(1))
            .await
            .unwrap();
        db.delete_user("u1", ts(7_000)).await.unwrap();
        assert!(db.known_device("k1").await.unwrap().is_none());
    }
);
