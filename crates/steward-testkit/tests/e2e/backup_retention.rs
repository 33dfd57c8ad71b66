//! Retention with forged times, on a real repository in the server's backups directory:
//! snapshots are judged by when the server received them, never by the time written inside
//! them. Nothing younger than the protection window goes, even when `keep` says so; a
//! snapshot forged to look ancient but received lately stays; one forged to look new but
//! received long ago goes; what goes is forgotten and pruned, and the repository still
//! checks clean and restores. Spool files left behind by an upload cut off go too.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use steward_backup::storage::{LocalDir, Storage};
use steward_backup::{BackupRequest, ProgressCounter, Repo};
use steward_core::{Scope, Timestamp};
use steward_server::backup::maintenance::{self, Maintained};
use steward_store::SnapshotSummary;
use steward_testkit::TestServer;

const DAY_MS: i64 = 86_400_000;
/// 2001-01-01: a time a forger might write into a snapshot.
const LONG_AGO_MS: i64 = 978_307_200_000;

/// Backs `source` up into the repository as it is now, with `written_at_ms` inside.
fn snapshot(
    storage: &Arc<dyn Storage>,
    password: &str,
    source: &Path,
    written_at_ms: i64,
) -> String {
    let request = BackupRequest {
        paths: vec![source.display().to_string()],
        excludes: Vec::new(),
        host: "files".into(),
        tags: vec!["steward".into()],
    };
    Repo::open(storage.clone(), password, ProgressCounter::new())
        .unwrap()
        .backup_written_at(&request, Some(written_at_ms))
        .unwrap()
        .id
}

fn held(storage: &Arc<dyn Storage>, password: &str) -> Vec<String> {
    let mut ids: Vec<String> = Repo::open(storage.clone(), password, ProgressCounter::new())
        .unwrap()
        .snapshots()
        .unwrap()
        .into_iter()
        .map(|s| s.id)
        .collect();
    ids.sort();
    ids
}

fn sorted(mut ids: Vec<String>) -> Vec<String> {
    ids.sort();
    ids
}

