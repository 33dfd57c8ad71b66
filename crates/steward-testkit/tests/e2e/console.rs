//! The console over HTTP (the browser test drives it in Chromium; this checks the plumbing).

use steward_testkit::TestServer;

async fn create_user(server: &TestServer, password: &str) {
    server
        .create_user("john", steward_core::Role::Admin, password)
        .await;
}

#[tokio::test]
async fn console_requires_sign_in_and_sign_in_works() {
    let server = TestServer::sqlite().await;
    create_user(&server, "a long enough password").await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    // Pages redirect to the login page.
    let resp = http
        .get(format!("{}/devices", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 303);
    assert!(
        resp.headers()["location"]
            .to_str()
            .unwrap()
            .starts_with("/login")
    );
    // Wrong password.
    let resp = http
        .post(format!("{}/login", server.url))
        .form(&[("username", "john"), ("password", "wrong password!!")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    assert!(resp.headers().get("set-cookie").is_none());
    // Right password: a session cookie, HttpOnly, and the dashboard opens.
    let resp = http
        .post(format!("{}/login", server.url))
        .form(&[("username", "john"), ("password", "a long enough password")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 303);
    let cookie = resp.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.contains("HttpOnly"), "{cookie}");
    let session = cookie.split(';').next().unwrap().to_string();
    let resp = http
        .get(format!("{}/", server.url))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let html = resp.text().await.unwrap();
    assert!(html.contains("john"));
    // The session also works for the API (the console's own scripts use it).
    let resp = http
        .get(format!("{}/api/v1/devices", server.url))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    server.cleanup().await;
}

#[tokio::test]
async fn repeated_wrong_passwords_are_throttled() {
    let server = TestServer::sqlite().await;
    create_user(&server, "a long enough password").await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let attempt = |password: &'static str| {
        http.post(format!("{}/login", server.url))
            .form(&[("username", "john"), ("password", password)])
            .send()
    };
    // Five free mistakes…
    for _ in 0..5 {
        assert_eq!(
            attempt("not the password").await.unwrap().status().as_u16(),
            401
        );
    }
    // …then even the right password must wait, with a clear message.
    let resp = attempt("a long enough password").await.unwrap();
    assert_eq!(resp.status().as_u16(), 429);
    let html = resp.text().await.unwrap();
    assert!(
        html.contains("Too many failed sign-ins. Try again in"),
        "{html}"
    );
    // Another account from the same address is not locked by john's failures.
    let resp = http
        .post(format!("{}/login", server.url))
        .form(&[("username", "someone-else"), ("password", "whatever it is")])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    server.cleanup().await;
}

async fn sign_in(server: &TestServer, _http: &reqwest::Client) -> String {
    server.sign_in("john", "a long enough password").await
}

#[tokio::test]
async fn a_user_sees_and_ends_their_sessions() {
    let server = TestServer::sqlite().await;
    create_user(&server, "a long enough password").await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let laptop = sign_in(&server, &http).await;
    let phone = sign_in(&server, &http).await;
    let third = sign_in(&server, &http).await;
    let page = |cookie: String| {
        let http = http.clone();
        let url = format!("{}/account/sessions", server.url);
        async move { http.get(url).header("cookie", cookie).send().await.unwrap() }
    };
    let html = page(laptop.clone()).await.text().await.unwrap();
    assert_eq!(
        html.matches("name=\"session\" value=\"").count() - 1,
        3,
        "three sessions and the 'others' form"
    );
    assert!(html.contains("this session"));
    let csrf = steward_testkit::csrf_in(&html);
    // End the phone's session from the laptop: the phone is signed out at once.
    let phone_hash = steward_server::secrets::token_hash(phone.split('=').nth(1).unwrap());
    let resp = http
        .post(format!("{}/account/sessions/revoke", server.url))
        .header("cookie", &laptop)
        .form(&[("csrf", csrf.as_str()), ("session", phone_hash.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 303);
    assert_eq!(
        page(phone).await.status().as_u16(),
        303,
        "the phone is back at the login"
    );
    // Sign out everywhere else.
    http.post(format!("{}/account/sessions/revoke", server.url))
        .header("cookie", &laptop)
        .form(&[("csrf", csrf.as_str()), ("session", "others")])
        .send()
        .await
        .unwrap();
    assert_eq!(page(third).await.status().as_u16(), 303);
    assert_eq!(page(laptop).await.status().as_u16(), 200);
    server.cleanup().await;
}

#[tokio::test]
async fn changing_the_password_checks_policy_and_ends_other_sessions() {
    let server = TestServer::sqlite().await;
    create_user(&server, "a long enough password").await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let laptop = sign_in(&server, &http).await;
    let phone = sign_in(&server, &http).await;
    let html =
        steward_testkit::page_with(&http, format!("{}/account/password", server.url), &laptop)
            .await;
    let csrf = steward_testkit::csrf_in(&html);
    let change = |current: &'static str, new: &'static str| {
        http.post(format!("{}/account/password", server.url))
            .header("cookie", &laptop)
            .form(&[
                ("csrf", csrf.as_str()),
                ("current", current),
                ("new", new),
                ("confirm", new),
            ])
            .send()
    };
    for (current, new, status, message) in [
        (
            "a long enough password",
            "too short",
            400,
            "at least 12 characters",
        ),
        (
            "a long enough password",
            "qwerty123456",
            400,
            "commonly used",
        ),
        (
            "not my password at all",
            "a brand new passphrase",
            401,
            "current password is wrong",
        ),
    ] {
        let resp = change(current, new).await.unwrap();
        assert_eq!(resp.status().as_u16(), status, "{new}");
        assert!(resp.text().await.unwrap().contains(message), "{new}");
    }
    let resp = change("a long enough password", "a brand new passphrase")
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 303);
    let fresh = resp.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    // Every old session ended, the browser that changed it got a new one.
    for old in [&laptop, &phone] {
        let resp = http
            .get(format!("{}/devices", server.url))
            .header("cookie", old)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 303);
    }
    let resp = http
        .get(format!("{}/devices", server.url))
        .header("cookie", &fresh)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    // The old password no longer signs in; the new one does.
    let old = http
        .post(format!("{}/login", server.url))
        .form(&[("username", "john"), ("password", "a long enough password")])
        .send()
        .await
        .unwrap();
    assert_eq!(old.status().as_u16(), 401);
    let new = http
        .post(format!("{}/login", server.url))
        .form(&[("username", "john"), ("password", "a brand new passphrase")])
        .send()
        .await
        .unwrap();
    assert_eq!(new.status().as_u16(), 303);
    server.cleanup().await;
}

#[tokio::test]
async fn sessions_end_when_idle_at_their_lifetime_and_on_sign_out() {
    let server = TestServer::sqlite().await;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    server
        .create_user(
            "alice",
            steward_core::Role::Viewer,
            "correct horse battery staple",
        )
        .await;
    let status = |cookie: String| {
        let (http, url) = (http.clone(), server.url.clone());
        async move {
            http.get(format!("{url}/devices"))
                .header("cookie", cookie)
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    let hash_of =
        |cookie: &str| steward_server::secrets::token_hash(cookie.split_once('=').unwrap().1);

    // Idle: last used longer ago than the idle timeout (30 minutes by default).
    let idle = server
        .sign_in("alice", "correct horse battery staple")
        .await;
    assert_eq!(status(idle.clone()).await, 200);
    let long_ago = server.now().plus_millis(-31 * 60 * 1000);
    server
        .store
        .touch_session(&hash_of(&idle), long_ago)
        .await
        .unwrap();
    assert_eq!(status(idle.clone()).await, 303, "idle session refused");
    assert!(
        server
            .store
            .session(&hash_of(&idle))
            .await
            .unwrap()
            .is_none(),
        "and deleted"
    );

    // Absolute lifetime: used a second ago, but past its expiry.
    let user_id = server
        .store
        .user_by_username("alice")
        .await
        .unwrap()
        .unwrap()
        .id;
    let token = "a-session-token-made-by-the-test";
    let now = server.now();
    server
        .store
        .create_session(&steward_store::SessionRecord {
            token_hash: steward_server::secrets::token_hash(token),
            user_id,
            csrf_token: "csrf".into(),
            created_at: now.plus_millis(-13 * 3600 * 1000),
            last_seen_at: now,
            expires_at: now.plus_millis(-1),
            source: "127.0.0.1".into(),
            reauth_at: now,
        })
        .await
        .unwrap();
    assert_eq!(
        status(format!("steward_session={token}")).await,
        303,
        "expired session refused"
    );

    // Sign-out kills the session on the server: the old cookie no longer works.
    let live = server
        .sign_in("alice", "correct horse battery staple")
        .await;
    let html = steward_testkit::page_with(&http, format!("{}/devices", server.url), &live).await;
    let csrf = steward_testkit::csrf_in(&html);
    let resp = http
        .post(format!("{}/logout", server.url))
        .header("cookie", &live)
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 303);
    assert!(
        resp.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    assert_eq!(status(live).await, 303, "signed-out session refused");
    server.cleanup().await;
}

#[tokio::test]
async fn unknown_addresses_get_a_page_for_people_and_json_for_programs() {
    let server = TestServer::sqlite().await;
    let resp = server
        .http
        .get(format!("{}/no/such/page", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 404);
    assert!(
        resp.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    assert!(resp.text().await.unwrap().contains("Not found"));
    let resp = server
        .http
        .get(format!("{}/api/v1/no-such-thing", server.url))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 404);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert_eq!(body["error"], "not_found");
    server.cleanup().await;
}

#[tokio::test]
async fn the_dashboard_nudges_towards_two_factor_sign_in() {
    let server = TestServer::sqlite().await;
    let password = "correct horse battery staple";
    server
        .create_user("boss", steward_core::Role::Admin, password)
        .await;
    server
        .create_user("eve", steward_core::Role::Viewer, password)
        .await;
    let dashboard = |user: &'static str| {
        let server = &server;
        async move {
            let cookie = server.sign_in(user, password).await;
            steward_testkit::page_with(&server.http, format!("{}/", server.url), &cookie).await
        }
    };
    let boss = dashboard("boss").await;
    assert!(boss.contains("id=\"nudge-2fa\"") && boss.contains("id=\"nudge-policy\""));
    let eve = dashboard("eve").await;
    assert!(eve.contains("id=\"nudge-2fa\""));
    assert!(
        !eve.contains("id=\"nudge-policy\""),
        "only for those who may change it"
    );
    server.cleanup().await;
}
