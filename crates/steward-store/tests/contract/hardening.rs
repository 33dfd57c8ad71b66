//! Contract: what keeps one client from holding or breaking the database — bounded history,
//! batched writes, busy and bad input told apart from failures.

use std::time::{Duration, Instant};

use sqlx::Connection;
use steward_core::InventoryHash;
use steward_store::PoolOptions;

use super::*;

contract_test!(
    change_history_is_pruned_by_age_in_batches,
    |db: TestDb| async move {
        enroll(&db, "d1", "old-timer").await;
        let mut c = bare_commit("d1", 0, 1, 100_000);
        c.changes = (0..12)
            .map(|i| {
                (
                    ts(i * 10_000),
                    event(ChangeKind::Rebooted, "boot", None, None),
                )
            })
            .collect();
        db.commit_ingest(&c).await.unwrap();
        // Older than 55 s: the enrollment (at 1 s) and the six events at 0, 10, …, 50 s.
        assert_eq!(db.prune_changes(ts(55_000), 4).await.unwrap(), 4);
        assert_eq!(db.prune_changes(ts(55_000), 4).await.unwrap(), 3);
        assert_eq!(db.prune_changes(ts(55_000), 4).await.unwrap(), 0);
        let left: Vec<i64> = all_changes(&db, "d1")
            .await
            .iter()
            .map(|c| c.at.0)
            .collect();
        let mut left = left;
        left.sort();
        assert_eq!(left, (6..12).map(|i| i * 10_000).collect::<Vec<_>>());
    }
);

contract_test!(
    large_software_deltas_are_written_in_batches,
    |db: TestDb| async move {
        enroll(&db, "d1", "big").await;
        let all: Vec<Package> = (0..20_000).map(|i| deb(&format!("p{i:05}"), "1")).collect();
        let mut c = bare_commit("d1", 0, 1, 1_000);
        c.inventory = Some(InventoryWrite::new(
            inventory("Debian GNU/Linux", "12", all.clone()),
            SoftwareWrite::Replace,
        ));
        db.commit_ingest(&c).await.unwrap();
        // Remove the first 10,000, upgrade the last 10,000 (one statement per 500 rows).
        let remove = all[..10_000]
            .iter()
            .map(|p| (p.name.clone(), p.arch.clone(), p.source))
            .collect();
        let upsert: Vec<Package> = all[10_000..].iter().map(|p| deb(&p.name, "2")).collect();
        let mut c = bare_commit("d1", 1, 2, 2_000);
        c.inventory = Some(InventoryWrite::new(
            inventory("Debian GNU/Linux", "12", upsert.clone()),
            SoftwareWrite::Delta { upsert, remove },
        ));
        c.changes = (0..3_000)
            .map(|i| {
                (
                    ts(2_000),
                    event(
                        ChangeKind::PackageUpgraded,
                        &format!("p{i}"),
                        Some("1"),
                        Some("2"),
                    ),
                )
            })
            .collect();
        db.commit_ingest(&c).await.unwrap();
        let (first, total) = db.all().software("d1", None, 0, 1).await.unwrap();
        assert_eq!(total, 10_000);
        assert_eq!(
            (first[0].name.as_str(), first[0].version.as_str()),
            ("p10000", "2")
        );
        // 3,000 events and the enrollment.
        assert_eq!(db.all().changes("d1", None, 0, 1).await.unwrap().1, 3_001);
    }
);

contract_test!(
    text_the_database_refuses_is_invalid_input,
    |db: TestDb| async move {
        // PostgreSQL refuses NUL in text; that is the caller's bad input (a 400), never a
        // database failure (a 500). SQLite stores it, and finds no such user.
        match db.user_by_username("ad\0min").await {
            Ok(None) => assert_eq!(db.backend(), Backend::Sqlite),
            Err(StoreError::InvalidInput(message)) => {
                assert_eq!(db.backend(), Backend::Postgres);
                assert!(message.contains("refused a value"), "{message}");
            }
            other => panic!("expected no user or invalid input, got {other:?}"),
        }
    }
);

/// Another process (the CLI) holding SQLite's write lock: a write waits up to the busy
/// timeout, then the store says `Busy` (answered 503 with Retry-After), never a generic
/// failure; once the lock is released, writes go through.
#[tokio::test]
async fn sqlite_held_write_lock_is_busy_then_clears() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("steward.db").display()
    );
    let store = Store::connect_with(
        &url,
        PoolOptions {
            busy_timeout: Duration::from_millis(300),
            ..PoolOptions::default()
        },
    )
    .await
    .unwrap();
    let mut other = sqlx::AnyConnection::connect(&url).await.unwrap();
    sqlx::raw_sql("BEGIN IMMEDIATE")
        .execute(&mut other)
        .await
        .unwrap();
    let started = Instant::now();
    let held = store.create_group("g1", "Site A", ts(1)).await;
    assert!(matches!(held, Err(StoreError::Busy)), "{held:?}");
    assert!(started.elapsed() >= Duration::from_millis(250));
    sqlx::raw_sql("COMMIT").execute(&mut other).await.unwrap();
    store.create_group("g1", "Site A", ts(1)).await.unwrap();
    store.close().await;
}

