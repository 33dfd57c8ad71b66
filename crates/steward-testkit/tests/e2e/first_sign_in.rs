//! Smaller access items of issue 8: one-time passwords are replaced at first sign-in, the
//! sign-in forms refuse posts from other sites, and repeated denials are aggregated.

use reqwest::Method;
use serde_json::json;
use steward_core::Role;
use steward_testkit::{TestServer, csrf_in};

use crate::support::{Caller, PASSWORD, api, browser, get};

#[tokio::test]
async fn a_one_time_password_opens_only_the_password_page_until_changed() {
    let server = TestServer::sqlite().await;
    let root = server.api_token().await;
    let (status, created) = server
        .api_post(
            &root,
            "/api/v1/users",
            json!({"username": "newbie", "role": "technician"}),
        )
        .await;
    assert_eq!(status, 201);
    assert_eq!(created["user"]["must_change_password"], true);
    let one_time = created["password"].as_str().unwrap().to_string();
    let http = browser();
    let resp = http
        .post(format!("{}/login", server.url))
        .form(&[("username", "newbie"), ("password", one_time.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 303);
    assert_eq!(resp.headers()["location"], "/account/password");
    let session = crate::support::cookies(&resp)[0].clone();
    // Every other page leads to the password page; the API refuses the session.
    for path in ["/", "/devices", "/account/sessions", "/account/two-factor"] {
        let (status, to) = get(&http, &server, &session, path).await;
        assert_eq!((status, to.as_str()), (303, "/account/password"), "{path}");
    }
    let (status, page) = get(&http, &server, &session, "/account/password").await;
    assert_eq!(status, 200);
    assert!(page.contains("set by someone else"), "the page says why");
    let csrf = csrf_in(&page);
    let as_session = || Caller::Session {
        cookie: &session,
        csrf: &csrf,
    };
    let (status, body) = api(&server, Method::GET, "/api/v1/devices", as_session(), None).await;
    assert_eq!(status, 403, "{body}");
    assert!(body.to_string().contains("choose your own"), "{body}");
    // API tokens are unaffected.
    assert_eq!(server.api_get(&root, "/api/v1/devices").await.0, 200);

    // After the change, everything the role allows is open, and the flag is gone.
    let fresh = server
        .sign_in_first_time("newbie", &one_time, PASSWORD)
        .await;
    let (status, _) = get(&http, &server, &fresh, "/devices").await;
    assert_eq!(status, 200);
    let user = server
        .store
        .user_by_username("newbie")
        .await
        .unwrap()
        .unwrap();
    assert!(!user.must_change_password);
    // A reset password is one-time again; so is the first administrator's.
    let path = format!("/api/v1/users/{}/reset-password", user.id);
    let (status, reset) = server.api_post(&root, &path, json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(reset["user"]["must_change_password"], true);
    server.cleanup().await;

    let server = TestServer::sqlite().await;
    let (name, password) = steward_server::admin::ensure_first_admin(
        &server.store,
        steward_server::secrets::PasswordHashing::TestOnlyCheap,
        server.now(),
    )
    .await
    .unwrap()
    .unwrap();
    let session = server.sign_in(&name, &password).await;
    let (status, to) = get(&http, &server, &session, "/").await;
    assert_eq!((status, to.as_str()), (303, "/account/password"));
    server.cleanup().await;
}

#[tokio::test]
async fn sign_in_posted_from_another_site_is_refused() {
    let server = TestServer::sqlite().await;
    server.create_user("alice", Role::Admin, PASSWORD).await;
    let http = browser();
    let post = |headers: &'static [(&'static str, &'static str)]| {
        let mut req = http
            .post(format!("{}/login", server.url))
            .form(&[("username", "alice"), ("password", PASSWORD)]);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        req.send()
    };
    let status = |r: reqwest::Response| r.status().as_u16();
    assert_eq!(
        status(post(&[("origin", "https://evil.example")]).await.unwrap()),
        403
    );
    assert_eq!(
        status(post(&[("sec-fetch-site", "cross-site")]).await.unwrap()),
        403
    );
    assert_eq!(status(post(&[("origin", "null")]).await.unwrap()), 403);
    // Its own page, and clients that send neither header (curl, scripts), sign in.
    let own = format!("http://{}", server.addr);
    let resp = http
        .post(format!("{}/login", server.url))
        .header("origin", own)
        .header("sec-fetch-site", "same-origin")
        .form(&[("username", "alice"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 303);
    assert_eq!(status(post(&[]).await.unwrap()), 303);
    server.cleanup().await;
}

#[tokio::test]
async fn repeated_denials_are_recorded_once() {
    let server = TestServer::sqlite().await;
    let root = server.api_token().await;
    let viewer = server.api_token_with(Role::Viewer).await;
    for _ in 0..20 {
        let (status, _) = api(
            &server,
            Method::GET,
            "/api/v1/users",
            Caller::Token(&viewer),
            None,
        )
        .await;
        assert_eq!(status, 403);
    }
    // Another action is recorded on its own.
    let (status, _) = api(
        &server,
        Method::GET,
        "/api/v1/audit",
        Caller::Token(&viewer),
        None,
    )
    .await;
    assert_eq!(status, 403);
    let (_, entries) = server
        .api_get(&root, "/api/v1/audit?action=authorisation_denied")
        .await;
    let text = entries.to_string();
    assert_eq!(text.matches("ManageUsers needs more").count(), 1, "{text}");
    assert_eq!(text.matches("ViewAudit needs more").count(), 1, "{text}");
    let chain = steward_server::audit::verify(&server.store).await.unwrap();
    assert!(chain.is_ok(), "the audit chain verifies");
    server.cleanup().await;
}
