//! The store's contract: every public method, on SQLite and (with `STEWARD_TEST_PG_URL`) on
//! PostgreSQL, each test on a database of its own. Run one backend with
//! `cargo test -p steward-store --test contract ::sqlite` (or `::postgres`).

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[macro_use]
mod common;

use std::collections::BTreeSet;

use steward_core::device::DeviceStatus;
use steward_core::enroll::TokenProblem;
use steward_core::{
    Account, ChangeEvent, ChangeKind, FilesystemUsage, Hardware, Inventory, JobKind, JobState,
    Metrics, OsInfo, Package, PackageSource, Timestamp,
};
use steward_store::{
    ApiTokenRecord, Backend, ChangeRecord, DeviceFilter, DeviceRecord, DeviceSortKey,
    EnrollTokenRecord, IngestCommit, InventoryWrite, JobRecord, JobUpdateOutcome, NewDevice,
    NewUser, SessionRecord, SoftwareRecord, SoftwareWrite, Store, StoreError,
};

use common::TestDb;

// ---------------------------------------------------------------------------------------------
// Helpers

fn ts(ms: i64) -> Timestamp {
    Timestamp(ms)
}

fn token(id: &str, hash: &str, uses_left: i64, expires_at: i64) -> EnrollTokenRecord {
    EnrollTokenRecord {
        id: id.to_string(),
        token_hash: hash.to_string(),
        uses_left,
        expires_at: ts(expires_at),
        created_at: ts(0),
    }
}

fn new_device(id: &str, name: &str, interval: i64) -> NewDevice {
    NewDevice {
        id: id.to_string(),
        name: name.to_string(),
        credential_hash: format!("cred-{id}"),
        checkin_interval_secs: interval,
    }
}

/// Enrolls a device through a token of its own.
async fn enroll_at(store: &Store, id: &str, name: &str, at: i64, interval: i64) -> DeviceRecord {
    let hash = format!("tok-{id}");
    store
        .create_enroll_token(&token(&format!("et-{id}"), &hash, 1, i64::MAX))
        .await
        .unwrap();
    store
        .enroll_device(&hash, &new_device(id, name, interval), ts(at))
        .await
        .unwrap()
        .unwrap()
}

async fn enroll(store: &Store, id: &str, name: &str) -> DeviceRecord {
    enroll_at(store, id, name, 1_000, 60).await
}

async fn device_count(store: &Store) -> u64 {
    let filter = DeviceFilter {
        limit: 100,
        ..Default::default()
    };
    store.list_devices(&filter).await.unwrap().1
}

fn pkg(name: &str, version: &str, arch: &str, source: PackageSource) -> Package {
    Package {
        name: name.to_string(),
        version: version.to_string(),
        arch: arch.to_string(),
        source,
    }
}

fn deb(name: &str, version: &str) -> Package {
    pkg(name, version, "amd64", PackageSource::Dpkg)
}

fn inventory(os_name: &str, os_version: &str, packages: Vec<Package>) -> Inventory {
    let mut inv = Inventory {
        hostname: "host".to_string(),
        os: OsInfo {
            family: "linux".to_string(),
            name: os_name.to_string(),
            version: os_version.to_string(),
            kernel: "6.1.0".to_string(),
            arch: "x86_64".to_string(),
        },
        boot_time: 1_700_000_000,
        hardware: Hardware {
            cpu_model: "Test CPU".to_string(),
            cpu_cores: 4,
            memory_bytes: 8 << 30,
            ..Default::default()
        },
        packages,
        accounts: vec![Account {
            name: "root".to_string(),
            is_admin: true,
            can_login: true,
            ..Default::default()
        }],
        ..Default::default()
    };
    inv.normalize();
    inv
}

fn metrics(cpu: f32, used: u64) -> Metrics {
    Metrics {
        cpu_percent: cpu,
        memory_used_bytes: used,
        memory_total_bytes: 8 << 30,
        swap_used_bytes: 0,
        load_1m: 0.5,
        uptime_secs: 3600,
        filesystems: vec![FilesystemUsage {
            mount_point: "/".to_string(),
            total_bytes: 100 << 30,
            used_bytes: 42 << 30,
        }],
    }
}

fn event(kind: ChangeKind, subject: &str, from: Option<&str>, to: Option<&str>) -> ChangeEvent {
    ChangeEvent {
        kind,
        subject: subject.to_string(),
        from: from.map(str::to_string),
        to: to.map(str::to_string),
    }
}

/// A commit with nothing but the sequence number and the time seen.
fn bare_commit(device_id: &str, expected: u64, new: u64, seen_at: i64) -> IngestCommit {
    IngestCommit {
        device_id: device_id.to_string(),
        expected_last_seq: expected,
        new_last_seq: new,
        seen_at: ts(seen_at),
        inventory: None,
        metrics: None,
        changes: Vec::new(),
    }
}

/// Records a check-in of the device at `at` (the next sequence number).
async fn check_in(store: &Store, id: &str, at: i64) {
    let seq = store
        .device_ingest_state(id)
        .await
        .unwrap()
        .unwrap()
        .last_seq;
    store
        .commit_ingest(&bare_commit(id, seq, seq + 1, at))
        .await
        .unwrap();
}

/// Stores a full inventory with this OS for the device, seen at `at`.
async fn report_os(store: &Store, id: &str, os_name: &str, os_version: &str, at: i64) {
    let seq = store
        .device_ingest_state(id)
        .await
        .unwrap()
        .unwrap()
        .last_seq;
    let mut c = bare_commit(id, seq, seq + 1, at);
    c.inventory = Some(InventoryWrite {
        inventory: inventory(os_name, os_version, Vec::new()),
        software: SoftwareWrite::Replace,
    });
    store.commit_ingest(&c).await.unwrap();
}

async fn software_names(store: &Store, id: &str, search: Option<&str>) -> Vec<String> {
    let (items, total) = store.software(id, search, 0, 10_000).await.unwrap();
    assert_eq!(items.len() as u64, total, "search {search:?}");
    items.into_iter().map(|s| s.name).collect()
}

async fn all_changes(store: &Store, id: &str) -> Vec<ChangeRecord> {
    store.changes(id, None, 0, 1_000).await.unwrap().0
}