/// A read-then-write transaction beside another writer: with IMMEDIATE transactions it
/// waits for the other writer. A deferred one read a snapshot, then found it stale when the
/// other writer committed, and failed at once with "database is locked" (SQLite does not
/// consult the busy timeout for a stale snapshot).
#[tokio::test]
async fn sqlite_transactions_wait_for_another_writer() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("steward.db").display()
    );
    let store = Store::connect(&url).await.unwrap();
    store
        .create_enroll_token(&token("et-1", "tok-1", 1, i64::MAX))
        .await
        .unwrap();
    let mut other = sqlx::AnyConnection::connect(&url).await.unwrap();
    sqlx::raw_sql(
        "BEGIN IMMEDIATE; INSERT INTO device_groups (id, name, created_at) VALUES ('gx', 'Other', 1)",
    )
    .execute(&mut other)
    .await
    .unwrap();
    let release = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        sqlx::raw_sql("COMMIT").execute(&mut other).await.unwrap();
    });
    // enroll_device reads the token, then writes: the kind of transaction that failed.
    let enrolled = store
        .enroll_device("tok-1", &new_device("d1", "one", 60), ts(2_000))
        .await;
    assert!(matches!(enrolled, Ok(Ok(_))), "{enrolled:?}");
    release.await.unwrap();
    assert_eq!(store.list_groups().await.unwrap().len(), 1);
    store.close().await;
}

contract_test!(
    large_software_changes_are_written_in_steps_and_repaired,
    |db: TestDb| async move {
        use steward_store::STEP_ROWS;
        enroll(&db, "d1", "big").await;
        let many: Vec<Package> = (0..STEP_ROWS * 5 + 7)
            .map(|i| deb(&format!("p{i:05}"), "1"))
            .collect();
        let inv = inventory("Debian GNU/Linux", "12", many.clone());
        let mut c = bare_commit("d1", 0, 1, 1_000);
        c.inventory = Some(InventoryWrite::new(inv.clone(), SoftwareWrite::Replace));
        db.commit_ingest(&c).await.unwrap();
        let state = db.device_ingest_state("d1").await.unwrap().unwrap();
        assert_eq!(
            state.software_hash, state.inventory_hash,
            "in step after the last step"
        );
        assert_eq!(software_names(&db, "d1", None).await.len(), many.len());

        assert!(in_step(&db).await);
        // A stepped write for an inventory the device no longer holds stops before writing.
        let stale = InventoryHash("not-the-current-one".into());
        let wrote = db
            .write_software_in_steps("d1", &stale, 0, &SoftwareWrite::Replace, &[])
            .await
            .unwrap();
        assert!(!wrote);
        assert_eq!(software_names(&db, "d1", None).await.len(), many.len());

        // A stepped write cut off half-way, as a crash leaves it: rows missing, list out of step.
        let raw = sqlx::AnyPool::connect(&db.url).await.unwrap();
        let cut_off = "UPDATE devices SET software_hash = 'cut' WHERE id = 'd1'; \
                   DELETE FROM device_software WHERE device_id = 'd1' AND name > 'p00100'";
        sqlx::raw_sql(cut_off).execute(&raw).await.unwrap();
        assert_eq!(software_names(&db, "d1", None).await.len(), 101);
        // The next commit, even with metrics only, rewrites the list from the stored inventory.
        let mut tick = bare_commit("d1", 1, 2, 2_000);
        tick.metrics = Some((ts(2_000), metrics(1.0, 1)));
        tick.software_in_step = in_step(&db).await;
        assert!(!tick.software_in_step);
        db.commit_ingest(&tick).await.unwrap();
        assert_eq!(software_names(&db, "d1", None).await.len(), many.len());
        let state = db.device_ingest_state("d1").await.unwrap().unwrap();
        assert_eq!(state.software_hash, state.inventory_hash);

        // A writer of an older generation (a newer stepped write began since) stops at its first

        // step, even for the inventory the device holds.

        let generation: i64 =
            sqlx::query_scalar("SELECT software_gen FROM devices WHERE id = 'd1'")
                .fetch_one(&raw)
                .await
                .unwrap();

        assert!(
            generation >= 2,
            "each stepped write starts a generation: {generation}"
        );

        let current = InventoryHash(state.inventory_hash.clone());

        let wrote = db
            .write_software_in_steps("d1", &current, generation - 1, &SoftwareWrite::Replace, &[])
            .await
            .unwrap();

        assert!(!wrote);

        assert_eq!(software_names(&db, "d1", None).await.len(), many.len());

        // A small delta arriving while the list is out of step rewrites it in full.
        sqlx::raw_sql(cut_off).execute(&raw).await.unwrap();
        let mut next = many.clone();
        next[0].version = "2".into();
        let mut delta = bare_commit("d1", 2, 3, 3_000);
        delta.software_in_step = in_step(&db).await;
        delta.inventory = Some(InventoryWrite::new(
            inventory("Debian GNU/Linux", "12", next.clone()),
            SoftwareWrite::Delta {
                upsert: vec![next[0].clone()],
                remove: Vec::new(),
            },
        ));
        db.commit_ingest(&delta).await.unwrap();
        let (rows, total) = db.all().software("d1", None, 0, 1).await.unwrap();
        assert_eq!(total as usize, many.len());
        assert_eq!(
            (rows[0].name.as_str(), rows[0].version.as_str()),
            ("p00000", "2")
        );
        raw.close().await;
    }
);

/// What the server reads before deciding: is the software list in step with the inventory?
async fn in_step(store: &Store) -> bool {
    let state = store.device_ingest_state("d1").await.unwrap().unwrap();
    state.software_hash == state.inventory_hash
}
