//! Every registered route — API, agent protocol and console page — walked unauthenticated
//! and with each role, against the decision it was registered with
//! (`steward_server::route_table`). The decisions are also checked against the lists below,
//! an independent record of what each route needs: a route added or changed without a
//! decision here fails.

use std::collections::BTreeMap;

use serde_json::Value;
use steward_core::{Action, Role, permits};
use steward_server::web::routes::{Access, Surface};
use steward_testkit::TestServer;

/// What each documented route needs: `None` for the public ones.
fn decisions() -> BTreeMap<&'static str, Option<Action>> {
    BTreeMap::from([
        ("GET /api/v1/health", None),
        ("GET /api/v1/devices", Some(Action::ViewDevices)),
        ("GET /api/v1/devices/{id}", Some(Action::ViewDevices)),
        (
            "GET /api/v1/devices/{id}/software",
            Some(Action::ViewDevices),
        ),
        (
            "GET /api/v1/devices/{id}/changes",
            Some(Action::ViewDevices),
        ),
        ("GET /api/v1/devices/{id}/jobs", Some(Action::ViewDevices)),
        ("GET /api/v1/devices/{id}/series", Some(Action::ViewDevices)),
        (
            "GET /api/v1/devices/{id}/series/available",
            Some(Action::ViewDevices),
        ),
        (
            "POST /api/v1/devices/{id}/jobs",
            Some(Action::OperateDevices),
        ),
        (
            "POST /api/v1/devices/{id}/rotate-credential",
            Some(Action::RevokeDevices),
        ),
        (
            "POST /api/v1/devices/{id}/revoke",
            Some(Action::RevokeDevices),
        ),
        ("GET /api/v1/audit", Some(Action::ViewAudit)),
        ("GET /api/v1/audit.csv", Some(Action::ViewAudit)),
        ("GET /api/v1/api-tokens", Some(Action::ManageTokens)),
        ("POST /api/v1/api-tokens", Some(Action::ManageTokens)),
        (
            "POST /api/v1/api-tokens/{id}/revoke",
            Some(Action::ManageTokens),
        ),
        ("GET /api/v1/users", Some(Action::ManageUsers)),
        ("POST /api/v1/users", Some(Action::ManageUsers)),
        ("GET /api/v1/users/{id}", Some(Action::ManageUsers)),
        ("PATCH /api/v1/users/{id}", Some(Action::ManageUsers)),
        ("DELETE /api/v1/users/{id}", Some(Action::ManageUsers)),
        (
            "POST /api/v1/users/{id}/reset-password",
            Some(Action::ManageUsers),
        ),
        (
            "POST /api/v1/users/{id}/reset-two-factor",
            Some(Action::ManageUsers),
        ),
        ("GET /api/v1/groups", Some(Action::ViewDevices)),
        ("POST /api/v1/groups", Some(Action::OrganizeDevices)),
        ("DELETE /api/v1/groups/{id}", Some(Action::ManageUsers)),
        ("PATCH /api/v1/devices/{id}", Some(Action::OrganizeDevices)),
        (
            "GET /api/v1/settings/security",
            Some(Action::ManageSecurity),
        ),
        (
            "PUT /api/v1/settings/security",
            Some(Action::ManageSecurity),
        ),
        ("POST /api/v1/enroll-tokens", Some(Action::ManageTokens)),
        // Monitoring: viewing is viewing devices; defining checks and windows and
        // acknowledging is ManageMonitoring; channels and routes are ManageChannels.
        ("GET /api/v1/checks", Some(Action::ViewDevices)),
        ("POST /api/v1/checks", Some(Action::ManageMonitoring)),
        ("PUT /api/v1/checks/{id}", Some(Action::ManageMonitoring)),
        ("DELETE /api/v1/checks/{id}", Some(Action::ManageMonitoring)),
        ("GET /api/v1/alerts", Some(Action::ViewDevices)),
        (
            "POST /api/v1/alerts/acknowledge",
            Some(Action::ManageMonitoring),
        ),
        ("GET /api/v1/alerts/history", Some(Action::ViewDevices)),
        ("GET /api/v1/devices/{id}/checks", Some(Action::ViewDevices)),
        ("GET /api/v1/maintenance", Some(Action::ViewDevices)),
        ("POST /api/v1/maintenance", Some(Action::ManageMonitoring)),
        (
            "DELETE /api/v1/maintenance/{id}",
            Some(Action::ManageMonitoring),
        ),
        ("GET /api/v1/channels", Some(Action::ManageChannels)),
        ("GET /api/v1/notifications", Some(Action::ManageChannels)),
        ("POST /api/v1/channels", Some(Action::ManageChannels)),
        ("DELETE /api/v1/channels/{id}", Some(Action::ManageChannels)),
        (
            "POST /api/v1/channels/{id}/test",
            Some(Action::ManageChannels),
        ),
        ("POST /api/v1/routes", Some(Action::ManageChannels)),
        ("DELETE /api/v1/routes/{id}", Some(Action::ManageChannels)),
        // The agent protocol: enrollment is public (the token is the credential); the rest
        // takes a device credential, never a user or API token (checked below).
        ("POST /agent/v1/enroll", None),
        ("POST /agent/v1/reports", None),
        ("GET /agent/v1/jobs/next", None),
        ("POST /agent/v1/jobs/{id}", None),
        ("POST /agent/v1/credential", None),
        ("GET /agent/v1/jobs/{id}/repository", None),
        // Backups.
        (
            "POST /api/v1/devices/{id}/backups",
            Some(Action::ManageBackups),
        ),
        (
            "GET /api/v1/devices/{id}/snapshots",
            Some(Action::ViewDevices),
        ),
        (
            "GET /api/v1/devices/{id}/snapshots/{snapshot}/files",
            Some(Action::ViewDevices),
        ),
        (
            "POST /api/v1/devices/{id}/restores",
            Some(Action::ManageBackups),
        ),
        (
            "POST /api/v1/devices/{id}/backup-password",
            Some(Action::RevealBackupPasswords),
        ),
        (
            "POST /api/v1/devices/{id}/drills",
            Some(Action::ManageBackups),
        ),
        ("GET /api/v1/devices/{id}/drills", Some(Action::ViewDevices)),
        ("GET /api/v1/backup-policies", Some(Action::ViewDevices)),
        ("POST /api/v1/backup-policies", Some(Action::ManageBackups)),
        (
            "GET /api/v1/backup-policies/{id}",
            Some(Action::ViewDevices),
        ),
        (
            "PUT /api/v1/backup-policies/{id}",
            Some(Action::ManageBackups),
        ),
        (
            "DELETE /api/v1/backup-policies/{id}",
            Some(Action::ManageBackups),
        ),
        ("GET /api/v1/backup-presets", Some(Action::ViewDevices)),
        ("GET /api/v1/backups", Some(Action::ViewDevices)),
        ("GET /api/v1/posture/report", Some(Action::ViewDevices)),
        ("GET /api/v1/posture/trend", Some(Action::ViewDevices)),
        (
            "PUT /api/v1/posture/manual/{item}",
            Some(Action::ManagePosture),
        ),
        (
            "PUT /api/v1/posture/manual/{item}/attachment",
            Some(Action::ManagePosture),
        ),
        (
            "GET /api/v1/posture/manual/{item}/attachment",
            Some(Action::ViewDevices),
        ),
        (
            "POST /api/v1/posture/exceptions",
            Some(Action::ManagePosture),
        ),
        (
            "DELETE /api/v1/posture/exceptions/{id}",
            Some(Action::ManagePosture),
        ),
        ("GET /api/v1/updates", Some(Action::ViewDevices)),
        (
            "GET /api/v1/devices/{id}/updates",
            Some(Action::ViewDevices),
        ),
        ("POST /api/v1/updates/install", Some(Action::ManagePatching)),
        ("GET /api/v1/updates/approvals", Some(Action::ViewDevices)),
        (
            "POST /api/v1/updates/approvals",
            Some(Action::ManagePatching),
        ),
        (
            "DELETE /api/v1/updates/approvals",
            Some(Action::ManagePatching),
        ),
        ("GET /api/v1/patch-policies", Some(Action::ViewDevices)),
        ("POST /api/v1/patch-policies", Some(Action::ManagePatching)),
        (
            "PUT /api/v1/patch-policies/{id}",
            Some(Action::ManagePatching),
        ),
        (
            "DELETE /api/v1/patch-policies/{id}",
            Some(Action::ManagePatching),
        ),
        ("GET /api/v1/scripts", Some(Action::ViewDevices)),
        ("POST /api/v1/scripts", Some(Action::ManageScripts)),
        ("GET /api/v1/scripts/{id}", Some(Action::ViewDevices)),
        ("PUT /api/v1/scripts/{id}", Some(Action::ManageScripts)),
        ("DELETE /api/v1/scripts/{id}", Some(Action::ManageScripts)),
        (
            "GET /api/v1/scripts/{id}/versions",
            Some(Action::ViewDevices),
        ),
        ("POST /api/v1/scripts/{id}/runs", Some(Action::RunScripts)),
        ("GET /api/v1/batches", Some(Action::ViewDevices)),
        ("GET /api/v1/batches/{id}", Some(Action::ViewDevices)),
        ("GET /api/v1/detections", Some(Action::ViewDevices)),
        ("GET /api/v1/detections/{id}", Some(Action::ViewDevices)),
        (
            "POST /api/v1/detections/{id}/decision",
            Some(Action::RespondToDetections),
        ),
        (
            "POST /api/v1/detections/{id}/restore",
            Some(Action::ManageBackups),
        ),
        ("GET /api/v1/detection-policies", Some(Action::ViewDevices)),
        (
            "PUT /api/v1/detection-policies",
            Some(Action::ManageDetectionPolicies),
        ),
        (
            "DELETE /api/v1/detection-policies",
            Some(Action::ManageDetectionPolicies),
        ),
        (
            "POST /api/v1/devices/{id}/ransomware-drills",
            Some(Action::RespondToDetections),
        ),
        ("GET /api/v1/ransomware-drills", Some(Action::ViewDevices)),
    ])
}

