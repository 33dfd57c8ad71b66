//! One action, three surfaces: revoking a device, creating a group and changing a role give
//! the same result, the same audit entry and the same refusal whether asked through the API,
//! a console form or `steward admin` — each surface is an adapter over the same service.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

#[allow(dead_code)] // each test crate uses part of the shared helpers
mod common;

use std::process::Command;

use common::BIN;
use steward_core::Role;
use steward_store::AuditRecord;
use steward_testkit::TestServer;

const PASSWORD: &str = "correct horse battery staple";

/// The server, an administrator's API token and console session, and the database URL the
/// command line is pointed at.
struct Surfaces {
    server: TestServer,
    token: String,
    cookie: String,
    csrf: String,
    database: String,
    http: reqwest::Client,
}

/// What a surface answered: success, and the message a person is shown on refusal.
#[derive(Debug)]
struct Answer {
    ok: bool,
    status: u16,
    message: String,
}

impl Surfaces {
    async fn start() -> Surfaces {
        let server = TestServer::sqlite().await;
        let token = server.api_token().await;
        server.create_user("root", Role::Admin, PASSWORD).await;
        let cookie = server.sign_in("root", PASSWORD).await;
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let html = steward_testkit::page_with(&http, format!("{}/", server.url), &cookie).await;
        let csrf = steward_testkit::csrf_in(&html);
        let database = server.db.as_ref().unwrap().url.clone();
        Surfaces {
            server,
            token,
            cookie,
            csrf,
            database,
            http,
        }
    }

    async fn api(&self, method: reqwest::Method, path: &str, body: serde_json::Value) -> Answer {
        let resp = self
            .http
            .request(method, format!("{}{path}", self.server.url))
            .bearer_auth(&self.token)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        let message = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v["message"].as_str().map(str::to_string))
            .unwrap_or_default();
        Answer {
            ok: (200..300).contains(&status),
            status,
            message,
        }
    }

    async fn console(&self, path: &str, fields: &[(&str, &str)]) -> Answer {
        let mut form = vec![("csrf", self.csrf.as_str())];
        form.extend_from_slice(fields);
        let resp = self
            .http
            .post(format!("{}{path}", self.server.url))
            .header("cookie", &self.cookie)
            .form(&form)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let html = resp.text().await.unwrap();
        Answer {
            ok: status == 303 || status == 200,
            status,
            message: html,
        }
    }

    fn cli(&self, args: &[&str]) -> Answer {
        let out = Command::new(BIN)
            .arg("admin")
            .args(args)
            .arg("--database")
            .arg(&self.database)
            .env("USER", "operator")
            .env_remove("SUDO_USER")
            .output()
            .unwrap();
        Answer {
            ok: out.status.success(),
            status: u16::from(!out.status.success()),
            message: String::from_utf8_lossy(&out.stderr).to_string(),
        }
    }

    /// Audit entries of `action` about `target`, oldest first.
    async fn audited(&self, action: &str, target: &str) -> Vec<AuditRecord> {
        self.server
            .store
            .audit_after(0, 10_000)
            .await
            .unwrap()
            .into_iter()
            .filter(|r| r.facts.action == action && r.facts.target == target)
            .collect()
    }
}

/// The console shows a refusal's message in its page, HTML-escaped.
fn shows(html: &str, message: &str) -> bool {
    html.contains(&message.replace('\'', "&#x27;").replace('"', "&quot;")) || html.contains(message)
}

