//! Backup policies over the API: defined with defaults or a preset, listed, changed and
//! deleted; every kind of bad definition refused with what was wrong; the caller's scope
//! and role respected; policies from the configuration file read-only; the schedule in
//! step at once.

use reqwest::Method;
use serde_json::{Value, json};
use steward_core::backup::retention::Keep;
use steward_core::{Role, Scope};
use steward_server::auth::{Principal, PrincipalKind};
use steward_server::backup::policies;
use steward_server::service::Caller;
use steward_store::NewBackupPolicy;
use steward_testkit::TestServer;

use super::support::{Caller as As, api};

const DAY_MS: i64 = 86_400_000;

async fn send(
    server: &TestServer,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    api(server, method, path, As::Token(token), body).await
}

#[tokio::test]
async fn policies_are_defined_with_defaults_listed_changed_and_deleted() {
    let server = TestServer::sqlite().await;
    let (device, _) = server.enroll_raw("files").await;
    let root = server.api_token().await;

    let (status, documents) = server
        .api_post(
            &root,
            "/api/v1/backup-policies",
            json!({"name": "documents", "paths": ["/srv/share"]}),
        )
        .await;
    assert_eq!(status, 201, "{documents}");
    assert_eq!(documents["target"], "all");
    assert_eq!(documents["schedule"], "daily 01:00");
    assert_eq!(
        documents["keep"],
        json!({"last": 0, "hourly": 0, "daily": 7, "weekly": 4, "monthly": 12, "yearly": 0})
    );
    assert_eq!(documents["protection_days"], 30);
    assert_eq!(documents["bandwidth_kib"], Value::Null);
    assert_eq!(documents["source"], "console");
    let excludes: Vec<&str> = documents["excludes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap())
        .collect();
    for usual in [
        "/proc",
        "/sys",
        "/dev",
        "/run",
        "/tmp",
        "*.tmp",
        "/home/*/.cache",
    ] {
        assert!(excludes.contains(&usual), "{usual} in {excludes:?}");
    }
    let id = documents["id"].as_str().unwrap().to_owned();

    // The device is scheduled at once: the next 01:00 UTC.
    let now = server.now();
    let schedule = server.store.backup_schedule(&id).await.unwrap();
    assert_eq!(schedule.len(), 1);
    assert_eq!(schedule[0].device_id, device);
    let next = schedule[0].due_at.0;
    assert!(next > now.0 && next <= now.0 + DAY_MS && next % DAY_MS == 3_600_000);

    // A preset, for one device named by its name.
    let (status, server_policy) = server
        .api_post(
            &root,
            "/api/v1/backup-policies",
            json!({"name": "server", "preset": "linux-server", "target": "device:files",
                   "schedule": "weekly  sun 02:30", "keep": {"last": 3}, "protection_days": 14,
                   "bandwidth_kib": 2048}),
        )
        .await;
    assert_eq!(status, 201, "{server_policy}");
    assert_eq!(server_policy["target"], format!("device:{device}"));
    assert_eq!(server_policy["schedule"], "weekly sun 02:30");
    assert!(
        server_policy["paths"]
            .as_array()
            .unwrap()
            .contains(&json!("/var/lib"))
    );
    assert!(
        server_policy["excludes"]
            .as_array()
            .unwrap()
            .contains(&json!("/var/lib/docker"))
    );
    assert_eq!(server_policy["bandwidth_kib"], 2048);

    let (status, presets) = server.api_get(&root, "/api/v1/backup-presets").await;
    assert_eq!(status, 200);
    let names: Vec<&str> = presets
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["linux-server", "workstation"]);

    let (status, list) = server.api_get(&root, "/api/v1/backup-policies").await;
    assert_eq!(status, 200);
    let names: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["documents", "server"]);
    let (status, by_name) = server
        .api_get(&root, "/api/v1/backup-policies/documents")
        .await;
    assert_eq!((status, &by_name), (200, &documents));

    // A change replaces the definition; a new schedule starts from its next slot.
    let path = format!("/api/v1/backup-policies/{id}");
    let before = server.now().0;
    let (status, changed) = send(
        &server,
        &root,
        Method::PUT,
        &path,
        Some(
            json!({"name": "documents", "paths": ["/srv/share", "/home"], "schedule": "every 6h",
                    "keep": {}, "excludes": []}),
        ),
    )
    .await;
    assert_eq!(status, 200, "{changed}");
    assert_eq!(
        changed["keep"]["daily"], 0,
        "all zero: every snapshot is kept"
    );
    assert_eq!(changed["excludes"], json!([]));
    let schedule = server.store.backup_schedule(&id).await.unwrap();
    let due = schedule[0].due_at.0 - 6 * 3_600_000;
    assert!(
        before <= due && due <= server.now().0,
        "six hours after the change"
    );

    // Viewers read, and change nothing.
    let viewer = server.api_token_with(Role::Viewer).await;
    assert_eq!(server.api_get(&viewer, &path).await.0, 200);
    let (status, _) = server
        .api_post(
            &viewer,
            "/api/v1/backup-policies",
            json!({"name": "x", "paths": ["/x"]}),
        )
        .await;
    assert_eq!(status, 403);

    let (status, audit) = server
        .api_get(&root, "/api/v1/audit?action=backup_policy_updated")
        .await;
    assert_eq!(status, 200);
    assert!(audit.to_string().contains("every 6h"), "{audit}");

    assert_eq!(
        send(&server, &root, Method::DELETE, &path, None).await.0,
        204
    );
    assert_eq!(server.api_get(&root, &path).await.0, 404);
    assert!(server.store.backup_schedule(&id).await.unwrap().is_empty());
    assert_eq!(
        send(&server, &root, Method::DELETE, &path, None).await.0,
        404
    );
    server.cleanup().await;
}