fn job(id: &str, device_id: &str, created_at: i64) -> JobRecord {
    JobRecord {
        id: id.to_string(),
        device_id: device_id.to_string(),
        kind: JobKind::CollectInventory,
        params: serde_json::json!({ "reason": "test", "n": [1, 2, 3], "nested": { "ok": true } }),
        state: JobState::Queued,
        message: String::new(),
        output: String::new(),
        requested_by: "admin".to_string(),
        created_at: ts(created_at),
        updated_at: ts(created_at),
    }
}

fn ids(devices: &[DeviceRecord]) -> Vec<&str> {
    devices.iter().map(|d| d.id.as_str()).collect()
}

fn new_user(id: &str, username: &str) -> NewUser {
    NewUser {
        id: id.to_string(),
        username: username.to_string(),
        password_hash: format!("argon2-{id}"),
        role: "admin".to_string(),
    }
}

fn session(hash: &str, user_id: &str, expires_at: i64) -> SessionRecord {
    SessionRecord {
        token_hash: hash.to_string(),
        user_id: user_id.to_string(),
        csrf_token: format!("csrf-{hash}"),
        created_at: ts(1_000),
        last_seen_at: ts(1_000),
        expires_at: ts(expires_at),
        source: "127.0.0.1".to_string(),
    }
}

fn api_token(id: &str, created_at: i64) -> ApiTokenRecord {
    ApiTokenRecord {
        id: id.to_string(),
        name: format!("token {id}"),
        token_hash: format!("sha-{id}"),
        // Round-trip a role and an expiry on one of them.
        role: if id == "t1" { "viewer" } else { "admin" }.to_string(),
        expires_at: (id == "t1").then(|| ts(99_000)),
        created_at: ts(created_at),
        last_used_at: None,
        revoked_at: None,
    }
}

// ---------------------------------------------------------------------------------------------
// Connecting and migrations

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
    use common::with_database;
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

// ---------------------------------------------------------------------------------------------
// Enrollment

contract_test!(enrollment_spends_token, |db: TestDb| async move {
    db.create_enroll_token(&token("et1", "hash-1", 2, 10_000))
        .await
        .unwrap();

    let d = db
        .enroll_device("hash-1", &new_device("d1", "laptop-1", 300), ts(1_000))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        d,
        DeviceRecord {
            id: "d1".into(),
            name: "laptop-1".into(),
            enrolled_at: ts(1_000),
            last_seen_at: None,
            revoked_at: None,
            os_name: String::new(),
            os_version: String::new(),
            checkin_interval_secs: 300,
            tags: Vec::new(),
        }
    );
    assert_eq!(db.device("d1").await.unwrap(), Some(d.clone()));

    let state = db.device_ingest_state("d1").await.unwrap().unwrap();
    assert_eq!(state.device_id, "d1");
    assert_eq!(state.credential_hash, "cred-d1");
    assert_eq!(state.revoked_at, None);
    assert_eq!(state.last_seq, 0);
    assert_eq!(state.inventory_hash, "");

    let (changes, total) = db.changes("d1", None, 0, 10).await.unwrap();
    assert_eq!(total, 1);
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].device_id, "d1");
    assert_eq!(changes[0].device_name, "laptop-1");
    assert_eq!(changes[0].at, ts(1_000));
    assert_eq!(
        changes[0].event,
        event(ChangeKind::Enrolled, "laptop-1", None, None)
    );

    // The second (last) use, then the token is spent.
    db.enroll_device("hash-1", &new_device("d2", "laptop-2", 60), ts(2_000))
        .await
        .unwrap()
        .unwrap();
    let third = db
        .enroll_device("hash-1", &new_device("d3", "laptop-3", 60), ts(3_000))
        .await
        .unwrap();
    assert_eq!(third, Err(TokenProblem::UsedUp));
    assert_eq!(db.device("d3").await.unwrap(), None);
    assert_eq!(device_count(&db).await, 2);
    assert_eq!(db.recent_changes(10).await.unwrap().len(), 2);
});

contract_test!(enrollment_refuses_bad_tokens, |db: TestDb| async move {
    db.create_enroll_token(&token("expired", "hash-expired", 5, 1_000))
        .await
        .unwrap();
    db.create_enroll_token(&token("empty", "hash-empty", 0, 1_000_000))
        .await
        .unwrap();

    let unknown = db
        .enroll_device("no-such-hash", &new_device("d1", "a", 60), ts(500))
        .await
        .unwrap();
    assert_eq!(unknown, Err(TokenProblem::Unknown));

    // Expiry is exclusive: a token expiring at 1000 no longer enrolls at 1000.
    let expired = db
        .enroll_device("hash-expired", &new_device("d2", "b", 60), ts(1_000))
        .await
        .unwrap();
    assert_eq!(expired, Err(TokenProblem::Expired));

    let used_up = db
        .enroll_device("hash-empty", &new_device("d3", "c", 60), ts(500))
        .await
        .unwrap();
    assert_eq!(used_up, Err(TokenProblem::UsedUp));

    assert_eq!(device_count(&db).await, 0);
    for id in ["d1", "d2", "d3"] {
        assert_eq!(db.device(id).await.unwrap(), None);
        assert!(db.device_ingest_state(id).await.unwrap().is_none());
    }
    assert!(db.recent_changes(10).await.unwrap().is_empty());

    // A refused attempt spent nothing: the expired token still enrolls before its expiry.
    db.enroll_device("hash-expired", &new_device("d4", "d", 60), ts(999))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(device_count(&db).await, 1);
});

contract_test!(
    enrollment_race_spends_last_use_once,
    |db: TestDb| async move {
        db.create_enroll_token(&token("et", "race", 1, i64::MAX))
            .await
            .unwrap();
        let mut tasks = Vec::new();
        for i in 0..8 {
            let store = db.store.clone();
            tasks.push(tokio::spawn(async move {
                store
                    .enroll_device(
                        "race",
                        &new_device(&format!("d{i}"), "racer", 60),
                        ts(1_000),
                    )
                    .await
            }));
        }
        let mut enrolled = 0;
        let mut refused = 0;
        for t in tasks {
            match t.await.unwrap() {
                Ok(Ok(_)) => enrolled += 1,
                Ok(Err(TokenProblem::UsedUp)) => refused += 1,
                other => panic!("unexpected enrollment outcome: {other:?}"),
            }
        }
        assert_eq!((enrolled, refused), (1, 7));
        assert_eq!(device_count(&db).await, 1);
        assert_eq!(db.devices_named("racer").await.unwrap().len(), 1);
        assert_eq!(db.recent_changes(100).await.unwrap().len(), 1);
    }
);