fn body_for(route: &str) -> Value {
    match route {
        "POST /api/v1/devices/{id}/jobs" => serde_json::json!({"kind": "collect_inventory"}),
        "POST /api/v1/devices/{id}/backups" => serde_json::json!({"paths": ["/srv"]}),
        "POST /api/v1/devices/{id}/restores" => {
            serde_json::json!({"snapshot": "0123abcd", "target_path": "/tmp/walked"})
        }
        "POST /api/v1/users" => serde_json::json!({"username": "walked", "role": "viewer"}),
        "POST /api/v1/groups" => serde_json::json!({"name": "Walked"}),
        "PATCH /api/v1/devices/{id}" => serde_json::json!({"tags": ["walked"]}),
        "PUT /api/v1/settings/security" => serde_json::json!({"require_two_factor": []}),
        "POST /api/v1/enroll-tokens" => serde_json::json!({"uses": 1, "expires_in_hours": 1}),
        _ => serde_json::json!({}),
    }
}

#[tokio::test]
async fn every_api_route_allows_and_denies_by_role() {
    let server = TestServer::sqlite().await;
    let (device, _) = server.enroll_raw("target").await;
    let spec: Value = server
        .http
        .get(format!("{}/api/openapi.json", server.url))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let decisions = decisions();
    // Every route the API and agent routers declare is documented (and so walked below),
    // but for the OpenAPI document itself, which is public.
    let documented: Vec<String> = spec["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .map(move |m| format!("{} {path}", m.to_uppercase()))
        })
        .collect();
    let table = steward_server::route_table();
    let registered = |surfaces: &[Surface]| -> BTreeMap<String, Option<Action>> {
        table
            .iter()
            .filter(|r| surfaces.contains(&r.surface))
            .map(|r| (r.to_string(), decision_of(r.access)))
            .collect()
    };
    let api_routes = registered(&[Surface::Api, Surface::Agent]);
    assert!(api_routes.len() >= 30, "the table was read: {api_routes:?}");
    // The API's routes are its documented routes (the document itself aside), each
    // registered with the decision recorded below.
    for (route, decision) in &api_routes {
        assert!(
            route == "GET /api/openapi.json" || documented.contains(route),
            "{route} is routed but not in the OpenAPI document"
        );
        if route != "GET /api/openapi.json" {
            assert_eq!(
                decisions.get(route.as_str()),
                Some(decision),
                "{route}: registered decision differs from tests/e2e/access.rs"
            );
        }
    }
    for route in &documented {
        assert!(
            api_routes.contains_key(route),
            "{route} is documented but not registered"
        );
    }
    let mut tokens = vec![(None, None)];
    for role in Role::ALL {
        tokens.push((Some(role), Some(server.api_token_with(role).await)));
    }
    for (path, item) in spec["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            let route = format!("{} {path}", method.to_uppercase());
            let decision = api_routes
                .get(&route)
                .unwrap_or_else(|| panic!("{route} has no registered access decision"));
            let url = format!("{}{}", server.url, path.replace("{id}", &device));
            for (role, token) in &tokens {
                let mut req = match method.as_str() {
                    "get" => server.http.get(&url),
                    "post" => server.http.post(&url).json(&body_for(&route)),
                    "put" => server.http.put(&url).json(&body_for(&route)),
                    "patch" => server.http.patch(&url).json(&body_for(&route)),
                    "delete" => server.http.delete(&url),
                    other => panic!("unexpected method {other}"),
                };
                if let Some(t) = token {
                    req = req.bearer_auth(t);
                }
                // Revocation last: it changes the device for the following requests.
                let status = req.send().await.unwrap().status().as_u16();
                match (decision, role) {
                    (None, _) if route.starts_with("GET /api/v1/health") => {
                        assert_eq!(status, 200, "{route}")
                    }
                    // Agent routes refuse user and API credentials (401) and bad bodies (400).
                    (None, _) => assert!(
                        matches!(status, 400 | 401 | 415),
                        "{route} as {role:?}: {status}"
                    ),
                    (Some(_), None) => assert_eq!(status, 401, "{route} anonymous"),
                    (Some(action), Some(role)) if permits(*role, *action) => {
                        assert!(
                            !matches!(status, 401 | 403),
                            "{route} as {role:?}: {status}"
                        )
                    }
                    (Some(_), Some(role)) => assert_eq!(status, 403, "{route} as {role:?}"),
                }
            }
        }
    }
    server.cleanup().await;
}