#[tokio::test]
async fn bad_definitions_are_refused_saying_what_was_wrong() {
    let server = TestServer::sqlite().await;
    let root = server.api_token().await;
    let base = json!({"name": "docs", "paths": ["/srv"]});
    let with = |extra: Value| {
        let mut body = base.clone();
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        body
    };
    let cases = [
        (json!({"name": "  "}), "name: 1 to 100 characters"),
        (json!({"paths": ["srv"]}), "\"srv\" is not an absolute path"),
        (json!({"paths": ["/srv/../etc"]}), "climbs"),
        (
            json!({"paths": []}),
            "paths: give at least one absolute path, or a preset",
        ),
        (json!({"excludes": ["!*.log"]}), "without a leading"),
        (
            json!({"schedule": "nightly"}),
            "expected `hourly`, `hourly :MM`, `daily HH:MM`",
        ),
        (json!({"schedule": "every 1m"}), "at least every 15 minutes"),
        (json!({"target": "everything"}), "a target is `all`"),
        (
            json!({"target": "group:Nowhere"}),
            "no group named \"Nowhere\"",
        ),
        (
            json!({"target": "device:nobody"}),
            "no device named \"nobody\"",
        ),
        (json!({"protection_days": 0}), "protection_days: 1 to 3650"),
        (json!({"bandwidth_kib": 0}), "leave it out for no limit"),
        (
            json!({"preset": "nas"}),
            "preset: one of linux-server, workstation",
        ),
        (json!({"keep": {"daily": 100000}}), "keep: at most"),
    ];
    for (extra, expected) in cases {
        let (status, body) = server
            .api_post(&root, "/api/v1/backup-policies", with(extra.clone()))
            .await;
        assert_eq!(status, 400, "{extra}: {body}");
        let message = body["message"].as_str().unwrap_or_default();
        assert!(message.contains(expected), "{extra}: {message}");
    }
    assert!(server.store.backup_policies().await.unwrap().is_empty());

    let (status, _) = server
        .api_post(&root, "/api/v1/backup-policies", base.clone())
        .await;
    assert_eq!(status, 201);
    let (status, body) = server
        .api_post(&root, "/api/v1/backup-policies", base.clone())
        .await;
    assert_eq!(status, 409, "{body}");
    assert!(body.to_string().contains("already exists"), "{body}");
    server.cleanup().await;
}