#[tokio::test]
async fn revoking_a_device_is_the_same_on_every_surface() {
    let s = Surfaces::start().await;
    let mut devices = Vec::new();
    for name in ["by-api", "by-console", "by-cli"] {
        devices.push((s.server.enroll_raw(name).await.0, name));
    }
    for round in 0..2 {
        let answers = [
            s.api(
                reqwest::Method::POST,
                &format!("/api/v1/devices/{}/revoke", devices[0].0),
                serde_json::json!({}),
            )
            .await,
            s.console(
                &format!("/devices/{}/access", devices[1].0),
                &[("op", "revoke")],
            )
            .await,
            s.cli(&["device", "revoke", devices[2].1]),
        ];
        // The first time revokes; the second changes nothing and succeeds just the same.
        for (answer, (_, name)) in answers.iter().zip(&devices) {
            assert!(answer.ok, "round {round}, {name}: {answer:?}");
        }
    }
    let actors = ["api-token:admin", "user:root", "cli:operator"];
    for ((id, name), actor) in devices.iter().zip(actors) {
        let device = s
            .server
            .store
            .scoped(&steward_core::Scope::AllDevices)
            .device(id)
            .await
            .unwrap()
            .unwrap();
        assert!(device.revoked_at.is_some(), "{name} is revoked");
        let entries = s.audited("device_revoked", id).await;
        assert_eq!(entries.len(), 1, "{name}: one entry, however often asked");
        assert_eq!(entries[0].facts.detail, *name);
        assert!(
            entries[0].facts.actor.starts_with(actor),
            "{name}: {}",
            entries[0].facts.actor
        );
    }
    // The same refusal for a device that does not exist.
    let api = s
        .api(
            reqwest::Method::POST,
            "/api/v1/devices/nope/revoke",
            serde_json::json!({}),
        )
        .await;
    let console = s.console("/devices/nope/access", &[("op", "revoke")]).await;
    assert_eq!((api.status, console.status), (404, 404));
    assert!(!s.cli(&["device", "revoke", "nope"]).ok);
    s.server.cleanup().await;
}

#[tokio::test]
async fn creating_a_group_is_the_same_on_every_surface() {
    let s = Surfaces::start().await;
    let create = |name: &'static str| {
        let s = &s;
        async move {
            [
                s.api(
                    reqwest::Method::POST,
                    "/api/v1/groups",
                    serde_json::json!({ "name": format!("{name} api") }),
                )
                .await,
                s.console("/groups", &[("name", &format!("{name} console"))])
                    .await,
                s.cli(&["group", "create", &format!("{name} cli")]),
            ]
        }
    };
    for answer in create("Shop").await {
        assert!(answer.ok, "{answer:?}");
    }
    for (surface, actor) in [
        ("api", "api-token:admin"),
        ("console", "user:root"),
        ("cli", "cli:operator"),
    ] {
        let entries = s.audited("group_created", &format!("Shop {surface}")).await;
        assert_eq!(entries.len(), 1, "{surface}");
        assert_eq!(entries[0].facts.detail, "");
        assert_eq!(entries[0].facts.actor, actor);
    }
    // A name taken: the same refusal, with the same message, everywhere.
    let taken = "Shop api";
    let api = s
        .api(
            reqwest::Method::POST,
            "/api/v1/groups",
            serde_json::json!({ "name": taken }),
        )
        .await;
    let console = s.console("/groups", &[("name", taken)]).await;
    let cli = s.cli(&["group", "create", taken]);
    assert_eq!(api.status, 409, "{api:?}");
    assert_eq!(console.status, 409);
    assert!(!cli.ok);
    assert!(!api.message.is_empty());
    assert!(shows(&console.message, &api.message), "{}", console.message);
    assert!(cli.message.contains(&api.message), "{}", cli.message);
    // So is a name out of bounds.
    let long = "x".repeat(101);
    let api = s
        .api(
            reqwest::Method::POST,
            "/api/v1/groups",
            serde_json::json!({ "name": long }),
        )
        .await;
    let console = s.console("/groups", &[("name", &long)]).await;
    let cli = s.cli(&["group", "create", &long]);
    assert_eq!((api.status, console.status), (400, 400));
    assert!(shows(&console.message, &api.message));
    assert!(!cli.ok && cli.message.contains(&api.message), "{cli:?}");
    s.server.cleanup().await;
}