async fn session_for(server: &TestServer, role: Role) -> String {
    let password = "correct horse battery staple";
    server.create_user(role.as_str(), role, password).await;
    server.sign_in(role.as_str(), password).await
}

/// What each console route needs: `None` for the public ones. Every route the console's
/// router declares must be here (checked against its source below).
fn console_decisions() -> BTreeMap<&'static str, Option<Action>> {
    use Action::*;
    BTreeMap::from([
        ("GET /login", None),
        ("POST /login", None),
        ("GET /login/code", None),
        ("POST /login/code", None),
        ("GET /static/{file}", None),
        ("GET /", Some(ViewDevices)),
        ("GET /devices", Some(ViewDevices)),
        ("GET /devices/{id}", Some(ViewDevices)),
        ("POST /devices/{id}/refresh", Some(OperateDevices)),
        ("POST /devices/{id}/organize", Some(OrganizeDevices)),
        ("POST /devices/{id}/access", Some(RevokeDevices)),
        ("GET /groups", Some(ViewDevices)),
        ("GET /alerts", Some(ViewDevices)),
        ("POST /alerts/acknowledge", Some(ManageMonitoring)),
        // Monitoring as the API has it: seeing checks and windows is seeing devices,
        // defining them ManageMonitoring, channels and routes ManageChannels.
        ("GET /checks", Some(ViewDevices)),
        ("POST /checks", Some(ManageMonitoring)),
        ("POST /checks/{id}", Some(ManageMonitoring)),
        ("POST /checks/{id}/delete", Some(ManageMonitoring)),
        ("GET /maintenance", Some(ViewDevices)),
        ("POST /maintenance", Some(ManageMonitoring)),
        ("POST /maintenance/{id}/delete", Some(ManageMonitoring)),
        ("GET /channels", Some(ManageChannels)),
        ("POST /channels", Some(ManageChannels)),
        ("POST /channels/{id}/delete", Some(ManageChannels)),
        ("POST /channels/{id}/test", Some(ManageChannels)),
        ("POST /channels/routes", Some(ManageChannels)),
        ("POST /channels/routes/{id}/delete", Some(ManageChannels)),
        // Backups as the API has them: seeing them is seeing devices; backing up and
        // restoring ManageBackups; the password RevealBackupPasswords (and a step-up).
        ("GET /backups", Some(ViewDevices)),
        ("GET /backups/policies", Some(ViewDevices)),
        ("POST /backups/policies", Some(ManageBackups)),
        ("GET /backups/policies/{id}", Some(ViewDevices)),
        ("POST /backups/policies/{id}", Some(ManageBackups)),
        ("POST /backups/policies/{id}/delete", Some(ManageBackups)),
        ("POST /devices/{id}/backups", Some(ManageBackups)),
        ("POST /devices/{id}/backup-drills", Some(ManageBackups)),
        ("GET /devices/{id}/backups/{snapshot}", Some(ViewDevices)),
        (
            "POST /devices/{id}/backups/{snapshot}/restore",
            Some(ManageBackups),
        ),
        (
            "GET /devices/{id}/backup-password",
            Some(RevealBackupPasswords),
        ),
        (
            "POST /devices/{id}/backup-password",
            Some(RevealBackupPasswords),
        ),
        ("GET /posture", Some(ViewDevices)),
        ("GET /posture/report.pdf", Some(ViewDevices)),
        ("GET /posture/report.html", Some(ViewDevices)),
        ("POST /posture/manual/{item}", Some(ManagePosture)),
        ("POST /posture/exceptions", Some(ManagePosture)),
        ("POST /posture/exceptions/{id}/revoke", Some(ManagePosture)),
        ("GET /updates", Some(ViewDevices)),
        ("GET /updates/devices/{id}", Some(ViewDevices)),
        ("POST /updates/install", Some(ManagePatching)),
        ("POST /updates/approvals", Some(ManagePatching)),
        ("POST /updates/approvals/revoke", Some(ManagePatching)),
        ("POST /updates/policies", Some(ManagePatching)),
        ("POST /updates/policies/{id}/delete", Some(ManagePatching)),
        ("GET /detections", Some(ViewDevices)),
        ("GET /detections/{id}", Some(ViewDevices)),
        ("POST /detections/{id}/decision", Some(RespondToDetections)),
        ("POST /detections/{id}/restore", Some(ManageBackups)),
        ("POST /detections/policies", Some(ManageDetectionPolicies)),
        (
            "POST /detections/policies/delete",
            Some(ManageDetectionPolicies),
        ),
        ("POST /detections/drills", Some(RespondToDetections)),
        ("GET /scripts", Some(ViewDevices)),
        ("POST /scripts", Some(ManageScripts)),
        ("GET /scripts/{id}", Some(ViewDevices)),
        ("POST /scripts/{id}", Some(ManageScripts)),
        ("POST /scripts/{id}/archive", Some(ManageScripts)),
        ("POST /scripts/{id}/run", Some(RunScripts)),
        ("GET /batches/{id}", Some(ViewDevices)),
        ("POST /groups", Some(OrganizeDevices)),
        ("POST /groups/delete", Some(ManageUsers)),
        ("GET /users", Some(ManageUsers)),
        ("POST /users", Some(ManageUsers)),
        ("POST /users/{id}", Some(ManageUsers)),
        ("GET /tokens", Some(ManageTokens)),
        ("POST /tokens", Some(ManageTokens)),
        ("POST /tokens/revoke", Some(ManageTokens)),
        ("GET /enroll", Some(ManageTokens)),
        ("POST /enroll", Some(ManageTokens)),
        ("GET /audit", Some(ViewAudit)),
        ("GET /settings/security", Some(ManageSecurity)),
        ("POST /settings/security", Some(ManageSecurity)),
        ("GET /reauth", Some(ManageOwnAccount)),
        ("POST /reauth", Some(ManageOwnAccount)),
        ("GET /account/sessions", Some(ManageOwnAccount)),
        ("POST /account/sessions/revoke", Some(ManageOwnAccount)),
        ("GET /account/password", Some(ManageOwnAccount)),
        ("POST /account/password", Some(ManageOwnAccount)),
        ("GET /account/two-factor", Some(ManageOwnAccount)),
        ("POST /account/two-factor/setup", Some(ManageOwnAccount)),
        ("POST /account/two-factor/confirm", Some(ManageOwnAccount)),
        (
            "POST /account/two-factor/recovery-codes",
            Some(ManageOwnAccount),
        ),
        ("POST /account/two-factor/disable", Some(ManageOwnAccount)),
        ("POST /logout", Some(ManageOwnAccount)),
    ])
}

