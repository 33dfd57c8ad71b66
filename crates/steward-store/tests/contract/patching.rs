//! Contract: pending updates and their summary, patch policies and approvals, the script
//! library's versions, and job batches.

use super::*;
use steward_core::patching::PendingUpdate;
use steward_store::{
    BatchRecord, PatchPolicyWrite, ScriptWrite, UpdateStatusRecord, UpdateSummary,
};

fn update(package: &str, candidate: &str, security: bool) -> PendingUpdate {
    PendingUpdate {
        package: package.into(),
        arch: "amd64".into(),
        installed: "1.0".into(),
        candidate: candidate.into(),
        source: if security {
            "Debian-Security:12/stable-security".into()
        } else {
            "Debian:12/stable".into()
        },
        security,
        advisories: if security {
            vec!["CVE-2024-3094".into()]
        } else {
            Vec::new()
        },
    }
}

/// The device's pending updates as (package, candidate, first_seen), in the store's order.
async fn pending(db: &Store, device: &str) -> Vec<(String, String, i64)> {
    db.pending_updates(Some(device))
        .await
        .unwrap()
        .into_iter()
        .map(|r| (r.update.package, r.update.candidate, r.first_seen.0))
        .collect()
}

fn row(package: &str, candidate: &str, first_seen: i64) -> (String, String, i64) {
    (package.into(), candidate.into(), first_seen)
}

async fn status(db: &Store, device: &str) -> Option<UpdateStatusRecord> {
    db.update_statuses()
        .await
        .unwrap()
        .into_iter()
        .find(|s| s.device_id == device)
}

/// Deletes a device the way an operator's SQL would (the store has no such method).
async fn delete_device(db: &TestDb, id: &str) {
    use sqlx::Connection;
    sqlx::any::install_default_drivers();
    let mut raw = sqlx::AnyConnection::connect(&db.url).await.unwrap();
    if db.backend == Backend::Sqlite {
        sqlx::query("PRAGMA foreign_keys = ON")
            .execute(&mut raw)
            .await
            .unwrap();
    }
    sqlx::query("DELETE FROM devices WHERE id = $1")
        .bind(id)
        .execute(&mut raw)
        .await
        .unwrap();
    raw.close().await.unwrap();
}