#[tokio::test]
async fn changing_a_role_is_the_same_on_every_surface() {
    let s = Surfaces::start().await;
    let mut ids = Vec::new();
    for name in ["via-api", "via-console", "via-cli"] {
        s.server.create_user(name, Role::Viewer, PASSWORD).await;
        ids.push(
            s.server
                .store
                .user_by_username(name)
                .await
                .unwrap()
                .unwrap()
                .id,
        );
    }
    let answers = [
        s.api(
            reqwest::Method::PATCH,
            &format!("/api/v1/users/{}", ids[0]),
            serde_json::json!({ "role": "technician" }),
        )
        .await,
        s.console(
            &format!("/users/{}", ids[1]),
            &[("op", "save"), ("role", "technician"), ("all_devices", "1")],
        )
        .await,
        s.cli(&["user", "set-role", "via-cli", "technician"]),
    ];
    for answer in &answers {
        assert!(answer.ok, "{answer:?}");
    }
    for name in ["via-api", "via-console", "via-cli"] {
        let user = s
            .server
            .store
            .user_by_username(name)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(user.role, "technician", "{name}");
        assert!(user.all_devices, "{name} still sees every device");
        let entries = s.audited("user_role_changed", name).await;
        assert_eq!(entries.len(), 1, "{name}");
        assert_eq!(entries[0].facts.detail, "viewer → technician");
        assert!(s.audited("user_groups_changed", name).await.is_empty());
    }
    // An unknown role: the same refusal everywhere, and nothing changes.
    let api = s
        .api(
            reqwest::Method::PATCH,
            &format!("/api/v1/users/{}", ids[0]),
            serde_json::json!({ "role": "owner" }),
        )
        .await;
    let console = s
        .console(
            &format!("/users/{}", ids[1]),
            &[("op", "save"), ("role", "owner"), ("all_devices", "1")],
        )
        .await;
    let cli = s.cli(&["user", "set-role", "via-cli", "owner"]);
    assert_eq!((api.status, console.status), (400, 400));
    assert!(shows(&console.message, &api.message));
    assert!(!cli.ok && cli.message.contains(&api.message), "{cli:?}");
    // Demoting the last administrator: the same refusal from the API and the command line
    // (neither is that administrator); in the console that administrator is the one asking,
    // which is refused too — nobody removes their own access.
    let root = s
        .server
        .store
        .user_by_username("root")
        .await
        .unwrap()
        .unwrap();
    let api = s
        .api(
            reqwest::Method::PATCH,
            &format!("/api/v1/users/{}", root.id),
            serde_json::json!({ "role": "viewer" }),
        )
        .await;
    let cli = s.cli(&["user", "set-role", "root", "viewer"]);
    assert_eq!(api.status, 409, "{api:?}");
    assert!(
        api.message.contains("last enabled administrator"),
        "{api:?}"
    );
    assert!(!cli.ok && cli.message.contains(&api.message), "{cli:?}");
    let console = s
        .console(
            &format!("/users/{}", root.id),
            &[("op", "save"), ("role", "viewer"), ("all_devices", "1")],
        )
        .await;
    assert_eq!(console.status, 409, "own account");
    let root = s
        .server
        .store
        .user_by_username("root")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(root.role, "admin");
    for name in ["via-api", "via-console", "via-cli"] {
        let user = s
            .server
            .store
            .user_by_username(name)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(user.role, "technician", "{name} unchanged by the refusals");
    }
    s.server.cleanup().await;
}

#[tokio::test]
async fn a_token_for_zero_days_never_expires_on_any_surface() {
    let s = Surfaces::start().await;
    // Tokens belong to a person: the API is used with the administrator's console session.
    let resp = s
        .http
        .post(format!("{}/api/v1/api-tokens", s.server.url))
        .header("cookie", &s.cookie)
        .header("x-csrf-token", &s.csrf)
        .json(&serde_json::json!({ "name": "zero-api", "role": "viewer", "expires_in_days": 0 }))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 201);
    let console = s
        .console(
            "/tokens",
            &[("name", "zero-console"), ("role", "viewer"), ("days", "0")],
        )
        .await;
    assert!(console.ok, "{console:?}");
    let cli = s.cli(&[
        "api-token",
        "create",
        "--name",
        "zero-cli",
        "--role",
        "viewer",
        "--owner",
        "root",
        "--expires",
        "never",
    ]);
    assert!(cli.ok, "{cli:?}");
    let tokens = s.server.store.list_api_tokens().await.unwrap();
    for name in ["zero-api", "zero-console", "zero-cli"] {
        let token = tokens.iter().find(|t| t.name == name).unwrap();
        assert_eq!(token.expires_at, None, "{name} never expires");
        let entries = s.audited("api_token_created", name).await;
        assert_eq!(entries.len(), 1, "{name}");
        assert_eq!(entries[0].facts.detail, "viewer, owned by root");
    }
    s.server.cleanup().await;
}
