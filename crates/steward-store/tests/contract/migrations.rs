//! Contract: connecting and migrations.

use super::*;

#[test]
fn backend_is_chosen_from_the_url() {
    assert_eq!(
        Backend::from_url("sqlite:///var/lib/steward.db").unwrap(),
        Backend::Sqlite
    );
    assert_eq!(
        Backend::from_url("postgres://u@h/db").unwrap(),
        Backend::Postgres
    );
    assert_eq!(
        Backend::from_url("postgresql://u@h/db").unwrap(),
        Backend::Postgres
    );
    assert!(matches!(
        Backend::from_url("mysql://u:secret@h/db"),
        Err(StoreError::BadUrl(msg)) if !msg.contains("secret")
    ));
    assert_eq!(
        steward_store::redact("postgres://u:secret@h/db"),
        "postgres://u:***@h/db"
    );
}

#[test]
fn test_database_url_replaces_only_the_database_name() {
    use steward_store::testing::with_database;
    assert_eq!(
        with_database("postgres://root@127.0.0.1:5432/test", "x"),
        "postgres://root@127.0.0.1:5432/x"
    );
    assert_eq!(
        with_database("postgres://u:p@h:5432/test?sslmode=disable", "x"),
        "postgres://u:p@h:5432/x?sslmode=disable"
    );
    assert_eq!(with_database("postgres://h", "x"), "postgres://h/x");
}

contract_test!(migrations_are_idempotent, |db: TestDb| async move {
    assert_eq!(db.backend(), db.backend);
    db.ping().await.unwrap();
    db.create_user(&new_user("u1", "alice"), ts(1))
        .await
        .unwrap();

    // A second store on the same database, while the first is still open: the migrations
    // are already applied and must neither fail nor wipe anything.
    let again = Store::connect(&db.url).await.unwrap();
    again.ping().await.unwrap();
    assert_eq!(again.count_users().await.unwrap(), 1);
    again
        .create_user(&new_user("u2", "bob"), ts(2))
        .await
        .unwrap();
    again.close().await;

    let third = Store::connect(&db.url).await.unwrap();
    assert_eq!(third.count_users().await.unwrap(), 2);
    third.close().await;
    assert_eq!(db.count_users().await.unwrap(), 2);
});

contract_test!(
    concurrent_first_connects_migrate_once,
    |db: TestDb| async move {
        // Server replicas (or the CLI beside a server) starting together on a new database, or
        // on one a new release must migrate: every one of them comes up.
        for round in 0..3 {
            let url = db.empty_database(&format!("race{round}")).await;
            let mut tasks = Vec::new();
            for _ in 0..4 {
                let url = url.clone();
                tasks.push(tokio::spawn(async move { Store::connect(&url).await }));
            }
            let mut stores = Vec::new();
            for t in tasks {
                match t.await.unwrap() {
                    Ok(store) => stores.push(store),
                    Err(e) => panic!("round {round}: a concurrent first connect failed: {e}"),
                }
            }
            stores[0]
                .create_user(&new_user("u1", "alice"), ts(1))
                .await
                .unwrap();
            for store in &stores {
                assert_eq!(store.count_users().await.unwrap(), 1);
                store.close().await;
            }
        }
    }
);

contract_test!(newer_schema_is_refused, |db: TestDb| async move {
    let url = db.empty_database("future").await;
    Store::connect(&url).await.unwrap().close().await;
    {
        use sqlx::Connection;
        sqlx::any::install_default_drivers();
        let mut raw = sqlx::AnyConnection::connect(&url).await.unwrap();
        sqlx::query(
            "INSERT INTO steward_migrations (version, name, applied_at) VALUES (999, 'future', 0)",
        )
        .execute(&mut raw)
        .await
        .unwrap();
        raw.close().await.unwrap();
    }
    match Store::connect(&url).await {
        Err(StoreError::SchemaTooNew { found, known }) => {
            assert_eq!(found, 999);
            assert!((1..999).contains(&known), "known {known}");
        }
        Err(e) => panic!("expected SchemaTooNew, got {e}"),
        Ok(_) => panic!("a database newer than the binary must be refused"),
    }
});

contract_test!(
    case_duplicate_usernames_are_renamed_by_the_migration,
    |db: TestDb| async move {
        // A database as release 0006 left it, with names that differ only in case and a
        // user limited to a group: migrating keeps every account usable and every view as
        // it was.
        let url = db.empty_database("cases").await;
        {
            use sqlx::Connection;
            sqlx::any::install_default_drivers();
            let mut raw = sqlx::AnyConnection::connect(&url).await.unwrap();
            sqlx::raw_sql(
                "CREATE TABLE steward_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
            )
            .execute(&mut raw)
            .await
            .unwrap();
            for (version, name, sql) in &steward_store::testing::migrations(db.backend)[..6] {
                // The release's own migration text, not input.
                sqlx::raw_sql(sqlx::AssertSqlSafe(*sql))
                    .execute(&mut raw)
                    .await
                    .unwrap();
                sqlx::query("INSERT INTO steward_migrations VALUES ($1, $2, 0)")
                    .bind(*version)
                    .bind(*name)
                    .execute(&mut raw)
                    .await
                    .unwrap();
            }
            sqlx::raw_sql(
                "INSERT INTO users (id, username, password_hash, role, created_at) VALUES \
                 ('aaaaaaaa-1', 'admin', 'h', 'admin', 1), \
                 ('bbbbbbbb-2', 'Admin', 'h', 'technician', 2), \
                 ('cccccccc-3', 'ADMIN', 'h', 'viewer', 3), \
                 ('dddddddd-4', 'shop', 'h', 'viewer', 4); \
                 INSERT INTO device_groups (id, name, created_at) VALUES ('g1', 'Shop', 1); \
                 INSERT INTO user_groups (user_id, group_id) VALUES ('dddddddd-4', 'g1');",
            )
            .execute(&mut raw)
            .await
            .unwrap();
            raw.close().await.unwrap();
        }
        let store = Store::connect(&url).await.unwrap();
        let mut names: Vec<(String, String, bool)> = store
            .list_users()
            .await
            .unwrap()
            .into_iter()
            .map(|u| (u.id, u.username, u.all_devices))
            .collect();
        names.sort();
        assert_eq!(
            names,
            [
                ("aaaaaaaa-1".to_string(), "admin".to_string(), true),
                ("bbbbbbbb-2".into(), "Admin.bbbbbbbb".into(), true),
                ("cccccccc-3".into(), "ADMIN.cccccccc".into(), true),
                ("dddddddd-4".into(), "shop".into(), false),
            ]
        );
        assert_eq!(
            store.user_by_username("ADMIN").await.unwrap().unwrap().id,
            "aaaaaaaa-1"
        );
        store.close().await;
    }
);