/// A registered decision as the lists above write it (`None`: no person's role decides).
fn decision_of(access: Access) -> Option<Action> {
    match access {
        // The scraper's route is walked on its own (below).
        Access::Public | Access::Device | Access::Scraper => None,
        Access::Requires(action) => Some(action),
    }
}

/// `METHOD /path` of every console route, with its registered decision.
fn console_routes() -> BTreeMap<String, Option<Action>> {
    steward_server::route_table()
        .iter()
        .filter(|r| r.surface == Surface::Console)
        .map(|r| (r.to_string(), decision_of(r.access)))
        .collect()
}

#[tokio::test]
async fn console_pages_allow_and_deny_by_role() {
    let server = TestServer::sqlite().await;
    let (device, _) = server.enroll_raw("target").await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let expected = console_decisions();
    let decisions = console_routes();
    assert!(decisions.len() >= 30, "the table was read: {decisions:?}");
    for (route, decision) in &decisions {
        assert_eq!(
            expected.get(route.as_str()),
            Some(decision),
            "{route}: registered decision differs from tests/e2e/access.rs (or is missing there)"
        );
    }
    for route in expected.keys() {
        assert!(
            decisions.contains_key(*route),
            "{route} is decided here but no longer routed"
        );
    }
    let url = |route: &str| -> (String, String) {
        let (method, path) = route.split_once(' ').unwrap();
        let path = path
            .replace("{id}", &device)
            .replace("{file}", "missing.css");
        (method.to_string(), format!("{}{path}", server.url))
    };
    let to_login = |resp: &reqwest::Response| {
        resp.status().as_u16() == 303
            && resp.headers()["location"]
                .to_str()
                .unwrap()
                .starts_with("/login")
    };
    // Anonymous: every page but the public ones goes to the login.
    for (route, decision) in &decisions {
        let (method, u) = url(route);
        let resp = if method == "GET" {
            http.get(&u)
        } else {
            http.post(&u)
        }
        .send()
        .await
        .unwrap();
        if decision.is_some() {
            assert!(to_login(&resp), "{route} anonymous: {}", resp.status());
        }
    }
    for role in Role::ALL {
        let cookie = session_for(&server, role).await;
        // The CSRF token of this session, from a page's sign-out form.
        let html =
            steward_testkit::page_with(&http, format!("{}/devices", server.url), &cookie).await;
        let csrf = steward_testkit::csrf_in(&html);
        // Signing out last: it ends the session the others use.
        let mut walk: Vec<_> = decisions.iter().filter(|(_, d)| d.is_some()).collect();
        walk.sort_by_key(|(route, _)| **route == "POST /logout");
        for (route, decision) in walk {
            let action = decision.unwrap();
            let (method, u) = url(route);
            let req = if method == "GET" {
                http.get(&u)
            } else {
                // `op` is for the device access form; the other forms ignore it or refuse it
                // as a bad request — after the access decision, which is what is checked.
                http.post(&u)
                    .form(&[("csrf", csrf.as_str()), ("op", "rotate")])
            };
            let resp = req.header("cookie", &cookie).send().await.unwrap();
            let status = resp.status().as_u16();
            if *route == "POST /logout" {
                // Allowed to everyone; its success is the way back to the login.
                assert_eq!(status, 303, "{route} as {role:?}");
            } else if permits(role, action) {
                assert!(
                    status != 403 && !to_login(&resp),
                    "{route} as {role:?}: {status}"
                );
            } else {
                assert_eq!(status, 403, "{route} as {role:?}");
            }
        }
        // A POST without the CSRF token is refused even for an administrator.
        let cookie = server
            .sign_in(role.as_str(), "correct horse battery staple")
            .await;
        let status = http
            .post(format!("{}/devices/{device}/refresh", server.url))
            .header("cookie", &cookie)
            .form(&[("csrf", "forged")])
            .send()
            .await
            .unwrap()
            .status()
            .as_u16();
        assert_eq!(status, 403, "forged CSRF as {role:?}");
    }
    server.cleanup().await;
}

