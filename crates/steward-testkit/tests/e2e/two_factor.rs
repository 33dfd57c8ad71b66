//! Two-factor sign-in, the two-factor policy and step-up re-authentication, through the
//! real console and API.

use steward_core::Role;
use steward_server::mfa;
use steward_testkit::{TestServer, csrf_in};

use crate::support::{PASSWORD, between, browser, cookies, get, post};

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// Sets up two-factor sign-in for the signed-in user; returns the secret and the
/// recovery codes.
async fn enrol(
    http: &reqwest::Client,
    server: &TestServer,
    cookie: &str,
) -> (Vec<u8>, Vec<String>) {
    let (_, page) = get(http, server, cookie, "/account/two-factor").await;
    let csrf = csrf_in(&page);
    let resp = post(
        http,
        server,
        cookie,
        "/account/two-factor/setup",
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(resp.status().as_u16(), 303);
    let (_, page) = get(http, server, cookie, "/account/two-factor").await;
    assert!(page.contains("<svg"), "QR code shown");
    let secret_text = between(&page, "id=\"totp-secret\">", "<").to_string();
    let secret = mfa::secret_from_text(&secret_text).unwrap();
    // The secret is sealed at rest: the database never holds it in the clear.
    let stored = server
        .store
        .user_by_username("alice")
        .await
        .unwrap()
        .unwrap();
    let sealed = stored.totp_secret.unwrap();
    assert!(sealed.starts_with("v1:") && !sealed.contains(&secret_text));
    // A wrong code is refused; the right one turns it on and shows recovery codes once.
    let resp = post(
        http,
        server,
        cookie,
        "/account/two-factor/confirm",
        &[("csrf", &csrf), ("code", "000000")],
    )
    .await;
    assert_eq!(resp.status().as_u16(), 400);
    let code = mfa::code_at(&secret, unix_now()).unwrap();
    let resp = post(
        http,
        server,
        cookie,
        "/account/two-factor/confirm",
        &[("csrf", &csrf), ("code", &code)],
    )
    .await;
    assert_eq!(resp.status().as_u16(), 200);
    let page = resp.text().await.unwrap();
    let codes: Vec<String> = between(&page, "<ul class=\"codes mono\">", "</ul>")
        .split("<li>")
        .filter_map(|c| c.split("</li>").next())
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_string)
        .collect();
    assert_eq!(codes.len(), mfa::RECOVERY_CODES);
    (secret, codes)
}