// ---------------------------------------------------------------------------------------------
// Ingest

/// 500 ordinary packages (three insert chunks) and a few whose names test the search.
fn big_package_list() -> Vec<Package> {
    let mut pkgs: Vec<Package> = (0..500)
        .map(|i| deb(&format!("pkg-{i:04}"), &format!("1.{i}")))
        .collect();
    pkgs.push(deb("LibFoo-Bar", "2.0"));
    pkgs.push(deb("100%_pure", "1"));
    pkgs.push(deb("50%off", "1"));
    pkgs.push(deb("a_b", "1"));
    pkgs.push(deb("axb", "1"));
    pkgs.push(deb("back\\slash", "1"));
    // Same name, another architecture and another source: three distinct rows.
    pkgs.push(pkg("zlib", "1.3", "amd64", PackageSource::Dpkg));
    pkgs.push(pkg("zlib", "1.3", "i386", PackageSource::Dpkg));
    pkgs.push(pkg("zlib", "1.2", "x86_64", PackageSource::Rpm));
    pkgs
}

contract_test!(ingest_full_inventory, |db: TestDb| async move {
    enroll(&db, "d1", "server-1").await;
    let inv = inventory("Debian GNU/Linux", "12", big_package_list());
    assert_eq!(inv.packages.len(), 509);
    let m = metrics(12.5, 4 << 30);
    let commit = IngestCommit {
        device_id: "d1".into(),
        expected_last_seq: 0,
        new_last_seq: 3,
        seen_at: ts(5_000),
        inventory: Some(InventoryWrite {
            inventory: inv.clone(),
            software: SoftwareWrite::Replace,
        }),
        metrics: Some((ts(4_900), m.clone())),
        changes: vec![
            (
                ts(4_000),
                event(ChangeKind::PackageInstalled, "pkg-0001", None, Some("1.1")),
            ),
            (
                ts(4_100),
                event(
                    ChangeKind::OsChanged,
                    "os",
                    Some(""),
                    Some("Debian GNU/Linux 12"),
                ),
            ),
        ],
    };
    db.commit_ingest(&commit).await.unwrap();

    assert_eq!(db.inventory("d1").await.unwrap(), Some(inv.clone()));
    assert_eq!(db.metrics("d1").await.unwrap(), Some((ts(4_900), m)));
    let state = db.device_ingest_state("d1").await.unwrap().unwrap();
    assert_eq!(state.last_seq, 3);
    assert_eq!(state.inventory_hash, inv.hash().0);
    let d = db.device("d1").await.unwrap().unwrap();
    assert_eq!(d.os_name, "Debian GNU/Linux");
    assert_eq!(d.os_version, "12");
    assert_eq!(d.last_seen_at, Some(ts(5_000)));

    // Software: everything stored, ordered by name then arch, paged with the full total.
    let (page, total) = db.software("d1", None, 0, 1_000).await.unwrap();
    assert_eq!(total, 509);
    assert_eq!(page.len(), 509);
    let zlib: Vec<&SoftwareRecord> = page.iter().filter(|s| s.name == "zlib").collect();
    assert_eq!(zlib.len(), 3);
    assert_eq!(
        zlib[2],
        &SoftwareRecord {
            name: "zlib".into(),
            version: "1.2".into(),
            arch: "x86_64".into(),
            source: "rpm".into(),
        }
    );
    let (page, total) = db.software("d1", None, 500, 100).await.unwrap();
    assert_eq!(total, 509);
    assert_eq!(page.len(), 9);
    let (page, total) = db.software("d1", Some("pkg-00"), 10, 5).await.unwrap();
    assert_eq!(total, 100);
    let names: Vec<&str> = page.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        ["pkg-0010", "pkg-0011", "pkg-0012", "pkg-0013", "pkg-0014"]
    );
    assert_eq!(page[0].version, "1.10");
    assert_eq!(page[0].arch, "amd64");
    assert_eq!(page[0].source, "dpkg");
    let (page, total) = db.software("d1", Some("pkg-00"), 200, 5).await.unwrap();
    assert_eq!((page.len(), total), (0, 100));

    // Search is case-insensitive and takes %, _ and \ literally.
    assert_eq!(
        software_names(&db, "d1", Some("libfoo")).await,
        ["LibFoo-Bar"]
    );
    assert_eq!(
        software_names(&db, "d1", Some("FOO-b")).await,
        ["LibFoo-Bar"]
    );
    let mut percent = software_names(&db, "d1", Some("%")).await;
    percent.sort();
    assert_eq!(percent, ["100%_pure", "50%off"]);
    let mut underscore = software_names(&db, "d1", Some("_")).await;
    underscore.sort();
    assert_eq!(underscore, ["100%_pure", "a_b"]);
    assert_eq!(software_names(&db, "d1", Some("a_b")).await, ["a_b"]);
    assert_eq!(software_names(&db, "d1", Some("%_")).await, ["100%_pure"]);
    assert_eq!(software_names(&db, "d1", Some("\\")).await, ["back\\slash"]);
    assert!(software_names(&db, "d1", Some("nothing")).await.is_empty());
    // An empty search is no search.
    assert_eq!(software_names(&db, "d1", Some("")).await.len(), 509);

    // Timeline: the enrollment and both events, newest first, fields round-tripped.
    let changes = all_changes(&db, "d1").await;
    assert_eq!(changes.len(), 3);
    assert_eq!(changes[0].at, ts(4_100));
    assert_eq!(
        changes[0].event,
        event(
            ChangeKind::OsChanged,
            "os",
            Some(""),
            Some("Debian GNU/Linux 12")
        )
    );
    assert_eq!(
        changes[1].event,
        event(ChangeKind::PackageInstalled, "pkg-0001", None, Some("1.1"))
    );
    assert_eq!(changes[2].event.kind, ChangeKind::Enrolled);
    assert!(changes[0].id > changes[1].id && changes[1].id > changes[2].id);

    // Other devices see none of it.
    enroll(&db, "d2", "server-2").await;
    assert_eq!(db.software("d2", None, 0, 10).await.unwrap().1, 0);
    assert_eq!(db.inventory("d2").await.unwrap(), None);
    assert_eq!(db.metrics("d2").await.unwrap(), None);
});