contract_test!(
    a_listing_keeps_first_seen_and_drops_what_is_gone,
    |db: TestDb| async move {
        enroll(&db, "d1", "d1").await;
        enroll(&db, "d2", "d2").await;
        db.replace_pending_updates(
            "d1",
            "apt",
            ts(1_000),
            false,
            &[
                update("curl", "7.2", false),
                update("openssl", "3.0.1", true),
                update("bash", "5.2", false),
            ],
        )
        .await
        .unwrap();
        db.replace_pending_updates("d2", "dnf", ts(1_000), true, &[update("zsh", "5.9", false)])
            .await
            .unwrap();
        // Security first, then by package.
        assert_eq!(
            pending(&db, "d1").await,
            vec![
                row("openssl", "3.0.1", 1_000),
                row("bash", "5.2", 1_000),
                row("curl", "7.2", 1_000),
            ]
        );
        let all = db.pending_updates(None).await.unwrap();
        assert_eq!(all.len(), 4);
        assert_eq!(all[0].update, update("openssl", "3.0.1", true));
        assert_eq!(all[3].device_id, "d2");

        // A newer candidate keeps first_seen; curl is no longer listed; vim is new. A
        // package repeated in the listing counts once, its last occurrence.
        db.replace_pending_updates(
            "d1",
            "apt",
            ts(2_000),
            true,
            &[
                update("openssl", "3.0.0", true),
                update("openssl", "3.0.2", true),
                update("bash", "5.2", false),
                update("vim", "9.1", false),
            ],
        )
        .await
        .unwrap();
        let after = vec![
            row("openssl", "3.0.2", 1_000),
            row("bash", "5.2", 1_000),
            row("vim", "9.1", 2_000),
        ];
        assert_eq!(pending(&db, "d1").await, after);

        // A late listing changes nothing, status included.
        db.replace_pending_updates("d1", "apt", ts(1_500), false, &[update("late", "1", true)])
            .await
            .unwrap();
        assert_eq!(pending(&db, "d1").await, after);
        assert_eq!(
            status(&db, "d1").await,
            Some(UpdateStatusRecord {
                device_id: "d1".into(),
                manager: "apt".into(),
                listed_at: ts(2_000),
                reboot_required: true,
                error: None,
            })
        );
        // d2 untouched by all of it.
        assert_eq!(pending(&db, "d2").await, vec![row("zsh", "5.9", 1_000)]);

        // A failed listing keeps the rows and records why; an error older than the last
        // listing is ignored; the next listing clears it.
        db.record_update_listing_error("d1", ts(1_900), "stale")
            .await
            .unwrap();
        assert_eq!(status(&db, "d1").await.unwrap().error, None);
        db.record_update_listing_error("d1", ts(2_500), "apt is locked")
            .await
            .unwrap();
        let failed = status(&db, "d1").await.unwrap();
        assert_eq!(failed.error.as_deref(), Some("apt is locked"));
        assert_eq!(failed.listed_at, ts(2_000));
        assert_eq!(pending(&db, "d1").await, after);
        db.replace_pending_updates("d1", "apt", ts(3_000), false, &[])
            .await
            .unwrap();
        assert!(pending(&db, "d1").await.is_empty());
        assert_eq!(status(&db, "d1").await.unwrap().error, None);

        // A device that never listed gets a status with no manager.
        enroll(&db, "d3", "d3").await;
        db.record_update_listing_error("d3", ts(100), "no package manager")
            .await
            .unwrap();
        assert_eq!(
            status(&db, "d3").await,
            Some(UpdateStatusRecord {
                device_id: "d3".into(),
                manager: String::new(),
                listed_at: ts(0),
                reboot_required: false,
                error: Some("no package manager".into()),
            })
        );
        // An unknown device is NotFound.
        let err = db
            .replace_pending_updates("nobody", "apt", ts(1), false, &[])
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::NotFound), "{err:?}");
        let err = db
            .record_update_listing_error("nobody", ts(1), "x")
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::NotFound), "{err:?}");
    }
);

contract_test!(
    a_large_listing_is_written_and_trimmed_in_batches,
    |db: TestDb| async move {
        enroll(&db, "d1", "d1").await;
        let many: Vec<PendingUpdate> = (0..2_000)
            .map(|i| update(&format!("pkg{i:04}"), "2.0", i % 10 == 0))
            .collect();
        db.replace_pending_updates("d1", "apt", ts(1_000), false, &many)
            .await
            .unwrap();
        assert_eq!(db.pending_updates(Some("d1")).await.unwrap().len(), 2_000);
        db.replace_pending_updates("d1", "apt", ts(2_000), false, &many[..1_000])
            .await
            .unwrap();
        let left = db.pending_updates(Some("d1")).await.unwrap();
        assert_eq!(left.len(), 1_000);
        assert!(left.iter().all(|r| r.first_seen == ts(1_000)));
        assert!(left.iter().all(|r| r.update.package.as_str() < "pkg1000"));
    }
);

contract_test!(the_summary_counts_the_fleet, |db: TestDb| async move {
    assert_eq!(
        db.update_summary().await.unwrap(),
        UpdateSummary {
            devices_missing_security: 0,
            oldest_security_first_seen: None,
            reboot_required: 0,
            devices_listed: 0,
        }
    );
    for id in ["d1", "d2", "d3", "d4"] {
        enroll(&db, id, id).await;
    }
    db.replace_pending_updates(
        "d1",
        "apt",
        ts(1_000),
        false,
        &[update("openssl", "3", true), update("curl", "8", false)],
    )
    .await
    .unwrap();
    db.replace_pending_updates(
        "d2",
        "dnf",
        ts(500),
        true,
        &[update("kernel", "6", true), update("glibc", "2", true)],
    )
    .await
    .unwrap();
    db.replace_pending_updates("d3", "apt", ts(700), true, &[update("vim", "9", false)])
        .await
        .unwrap();
    db.record_update_listing_error("d4", ts(800), "apt is locked")
        .await
        .unwrap();
    assert_eq!(
        db.update_summary().await.unwrap(),
        UpdateSummary {
            devices_missing_security: 2,
            oldest_security_first_seen: Some(ts(500)),
            reboot_required: 2,
            devices_listed: 3,
        }
    );
});

