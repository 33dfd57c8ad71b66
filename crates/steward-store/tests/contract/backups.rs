//! Contract: backup policies, repositories and snapshots (the schedule, drills, maintenance
//! and the overview are in `backup_runs.rs`).

use super::*;
use steward_core::backup::retention::Keep;
use steward_store::{
    BackupRepositoryRecord, DeclaredPolicies, DrillFinish, NewBackupPolicy, SnapshotSummary,
};

pub(super) fn policy(name: &str) -> NewBackupPolicy {
    NewBackupPolicy {
        name: name.into(),
        target: "all".into(),
        paths: vec!["/etc".into(), "/home".into()],
        excludes: vec!["*.tmp".into()],
        schedule: "daily 01:00".into(),
        keep: Keep {
            daily: 7,
            weekly: 4,
            ..Keep::default()
        },
        protection_ms: 30 * 86_400_000,
        bandwidth_kib: None,
        enabled: true,
    }
}

pub(super) fn repository(device_id: &str, password: &str) -> BackupRepositoryRecord {
    BackupRepositoryRecord {
        device_id: device_id.into(),
        storage: "local".into(),
        location: format!("/srv/steward/backups/{device_id}"),
        password_sealed: password.into(),
        created_at: ts(5),
    }
}

/// A snapshot id as restic writes them: 64 hex digits.
pub(super) fn snap(n: u8) -> String {
    format!("{n:02x}").repeat(32)
}

pub(super) fn summary(files: i64, bytes: i64, added: i64, stored: i64) -> SnapshotSummary {
    SnapshotSummary {
        written_at: Some(ts(1)),
        policy_id: Some("p1".into()),
        job_id: Some("j1".into()),
        files: Some(files),
        bytes: Some(bytes),
        added_bytes: Some(added),
        stored_bytes: Some(stored),
        duration_ms: Some(1_500),
        paths: Some(vec!["/etc".into()]),
    }
}

pub(super) fn finish(at: i64, passed: bool) -> DrillFinish {
    DrillFinish {
        finished_at: ts(at),
        passed,
        files_checked: 40,
        bytes_checked: 4_096,
        duration_ms: 900,
        error: (!passed).then(|| "pack 1f… does not match its hash".to_string()),
    }
}

contract_test!(
    backup_policies_are_created_updated_read_and_deleted,
    |db: TestDb| async move {
        let created = db
            .create_backup_policy("p1", &policy("servers"), ts(10))
            .await
            .unwrap();
        assert_eq!(created.definition(), policy("servers"));
        assert_eq!(
            (
                created.source.as_str(),
                created.created_at,
                created.updated_at
            ),
            ("console", ts(10), ts(10))
        );
        assert!(matches!(
            db.create_backup_policy("p2", &policy("servers"), ts(11))
                .await,
            Err(StoreError::Conflict(_))
        ));
        db.create_backup_policy("p2", &policy("laptops"), ts(11))
            .await
            .unwrap();

        let mut changed = policy("servers");
        changed.target = "tag:db".into();
        changed.paths = vec!["/var/lib/postgresql".into()];
        changed.excludes = Vec::new();
        changed.schedule = "hourly".into();
        changed.keep = Keep {
            last: 3,
            ..Keep::default()
        };
        changed.bandwidth_kib = Some(2_048);
        changed.enabled = false;
        let updated = db
            .update_backup_policy("p1", &changed, ts(20))
            .await
            .unwrap();
        assert_eq!(updated.definition(), changed);
        assert_eq!((updated.created_at, updated.updated_at), (ts(10), ts(20)));
        assert_eq!(db.backup_policy("p1").await.unwrap(), Some(updated.clone()));
        assert_eq!(
            db.backup_policy_named("servers").await.unwrap(),
            Some(updated)
        );
        assert!(matches!(
            db.update_backup_policy("p1", &policy("laptops"), ts(21))
                .await,
            Err(StoreError::Conflict(_))
        ));
        assert!(matches!(
            db.update_backup_policy("nope", &policy("x"), ts(21)).await,
            Err(StoreError::NotFound)
        ));
        let names: Vec<String> = db
            .backup_policies()
            .await
            .unwrap()
            .into_iter()
            .map(|p| p.name)
            .collect();
        assert_eq!(names, ["laptops", "servers"]);

        db.delete_backup_policy("p2").await.unwrap();
        assert!(matches!(
            db.delete_backup_policy("p2").await,
            Err(StoreError::NotFound)
        ));
        assert_eq!(db.backup_policy("p2").await.unwrap(), None);
        assert_eq!(db.backup_policy_named("laptops").await.unwrap(), None);
        assert_eq!(db.backup_policies().await.unwrap().len(), 1);
    }
);