#[tokio::test]
async fn expired_api_tokens_are_refused() {
    let server = TestServer::sqlite_manual_clock().await;
    let now = server.now();
    let token = steward_server::admin::create_api_token(
        &server.store,
        "short",
        Role::Viewer,
        Some(now.plus_millis(1)),
        None,
        now,
    )
    .await
    .unwrap();
    server.clock().advance(std::time::Duration::from_millis(5));
    let (status, body) = server.api_get(&token, "/api/v1/devices").await;
    assert_eq!(status, 401);
    assert!(body["message"].as_str().unwrap().contains("expired"));
    server.cleanup().await;
}

#[tokio::test]
async fn api_tokens_are_managed_and_denials_are_audited() {
    let server = TestServer::sqlite().await;
    // Tokens are made by a token with an owner (an ownerless one may not make tokens).
    server
        .create_user("owner", steward_core::Role::Admin, "a long enough password")
        .await;
    let admin = steward_server::admin::create_api_token(
        &server.store,
        "owner-cli",
        steward_core::Role::Admin,
        None,
        Some("user-owner"),
        server.now(),
    )
    .await
    .unwrap();
    let (status, created) = server
        .api_post(
            &admin,
            "/api/v1/api-tokens",
            serde_json::json!({"name": "dashboard", "role": "viewer", "expires_in_days": 30}),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let viewer = created["token"].as_str().unwrap().to_string();
    let id = created["id"].as_str().unwrap().to_string();
    // The viewer reads devices but may not manage tokens; the refusal is audited.
    assert_eq!(server.api_get(&viewer, "/api/v1/devices").await.0, 200);
    assert_eq!(server.api_get(&viewer, "/api/v1/api-tokens").await.0, 403);
    let (_, listed) = server.api_get(&admin, "/api/v1/api-tokens").await;
    let entry = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == id.as_str())
        .unwrap()
        .clone();
    assert_eq!(entry["role"], "viewer");
    assert!(entry["expires_at"].is_number());
    assert!(
        entry["last_used_at"].is_number(),
        "use is recorded: {entry}"
    );
    assert!(
        !listed.to_string().contains(&viewer),
        "secrets are never listed"
    );
    let (_, audit) = server
        .api_get(&admin, "/api/v1/audit?action=authorisation_denied")
        .await;
    assert_eq!(audit["total"], 1, "{audit}");
    assert_eq!(audit["items"][0]["actor"], "api-token:dashboard");
    // Bad input is a clear 400.
    let (status, _) = server
        .api_post(
            &admin,
            "/api/v1/api-tokens",
            serde_json::json!({"name": "x", "role": "root"}),
        )
        .await;
    assert_eq!(status, 400);
    // Revocation takes effect at once.
    let (status, _) = server
        .api_post(
            &admin,
            &format!("/api/v1/api-tokens/{id}/revoke"),
            serde_json::json!({}),
        )
        .await;
    assert_eq!(status, 204);
    assert_eq!(server.api_get(&viewer, "/api/v1/devices").await.0, 401);
    // The CSV export has every entry and the chain verifies.
    let csv = server
        .http
        .get(format!("{}/api/v1/audit.csv", server.url))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for action in [
        "api_token_created",
        "authorisation_denied",
        "api_token_revoked",
    ] {
        assert!(csv.contains(action), "{action} missing:\n{csv}");
    }
    assert_eq!(
        steward_server::audit::verify(&server.store).await.unwrap(),
        Ok(3)
    );
    server.cleanup().await;
}

