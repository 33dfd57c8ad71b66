//! Steward's own backups leave the detection canaries out: a real backup (rustic, a local
//! repository) of a folder with canaries placed holds the folder's files and none of them.
#![cfg(target_os = "linux")]
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::fs;
use std::sync::Arc;

use steward_agent::detection::canaries;
use steward_backup::storage::LocalDir;
use steward_backup::{BackupRequest, ListScope, ProgressCounter, Repo, repo};
use steward_core::detection::DetectionPolicy;

#[test]
fn a_backup_of_a_protected_folder_holds_no_canary() {
    let work = tempfile::tempdir().unwrap();
    let state = work.path().join("state");
    // A folder name with glob characters and spaces, as people name them.
    let share = work.path().join("Share [2024] *final*");
    fs::create_dir_all(share.join("Clients")).unwrap();
    fs::create_dir_all(&state).unwrap();
    fs::write(share.join("orders.xlsx"), "orders").unwrap();
    fs::write(share.join("Clients/acme.docx"), "acme").unwrap();
    let policy = DetectionPolicy {
        folders: vec![share.to_string_lossy().into_owned()],
        canaries: true,
        auto_stop: false,
        auto_isolate: false,
    };
    let placed = canaries::apply(&state, &policy).unwrap();
    assert_eq!(placed.len(), 8);

    let storage = Arc::new(LocalDir::new(work.path().join("repo")));
    repo::init(storage.clone(), "pw").unwrap();
    let request = BackupRequest {
        paths: vec![share.display().to_string()],
        excludes: canaries::backup_excludes(&state),
        host: "h".into(),
        tags: vec![],
    };
    let snapshot = Repo::open(storage.clone(), "pw", ProgressCounter::new())
        .unwrap()
        .backup(&request)
        .unwrap();
    assert_eq!(snapshot.files, Some(2), "the two files, no canary");
    let listing = Repo::open(storage, "pw", ProgressCounter::new())
        .unwrap()
        .into_indexed()
        .unwrap()
        .ls(&snapshot.id, "", ListScope::UNBOUNDED)
        .unwrap()
        .entries;
    let paths: Vec<&str> = listing.iter().map(|e| e.path.as_str()).collect();
    assert!(
        paths.iter().any(|p| p.ends_with("Clients/acme.docx")),
        "{paths:?}"
    );
    for name in canaries::NAMES {
        assert!(
            !paths.iter().any(|p| p.ends_with(name)),
            "{name} in {paths:?}"
        );
    }
}
