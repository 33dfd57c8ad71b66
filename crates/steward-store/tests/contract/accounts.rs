//! Contract: accounts.

use super::*;

contract_test!(users_are_unique_by_name, |db: TestDb| async move {
    assert_eq!(db.count_users().await.unwrap(), 0);
    let alice = db
        .create_user(&new_user("u1", "alice"), ts(1_000))
        .await
        .unwrap();
    assert_eq!(
        alice,
        steward_store::UserRecord {
            id: "u1".into(),
            username: "alice".into(),
            password_hash: "argon2-u1".into(),
            role: "admin".into(),
            created_at: ts(1_000),
            disabled_at: None,
            totp_secret: None,
            totp_enabled_at: None,
            totp_last_step: 0,
            all_devices: true,
            must_change_password: false,
        }
    );
    let err = db
        .create_user(&new_user("u2", "alice"), ts(2_000))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    // Names are one regardless of case: `Alice` is `alice`, for creating and finding.
    let err = db
        .create_user(&new_user("u2", "ALICE"), ts(2_000))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert_eq!(
        db.user_by_username("Alice").await.unwrap().map(|u| u.id),
        Some("u1".to_string())
    );
    assert_eq!(db.count_users().await.unwrap(), 1);
    // The store still works after the refused insert (no poisoned connection).
    db.create_user(&new_user("u3", "bob"), ts(3_000))
        .await
        .unwrap();
    assert_eq!(db.count_users().await.unwrap(), 2);

    assert_eq!(
        db.user_by_username("alice").await.unwrap(),
        Some(alice.clone())
    );
    assert_eq!(db.user_by_id("u1").await.unwrap(), Some(alice));
    assert_eq!(db.user_by_username("nobody").await.unwrap(), None);
    assert_eq!(db.user_by_id("u2").await.unwrap(), None);
});

contract_test!(sessions_lifecycle, |db: TestDb| async move {
    let alice = db
        .create_user(&new_user("u1", "alice"), ts(1))
        .await
        .unwrap();
    let bob = db.create_user(&new_user("u2", "bob"), ts(1)).await.unwrap();
    db.create_session(&session("s1", "u1", 10_000))
        .await
        .unwrap();
    db.create_session(&session("s2", "u1", 20_000))
        .await
        .unwrap();
    db.create_session(&session("s3", "u2", 30_000))
        .await
        .unwrap();

    let (s, u) = db.session("s1").await.unwrap().unwrap();
    assert_eq!(s, session("s1", "u1", 10_000));
    assert_eq!(u, alice);
    assert!(db.session("nope").await.unwrap().is_none());

    db.touch_session("s1", ts(5_000)).await.unwrap();
    let (s, _) = db.session("s1").await.unwrap().unwrap();
    assert_eq!(s.last_seen_at, ts(5_000));
    assert_eq!(s.created_at, ts(1_000));

    db.delete_session("s1").await.unwrap();
    assert!(db.session("s1").await.unwrap().is_none());
    // Deleting what is gone is fine.
    db.delete_session("s1").await.unwrap();

    // A new password ends all of the user's sessions, and only theirs.
    db.create_session(&session("s4", "u1", 40_000))
        .await
        .unwrap();
    db.set_password("u1", "argon2-new", true).await.unwrap();
    assert!(db.session("s2").await.unwrap().is_none());
    assert!(db.session("s4").await.unwrap().is_none());
    assert_eq!(db.session("s3").await.unwrap().unwrap().1, bob);
    let u1 = db.user_by_id("u1").await.unwrap().unwrap();
    assert_eq!(u1.password_hash, "argon2-new");
    assert!(u1.must_change_password, "a reset password must be changed");
    db.set_password("u1", "argon2-own", false).await.unwrap();
    assert!(
        !db.user_by_id("u1")
            .await
            .unwrap()
            .unwrap()
            .must_change_password
    );
    assert!(matches!(
        db.set_password("nobody", "x", false).await,
        Err(StoreError::NotFound)
    ));

    // Expired sessions are swept; the bound is inclusive.
    db.create_session(&session("e1", "u2", 1_000))
        .await
        .unwrap();
    db.create_session(&session("e2", "u2", 2_000))
        .await
        .unwrap();
    assert_eq!(db.delete_sessions_before(ts(2_000)).await.unwrap(), 2);
    assert!(db.session("e2").await.unwrap().is_none());
    assert!(db.session("s3").await.unwrap().is_some());
    assert_eq!(db.delete_sessions_before(ts(2_000)).await.unwrap(), 0);
    assert_eq!(db.delete_sessions_before(ts(30_000)).await.unwrap(), 1);
    assert!(db.session("s3").await.unwrap().is_none());
});