contract_test!(
    software_pages_cover_every_row_once,
    |db: TestDb| async move {
        // Same name and arch from both sources: the order must still be total, or pages overlap
        // and skip rows (PostgreSQL's top-N sort breaks ties differently per LIMIT/OFFSET).
        enroll(&db, "d1", "a").await;
        let mut pkgs = Vec::new();
        for i in 0..100 {
            pkgs.push(pkg(&format!("n{i:03}"), "1", "amd64", PackageSource::Dpkg));
            pkgs.push(pkg(&format!("n{i:03}"), "2", "amd64", PackageSource::Rpm));
        }
        let mut c = bare_commit("d1", 0, 1, 1_000);
        c.inventory = Some(InventoryWrite {
            inventory: inventory("x", "1", pkgs),
            software: SoftwareWrite::Replace,
        });
        db.commit_ingest(&c).await.unwrap();
        let (all, total) = db.software("d1", None, 0, 1_000).await.unwrap();
        assert_eq!(total, 200);
        for size in [1, 3, 7] {
            let mut paged = Vec::new();
            let mut offset = 0;
            while offset < total {
                let (page, page_total) = db.software("d1", None, offset, size).await.unwrap();
                assert_eq!(page_total, total);
                paged.extend(page);
                offset += size;
            }
            assert_eq!(paged, all, "pages of {size}");
        }
        let keys: BTreeSet<(String, String)> =
            all.into_iter().map(|s| (s.name, s.source)).collect();
        assert_eq!(keys.len(), 200);
    }
);

contract_test!(
    ingest_with_stale_sequence_conflicts,
    |db: TestDb| async move {
        enroll(&db, "d1", "server-1").await;
        let inv = inventory("Debian GNU/Linux", "12", vec![deb("a", "1"), deb("b", "1")]);
        let mut first = bare_commit("d1", 0, 3, 5_000);
        first.inventory = Some(InventoryWrite {
            inventory: inv.clone(),
            software: SoftwareWrite::Replace,
        });
        first.metrics = Some((ts(5_000), metrics(1.0, 1)));
        first.changes = vec![(ts(5_000), event(ChangeKind::Rebooted, "boot", None, None))];
        db.commit_ingest(&first).await.unwrap();

        // A second delivery decided against sequence 0, as if it raced the first.
        let other = inventory("Ubuntu", "24.04", vec![deb("c", "1")]);
        let stale = IngestCommit {
            device_id: "d1".into(),
            expected_last_seq: 0,
            new_last_seq: 7,
            seen_at: ts(9_000),
            inventory: Some(InventoryWrite {
                inventory: other.clone(),
                software: SoftwareWrite::Replace,
            }),
            metrics: Some((ts(9_000), metrics(99.0, 2))),
            changes: vec![(
                ts(9_000),
                event(ChangeKind::HostnameChanged, "hostname", None, None),
            )],
        };
        let err = db.commit_ingest(&stale).await.unwrap_err();
        assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");

        // Nothing of it was written.
        let state = db.device_ingest_state("d1").await.unwrap().unwrap();
        assert_eq!(state.last_seq, 3);
        assert_eq!(state.inventory_hash, inv.hash().0);
        let d = db.device("d1").await.unwrap().unwrap();
        assert_eq!(
            (d.os_name.as_str(), d.os_version.as_str()),
            ("Debian GNU/Linux", "12")
        );
        assert_eq!(d.last_seen_at, Some(ts(5_000)));
        assert_eq!(db.inventory("d1").await.unwrap(), Some(inv.clone()));
        assert_eq!(software_names(&db, "d1", None).await, ["a", "b"]);
        assert_eq!(
            db.metrics("d1").await.unwrap(),
            Some((ts(5_000), metrics(1.0, 1)))
        );
        assert_eq!(all_changes(&db, "d1").await.len(), 2);

        // Decided again against the current sequence, it lands.
        let mut fresh = stale.clone();
        fresh.expected_last_seq = 3;
        db.commit_ingest(&fresh).await.unwrap();
        assert_eq!(
            db.device_ingest_state("d1")
                .await
                .unwrap()
                .unwrap()
                .last_seq,
            7
        );
        assert_eq!(software_names(&db, "d1", None).await, ["c"]);
        assert_eq!(db.inventory("d1").await.unwrap(), Some(other));
        assert_eq!(all_changes(&db, "d1").await.len(), 3);

        // An unknown device is a conflict too (nothing to move).
        let err = db
            .commit_ingest(&bare_commit("nope", 0, 1, 1))
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    }
);

