//! Privileges follow the person (issue 8): a token never does more than its owner may now,
//! command-line tokens have an owner whose offboarding revokes them, removing a user's last
//! group leaves them no device, and usernames are one regardless of case.

use reqwest::Method;
use serde_json::json;
use steward_core::Role;
use steward_store::Backend;
use steward_testkit::TestServer;

use crate::support::{Caller, PASSWORD, api};

async fn id_of(server: &TestServer, name: &str) -> String {
    server
        .store
        .user_by_username(name)
        .await
        .unwrap()
        .unwrap()
        .id
}

#[tokio::test]
async fn demotion_cuts_the_power_of_the_demoted_admins_tokens() {
    let server = TestServer::sqlite().await;
    let root = server.api_token().await;
    server.enroll_raw("pc").await;
    server.create_user("alice", Role::Admin, PASSWORD).await;
    // Not the last administrator: someone stays to demote or offboard her.
    server.create_user("boss", Role::Admin, PASSWORD).await;
    let alice = id_of(&server, "alice").await;
    // Alice makes an administrator's token (as in the console: it records her as its maker).
    let token = steward_server::admin::create_api_token(
        &server.store,
        "alice-script",
        Role::Admin,
        None,
        Some(&alice),
        server.now(),
    )
    .await
    .unwrap();
    let as_alice = |m, p: &'static str, b| api(&server, m, p, Caller::Token(&token), b);
    assert_eq!(as_alice(Method::GET, "/api/v1/users", None).await.0, 200);

    // Demoted to viewer: her token is a viewer's token from this request on.
    let path = format!("/api/v1/users/{alice}");
    let (status, body) = api(
        &server,
        Method::PATCH,
        &path,
        Caller::Token(&root),
        Some(json!({"role": "viewer"})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let new_admin = json!({"username": "mallory", "role": "admin"});
    let (status, _) = as_alice(Method::POST, "/api/v1/users", Some(new_admin)).await;
    assert_eq!(status, 403, "a demoted admin's token cannot make an admin");
    assert!(
        server
            .store
            .user_by_username("mallory")
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(as_alice(Method::GET, "/api/v1/users", None).await.0, 403);
    assert_eq!(
        as_alice(Method::GET, "/api/v1/api-tokens", None).await.0,
        403
    );
    // It still does what a viewer may, and sees what she sees.
    let (status, list) = as_alice(Method::GET, "/api/v1/devices", None).await;
    assert_eq!((status, list["total"].as_u64()), (200, Some(1)));
    let limit = json!({"groups": []});
    let (status, _) = api(
        &server,
        Method::PATCH,
        &path,
        Caller::Token(&root),
        Some(limit),
    )
    .await;
    assert_eq!(status, 200);
    let (_, list) = as_alice(Method::GET, "/api/v1/devices", None).await;
    assert_eq!(
        list["total"], 0,
        "the token sees no more devices than its owner"
    );
    // Promoted again, the token is an administrator's again: it follows the person.
    let promote = json!({"role": "admin"});
    let (status, _) = api(
        &server,
        Method::PATCH,
        &path,
        Caller::Token(&root),
        Some(promote),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(as_alice(Method::GET, "/api/v1/users", None).await.0, 200);
    server.cleanup().await;
}

#[tokio::test]
async fn command_line_tokens_have_an_owner_whose_offboarding_revokes_them() {
    let server = TestServer::sqlite().await;
    let root = server.api_token().await;
    server.create_user("alice", Role::Admin, PASSWORD).await;
    // Not the last administrator: someone stays to demote or offboard her.
    server.create_user("boss", Role::Admin, PASSWORD).await;
    server.create_user("val", Role::Viewer, PASSWORD).await;
    // The command line's way: the token service, acting as the operator.
    let operator = steward_server::service::Caller::cli("root", server.now());
    let make = |role: Role, owner: &'static str| {
        let (server, operator) = (&server, &operator);
        async move {
            let new = steward_server::tokens::NewToken {
                name: "deploy",
                role: role.as_str(),
                expires_in_days: None,
            };
            steward_server::tokens::create_owned_by(&server.state, operator, &new, owner)
                .await
                .map(|created| created.secret)
        }
    };
    let err = make(Role::Admin, "nobody").await.unwrap_err().to_string();
    assert!(err.contains("no enabled user named"), "{err}");
    let err = make(Role::Admin, "val").await.unwrap_err().to_string();
    assert!(err.contains("never does more than its owner"), "{err}");
    let token = make(Role::Admin, "ALICE").await.unwrap();
    let tokens = server.store.list_api_tokens().await.unwrap();
    let record = tokens.iter().find(|t| t.name == "deploy").unwrap();
    let alice = id_of(&server, "alice").await;
    assert_eq!(record.created_by.as_deref(), Some(alice.as_str()));
    let as_token = || {
        api(
            &server,
            Method::GET,
            "/api/v1/users",
            Caller::Token(&token),
            None,
        )
    };
    assert_eq!(as_token().await.0, 200);
    // Offboarding Alice revokes it.
    let (status, _) = api(
        &server,
        Method::PATCH,
        &format!("/api/v1/users/{alice}"),
        Caller::Token(&root),
        Some(json!({"disabled": true})),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(as_token().await.0, 401);
    server.cleanup().await;
}

#[tokio::test]
async fn removing_the_last_group_leaves_no_device_and_every_device_is_explicit() {
    let server = TestServer::sqlite().await;
    let root = server.api_token().await;
    server.enroll_raw("shop-pc").await;
    server.enroll_raw("office-pc").await;
    let (_, shop) = server
        .api_post(&root, "/api/v1/groups", json!({"name": "Shop"}))
        .await;
    let shop = shop["id"].as_str().unwrap().to_string();
    let (status, created) = server
        .api_post(
            &root,
            "/api/v1/users",
            json!({"username": "tech", "role": "technician", "groups": [shop]}),
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(created["user"]["all_devices"], false);
    let id = created["user"]["id"].as_str().unwrap().to_string();
    let one_time = created["password"].as_str().unwrap();
    let tech = server.sign_in_first_time("tech", one_time, PASSWORD).await;
    let seen = || async {
        let resp = server
            .http
            .get(format!("{}/api/v1/devices", server.url))
            .header("cookie", &tech)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 200);
        resp.json::<serde_json::Value>().await.unwrap()["total"]
            .as_u64()
            .unwrap()
    };
    assert_eq!(seen().await, 0, "no device is in the shop yet");
    let path = format!("/api/v1/users/{id}");
    let change = |body| {
        api(
            &server,
            Method::PATCH,
            &path,
            Caller::Token(&root),
            Some(body),
        )
    };
    let (status, user) = change(json!({"groups": []})).await;
    assert_eq!(status, 200);
    assert_eq!(
        (user["all_devices"].as_bool(), user["groups"].clone()),
        (Some(false), json!([]))
    );
    assert_eq!(
        seen().await,
        0,
        "the last group removed: still no device, not every device"
    );
    let (status, _) = change(json!({"all_devices": true, "groups": [shop]})).await;
    assert_eq!(status, 400, "every device or groups, not both");
    let (status, user) = change(json!({"all_devices": true})).await;
    assert_eq!((status, user["all_devices"].as_bool()), (200, Some(true)));
    assert_eq!(seen().await, 2, "every device, granted explicitly");
    let (_, audit) = server
        .api_get(&root, "/api/v1/audit?action=user_groups_changed")
        .await;
    assert!(
        audit.to_string().contains("no device → all devices"),
        "{audit}"
    );
    server.cleanup().await;
}

#[tokio::test]
async fn usernames_are_one_regardless_of_case() {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        let Some(server) = TestServer::on(backend).await else {
            continue;
        };
        let root = server.api_token().await;
        let (status, created) = server
            .api_post(
                &root,
                "/api/v1/users",
                json!({"username": "Admin", "role": "viewer"}),
            )
            .await;
        assert_eq!(status, 201, "{backend:?}");
        let (status, body) = server
            .api_post(
                &root,
                "/api/v1/users",
                json!({"username": "admin", "role": "admin"}),
            )
            .await;
        assert_eq!(status, 409, "{backend:?}: {body}");
        // Signing in by name matches in any case.
        let one_time = created["password"].as_str().unwrap();
        server.sign_in("aDMIN", one_time).await;
        server.cleanup().await;
    }
}

/// A token made with a token belongs to the first token's owner: demoting her cuts both.
/// An ownerless (older) token cannot make tokens at all.
#[tokio::test]
async fn tokens_made_with_a_token_belong_to_its_owner() {
    let server = TestServer::sqlite().await;
    server.create_user("alice", Role::Admin, PASSWORD).await;
    server.create_user("boss", Role::Admin, PASSWORD).await;
    let alice = id_of(&server, "alice").await;
    let alices = steward_server::admin::create_api_token(
        &server.store,
        "alice-cli",
        Role::Admin,
        None,
        Some(&alice),
        server.now(),
    )
    .await
    .unwrap();
    let (status, body) = server
        .api_post(
            &alices,
            "/api/v1/api-tokens",
            json!({"name": "minted", "role": "admin"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let minted = body["token"].as_str().unwrap().to_string();
    let tokens = server.store.list_api_tokens().await.unwrap();
    let record = tokens.iter().find(|t| t.name == "minted").unwrap();
    assert_eq!(record.created_by.as_deref(), Some(alice.as_str()));

    // Alice is demoted: the minted token is no administrator any more.
    server.store.set_user_role(&alice, "viewer").await.unwrap();
    let (status, _) = server.api_get(&minted, "/api/v1/users").await;
    assert_eq!(status, 403);

    // A token without an owner cannot make tokens.
    let ownerless = server.api_token().await;
    let (status, body) = server
        .api_post(
            &ownerless,
            "/api/v1/api-tokens",
            json!({"name": "laundered", "role": "admin"}),
        )
        .await;
    assert_eq!(status, 403, "{body}");
    server.cleanup().await;
}
