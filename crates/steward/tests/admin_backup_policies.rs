//! Backup policies from the shell, run by the real binary: `steward admin backup policy
//! list|add|remove` against an installation's database (no server, and no sealing key:
//! policies are only rows), with the API's refusals and audit entries.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[allow(dead_code)] // each test crate uses part of the shared helpers
mod common;

use std::process::Command;

use common::admin;

#[tokio::test]
async fn policies_are_added_listed_and_removed_from_the_shell() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let url = format!("sqlite://{}?mode=rwc", data.join("steward.db").display());
    let store = steward_store::Store::connect(&url).await.unwrap();
    store.close().await;

    assert_eq!(
        admin(data, &["backup", "policy", "list"]),
        "no backup policies"
    );
    admin(data, &["group", "create", "Shop"]);
    let id = admin(
        data,
        &[
            "backup",
            "policy",
            "add",
            "documents",
            "--devices",
            "group:Shop",
            "--path",
            "/srv/share",
            "--keep",
            "daily=7,weekly=4",
        ],
    );
    assert_eq!(id.len(), 36, "the new policy's id: {id}");
    admin(
        data,
        &[
            "backup",
            "policy",
            "add",
            "servers",
            "--devices",
            "tag:server",
            "--preset",
            "linux-server",
            "--schedule",
            "weekly sun 02:30",
            "--keep",
            "all",
        ],
    );

    let table = admin(data, &["backup", "policy", "list"]);
    let documents = table.lines().find(|l| l.starts_with("documents")).unwrap();
    for cell in [
        "group Shop",
        "daily 01:00",
        "daily 7, weekly 4",
        "30 days",
        "console",
        "/srv/share",
    ] {
        assert!(documents.contains(cell), "{cell} in {documents}");
    }
    let servers = table.lines().find(|l| l.starts_with("servers")).unwrap();
    assert!(
        servers.contains("every snapshot") && servers.contains("/var/lib"),
        "{servers}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&admin(data, &["backup", "policy", "list", "--json"])).unwrap();
    assert_eq!(json[0]["id"], id.as_str());

    // Refused as the API refuses, with what was wrong.
    let out = Command::new(common::BIN)
        .args([
            "admin",
            "backup",
            "policy",
            "add",
            "bad",
            "--path",
            "srv",
            "--data-dir",
        ])
        .arg(data)
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("\"srv\" is not an absolute path"), "{err}");

    admin(data, &["backup", "policy", "remove", "documents"]);
    admin(data, &["backup", "policy", "remove", "servers"]);
    assert_eq!(
        admin(data, &["backup", "policy", "list"]),
        "no backup policies"
    );
    let audit = admin(data, &["audit", "export"]);
    assert!(
        audit.contains("backup_policy_created") && audit.contains("backup_policy_deleted"),
        "{audit}"
    );
}