contract_test!(ingest_software_delta, |db: TestDb| async move {
    enroll(&db, "d1", "server-1").await;
    let base = vec![
        deb("a", "1.0"),
        deb("b", "1.0"),
        pkg("c", "1.0", "amd64", PackageSource::Dpkg),
        pkg("c", "1.0", "i386", PackageSource::Dpkg),
        pkg("c", "1.0", "amd64", PackageSource::Rpm),
    ];
    let mut c = bare_commit("d1", 0, 1, 1_000);
    c.inventory = Some(InventoryWrite {
        inventory: inventory("Debian GNU/Linux", "12", base),
        software: SoftwareWrite::Replace,
    });
    db.commit_ingest(&c).await.unwrap();
    assert_eq!(db.software("d1", None, 0, 100).await.unwrap().1, 5);

    let after = vec![
        deb("b", "2.0"),
        pkg("c", "1.0", "amd64", PackageSource::Dpkg),
        pkg("c", "1.0", "amd64", PackageSource::Rpm),
        deb("d", "1.0"),
    ];
    let mut c = bare_commit("d1", 1, 2, 2_000);
    c.inventory = Some(InventoryWrite {
        inventory: inventory("Debian GNU/Linux", "12", after.clone()),
        software: SoftwareWrite::Delta {
            upsert: vec![deb("b", "2.0"), deb("d", "1.0")],
            remove: vec![
                ("a".into(), "amd64".into(), PackageSource::Dpkg),
                ("c".into(), "i386".into(), PackageSource::Dpkg),
                // Not installed: removing it is not an error.
                ("ghost".into(), "amd64".into(), PackageSource::Dpkg),
            ],
        },
    });
    db.commit_ingest(&c).await.unwrap();

    let (items, total) = db.software("d1", None, 0, 100).await.unwrap();
    assert_eq!(total, 4);
    let got: BTreeSet<(String, String, String, String)> = items
        .into_iter()
        .map(|s| (s.name, s.arch, s.source, s.version))
        .collect();
    let want: BTreeSet<(String, String, String, String)> = after
        .iter()
        .map(|p| {
            (
                p.name.clone(),
                p.arch.clone(),
                p.source.as_str().to_string(),
                p.version.clone(),
            )
        })
        .collect();
    assert_eq!(got, want);
    assert_eq!(
        db.inventory("d1").await.unwrap().unwrap().packages,
        inventory("", "", after).packages
    );

    // A later Replace drops whatever the new list lacks.
    let mut c = bare_commit("d1", 2, 3, 3_000);
    c.inventory = Some(InventoryWrite {
        inventory: inventory("Debian GNU/Linux", "12", vec![deb("e", "1")]),
        software: SoftwareWrite::Replace,
    });
    db.commit_ingest(&c).await.unwrap();
    assert_eq!(software_names(&db, "d1", None).await, ["e"]);
});

contract_test!(
    ingest_metrics_only_keeps_inventory,
    |db: TestDb| async move {
        enroll(&db, "d1", "server-1").await;
        let inv = inventory("Debian GNU/Linux", "12", vec![deb("a", "1")]);
        let mut c = bare_commit("d1", 0, 1, 1_000);
        c.inventory = Some(InventoryWrite {
            inventory: inv.clone(),
            software: SoftwareWrite::Replace,
        });
        c.metrics = Some((ts(1_000), metrics(10.0, 100)));
        db.commit_ingest(&c).await.unwrap();

        // No inventory this time (NULL parameters): the OS and hash stay, the metrics move.
        let mut c = bare_commit("d1", 1, 2, 2_000);
        c.metrics = Some((ts(1_900), metrics(20.25, 200)));
        db.commit_ingest(&c).await.unwrap();
        assert_eq!(
            db.metrics("d1").await.unwrap(),
            Some((ts(1_900), metrics(20.25, 200)))
        );
        let state = db.device_ingest_state("d1").await.unwrap().unwrap();
        assert_eq!(state.last_seq, 2);
        assert_eq!(state.inventory_hash, inv.hash().0);
        let d = db.device("d1").await.unwrap().unwrap();
        assert_eq!(
            (d.os_name.as_str(), d.os_version.as_str()),
            ("Debian GNU/Linux", "12")
        );
        assert_eq!(d.last_seen_at, Some(ts(2_000)));
        assert_eq!(db.inventory("d1").await.unwrap(), Some(inv));
        assert_eq!(software_names(&db, "d1", None).await, ["a"]);

        // Nothing but a check-in.
        db.commit_ingest(&bare_commit("d1", 2, 3, 3_000))
            .await
            .unwrap();
        assert_eq!(
            db.metrics("d1").await.unwrap(),
            Some((ts(1_900), metrics(20.25, 200)))
        );
        assert_eq!(
            db.device("d1").await.unwrap().unwrap().last_seen_at,
            Some(ts(3_000))
        );
    }
);

contract_test!(
    ingest_for_revoked_device_conflicts,
    |db: TestDb| async move {
        enroll(&db, "d1", "server-1").await;
        check_in(&db, "d1", 1_500).await;
        db.revoke_device("d1", ts(2_000)).await.unwrap();
        let state = db.device_ingest_state("d1").await.unwrap().unwrap();
        assert_eq!(state.revoked_at, Some(ts(2_000)));
        let mut c = bare_commit("d1", state.last_seq, state.last_seq + 1, 3_000);
        c.inventory = Some(InventoryWrite {
            inventory: inventory("Debian GNU/Linux", "12", vec![deb("a", "1")]),
            software: SoftwareWrite::Replace,
        });
        c.changes = vec![(ts(3_000), event(ChangeKind::Rebooted, "boot", None, None))];
        let err = db.commit_ingest(&c).await.unwrap_err();
        assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
        assert_eq!(db.inventory("d1").await.unwrap(), None);
        assert_eq!(db.software("d1", None, 0, 10).await.unwrap().1, 0);
        assert_eq!(all_changes(&db, "d1").await.len(), 1);
        let d = db.device("d1").await.unwrap().unwrap();
        assert_eq!(d.last_seen_at, Some(ts(1_500)));
        assert_eq!(d.os_name, "");
    }
);

// ---------------------------------------------------------------------------------------------
// Devices

/// Four devices: distinct names (mixed case), enrollment times, check-ins and OSes, and tags.
async fn seed_fleet(store: &Store) {
    enroll_at(store, "d1", "web-1", 4_000, 60).await;
    enroll_at(store, "d2", "Web-2", 1_000, 60).await;
    enroll_at(store, "d3", "db_main", 3_000, 60).await;
    enroll_at(store, "d4", "dbxmain", 2_000, 60).await;
    report_os(store, "d1", "Debian GNU/Linux", "12", 10_000).await;
    report_os(store, "d2", "Debian GNU/Linux", "11", 30_000).await;
    report_os(store, "d3", "Alpine Linux", "3.19", 20_000).await;
    // d4 never checks in: no OS, no last_seen.
    store
        .set_device_tags("d1", &["prod".into(), "web".into()])
        .await
        .unwrap();
    store.set_device_tags("d2", &["web".into()]).await.unwrap();
    store
        .set_device_tags("d3", &["prod".into(), "db".into()])
        .await
        .unwrap();
}

