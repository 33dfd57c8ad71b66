//! Detection from the shell, run by the real binary against an installation's database (no
//! server): detection policies (set with folders and responses, a system folder refused,
//! list, delete), a detection listed, shown and decided (its response job queued), a
//! ransomware drill queued, and the audit entries.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[allow(dead_code)] // each test crate uses part of the shared helpers
mod common;

use std::process::Command;

use common::admin;
use steward_core::Timestamp;
use steward_core::detection::{Detected, DetectionKind, ProcessFacts};
use steward_store::{DetectionWrite, EnrollTokenRecord, NewDevice};

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
async fn detections_policies_and_drills_from_the_shell() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path();
    let url = format!("sqlite://{}?mode=rwc", data.join("steward.db").display());
    let store = steward_store::Store::connect(&url).await.unwrap();
    store
        .create_enroll_token(&EnrollTokenRecord {
            id: "et-1".into(),
            token_hash: "tok-1".into(),
            uses_left: 1,
            expires_at: Timestamp(i64::MAX),
            created_at: Timestamp(0),
        })
        .await
        .unwrap();
    store
        .enroll_device(
            "tok-1",
            &NewDevice {
                id: "dev-1".into(),
                name: "office-pc".into(),
                credential_hash: "cred".into(),
                checkin_interval_secs: 60,
            },
            Timestamp(1_000),
        )
        .await
        .unwrap()
        .unwrap();
    store
        .record_detections(
            "dev-1",
            &[DetectionWrite {
                detected: Detected {
                    local_id: "a-1".into(),
                    kind: DetectionKind::Ransomware,
                    detected_at: Timestamp(2_000),
                    summary: "python3 changed 9 files\u{1b}[2J".into(),
                    process: Some(ProcessFacts {
                        pid: 4242,
                        exe: "/usr/bin/python3".into(),
                        exe_sha256: "ab".repeat(32),
                        cmdline: "python3 enc.py".into(),
                        user: "anna".into(),
                    }),
                    ancestors: Vec::new(),
                    signals: Vec::new(),
                    files: Vec::new(),
                    responses: Vec::new(),
                    drill: None,
                },
                stopped: false,
                isolated: false,
            }],
            Timestamp(2_000),
        )
        .await
        .unwrap();
    store.close().await;

    // Policies.
    let err = refused(
        data,
        &[
            "detection-policy",
            "set",
            "--target",
            "all",
            "--folder",
            "/proc",
        ],
    );
    assert!(err.contains("kernel or runtime view"), "{err}");
    admin(
        data,
        &[
            "detection-policy",
            "set",
            "--target",
            "device:office-pc",
            "--folder",
            "/srv/share/",
            "--folder",
            "/home",
            "--auto-stop",
            "--no-canaries",
        ],
    );
    let policies = admin(data, &["detection-policy", "list"]);
    assert!(policies.contains("device:dev-1"), "{policies}");
    assert!(policies.contains("/home /srv/share"), "{policies}");
    assert!(policies.contains("off"), "{policies}");
    assert!(policies.contains("stop the process"), "{policies}");
    admin(
        data,
        &["detection-policy", "delete", "--target", "device:office-pc"],
    );
    assert!(!admin(data, &["detection-policy", "list"]).contains("dev-1"));

    // A detection: listed (its agent-written text escaped), shown, decided.
    let list = admin(data, &["detections", "list"]);
    assert!(
        list.contains("office-pc") && list.contains("open"),
        "{list}"
    );
    assert!(
        !list.contains('\u{1b}'),
        "an escape reached the terminal: {list}"
    );
    let id = list
        .lines()
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned();
    let shown = admin(data, &["detections", "show", &id]);
    assert!(shown.contains("/usr/bin/python3"), "{shown}");
    assert!(shown.contains(&"ab".repeat(32)), "{shown}");
    let err = refused(data, &["detections", "decide", &id, "kill"]);
    assert!(err.contains("confirm, release, false_alarm"), "{err}");
    admin(data, &["detections", "decide", &id, "false_alarm"]);
    let after = admin(data, &["detections", "list", "--status", "false_alarm"]);
    assert!(after.contains(&id), "{after}");
    let err = refused(data, &["detections", "decide", &id, "confirm"]);
    assert!(err.contains("already false alarm"), "{err}");

    // A drill is queued (the agent runs it when it next checks in).
    let job = admin(data, &["drill", "ransomware", "--device", "office-pc"]);
    assert_eq!(job.len(), 36, "the drill's job id: {job}");
    let err = refused(
        data,
        &[
            "drill",
            "ransomware",
            "--device",
            "office-pc",
            "--files",
            "0",
        ],
    );
    assert!(err.contains("files: 10 to 2000"), "{err}");

    let audit = admin(data, &["audit", "export"]);
    for action in [
        "detection_policy_set",
        "detection_policy_deleted",
        "detection_decided",
        "ransomware_drill_queued",
    ] {
        assert!(audit.contains(action), "{action} in {audit}");
    }
}