contract_test!(
    deleting_a_device_deletes_its_updates,
    |db: TestDb| async move {
        enroll(&db, "d1", "d1").await;
        enroll(&db, "d2", "d2").await;
        for id in ["d1", "d2"] {
            db.replace_pending_updates(id, "apt", ts(1_000), true, &[update("a", "2", true)])
                .await
                .unwrap();
        }
        delete_device(&db, "d1").await;
        let left = db.pending_updates(None).await.unwrap();
        assert_eq!(
            left.iter()
                .map(|r| r.device_id.as_str())
                .collect::<Vec<_>>(),
            ["d2"]
        );
        let statuses = db.update_statuses().await.unwrap();
        assert_eq!(
            statuses
                .iter()
                .map(|s| s.device_id.as_str())
                .collect::<Vec<_>>(),
            ["d2"]
        );
    }
);

fn policy_write(name: &str) -> PatchPolicyWrite {
    PatchPolicyWrite {
        name: name.into(),
        target: "group:servers".into(),
        policy: r#"{"include":"security","approval":"automatic"}"#.into(),
        window: "sat 02:00-04:00".into(),
        enabled: true,
    }
}

contract_test!(patch_policies_are_kept_by_name, |db: TestDb| async move {
    let weekly = db
        .create_patch_policy(&policy_write("weekly"), ts(1_000), "alice")
        .await
        .unwrap();
    assert_eq!(weekly.name, "weekly");
    assert_eq!(weekly.window, "sat 02:00-04:00");
    assert!(weekly.enabled);
    assert_eq!(
        (weekly.created_at, weekly.updated_at),
        (ts(1_000), ts(1_000))
    );
    assert_eq!(weekly.created_by, "alice");
    let err = db
        .create_patch_policy(&policy_write("weekly"), ts(1_100), "bob")
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    let all = db
        .create_patch_policy(&policy_write("all-now"), ts(1_200), "bob")
        .await
        .unwrap();

    let mut changed = policy_write("weekly");
    changed.target = "tag:web".into();
    changed.window = String::new();
    changed.enabled = false;
    let updated = db
        .update_patch_policy(&weekly.id, &changed, ts(2_000), "bob")
        .await
        .unwrap();
    assert_eq!(updated.target, "tag:web");
    assert_eq!(updated.window, "");
    assert!(!updated.enabled);
    assert_eq!(
        (updated.created_at, updated.created_by.as_str()),
        (ts(1_000), "alice")
    );
    assert_eq!(
        (updated.updated_at, updated.updated_by.as_str()),
        (ts(2_000), "bob")
    );
    // Renaming onto another policy's name is a conflict; an unknown id NotFound.
    let err = db
        .update_patch_policy(&weekly.id, &policy_write("all-now"), ts(2_100), "bob")
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    let err = db
        .update_patch_policy("nope", &changed, ts(2_100), "bob")
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err:?}");

    assert_eq!(
        db.patch_policies().await.unwrap(),
        vec![all.clone(), updated.clone()]
    );
    db.delete_patch_policy(&weekly.id).await.unwrap();
    let err = db.delete_patch_policy(&weekly.id).await.unwrap_err();
    assert!(matches!(err, StoreError::NotFound), "{err:?}");
    assert_eq!(db.patch_policies().await.unwrap(), vec![all]);
});

contract_test!(approvals_are_idempotent, |db: TestDb| async move {
    db.approve_update("openssl", "3.0.2", ts(1_000), "alice")
        .await
        .unwrap();
    // Approving again keeps the first approval.
    db.approve_update("openssl", "3.0.2", ts(2_000), "bob")
        .await
        .unwrap();
    db.approve_update("bash", "5.2", ts(1_500), "bob")
        .await
        .unwrap();
    let approvals = db.patch_approvals().await.unwrap();
    assert_eq!(
        approvals
            .iter()
            .map(|a| (
                a.package.as_str(),
                a.version.as_str(),
                a.approved_at,
                a.approved_by.as_str()
            ))
            .collect::<Vec<_>>(),
        [
            ("bash", "5.2", ts(1_500), "bob"),
            ("openssl", "3.0.2", ts(1_000), "alice")
        ]
    );
    assert!(db.revoke_approval("openssl", "3.0.2").await.unwrap());
    assert!(!db.revoke_approval("openssl", "3.0.2").await.unwrap());
    assert_eq!(db.patch_approvals().await.unwrap().len(), 1);
});

