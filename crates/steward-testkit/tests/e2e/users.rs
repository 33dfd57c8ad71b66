//! User management and group scoping through the real console and API: the rules (last
//! administrator, one's own account, step-up for resets), scoping of devices, offboarding.

use reqwest::Method;
use serde_json::json;
use steward_core::Role;
use steward_testkit::{TestServer, csrf_in};

use crate::support::{Caller, PASSWORD, api, between, browser, get, post};

async fn user_id(server: &TestServer, username: &str) -> String {
    server
        .store
        .user_by_username(username)
        .await
        .unwrap()
        .unwrap()
        .id
}

#[tokio::test]
async fn user_management_rules_and_group_scoping() {
    let server = TestServer::sqlite().await;
    let admin = server.api_token().await;
    let (d1, _) = server.enroll_raw("shop-pc").await;
    let (d2, _) = server.enroll_raw("office-pc").await;
    let (_, shop) = server
        .api_post(
            &admin,
            "/api/v1/groups",
            serde_json::json!({"name": "Shop"}),
        )
        .await;
    let shop = shop["id"].as_str().unwrap().to_string();
    let resp = server
        .http
        .patch(format!("{}/api/v1/devices/{d1}", server.url))
        .bearer_auth(&admin)
        .json(&serde_json::json!({"group": shop, "tags": ["till", "floor-1"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(
        resp.headers()["cache-control"],
        "no-store",
        "API answers are not cached"
    );
    let moved: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(moved["group_name"], "Shop");
    assert_eq!(moved["tags"], serde_json::json!(["floor-1", "till"]));

    // A technician limited to the shop sees only the shop's device.
    let (status, created) = server
        .api_post(
            &admin,
            "/api/v1/users",
            serde_json::json!({"username": "shoptech", "role": "technician", "groups": [shop]}),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let password = created["password"].as_str().unwrap().to_string();
    let tech = server
        .sign_in_first_time("shoptech", &password, PASSWORD)
        .await;
    let list: serde_json::Value = server
        .http
        .get(format!("{}/api/v1/devices", server.url))
        .header("cookie", &tech)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["total"], 1);
    assert_eq!(list["items"][0]["id"], d1.as_str());
    for path in [
        format!("/api/v1/devices/{d2}"),
        format!("/api/v1/devices/{d2}/software"),
    ] {
        let status = server
            .http
            .get(format!("{}{path}", server.url))
            .header("cookie", &tech)
            .send()
            .await
            .unwrap()
            .status();
        assert_eq!(status.as_u16(), 404, "{path} is outside the scope");
    }
    let http = browser();
    let (status, _) = get(&http, &server, &tech, &format!("/devices/{d2}")).await;
    assert_eq!(status, 404);
    let (_, denials) = server
        .api_get(&admin, "/api/v1/audit?action=authorisation_denied")
        .await;
    assert!(
        denials.to_string().contains("outside the groups"),
        "probing is recorded: {denials}"
    );
    let (status, page) = get(&http, &server, &tech, "/devices").await;
    assert_eq!(status, 200);
    assert!(page.contains("shop-pc") && !page.contains("office-pc"));
    // A scoped technician does not create groups (they could not see them).
    let (_, page) = get(&http, &server, &tech, "/groups").await;
    let tech_csrf = csrf_in(&page);
    let as_tech = Caller::Session {
        cookie: &tech,
        csrf: &tech_csrf,
    };
    let (status, _) = api(
        &server,
        Method::POST,
        "/api/v1/groups",
        as_tech,
        Some(json!({"name": "Shop"})),
    )
    .await;
    assert_eq!(status, 403);
    // A group a user is limited to cannot be deleted (it would widen their view).
    let path = format!("/api/v1/groups/{shop}");
    let (status, _) = api(&server, Method::DELETE, &path, Caller::Token(&admin), None).await;
    assert_eq!(status, 409);

    // The last administrator stays; nobody removes their own access.
    server.create_user("alice", Role::Admin, PASSWORD).await;
    let alice_id = user_id(&server, "alice").await;
    let alice_path = format!("/api/v1/users/{alice_id}");
    let (status, _) = api(
        &server,
        Method::PATCH,
        &alice_path,
        Caller::Token(&admin),
        Some(json!({"disabled": true})),
    )
    .await;
    assert_eq!(status, 409, "last administrator");
    let alice = server.sign_in("alice", PASSWORD).await;
    let (_, page) = get(&http, &server, &alice, "/account/sessions").await;
    let alice_csrf = csrf_in(&page);
    let as_alice = Caller::Session {
        cookie: &alice,
        csrf: &alice_csrf,
    };
    let (status, _) = api(
        &server,
        Method::PATCH,
        &alice_path,
        as_alice,
        Some(json!({"role": "viewer"})),
    )
    .await;
    assert_eq!(status, 409, "own account");
    // Disabling ends the user's sessions at once; changes are audited with before/after.
    let tech_id = created["user"]["id"].as_str().unwrap();
    let tech_path = format!("/api/v1/users/{tech_id}");
    let change = json!({"disabled": true, "role": "viewer"});
    let (status, _) = api(
        &server,
        Method::PATCH,
        &tech_path,
        Caller::Token(&admin),
        Some(change),
    )
    .await;
    assert_eq!(status, 200);
    let status = server
        .http
        .get(format!("{}/api/v1/devices", server.url))
        .header("cookie", &tech)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status.as_u16(), 401);
    let (_, audit) = server.api_get(&admin, "/api/v1/audit?per_page=100").await;
    let entries = audit["items"].to_string();
    for expected in [
        "user_created",
        "user_role_changed",
        "technician → viewer",
        "user_disabled",
        "device_group_changed",
        "no group → Shop",
        "device_tags_changed",
    ] {
        assert!(entries.contains(expected), "{expected} missing: {entries}");
    }
    assert!(!entries.contains(&password), "no password in the audit log");
    server.cleanup().await;
}

#[tokio::test]
async fn resets_need_step_up_and_never_target_oneself() {
    let server = TestServer::sqlite().await;
    server.create_user("alice", Role::Admin, PASSWORD).await;
    server.create_user("bob", Role::Admin, PASSWORD).await;
    let http = browser();
    let alice = server.sign_in("alice", PASSWORD).await;
    let (_, page) = get(&http, &server, &alice, "/users").await;
    let csrf = csrf_in(&page);
    let alice_id = user_id(&server, "alice").await;
    let bob_id = user_id(&server, "bob").await;
    let api_post = |path: String| {
        let (server, alice, csrf) = (&server, alice.clone(), csrf.clone());
        async move {
            let as_alice = Caller::Session {
                cookie: &alice,
                csrf: &csrf,
            };
            api(server, Method::POST, &path, as_alice, Some(json!({})))
                .await
                .0
        }
    };
    // One's own password and second factor are changed under one's account, not here.
    let own = api_post(format!("/api/v1/users/{alice_id}/reset-password")).await;
    assert_eq!(own, 409);
    let own = api_post(format!("/api/v1/users/{alice_id}/reset-two-factor")).await;
    assert_eq!(own, 409);
    // A session that signed in a while ago must step up before resetting anyone.
    let hash = steward_server::secrets::token_hash(alice.split_once('=').unwrap().1);
    server
        .store
        .set_session_reauth(&hash, steward_core::Timestamp(1))
        .await
        .unwrap();
    assert_eq!(
        api_post(format!("/api/v1/users/{bob_id}/reset-password")).await,
        403
    );
    let resp = post(
        &http,
        &server,
        &alice,
        &format!("/users/{bob_id}"),
        &[("csrf", &csrf), ("op", "reset-2fa")],
    )
    .await;
    assert_eq!(resp.status().as_u16(), 303);
    assert_eq!(resp.headers()["location"], "/reauth?next=/users");
    let resp = post(
        &http,
        &server,
        &alice,
        &format!("/users/{bob_id}"),
        &[("csrf", &csrf), ("op", "disable")],
    )
    .await;
    assert_eq!(
        resp.headers()["location"],
        "/reauth?next=/users",
        "disabling an administrator"
    );
    let bob = server.store.user_by_id(&bob_id).await.unwrap().unwrap();
    assert!(bob.disabled_at.is_none());
    // After stepping up, the reset goes through and shows a one-time password.
    let resp = post(
        &http,
        &server,
        &alice,
        "/reauth",
        &[("csrf", &csrf), ("password", PASSWORD), ("next", "/users")],
    )
    .await;
    assert_eq!(resp.headers()["location"], "/users");
    let resp = post(
        &http,
        &server,
        &alice,
        &format!("/users/{bob_id}"),
        &[("csrf", &csrf), ("op", "reset-password")],
    )
    .await;
    assert_eq!(resp.status().as_u16(), 200);
    let page = resp.text().await.unwrap();
    let bob_password = between(&page, "id=\"new-password\">", "<").to_string();
    // Offboarding: the API tokens a user made stop working when they are disabled.
    let bob_session = server
        .sign_in_first_time("bob", &bob_password, "another long password")
        .await;
    let (_, page) = get(&http, &server, &bob_session, "/tokens").await;
    let bob_csrf = csrf_in(&page);
    let as_bob = Caller::Session {
        cookie: &bob_session,
        csrf: &bob_csrf,
    };
    let script = json!({"name": "bob's script", "role": "viewer"});
    let (_, created) = api(
        &server,
        Method::POST,
        "/api/v1/api-tokens",
        as_bob,
        Some(script),
    )
    .await;
    let bobs_token = created["token"].as_str().unwrap().to_string();
    assert_eq!(server.api_get(&bobs_token, "/api/v1/devices").await.0, 200);
    let resp = post(
        &http,
        &server,
        &alice,
        &format!("/users/{bob_id}"),
        &[("csrf", &csrf), ("op", "disable")],
    )
    .await;
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(
        server.api_get(&bobs_token, "/api/v1/devices").await.0,
        401,
        "revoked with bob"
    );
    // Administrators are not limited to groups.
    let admin_token = server.api_token().await;
    let (_, group) = server
        .api_post(
            &admin_token,
            "/api/v1/groups",
            serde_json::json!({"name": "Shop"}),
        )
        .await;
    let (status, _) = server
        .api_post(
            &admin_token,
            "/api/v1/users",
            serde_json::json!({"username": "carol", "role": "admin", "groups": [group["id"]]}),
        )
        .await;
    assert_eq!(status, 400);
    server.cleanup().await;
}