#[tokio::test]
async fn scope_and_the_configuration_file_are_respected() {
    let server = TestServer::sqlite().await;
    let root = server.api_token().await;
    let (shop_pc, _) = server.enroll_raw("shop-pc").await;
    let (_, shop) = server
        .api_post(&root, "/api/v1/groups", json!({"name": "Shop"}))
        .await;
    let shop = shop["id"].as_str().unwrap().to_owned();
    let (status, _) = send(
        &server,
        &root,
        Method::PATCH,
        &format!("/api/v1/devices/{shop_pc}"),
        Some(json!({"group": shop})),
    )
    .await;
    assert_eq!(status, 200);

    // A technician who serves the shop: its group and devices, not every device.
    let tech = Caller::new(
        Principal {
            kind: PrincipalKind::Cli,
            name: "tech".into(),
            role: Role::Technician,
            csrf_token: None,
            session_hash: None,
            scope: Scope::Groups(vec![shop.clone()]),
            reauth_at: None,
            must_enrol_two_factor: false,
            must_change_password: false,
        },
        "test",
        server.now(),
    );
    let input = |name: &str, target: &str| steward_proto::backup::SaveBackupPolicy {
        name: name.into(),
        target: Some(target.into()),
        paths: Some(vec!["/srv".into()]),
        ..Default::default()
    };
    let refused = policies::create(&server.state, &tech, &input("all", "all")).await;
    assert!(
        matches!(refused, Err(policies::PolicyError::OutsideScope(_))),
        "{refused:?}"
    );
    let shop_policy = policies::create(&server.state, &tech, &input("shop", "group:Shop"))
        .await
        .unwrap();
    assert_eq!(shop_policy.target, format!("group:{shop}"));
    policies::create(&server.state, &tech, &input("one", "device:shop-pc"))
        .await
        .unwrap();
    let (_, everywhere) = server
        .api_post(
            &root,
            "/api/v1/backup-policies",
            json!({"name": "everywhere", "paths": ["/etc"]}),
        )
        .await;
    let seen: Vec<String> = policies::list(&server.state, &tech)
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert_eq!(
        seen,
        ["one", "shop"],
        "every device's policy is not the tech's to see"
    );
    let everywhere = everywhere["id"].as_str().unwrap();
    assert!(
        policies::delete(&server.state, &tech, everywhere)
            .await
            .is_err()
    );

    // A policy from the configuration file is changed there only.
    let declared = NewBackupPolicy {
        name: "declared".into(),
        target: "all".into(),
        paths: vec!["/etc".into()],
        excludes: Vec::new(),
        schedule: "hourly".into(),
        keep: Keep::default(),
        protection_ms: 30 * DAY_MS,
        bandwidth_kib: None,
        enabled: true,
    };
    server
        .store
        .sync_declared_backup_policies(&[declared], server.now())
        .await
        .unwrap();
    let path = "/api/v1/backup-policies/config:declared";
    let (status, body) = server.api_get(&root, path).await;
    assert_eq!((status, body["source"].as_str()), (200, Some("config")));
    let (status, body) = send(
        &server,
        &root,
        Method::PUT,
        path,
        Some(json!({"name": "declared", "paths": ["/"]})),
    )
    .await;
    assert_eq!(status, 409, "{body}");
    assert!(body.to_string().contains("configuration file"), "{body}");
    assert_eq!(
        send(&server, &root, Method::DELETE, path, None).await.0,
        409
    );
    server.cleanup().await;
}

#[tokio::test]
async fn declared_policies_are_stored_at_start_with_their_groups_looked_up() {
    use steward_server::backup::declared::DeclaredPolicy;
    let declared = |name: &str, target: &str| DeclaredPolicy {
        policy: policies::definition(&steward_proto::backup::SaveBackupPolicy {
            name: name.into(),
            target: Some(target.into()),
            paths: Some(vec!["/srv".into()]),
            ..Default::default()
        })
        .unwrap(),
        origin: "steward.toml line 1".into(),
    };
    let both = vec![
        declared("everything", "all"),
        declared("shop", "group:Shop"),
    ];
    let config = both.clone();
    let server = TestServer::sqlite_configured(|c| c.declared_backups = config).await;
    // What the server stored once it started (it stores the file's policies before it
    // serves: its health answering means they are in).
    let names = |server: &TestServer| {
        let (store, url) = (
            server.store.clone(),
            format!("{}/api/v1/health", server.url),
        );
        async move {
            steward_testkit::eventually(std::time::Duration::from_secs(10), "start", || async {
                let up = reqwest::get(&url)
                    .await
                    .is_ok_and(|r| r.status().is_success());
                up.then_some(())
            })
            .await;
            store
                .backup_policies()
                .await
                .unwrap()
                .into_iter()
                .map(|p| (p.name, p.target, p.source))
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        names(&server).await,
        [("everything".into(), "all".into(), "config".into())],
        "a group that does not exist yet leaves its policy out"
    );
    let root = server.api_token().await;
    let (_, shop) = server
        .api_post(&root, "/api/v1/groups", json!({"name": "Shop"}))
        .await;
    let shop = shop["id"].as_str().unwrap().to_owned();

    // Restarted: the group is found; then declared no more, a policy is removed.
    let db = server.stop().await;
    let config = both.clone();
    let server = TestServer::start_configured(db, |c| c.declared_backups = config).await;
    assert_eq!(
        names(&server).await,
        [
            ("everything".into(), "all".into(), "config".into()),
            ("shop".into(), format!("group:{shop}"), "config".into())
        ]
    );
    // A name a person's policy holds stays theirs; the server still starts.
    let root = server.api_token().await;
    let (status, _) = server
        .api_post(
            &root,
            "/api/v1/backup-policies",
            json!({"name": "mine", "paths": ["/home"]}),
        )
        .await;
    assert_eq!(status, 201);
    let db = server.stop().await;
    let config = vec![both[1].clone(), declared("mine", "all")];
    let server = TestServer::start_configured(db, |c| c.declared_backups = config).await;
    assert_eq!(
        names(&server).await,
        [
            ("mine".into(), "all".into(), "console".into()),
            ("shop".into(), format!("group:{shop}"), "config".into())
        ]
    );
    server.cleanup().await;
}
