//! Posture from the shell, run by the real binary: `steward admin posture items|answer|
//! exception` against an installation's database (no server), with the API's refusals and
//! audit entries.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[allow(dead_code)] // each test crate uses part of the shared helpers
mod common;

use std::process::Command;

use common::admin;

/// Runs `steward admin ARGS` expecting a refusal; its stderr.
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
async fn manual_items_are_answered_with_evidence_and_risks_accepted_from_the_shell() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let url = format!("sqlite://{}?mode=rwc", data.join("steward.db").display());
    let store = steward_store::Store::connect(&url).await.unwrap();

    // Every manual item listed, unanswered.
    let table = admin(data, &["posture", "items"]);
    let row = |table: &str, id: &str| {
        table
            .lines()
            .find(|l| l.starts_with(id))
            .unwrap_or_else(|| panic!("no {id} in {table}"))
            .to_string()
    };
    assert!(row(&table, "router-firmware").contains("fail"), "{table}");

    // Answered with a note, a review date and a file as evidence.
    let evidence = data.join("router-admin-page.pdf");
    std::fs::write(&evidence, b"%PDF-1.4 the router's status page").unwrap();
    let evidence_path = evidence.display().to_string();
    admin(
        data,
        &[
            "posture",
            "answer",
            "router-firmware",
            "--answer",
            "yes",
            "--owner",
            "Sam (office manager)",
            "--note",
            "firmware 1.2.3",
            "--review-by",
            "2099-06-30",
            "--attach",
            &evidence_path,
        ],
    );
    let line = row(&admin(data, &["posture", "items"]), "router-firmware");
    for cell in ["pass", "Sam (office manager)", "2099-06-30"] {
        assert!(line.contains(cell), "{cell} in {line}");
    }
    let file = store
        .posture_attachment("router-firmware")
        .await
        .unwrap()
        .expect("the attached file");
    assert_eq!(file.name, "router-admin-page.pdf");
    assert_eq!(file.media_type, "application/pdf");
    assert_eq!(file.bytes, b"%PDF-1.4 the router's status page");

    // Refused as the API refuses, naming what was wrong; the answer stays.
    let err = refused(
        data,
        &[
            "posture",
            "answer",
            "router-firmware",
            "--answer",
            "maybe",
            "--owner",
            "Sam",
        ],
    );
    assert!(err.contains("--answer"), "{err}");
    let err = refused(
        data,
        &[
            "posture",
            "answer",
            "router-firmware",
            "--answer",
            "no",
            "--owner",
            "Sam",
            "--review-by",
            "2001-01-01",
        ],
    );
    assert!(err.contains("review_by"), "{err}");
    let err = refused(
        data,
        &[
            "posture",
            "answer",
            "no-such-item",
            "--answer",
            "yes",
            "--owner",
            "Sam",
        ],
    );
    assert!(err.contains("no manual item"), "{err}");
    let missing = data.join("missing.pdf").display().to_string();
    let err = refused(
        data,
        &[
            "posture",
            "answer",
            "router-firmware",
            "--answer",
            "no",
            "--owner",
            "Sam",
            "--attach",
            &missing,
        ],
    );
    assert!(err.contains("missing.pdf"), "{err}");
    assert!(row(&admin(data, &["posture", "items"]), "router-firmware").contains("pass"));

    // A risk accepted on a tag until a date (exceptions last at most a year), listed, then
    // ended.
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64;
    let until = steward_core::time::date(steward_core::Timestamp(now_ms + 30 * 86_400_000));
    assert_eq!(
        admin(data, &["posture", "exception", "list"]),
        "no exceptions"
    );
    let id = admin(
        data,
        &[
            "posture",
            "exception",
            "add",
            "--check",
            "ssh-no-x11-forwarding",
            "--devices",
            "tag:lab",
            "--reason",
            "lab machines, no network",
            "--owner",
            "Sam",
            "--expires",
            &until,
        ],
    );
    assert_eq!(id.len(), 36, "the exception's id: {id}");
    let listed = admin(data, &["posture", "exception", "list"]);
    for cell in [
        "ssh-no-x11-forwarding",
        "tag lab",
        "active",
        &until,
        "lab machines",
    ] {
        assert!(listed.contains(cell), "{cell} in {listed}");
    }
    let err = refused(
        data,
        &[
            "posture",
            "exception",
            "add",
            "--check",
            "not a check",
            "--devices",
            "all",
            "--reason",
            "x",
            "--owner",
            "Sam",
            "--expires",
            &until,
        ],
    );
    assert!(err.contains("no check"), "{err}");
    let err = refused(
        data,
        &[
            "posture",
            "exception",
            "add",
            "--check",
            "ssh-no-x11-forwarding",
            "--devices",
            "group:Nowhere",
            "--reason",
            "x",
            "--owner",
            "Sam",
            "--expires",
            &until,
        ],
    );
    assert!(err.contains("no group named"), "{err}");
    admin(data, &["posture", "exception", "end", &id]);
    let json: serde_json::Value =
        serde_json::from_str(&admin(data, &["posture", "exception", "list", "--json"])).unwrap();
    assert_eq!(json[0]["status"], "revoked", "{json}");

    let audit = admin(data, &["audit", "export"]);
    for action in [
        "posture_answered",
        "posture_exception_added",
        "posture_exception_revoked",
    ] {
        assert!(audit.contains(action), "{action} in the audit log");
    }
    store.close().await;
}