/// Password, then the second factor; returns the session cookie or the failing status.
async fn sign_in_with(server: &TestServer, code: &str) -> Result<String, u16> {
    let http = browser();
    let resp = http
        .post(format!("{}/login", server.url))
        .form(&[
            ("username", "alice"),
            ("password", PASSWORD),
            ("next", "/devices"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 303);
    assert_eq!(
        resp.headers()["location"],
        "/login/code",
        "no session before the second factor"
    );
    let pending = cookies(&resp);
    assert!(pending[0].starts_with("steward_pending="), "{pending:?}");
    let resp = http
        .post(format!("{}/login/code", server.url))
        .header("cookie", &pending[0])
        .form(&[("code", code)])
        .send()
        .await
        .unwrap();
    if resp.status().as_u16() != 303 {
        return Err(resp.status().as_u16());
    }
    assert_eq!(resp.headers()["location"], "/devices");
    Ok(cookies(&resp)
        .into_iter()
        .find(|c| c.starts_with("steward_session="))
        .unwrap())
}

#[tokio::test]
async fn totp_enrol_sign_in_replay_and_recovery_codes() {
    let server = TestServer::sqlite().await;
    server.create_user("alice", Role::Admin, PASSWORD).await;
    let http = browser();
    let cookie = server.sign_in("alice", PASSWORD).await;
    let (secret, codes) = enrol(&http, &server, &cookie).await;

    // The code that confirmed the enrolment cannot be used again (same time step).
    let now = unix_now();
    let used = mfa::code_at(&secret, now).unwrap();
    assert_eq!(
        sign_in_with(&server, &used).await,
        Err(401),
        "replayed code"
    );
    // The next step's code works once (one step of skew is allowed)…
    let next = mfa::code_at(&secret, now + 30).unwrap();
    let session = sign_in_with(&server, &next)
        .await
        .expect("next code signs in");
    let (status, _) = get(&http, &server, &session, "/devices").await;
    assert_eq!(status, 200);
    // …and not twice.
    assert_eq!(sign_in_with(&server, &next).await, Err(401));
    // A recovery code works once, typed with any case and spacing.
    let typed = codes[0].to_uppercase().replace('-', " ");
    sign_in_with(&server, &typed)
        .await
        .expect("recovery code signs in");
    assert_eq!(
        sign_in_with(&server, &codes[0]).await,
        Err(401),
        "recovery codes are single-use"
    );
    // Everything is in the audit log, and no secret is.
    let csv = {
        let mut out = Vec::new();
        steward_server::audit::export_csv(&server.store, None, &mut out)
            .await
            .unwrap();
        String::from_utf8(out).unwrap()
    };
    for expected in [
        "two_factor_enabled",
        "with authenticator code",
        "with recovery code",
        "wrong or reused second factor",
    ] {
        assert!(csv.contains(expected), "{expected} missing:\n{csv}");
    }
    for secret_text in [codes[1].as_str(), next.as_str(), PASSWORD] {
        assert!(!csv.contains(secret_text), "a secret in the audit log");
    }
    server.cleanup().await;
}

#[tokio::test]
async fn wrong_codes_end_the_pending_sign_in() {
    let server = TestServer::sqlite().await;
    server.create_user("alice", Role::Admin, PASSWORD).await;
    let http = browser();
    let cookie = server.sign_in("alice", PASSWORD).await;
    enrol(&http, &server, &cookie).await;
    let resp = http
        .post(format!("{}/login", server.url))
        .form(&[("username", "alice"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    let pending = cookies(&resp).remove(0);
    // Twenty guesses at once: only five are checked, however they race.
    let guesses: Vec<_> = (0..20)
        .map(|_| {
            let (http, url, pending) = (http.clone(), server.url.clone(), pending.clone());
            tokio::spawn(async move {
                http.post(format!("{url}/login/code"))
                    .header("cookie", pending)
                    .form(&[("code", "000000")])
                    .send()
                    .await
                    .unwrap()
                    .status()
                    .as_u16()
            })
        })
        .collect();
    let mut checked = 0;
    for g in guesses {
        match g.await.unwrap() {
            401 => checked += 1,
            303 => {}
            other => panic!("unexpected status {other}"),
        }
    }
    assert!(checked <= 5, "{checked} guesses were checked");
    let (status, location) = get(&http, &server, &pending, "/login/code").await;
    assert_eq!((status, location.as_str()), (303, "/login"));
    server.cleanup().await;
}

#[tokio::test]
async fn policy_forces_enrolment_and_sensitive_actions_need_step_up() {
    let server = TestServer::sqlite().await;
    server.create_user("alice", Role::Admin, PASSWORD).await;
    server.create_user("tech", Role::Technician, PASSWORD).await;
    let admin_token = server.api_token().await;
    let http = browser();

    // Require two-factor sign-in of technicians.
    let resp = server
        .http
        .put(format!("{}/api/v1/settings/security", server.url))
        .bearer_auth(&admin_token)
        .json(&serde_json::json!({"require_two_factor": ["technician"]}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let tech = server.sign_in("tech", PASSWORD).await;
    let (status, location) = get(&http, &server, &tech, "/devices").await;
    assert_eq!((status, location.as_str()), (303, "/account/two-factor"));
    let (status, _) = get(&http, &server, &tech, "/account/two-factor").await;
    assert_eq!(status, 200, "the enrolment page stays open");
    let resp = http
        .get(format!("{}/api/v1/devices", server.url))
        .header("cookie", &tech)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 403, "the API is closed too");

    // Step-up: a session signed in long ago must confirm its password before making an
    // administrator; a fresh step-up opens it for a few minutes.
    let alice = server.sign_in("alice", PASSWORD).await;
    let hash = steward_server::secrets::token_hash(alice.split_once('=').unwrap().1);
    server
        .store
        .set_session_reauth(&hash, steward_core::Timestamp(1))
        .await
        .unwrap();
    let (_, page) = get(&http, &server, &alice, "/users").await;
    let csrf = csrf_in(&page);
    let form = [
        ("csrf", csrf.as_str()),
        ("username", "boss"),
        ("role", "admin"),
    ];
    let resp = post(&http, &server, &alice, "/users", &form).await;
    assert_eq!(resp.status().as_u16(), 303);
    assert_eq!(resp.headers()["location"], "/reauth?next=/users");
    assert!(
        server
            .store
            .user_by_username("boss")
            .await
            .unwrap()
            .is_none()
    );
    // A change through the API with the session cookie needs the CSRF header…
    let resp = http
        .post(format!("{}/api/v1/users", server.url))
        .header("cookie", &alice)
        .json(&serde_json::json!({"username": "boss", "role": "admin"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 403);
    let body: serde_json::Value = resp.json().await.unwrap();
    assert!(body["message"].as_str().unwrap().contains("CSRF"), "{body}");
    // …and then asks for step-up too.
    let resp = http
        .post(format!("{}/api/v1/users", server.url))
        .header("cookie", &alice)
        .header("x-csrf-token", &csrf)
        .json(&serde_json::json!({"username": "boss", "role": "admin"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 403, "the API asks for step-up too");
    let body: serde_json::Value = resp.json().await.unwrap();
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("re-authentication"),
        "{body}"
    );
    let resp = post(
        &http,
        &server,
        &alice,
        "/reauth",
        &[
            ("csrf", &csrf),
            ("password", "wrong password!"),
            ("next", "/users"),
        ],
    )
    .await;
    assert_eq!(resp.status().as_u16(), 401);
    let resp = post(
        &http,
        &server,
        &alice,
        "/reauth",
        &[("csrf", &csrf), ("password", PASSWORD), ("next", "/users")],
    )
    .await;
    assert_eq!(resp.headers()["location"], "/users");
    let resp = post(&http, &server, &alice, "/users", &form).await;
    assert_eq!(resp.status().as_u16(), 200);
    let page = resp.text().await.unwrap();
    let password = between(&page, "id=\"new-password\">", "<").to_string();
    assert_eq!(password.len(), 23, "a one-time password is shown");
    let boss = server
        .store
        .user_by_username("boss")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(boss.role, "admin");
    // A non-admin viewer role needs no step-up; CSRF is still checked.
    let resp = post(
        &http,
        &server,
        &alice,
        "/users",
        &[("csrf", "forged"), ("username", "eve"), ("role", "viewer")],
    )
    .await;
    assert_eq!(resp.status().as_u16(), 403);
    server.cleanup().await;
}