contract_test!(
    declared_policies_replace_the_files_and_leave_the_consoles,
    |db: TestDb| async move {
        db.create_backup_policy("console-1", &policy("by hand"), ts(1))
            .await
            .unwrap();
        let first = db
            .sync_declared_backup_policies(&[policy("a"), policy("b")], ts(10))
            .await
            .unwrap();
        assert_eq!(
            first,
            DeclaredPolicies {
                added: vec!["config:a".into(), "config:b".into()],
                ..Default::default()
            }
        );

        // Unchanged: not written again. Changed: same id, rewritten. New: added.
        let mut b = policy("b");
        b.schedule = "weekly sun 02:00".into();
        let second = db
            .sync_declared_backup_policies(&[policy("a"), b.clone(), policy("c")], ts(20))
            .await
            .unwrap();
        assert_eq!(
            second,
            DeclaredPolicies {
                added: vec!["config:c".into()],
                changed: vec!["config:b".into()],
                removed: Vec::new(),
            }
        );
        let a = db.backup_policy("config:a").await.unwrap().unwrap();
        assert_eq!((a.source.as_str(), a.updated_at), ("config", ts(10)));
        let stored_b = db.backup_policy_named("b").await.unwrap().unwrap();
        assert_eq!(stored_b.id, "config:b");
        assert_eq!(stored_b.definition(), b);
        assert_eq!((stored_b.created_at, stored_b.updated_at), (ts(10), ts(20)));

        // A name a person's policy holds, or one declared twice: refused, nothing changed.
        for refused in [
            vec![policy("c"), policy("by hand")],
            vec![policy("c"), policy("c")],
        ] {
            assert!(matches!(
                db.sync_declared_backup_policies(&refused, ts(30)).await,
                Err(StoreError::Conflict(_))
            ));
            assert_eq!(db.backup_policies().await.unwrap().len(), 4);
        }

        // No longer declared: deleted, the console's kept.
        let third = db
            .sync_declared_backup_policies(&[policy("c")], ts(40))
            .await
            .unwrap();
        assert_eq!(
            third.removed,
            vec!["config:a".to_string(), "config:b".to_string()]
        );
        let left: Vec<(String, String)> = db
            .backup_policies()
            .await
            .unwrap()
            .into_iter()
            .map(|p| (p.id, p.source))
            .collect();
        assert_eq!(
            left,
            [
                ("console-1".to_string(), "console".to_string()),
                ("config:c".into(), "config".into())
            ]
        );
        let none = db.sync_declared_backup_policies(&[], ts(50)).await.unwrap();
        assert_eq!(none.removed, ["config:c"]);
        assert_eq!(db.backup_policies().await.unwrap().len(), 1);
    }
);

contract_test!(
    a_device_gets_one_repository_whoever_makes_it_first,
    |db: TestDb| async move {
        enroll(&db, "d1", "web").await;
        enroll(&db, "d2", "db").await;
        assert_eq!(db.backup_repository("d1").await.unwrap(), None);
        let first = repository("d1", "sealed-one");
        assert_eq!(db.create_backup_repository(&first).await.unwrap(), first);
        // A second attempt answers the stored repository, not its own password.
        assert_eq!(
            db.create_backup_repository(&repository("d1", "sealed-two"))
                .await
                .unwrap(),
            first
        );
        assert_eq!(db.backup_repository("d1").await.unwrap(), Some(first));

        // Racing first backups: all end with the same password.
        let tasks: Vec<_> = (0..4)
            .map(|i| {
                let store = db.store.clone();
                tokio::spawn(async move {
                    store
                        .create_backup_repository(&repository("d2", &format!("sealed-{i}")))
                        .await
                })
            })
            .collect();
        let mut passwords = BTreeSet::new();
        for t in tasks {
            passwords.insert(t.await.unwrap().unwrap().password_sealed);
        }
        assert_eq!(passwords.len(), 1, "{passwords:?}");
        let stored = db.backup_repository("d2").await.unwrap().unwrap();
        assert!(passwords.contains(&stored.password_sealed));

        assert_eq!(
            db.backup_repositories()
                .await
                .unwrap()
                .iter()
                .map(|r| r.device_id.as_str())
                .collect::<Vec<_>>(),
            ["d1", "d2"]
        );
        assert!(matches!(
            db.create_backup_repository(&repository("ghost", "x")).await,
            Err(StoreError::NotFound)
        ));
    }
);