const METRICS_TOKEN: &str = "scrape-0123456789abcdef";

/// The route table's metrics routes are the scrapers' and only theirs: refused to every
/// role's API token and session, served with the metrics token.
#[tokio::test]
async fn the_metrics_routes_in_the_table_are_for_scrapers_only() {
    let table = steward_server::route_table();
    let metrics: Vec<_> = table
        .iter()
        .filter(|r| r.surface == Surface::Metrics || r.access == Access::Scraper)
        .collect();
    assert_eq!(
        metrics.iter().map(|r| r.to_string()).collect::<Vec<_>>(),
        ["GET /metrics"]
    );
    assert!(
        metrics
            .iter()
            .all(|r| r.surface == Surface::Metrics && r.access == Access::Scraper)
    );
    let server = TestServer::sqlite_configured(|c| {
        c.metrics = steward_server::telemetry::MetricsAccess {
            token: Some(steward_server::telemetry::MetricsToken::new(METRICS_TOKEN).unwrap()),
            allow: Vec::new(),
        };
    })
    .await;
    for role in steward_core::Role::ALL {
        let token = server.api_token_with(role).await;
        let password = "correct horse battery staple";
        server.create_user(role.as_str(), role, password).await;
        let cookie = server.sign_in(role.as_str(), password).await;
        for r in &metrics {
            let url = format!("{}{}", server.url, r.path);
            let by_token = server
                .http
                .get(&url)
                .bearer_auth(&token)
                .send()
                .await
                .unwrap();
            assert_eq!(
                by_token.status().as_u16(),
                401,
                "{r} with a {role:?} API token"
            );
            let by_session = server
                .http
                .get(&url)
                .header("cookie", &cookie)
                .send()
                .await
                .unwrap();
            assert_eq!(
                by_session.status().as_u16(),
                401,
                "{r} with a {role:?} session"
            );
        }
    }
    for r in &metrics {
        let url = format!("{}{}", server.url, r.path);
        let ok = server
            .http
            .get(&url)
            .bearer_auth(METRICS_TOKEN)
            .send()
            .await
            .unwrap();
        assert_eq!(ok.status().as_u16(), 200, "{r}");
    }
    server.cleanup().await;
}