#[tokio::test(flavor = "multi_thread")]
async fn retention_judges_by_received_time_and_the_repository_stays_sound() {
    let server = TestServer::sqlite_manual_clock().await;
    let (device, _) = server.enroll_raw("files").await;
    let root = server.api_token().await;
    let work = tempfile::tempdir().unwrap();
    let source = work.path().join("share");
    std::fs::create_dir_all(&source).unwrap();

    // The repository is made by the first backup queued (no agent runs it here); its
    // password is what an administrator sees.
    let (status, body) = server
        .api_post(
            &root,
            &format!("/api/v1/devices/{device}/backups"),
            json!({"paths": ["/srv"]}),
        )
        .await;
    assert_eq!(status, 202, "{body}");
    let (status, body) = server
        .api_post(
            &root,
            &format!("/api/v1/devices/{device}/backup-password"),
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let password = body["password"].as_str().unwrap().to_owned();
    let storage: Arc<dyn Storage> = Arc::new(LocalDir::new(server.backups_dir().join(&device)));

    // Five snapshots, each of different content (so pruning has something to drop):
    // (name, received days ago, time written inside).
    let now = server.now();
    let plan = [
        ("old", 90, now.0 - 90 * DAY_MS),
        ("claims to be new", 60, now.0),
        ("claims to be ancient", 2, LONG_AGO_MS),
        ("recent", 10, now.0 - 10 * DAY_MS),
        ("newest", 0, now.0),
    ];
    let mut ids = Vec::new();
    for (i, (name, days_ago, written)) in plan.iter().enumerate() {
        let content: Vec<u8> = (0..200_000u32)
            .map(|b| (b * 7 + i as u32 * 13) as u8)
            .collect();
        std::fs::write(source.join("ledger.bin"), &content).unwrap();
        std::fs::write(source.join("name.txt"), name).unwrap();
        let id = tokio::task::block_in_place(|| snapshot(&storage, &password, &source, *written));
        let received = Timestamp(now.0 - days_ago * DAY_MS + i as i64);
        assert!(
            server
                .store
                .record_snapshot_received(&device, &id, received)
                .await
                .unwrap()
        );
        ids.push(id);
    }
    let [old, claims_new, claims_ancient, recent, newest] = ids.clone().try_into().unwrap();

    // A spool file a server stopped mid-upload left behind (written two hours ago) goes at
    // the next maintenance; one being written now stays.
    let spool = server.backups_dir().join(&device).join(".steward-tmp");
    let (left, arriving) = (spool.join(".tmpLeft"), spool.join(".tmpArriving"));
    std::fs::write(&left, "half a pack").unwrap();
    std::fs::File::options()
        .write(true)
        .open(&left)
        .unwrap()
        .set_modified(std::time::SystemTime::now() - Duration::from_secs(7_200))
        .unwrap();
    std::fs::write(&arriving, "a pack arriving").unwrap();

    // No policy covers the device: nothing is let go.
    let done = maintenance::maintain(&server.state, &device).await.unwrap();
    assert_eq!(done, Some(Maintained::default()));
    assert!(
        !left.exists() && arriving.exists(),
        "only the stale spool file"
    );

    // Keep only the last one; 30 days of protection (the default).
    let (status, policy) = server
        .api_post(
            &root,
            "/api/v1/backup-policies",
            json!({"name": "share", "target": format!("device:{device}"), "paths": ["/srv"],
                   "keep": {"last": 1}}),
        )
        .await;
    assert_eq!(status, 201, "{policy}");
    let policy_id = policy["id"].as_str().unwrap().to_owned();
    // Most came from the policy's jobs; the forged one arrived without a job.
    for id in [&old, &claims_new, &recent, &newest] {
        let summary = SnapshotSummary {
            policy_id: Some(policy_id.clone()),
            ..SnapshotSummary::default()
        };
        assert!(
            server
                .store
                .record_snapshot_summary(&device, id, &summary)
                .await
                .unwrap()
        );
    }

    let done = maintenance::maintain(&server.state, &device)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        done.forgotten,
        sorted(vec![old.clone(), claims_new.clone()])
    );
    assert!(done.pruned);
    assert_eq!(
        held(&storage, &password),
        sorted(vec![claims_ancient.clone(), recent.clone(), newest.clone()]),
        "kept: the protected ones, whatever `keep` and their written times say"
    );
    let live: Vec<String> = server
        .store
        .scoped(&Scope::AllDevices)
        .backup_snapshots(&device, false)
        .await
        .unwrap()
        .into_iter()
        .map(|s| s.snapshot_id)
        .collect();
    assert_eq!(sorted(live), held(&storage, &password));
    let all = server
        .store
        .scoped(&Scope::AllDevices)
        .backup_snapshots(&device, true)
        .await
        .unwrap();
    assert!(
        all.iter()
            .filter(|s| s.snapshot_id == old || s.snapshot_id == claims_new)
            .all(|s| s.forgotten_at == Some(now))
    );
    let record = server
        .store
        .backup_maintenance(&device)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (record.last_forget_at, record.last_prune_at),
        (Some(now), Some(now))
    );

    // Sound: a full check passes, and the forged snapshot restores byte for byte.
    let (check_storage, check_password) = (storage.clone(), password.clone());
    let report = tokio::task::spawn_blocking(move || {
        Repo::open(check_storage, &check_password, ProgressCounter::new())
            .unwrap()
            .check(100.0)
            .unwrap()
    })
    .await
    .unwrap();
    assert!(report.errors.is_empty(), "{:?}", report.errors);
    let restored = work.path().join("restored");
    let (restore_storage, restore_password, id) =
        (storage.clone(), password.clone(), claims_ancient.clone());
    let target = restored.clone();
    tokio::task::spawn_blocking(move || {
        Repo::open(restore_storage, &restore_password, ProgressCounter::new())
            .unwrap()
            .into_indexed()
            .unwrap()
            .restore(&id, "", &target)
            .unwrap()
    })
    .await
    .unwrap();
    let inside = restored.join(source.strip_prefix("/").unwrap());
    assert_eq!(
        std::fs::read_to_string(inside.join("name.txt")).unwrap(),
        "claims to be ancient"
    );
    let expected: Vec<u8> = (0..200_000u32).map(|b| (b * 7 + 2 * 13) as u8).collect();
    assert_eq!(std::fs::read(inside.join("ledger.bin")).unwrap(), expected);

    // Done again at once: nothing more goes, and no second prune the same day.
    let again = maintenance::maintain(&server.state, &device).await.unwrap();
    assert_eq!(again, Some(Maintained::default()));

    // Twenty-five days on, "recent" was received 35 days ago and is outside the window;
    // the forged one, received 27 days ago, is still inside it.
    server.clock().advance(Duration::from_secs(25 * 86_400));
    let done = maintenance::maintain(&server.state, &device)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(done.forgotten, vec![recent.clone()]);
    assert!(done.pruned, "a day has passed since the last prune");
    assert_eq!(
        held(&storage, &password),
        sorted(vec![claims_ancient.clone(), newest.clone()])
    );

    let (status, audit) = server
        .api_get(&root, "/api/v1/audit?action=backup_retention")
        .await;
    assert_eq!(status, 200);
    let text = audit.to_string();
    assert!(
        text.contains("system") && text.contains(&recent[..8]),
        "{audit}"
    );
    server.cleanup().await;
}