async fn list(store: &Store, filter: DeviceFilter) -> (Vec<String>, u64) {
    let (devices, total) = store.list_devices(&filter).await.unwrap();
    (devices.into_iter().map(|d| d.id).collect(), total)
}

fn filter() -> DeviceFilter {
    DeviceFilter {
        limit: 100,
        ..Default::default()
    }
}

contract_test!(list_devices_filters, |db: TestDb| async move {
    seed_fleet(&db).await;

    let by_name = |n: &str| DeviceFilter {
        name: Some(n.to_string()),
        ..filter()
    };
    assert_eq!(
        list(&db, by_name("WEB")).await,
        (vec!["d1".into(), "d2".into()], 2)
    );
    assert_eq!(list(&db, by_name("b-2")).await, (vec!["d2".into()], 1));
    // `_` is a literal underscore, not "any character".
    assert_eq!(list(&db, by_name("db_")).await, (vec!["d3".into()], 1));
    assert_eq!(list(&db, by_name("%")).await, (vec![], 0));
    assert_eq!(list(&db, by_name("")).await.1, 4);

    let by_os = |o: &str| DeviceFilter {
        os: Some(o.to_string()),
        ..filter()
    };
    // Matched against "os_name os_version".
    assert_eq!(list(&db, by_os("linux 12")).await, (vec!["d1".into()], 1));
    assert_eq!(
        list(&db, by_os("DEBIAN")).await,
        (vec!["d1".into(), "d2".into()], 2)
    );
    assert_eq!(list(&db, by_os("linux")).await.1, 3);

    let by_tag = |t: &str| DeviceFilter {
        tag: Some(t.to_string()),
        ..filter()
    };
    assert_eq!(
        list(&db, by_tag("prod")).await,
        (vec!["d3".into(), "d1".into()], 2)
    );
    // Tags match exactly.
    assert_eq!(list(&db, by_tag("pro")).await, (vec![], 0));
    assert_eq!(list(&db, by_tag("PROD")).await, (vec![], 0));

    let combined = DeviceFilter {
        name: Some("web".into()),
        os: Some("debian".into()),
        tag: Some("prod".into()),
        ..filter()
    };
    assert_eq!(list(&db, combined).await, (vec!["d1".into()], 1));

    // Tags come with every listed device.
    let (devices, _) = db.list_devices(&filter()).await.unwrap();
    let tags: Vec<(&str, Vec<&str>)> = devices
        .iter()
        .map(|d| (d.id.as_str(), d.tags.iter().map(String::as_str).collect()))
        .collect();
    assert_eq!(
        tags,
        [
            ("d3", vec!["db", "prod"]),
            ("d4", vec![]),
            ("d1", vec!["prod", "web"]),
            ("d2", vec!["web"]),
        ]
    );
});

contract_test!(list_devices_sorting_and_paging, |db: TestDb| async move {
    seed_fleet(&db).await;
    use DeviceSortKey as K;
    // d1 web-1 enrolled 4000 seen 10000 Debian 12; d2 Web-2 1000 30000 Debian 11;
    // d3 db_main 3000 20000 Alpine 3.19; d4 dbxmain 2000 never seen, no OS.
    let cases: [(K, bool, [&str; 4]); 8] = [
        (K::Name, false, ["d3", "d4", "d1", "d2"]),
        (K::Name, true, ["d2", "d1", "d4", "d3"]),
        (K::LastSeen, false, ["d4", "d1", "d3", "d2"]),
        (K::LastSeen, true, ["d2", "d3", "d1", "d4"]),
        (K::Os, false, ["d4", "d3", "d2", "d1"]),
        (K::Os, true, ["d1", "d2", "d3", "d4"]),
        (K::Enrolled, false, ["d2", "d4", "d3", "d1"]),
        (K::Enrolled, true, ["d1", "d3", "d4", "d2"]),
    ];
    for (sort, desc, want) in cases {
        let f = DeviceFilter {
            sort,
            desc,
            ..filter()
        };
        let (got, total) = list(&db, f.clone()).await;
        assert_eq!(got, want, "sort {sort:?} desc {desc}");
        assert_eq!(total, 4);

        // Paging through one at a time gives the same order, with the full total each time.
        let mut paged = Vec::new();
        for offset in 0..5 {
            let (page, total) = list(
                &db,
                DeviceFilter {
                    offset,
                    limit: 1,
                    ..f.clone()
                },
            )
            .await;
            assert_eq!(total, 4);
            paged.extend(page);
        }
        assert_eq!(paged, want, "paged, sort {sort:?} desc {desc}");
    }

    let (page, total) = list(
        &db,
        DeviceFilter {
            offset: 1,
            limit: 2,
            ..filter()
        },
    )
    .await;
    assert_eq!((page, total), (vec!["d4".into(), "d1".into()], 4));
    let (page, total) = list(
        &db,
        DeviceFilter {
            name: Some("web".into()),
            offset: 1,
            limit: 10,
            ..filter()
        },
    )
    .await;
    assert_eq!((page, total), (vec!["d2".into()], 2));
    let (page, total) = list(
        &db,
        DeviceFilter {
            offset: 10,
            ..filter()
        },
    )
    .await;
    assert_eq!((page, total), (vec![], 4));
});

contract_test!(device_tags_are_replaced, |db: TestDb| async move {
    enroll(&db, "d1", "a").await;
    enroll(&db, "d2", "b").await;
    db.set_device_tags("d1", &["zeta".into(), "alpha".into()])
        .await
        .unwrap();
    db.set_device_tags("d2", &["other".into()]).await.unwrap();
    assert_eq!(db.device_tags("d1").await.unwrap(), ["alpha", "zeta"]);
    assert_eq!(
        db.device("d1").await.unwrap().unwrap().tags,
        ["alpha", "zeta"]
    );

    db.set_device_tags("d1", &["mid".into()]).await.unwrap();
    assert_eq!(db.device_tags("d1").await.unwrap(), ["mid"]);
    db.set_device_tags("d1", &[]).await.unwrap();
    assert!(db.device_tags("d1").await.unwrap().is_empty());
    assert_eq!(db.device_tags("d2").await.unwrap(), ["other"]);
    assert!(db.device_tags("nope").await.unwrap().is_empty());
});