contract_test!(api_tokens_lifecycle, |db: TestDb| async move {
    db.create_api_token(&api_token("t2", 2_000)).await.unwrap();
    db.create_api_token(&api_token("t1", 1_000)).await.unwrap();
    assert_eq!(
        db.api_token_by_hash("sha-t1").await.unwrap(),
        Some(api_token("t1", 1_000))
    );
    assert_eq!(db.api_token_by_hash("sha-nope").await.unwrap(), None);

    db.touch_api_token("t1", ts(5_000)).await.unwrap();
    assert_eq!(
        db.api_token_by_hash("sha-t1")
            .await
            .unwrap()
            .unwrap()
            .last_used_at,
        Some(ts(5_000))
    );

    let listed: Vec<String> = db
        .list_api_tokens()
        .await
        .unwrap()
        .into_iter()
        .map(|t| t.id)
        .collect();
    assert_eq!(listed, ["t1", "t2"]);

    db.revoke_api_token("t1", ts(6_000)).await.unwrap();
    let t1 = db.api_token_by_hash("sha-t1").await.unwrap().unwrap();
    assert_eq!(t1.revoked_at, Some(ts(6_000)));
    assert!(matches!(
        db.revoke_api_token("t1", ts(7_000)).await,
        Err(StoreError::NotFound)
    ));
    assert!(matches!(
        db.revoke_api_token("nope", ts(7_000)).await,
        Err(StoreError::NotFound)
    ));
    assert_eq!(
        db.api_token_by_hash("sha-t1")
            .await
            .unwrap()
            .unwrap()
            .revoked_at,
        Some(ts(6_000))
    );
    // Revoked tokens stay listed (the console shows them as revoked).
    let listed = db.list_api_tokens().await.unwrap();
    assert_eq!(listed.len(), 2);
    assert_eq!(listed[1].revoked_at, None);
});

contract_test!(
    users_list_and_end_only_their_own_sessions,
    |db: TestDb| async move {
        db.create_user(&new_user("u1", "ann"), ts(0)).await.unwrap();
        db.create_user(&new_user("u2", "ben"), ts(0)).await.unwrap();
        for (hash, user) in [("a1", "u1"), ("a2", "u1"), ("a3", "u1"), ("b1", "u2")] {
            db.create_session(&session(hash, user, 99_000))
                .await
                .unwrap();
        }
        db.touch_session("a2", ts(5_000)).await.unwrap();
        let mine = db.sessions_for_user("u1").await.unwrap();
        assert_eq!(
            mine.iter()
                .map(|s| s.token_hash.as_str())
                .collect::<Vec<_>>(),
            ["a2", "a1", "a3"],
            "most recently used first"
        );
        // Ann cannot end Ben's session.
        assert!(matches!(
            db.delete_user_session("u1", "b1").await,
            Err(StoreError::NotFound)
        ));
        db.delete_user_session("u1", "a1").await.unwrap();
        assert_eq!(db.delete_other_sessions("u1", "a2").await.unwrap(), 1);
        let left: Vec<String> = db
            .sessions_for_user("u1")
            .await
            .unwrap()
            .into_iter()
            .map(|s| s.token_hash)
            .collect();
        assert_eq!(left, ["a2"]);
        assert_eq!(db.sessions_for_user("u2").await.unwrap().len(), 1);
    }
);
