//! Scripts and patching from the shell, run by the real binary against an installation's
//! database (no server): the library (add, show, a new version, list, archive), a run with
//! no device that allows scripts refused with the reason, patch policies (add with a window,
//! list, a malformed window refused, delete), approvals, and the audit entries.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[allow(dead_code)] // each test crate uses part of the shared helpers
mod common;

use std::process::Command;

use common::admin;

fn refused(data: &std::path::Path, args: &[&str]) -> String {
    let out = Command::new(common::BIN)
        .arg("admin")
        .args(args)
        .arg("--data-dir")
        .arg(data)
        .output()
        .unwrap();
    assert!(!out.status.success(), "{args:?} was accepted");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[tokio::test]
async fn the_library_and_patch_policies_are_kept_from_the_shell() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    // An installation's database, as `steward server` leaves it.
    let url = format!("sqlite://{}?mode=rwc", data.join("steward.db").display());
    steward_store::Store::connect(&url)
        .await
        .unwrap()
        .close()
        .await;
    let script = data.join("restart.sh");
    std::fs::write(&script, "systemctl restart \"$STEWARD_PARAM_SERVICE\"\n").unwrap();
    let file = script.display().to_string();

    let id = admin(
        data,
        &[
            "script",
            "add",
            "Restart a service",
            "--file",
            &file,
            "--param",
            "service text required",
        ],
    );
    let id = id.trim().to_owned();
    assert_eq!(id.len(), 36, "the new script's id: {id}");
    let shown = admin(data, &["script", "show", "Restart a service"]);
    assert!(shown.contains("v1 (sh on linux)"), "{shown}");
    assert!(shown.contains("param service (required)"), "{shown}");
    assert!(
        shown.ends_with("systemctl restart \"$STEWARD_PARAM_SERVICE\""),
        "{shown}"
    );

    std::fs::write(
        &script,
        "systemctl try-restart \"$STEWARD_PARAM_SERVICE\"\n",
    )
    .unwrap();
    admin(data, &["script", "edit", &id, "--file", &file]);
    let list = admin(data, &["script", "list"]);
    assert!(
        list.contains("Restart a service") && list.contains("v2"),
        "{list}"
    );

    // A malformed file and a run nobody can take are refused, saying why.
    let err = refused(
        data,
        &["script", "add", "Bad", "--file", "/nonexistent/x.sh"],
    );
    assert!(err.contains("--file /nonexistent/x.sh"), "{err}");
    let err = refused(
        data,
        &[
            "script",
            "run",
            &id,
            "--on",
            "all",
            "--param",
            "service=nginx",
        ],
    );
    assert!(err.contains("names no device"), "{err}");
    let err = refused(data, &["script", "run", &id, "--on", "all"]);
    assert!(
        err.contains("\"service\""),
        "a missing required parameter is named: {err}"
    );

    // Patch policies.
    let err = refused(
        data,
        &[
            "updates",
            "policy",
            "add",
            "Servers",
            "--on",
            "all",
            "--window",
            "sunday 2am",
        ],
    );
    assert!(err.contains("DAYS HH:MM DURATION"), "{err}");
    admin(
        data,
        &[
            "updates",
            "policy",
            "add",
            "Servers",
            "--on",
            "all",
            "--window",
            "sun 02:00 4h",
            "--others",
            "approve",
            "--reboot",
            "in_window",
            "--hold",
            "linux-image-*",
        ],
    );
    let policies = admin(data, &["updates", "policy", "list"]);
    assert!(policies.contains("sun 02:00 4h"), "{policies}");
    assert!(policies.contains("others once approved"), "{policies}");
    assert!(policies.contains("holds linux-image-*"), "{policies}");
    admin(data, &["updates", "approve", "openssl", "3.0.15-1~deb12u1"]);
    let err = refused(data, &["updates", "approve", "open ssl", "1"]);
    assert!(err.contains("a package name"), "{err}");
    admin(data, &["updates", "policy", "delete", "Servers"]);
    assert!(!admin(data, &["updates", "policy", "list"]).contains("Servers"));
    let overview = admin(data, &["updates", "list"]);
    assert!(
        overview.is_empty() || overview.starts_with("DEVICE"),
        "{overview}"
    );

    admin(data, &["script", "archive", &id]);
    assert!(!admin(data, &["script", "list"]).contains("Restart a service"));

    // Every change is audited, the script's with its content hash.
    let audit = admin(data, &["audit", "export"]);
    for action in [
        "script_created",
        "script_changed",
        "script_archived",
        "patch_policy_created",
        "patch_policy_deleted",
        "update_approved",
    ] {
        assert!(audit.contains(action), "{action} in {audit}");
    }
    assert!(audit.contains("sha256:"), "{audit}");
}