contract_test!(devices_named_matches_exactly, |db: TestDb| async move {
    enroll_at(&db, "d1", "dup", 2_000, 60).await;
    enroll_at(&db, "d2", "dup", 1_000, 60).await;
    enroll_at(&db, "d3", "Dup", 500, 60).await;
    enroll_at(&db, "d4", "dupe", 500, 60).await;
    assert_eq!(ids(&db.devices_named("dup").await.unwrap()), ["d2", "d1"]);
    // Like every read of a device, it carries the tags.
    db.set_device_tags("d1", &["x".into(), "a".into()])
        .await
        .unwrap();
    let named = db.devices_named("dup").await.unwrap();
    assert_eq!(named[1], db.device("d1").await.unwrap().unwrap());
    assert_eq!(named[1].tags, ["a", "x"]);
    assert!(named[0].tags.is_empty());
    assert_eq!(ids(&db.devices_named("Dup").await.unwrap()), ["d3"]);
    assert!(db.devices_named("du").await.unwrap().is_empty());
    assert!(db.devices_named("du%").await.unwrap().is_empty());
});

contract_test!(revoke_device_once, |db: TestDb| async move {
    enroll(&db, "d1", "a").await;
    db.revoke_device("d1", ts(5_000)).await.unwrap();
    assert_eq!(
        db.device("d1").await.unwrap().unwrap().revoked_at,
        Some(ts(5_000))
    );
    assert!(matches!(
        db.revoke_device("d1", ts(6_000)).await,
        Err(StoreError::NotFound)
    ));
    // The first revocation time stands.
    assert_eq!(
        db.device("d1").await.unwrap().unwrap().revoked_at,
        Some(ts(5_000))
    );
    assert!(matches!(
        db.revoke_device("nope", ts(6_000)).await,
        Err(StoreError::NotFound)
    ));
});

contract_test!(fleet_stats_counts, |db: TestDb| async move {
    assert_eq!(db.fleet_stats(ts(0)).await.unwrap(), Default::default());

    let now: i64 = 10_000_000;
    // Interval 60 s: online while last seen at most 150 s ago.
    enroll_at(&db, "fresh", "fresh", 1_000, 60).await;
    enroll_at(&db, "edge", "edge", 1_000, 60).await;
    enroll_at(&db, "stale", "stale", 1_000, 60).await;
    enroll_at(&db, "slow", "slow", 1_000, 600).await;
    enroll_at(&db, "pending", "pending", 1_000, 60).await;
    enroll_at(&db, "gone", "gone", 1_000, 60).await;
    enroll_at(&db, "gone-pending", "gone-pending", 1_000, 60).await;
    report_os(&db, "fresh", "Debian GNU/Linux", "12", now - 60_000).await;
    report_os(&db, "edge", "Debian GNU/Linux", "12", now - 150_000).await;
    report_os(&db, "stale", "Alpine Linux", "3.19", now - 150_001).await;
    // Interval 600 s: 1000 s ago is still online.
    check_in(&db, "slow", now - 1_000_000).await;
    report_os(&db, "gone", "Debian GNU/Linux", "12", now - 1_000).await;
    db.revoke_device("gone", ts(now)).await.unwrap();
    db.revoke_device("gone-pending", ts(now)).await.unwrap();

    let stats = db.fleet_stats(ts(now)).await.unwrap();
    assert_eq!(stats.total, 7);
    assert_eq!(stats.online, 3, "{stats:?}");
    assert_eq!(stats.revoked, 2);
    assert_eq!(stats.never_seen, 1);
    let offline = stats.total - stats.online - stats.revoked - stats.never_seen;
    assert_eq!(offline, 1);
    // Revoked devices are not in the breakdown; no OS reads "Unknown". Most common first,
    // ties by OS name (the empty one first).
    assert_eq!(
        stats.os_breakdown,
        [
            ("Unknown".to_string(), 2),
            ("Debian GNU/Linux 12".to_string(), 2),
            ("Alpine Linux 3.19".to_string(), 1),
        ]
    );

    // The same answer as the domain rule, device by device.
    let (devices, _) = db.list_devices(&filter()).await.unwrap();
    let online = devices
        .iter()
        .filter(|d| {
            DeviceStatus::derive(
                ts(now),
                d.last_seen_at,
                d.checkin_interval_secs,
                d.revoked_at.is_some(),
            ) == DeviceStatus::Online
        })
        .count() as u64;
    assert_eq!(online, stats.online);

    // Later, everyone has gone quiet; earlier, the stale one was still online.
    let later = db.fleet_stats(ts(now + 10_000_000)).await.unwrap();
    assert_eq!((later.online, later.revoked, later.never_seen), (0, 2, 1));
    let earlier = db.fleet_stats(ts(now - 1)).await.unwrap();
    assert_eq!(earlier.online, 4);
});

contract_test!(recent_changes_newest_first, |db: TestDb| async move {
    enroll_at(&db, "d1", "first", 1_000, 60).await;
    enroll_at(&db, "d2", "second", 2_000, 60).await;
    let mut c = bare_commit("d1", 0, 1, 3_000);
    // Stored order, not the `at` value, decides "newest".
    c.changes = vec![
        (
            ts(3_000),
            event(ChangeKind::AdminAdded, "mallory", None, None),
        ),
        (
            ts(2_500),
            event(
                ChangeKind::ListenerOpened,
                "tcp/0.0.0.0:4444",
                None,
                Some("nc"),
            ),
        ),
    ];
    db.commit_ingest(&c).await.unwrap();
    let mut c = bare_commit("d2", 0, 1, 4_000);
    c.changes = vec![(
        ts(4_000),
        event(
            ChangeKind::PackageUpgraded,
            "openssl",
            Some("3.0.1"),
            Some("3.0.2"),
        ),
    )];
    db.commit_ingest(&c).await.unwrap();

    let recent = db.recent_changes(10).await.unwrap();
    let got: Vec<(&str, &str, ChangeKind)> = recent
        .iter()
        .map(|c| (c.device_id.as_str(), c.device_name.as_str(), c.event.kind))
        .collect();
    assert_eq!(
        got,
        [
            ("d2", "second", ChangeKind::PackageUpgraded),
            ("d1", "first", ChangeKind::ListenerOpened),
            ("d1", "first", ChangeKind::AdminAdded),
            ("d2", "second", ChangeKind::Enrolled),
            ("d1", "first", ChangeKind::Enrolled),
        ]
    );
    assert_eq!(recent[0].event.from.as_deref(), Some("3.0.1"));
    assert_eq!(recent[1].event.to.as_deref(), Some("nc"));
    assert_eq!(recent[1].at, ts(2_500));
    assert!(recent.windows(2).all(|w| w[0].id > w[1].id));
    assert_eq!(db.recent_changes(2).await.unwrap(), recent[..2]);
});