fn script_write(name: &str, content: &str, at: i64, by: &str) -> ScriptWrite {
    ScriptWrite {
        name: name.into(),
        description: "clears the cache".into(),
        platform: "linux".into(),
        interpreter: "bash".into(),
        params: r#"[{"name":"dir","kind":"text"}]"#.into(),
        content: content.into(),
        at: ts(at),
        by: by.into(),
    }
}

/// Hex SHA-256, worked out independently of the store.
fn sha256(content: &str) -> String {
    use sha2::Digest;
    sha2::Sha256::digest(content.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

contract_test!(
    scripts_keep_every_version_and_refuse_stale_edits,
    |db: TestDb| async move {
        let v1 = db
            .create_script(&script_write(
                "clear-cache",
                "rm -rf /tmp/cache",
                1_000,
                "alice",
            ))
            .await
            .unwrap();
        assert_eq!(v1.version, 1);
        assert_eq!(v1.content, "rm -rf /tmp/cache");
        assert_eq!(v1.content_sha256, sha256("rm -rf /tmp/cache"));
        assert_eq!(v1.archived_at, None);
        assert_eq!(db.script(&v1.id).await.unwrap(), Some(v1.clone()));
        let err = db
            .create_script(&script_write("clear-cache", "echo", 1_100, "bob"))
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");

        let mut edit = script_write("clear-cache", "rm -rf \"$DIR\"", 2_000, "bob");
        edit.interpreter = "sh".into();
        let v2 = db.update_script(&v1.id, 1, &edit).await.unwrap();
        assert_eq!(v2.version, 2);
        assert_eq!(v2.interpreter, "sh");
        assert_eq!(v2.content, "rm -rf \"$DIR\"");
        assert_eq!(
            (v2.created_at, v2.created_by.as_str()),
            (ts(1_000), "alice")
        );
        assert_eq!((v2.updated_at, v2.updated_by.as_str()), (ts(2_000), "bob"));

        // A second admin who edited version 1 too is refused, and nothing changes.
        let err = db
            .update_script(
                &v1.id,
                1,
                &script_write("clear-cache", "other", 2_100, "carol"),
            )
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
        assert_eq!(db.script(&v1.id).await.unwrap(), Some(v2.clone()));
        let err = db.update_script("nope", 1, &edit).await.unwrap_err();
        assert!(matches!(err, StoreError::NotFound), "{err:?}");

        // A rename onto another script's name is a conflict.
        let other = db
            .create_script(&script_write("another", "true", 2_200, "alice"))
            .await
            .unwrap();
        let err = db
            .update_script(
                &other.id,
                1,
                &script_write("clear-cache", "x", 2_300, "bob"),
            )
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");

        let versions = db.script_versions(&v1.id).await.unwrap();
        assert_eq!(
            versions
                .iter()
                .map(|v| (
                    v.version,
                    v.content.as_str(),
                    v.interpreter.as_str(),
                    v.created_by.as_str()
                ))
                .collect::<Vec<_>>(),
            [
                (2, "rm -rf \"$DIR\"", "sh", "bob"),
                (1, "rm -rf /tmp/cache", "bash", "alice")
            ]
        );
        assert_eq!(versions[1].content_sha256, sha256("rm -rf /tmp/cache"));
        assert_eq!(
            db.script_version(&v1.id, 1).await.unwrap(),
            Some(versions[1].clone())
        );
        assert_eq!(db.script_version(&v1.id, 3).await.unwrap(), None);

        // Archived once; its versions stay.
        assert!(db.archive_script(&v1.id, ts(3_000), "alice").await.unwrap());
        assert!(!db.archive_script(&v1.id, ts(3_100), "bob").await.unwrap());
        assert!(!db.archive_script("nope", ts(3_100), "bob").await.unwrap());
        let archived = db.script(&v1.id).await.unwrap().unwrap();
        assert_eq!(archived.archived_at, Some(ts(3_000)));
        assert_eq!(archived.updated_by, "alice");
        assert_eq!(archived.version, 2);
        assert_eq!(db.script_versions(&v1.id).await.unwrap().len(), 2);
        let names: Vec<String> = db
            .scripts()
            .await
            .unwrap()
            .into_iter()
            .map(|s| s.name)
            .collect();
        assert_eq!(names, ["another", "clear-cache"]);
        assert_eq!(db.script("nope").await.unwrap(), None);
    }
);

fn batch_record(id: &str, created_at: i64, total: i64) -> BatchRecord {
    BatchRecord {
        id: id.into(),
        kind: "run_script".into(),
        target: "group:servers".into(),
        label: "clear-cache v2".into(),
        requested_by: "alice".into(),
        created_at: ts(created_at),
        total,
        skipped: r#"[{"device_id":"d9","device_name":"till","reason":"no scripts"}]"#.into(),
    }
}

contract_test!(
    a_batch_of_a_thousand_jobs_is_queued_at_once,
    |db: TestDb| async move {
        let devices: Vec<String> = (0..10).map(|i| format!("d{i}")).collect();
        for d in &devices {
            enroll(&db, d, d).await;
        }
        let jobs: Vec<JobRecord> = (0..1_000)
            .map(|i| job(&format!("j{i:04}"), &devices[i % 10], 1_000 + i as i64))
            .collect();
        let started = std::time::Instant::now();
        db.create_batch(&batch_record("b1", 5_000, 1_000), &jobs)
            .await
            .unwrap();
        let took = started.elapsed();
        eprintln!("{:?}: a batch of 1,000 jobs took {took:?}", db.backend);
        if db.backend == Backend::Sqlite {
            // Well under a second on an idle machine; the margin is for a loaded one.
            assert!(took < std::time::Duration::from_secs(3), "{took:?}");
        }
        db.create_batch(&batch_record("b0", 4_000, 1), &[job("other", "d0", 900)])
            .await
            .unwrap();
        assert_eq!(db.job("j0007").await.unwrap(), Some(jobs[7].clone()));
        assert_eq!(db.batch_jobs("b1").await.unwrap(), jobs);

        // A batch that cannot be queued whole is not queued at all.
        let err = db
            .create_batch(
                &batch_record("b2", 6_000, 2),
                &[job("fresh", "d1", 6_000), job("j0001", "d1", 6_000)],
            )
            .await;
        assert!(err.is_err());
        assert_eq!(db.batch("b2").await.unwrap(), None);
        assert_eq!(db.job("fresh").await.unwrap(), None);

        // Three of d1's jobs handed out: one left dispatched, one running, one succeeded.
        let mut claimed = Vec::new();
        for t in 0..3 {
            claimed.push(
                db.claim_next_job("d1", ts(7_000 + t))
                    .await
                    .unwrap()
                    .unwrap()
                    .id,
            );
        }
        db.update_job("d1", &claimed[1], JobState::Running, "", "", ts(7_100))
            .await
            .unwrap();
        db.update_job(
            "d1",
            &claimed[2],
            JobState::Succeeded,
            "done",
            "",
            ts(7_200),
        )
        .await
        .unwrap();
        let mut progress = db
            .batch_progress(&["b1".into(), "b0".into(), "missing".into()])
            .await
            .unwrap();
        progress.sort_by(|a, b| (&a.0, a.1.as_str()).cmp(&(&b.0, b.1.as_str())));
        assert_eq!(
            progress,
            vec![
                ("b0".into(), JobState::Queued, 1),
                ("b1".into(), JobState::Dispatched, 1),
                ("b1".into(), JobState::Queued, 997),
                ("b1".into(), JobState::Running, 1),
                ("b1".into(), JobState::Succeeded, 1),
            ]
        );
        assert!(db.batch_progress(&[]).await.unwrap().is_empty());

        assert_eq!(
            db.batch("b1").await.unwrap(),
            Some(batch_record("b1", 5_000, 1_000))
        );
        let newest: Vec<String> = db
            .batches(10)
            .await
            .unwrap()
            .into_iter()
            .map(|b| b.id)
            .collect();
        assert_eq!(newest, ["b1", "b0"]);
        assert_eq!(db.batches(1).await.unwrap().len(), 1);
    }
);
