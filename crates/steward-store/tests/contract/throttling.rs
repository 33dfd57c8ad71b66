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
            db.record_login_failure(&keys, ts(at), ts(0)).await.unwrap();
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
        db.record_login_failure(&keys[..1], ts(4_000), ts(2_500))
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