contract_test!(changes_filter_by_kind_and_page, |db: TestDb| async move {
    enroll(&db, "d1", "a").await;
    enroll(&db, "d2", "b").await;
    let mut c = bare_commit("d1", 0, 1, 3_000);
    c.changes = (0..5)
        .map(|i| {
            (
                ts(3_000 + i),
                event(
                    ChangeKind::PackageInstalled,
                    &format!("p{i}"),
                    None,
                    Some("1"),
                ),
            )
        })
        .chain([(ts(4_000), event(ChangeKind::Rebooted, "boot", None, None))])
        .collect();
    db.commit_ingest(&c).await.unwrap();

    let (all, total) = db.changes("d1", None, 0, 100).await.unwrap();
    assert_eq!((all.len(), total), (7, 7));
    let (installed, total) = db
        .changes("d1", Some("package_installed"), 0, 100)
        .await
        .unwrap();
    assert_eq!(total, 5);
    let subjects: Vec<&str> = installed.iter().map(|c| c.event.subject.as_str()).collect();
    assert_eq!(subjects, ["p4", "p3", "p2", "p1", "p0"]);
    let (page, total) = db
        .changes("d1", Some("package_installed"), 1, 2)
        .await
        .unwrap();
    assert_eq!(total, 5);
    let subjects: Vec<&str> = page.iter().map(|c| c.event.subject.as_str()).collect();
    assert_eq!(subjects, ["p3", "p2"]);
    let (rebooted, total) = db.changes("d1", Some("rebooted"), 0, 100).await.unwrap();
    assert_eq!((rebooted.len(), total), (1, 1));
    // d2's enrollment is not d1's business; an unknown kind matches nothing.
    assert_eq!(
        db.changes("d1", Some("enrolled"), 0, 100).await.unwrap().1,
        1
    );
    assert_eq!(db.changes("d2", None, 0, 100).await.unwrap().1, 1);
    assert_eq!(
        db.changes("d1", Some("nonsense"), 0, 100).await.unwrap().1,
        0
    );
});

// ---------------------------------------------------------------------------------------------
// Jobs

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
        .jobs_for_device("a", 100)
        .await
        .unwrap()
        .into_iter()
        .map(|j| j.id)
        .collect();
    assert_eq!(got, ["j3", "j2b", "j2a", "j1"]);
    let got: Vec<String> = db
        .jobs_for_device("a", 2)
        .await
        .unwrap()
        .into_iter()
        .map(|j| j.id)
        .collect();
    assert_eq!(got, ["j3", "j2b"]);
    assert!(db.jobs_for_device("nobody", 10).await.unwrap().is_empty());
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

// ---------------------------------------------------------------------------------------------
// Accounts

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
        }
    );
    let err = db
        .create_user(&new_user("u2", "alice"), ts(2_000))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
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
    db.set_password("u1", "argon2-new").await.unwrap();
    assert!(db.session("s2").await.unwrap().is_none());
    assert!(db.session("s4").await.unwrap().is_none());
    assert_eq!(db.session("s3").await.unwrap().unwrap().1, bob);
    assert_eq!(
        db.user_by_id("u1").await.unwrap().unwrap().password_hash,
        "argon2-new"
    );
    assert!(matches!(
        db.set_password("nobody", "x").await,
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

// ---------------------------------------------------------------------------------------------
// Sign-in throttling

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

// ---------------------------------------------------------------------------------------------
// Audit log

fn audit_facts(n: i64) -> steward_core::audit::AuditFacts {
    steward_core::audit::AuditFacts {
        at: ts(n),
        actor: "user:john".into(),
        action: "job_queued".into(),
        target: format!("device-{n}"),
        detail: String::new(),
        source: "192.0.2.1".into(),
    }
}

async fn verify_chain(db: &TestDb) -> Result<i64, steward_core::audit::ChainBreak> {
    let mut v = steward_core::audit::ChainVerifier::default();
    for r in db.audit_after(0, 10_000).await.unwrap() {
        v.check(r.seq, &r.prev_hash, &r.hash, &r.facts)?;
    }
    Ok(v.verified())
}

contract_test!(
    audit_log_chains_and_tampering_is_detected,
    |db: TestDb| async move {
        // Concurrent appends still form one line.
        let mut tasks = Vec::new();
        for n in 1..=8 {
            let store = db.store.clone();
            tasks.push(tokio::spawn(async move {
                store.append_audit(&audit_facts(n)).await.unwrap()
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        assert_eq!(verify_chain(&db).await, Ok(8));
        let page = db.audit_page(Some("job_queued"), None, 0, 3).await.unwrap();
        assert_eq!(page.iter().map(|r| r.seq).collect::<Vec<_>>(), [8, 7, 6]);
        assert!(
            db.audit_page(Some("sign_in"), None, 0, 3)
                .await
                .unwrap()
                .is_empty()
        );

        // Someone with database access edits an entry: verification names it.
        let pool = sqlx::AnyPool::connect(&db.url).await.unwrap();
        sqlx::query("UPDATE audit_log SET actor = 'user:nobody' WHERE seq = 5")
            .execute(&pool)
            .await
            .unwrap();
        assert_eq!(
            verify_chain(&db).await,
            Err(steward_core::audit::ChainBreak::Content { seq: 5 })
        );
        // …or deletes one.
        sqlx::query("DELETE FROM audit_log WHERE seq = 3")
            .execute(&pool)
            .await
            .unwrap();
        assert_eq!(
            verify_chain(&db).await,
            Err(steward_core::audit::ChainBreak::Gap {
                seq: 4,
                expected: 3
            })
        );
        pool.close().await;
    }
);