contract_test!(
    snapshots_are_received_once_summarised_and_forgotten,
    |db: TestDb| async move {
        enroll(&db, "d1", "web").await;
        assert!(
            db.record_snapshot_received("d1", &snap(1), ts(100))
                .await
                .unwrap()
        );
        assert!(
            db.record_snapshot_received("d1", &snap(2), ts(200))
                .await
                .unwrap()
        );
        // Again (a retried upload, another server): nothing changes, the first time stands.
        assert!(
            !db.record_snapshot_received("d1", &snap(1), ts(999))
                .await
                .unwrap()
        );
        assert!(matches!(
            db.record_snapshot_received("ghost", &snap(1), ts(1)).await,
            Err(StoreError::NotFound)
        ));

        // Received but not summarised yet: the numbers are unknown.
        let listed = db.all().backup_snapshots("d1", false).await.unwrap();
        assert_eq!(
            listed
                .iter()
                .map(|s| (s.snapshot_id.clone(), s.received_at))
                .collect::<Vec<_>>(),
            [(snap(2), ts(200)), (snap(1), ts(100))]
        );
        assert_eq!((listed[1].files, listed[1].paths.as_ref()), (None, None));

        let full = summary(120, 1 << 20, 4_096, 2_048);
        assert!(
            db.record_snapshot_summary("d1", &snap(1), &full)
                .await
                .unwrap()
        );
        // A summary of a snapshot never received makes none.
        assert!(
            !db.record_snapshot_summary("d1", &snap(3), &full)
                .await
                .unwrap()
        );
        assert!(
            !db.record_snapshot_summary("ghost", &snap(1), &full)
                .await
                .unwrap()
        );
        // A partial one leaves what it does not say.
        let partial = SnapshotSummary {
            stored_bytes: Some(1_024),
            ..Default::default()
        };
        assert!(
            db.record_snapshot_summary("d1", &snap(1), &partial)
                .await
                .unwrap()
        );
        let s1 = db.all().backup_snapshots("d1", false).await.unwrap()[1].clone();
        assert_eq!(s1.received_at, ts(100));
        assert_eq!(s1.written_at, Some(ts(1)));
        assert_eq!(
            (s1.policy_id.as_deref(), s1.job_id.as_deref()),
            (Some("p1"), Some("j1"))
        );
        assert_eq!((s1.files, s1.bytes), (Some(120), Some(1 << 20)));
        assert_eq!(
            (s1.added_bytes, s1.stored_bytes),
            (Some(4_096), Some(1_024))
        );
        assert_eq!(s1.duration_ms, Some(1_500));
        assert_eq!(s1.paths, Some(vec!["/etc".to_string()]));
        assert_eq!(s1.forgotten_at, None);

        let ids = [snap(1), snap(9)];
        assert_eq!(
            db.mark_snapshots_forgotten("d1", &ids, ts(300))
                .await
                .unwrap(),
            1
        );
        assert_eq!(
            db.mark_snapshots_forgotten("d1", &ids, ts(400))
                .await
                .unwrap(),
            0
        );
        assert_eq!(
            db.mark_snapshots_forgotten("d1", &[], ts(400))
                .await
                .unwrap(),
            0
        );
        let live = db.all().backup_snapshots("d1", false).await.unwrap();
        assert_eq!(live.len(), 1);
        assert_eq!(live[0].snapshot_id, snap(2));
        let every = db.all().backup_snapshots("d1", true).await.unwrap();
        assert_eq!(every.len(), 2);
        assert_eq!(every[1].forgotten_at, Some(ts(300)));

        // Many at once (more than one statement's worth), in one call.
        let many: Vec<String> = (10..=250).map(snap).collect();
        for (i, id) in many.iter().enumerate() {
            db.record_snapshot_received("d1", id, ts(1_000 + i as i64))
                .await
                .unwrap();
        }
        let mut to_forget = many.clone();
        to_forget.extend((0..600).map(|i| format!("{i:064x}")));
        assert_eq!(
            db.mark_snapshots_forgotten("d1", &to_forget, ts(2_000))
                .await
                .unwrap(),
            many.len() as u64
        );
        assert_eq!(
            db.all().backup_snapshots("d1", false).await.unwrap().len(),
            1
        );

        // Outside the reader's scope a device has no snapshots.
        db.create_group("g1", "Shop", ts(1)).await.unwrap();
        let other = Scope::Groups(vec!["g1".into()]);
        assert!(
            db.scoped(&other)
                .backup_snapshots("d1", true)
                .await
                .unwrap()
                .is_empty()
        );
        db.set_device_group("d1", Some("g1")).await.unwrap();
        assert_eq!(
            db.scoped(&other)
                .backup_snapshots("d1", false)
                .await
                .unwrap()
                .len(),
            1
        );
    }
);
