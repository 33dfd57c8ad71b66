//! Two-factor sign-in, step-up re-authentication, the two-factor policy, user management
//! and group scoping, through the real console and API.

use reqwest::redirect::Policy;
use steward_core::Role;
use steward_server::mfa;
use steward_testkit::{TestServer, csrf_in};

const PASSWORD: &str = "correct horse battery staple";

fn browser() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap()
}

fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// `name=value` of each Set-Cookie header.
fn cookies(resp: &reqwest::Response) -> Vec<String> {
    resp.headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().split(';').next().unwrap().to_string())
        .collect()
}

fn between<'a>(html: &'a str, start: &str, end: &str) -> &'a str {
    let from = html
        .find(start)
        .unwrap_or_else(|| panic!("{start:?} not in page"))
        + start.len();
    let rest = &html[from..];
    &rest[..rest.find(end).unwrap()]
}

async fn get(
    http: &reqwest::Client,
    server: &TestServer,
    cookie: &str,
    path: &str,
) -> (u16, String) {
    let resp = http
        .get(format!("{}{path}", server.url))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    let location = resp
        .headers()
        .get("location")
        .map(|l| l.to_str().unwrap().to_string());
    let body = resp.text().await.unwrap();
    (status, location.unwrap_or(body))
}

async fn post(
    http: &reqwest::Client,
    server: &TestServer,
    cookie: &str,
    path: &str,
    form: &[(&str, &str)],
) -> reqwest::Response {
    http.post(format!("{}{path}", server.url))
        .header("cookie", cookie)
        .form(form)
        .send()
        .await
        .unwrap()
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
    let tech = server.sign_in("shoptech", &password).await;
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
    let status = server
        .http
        .post(format!("{}/api/v1/groups", server.url))
        .header("cookie", &tech)
        .header("x-csrf-token", &tech_csrf)
        .json(&serde_json::json!({"name": "Shop"}))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status.as_u16(), 403);
    // A group a user is limited to cannot be deleted (it would widen their view).
    let status = server
        .http
        .delete(format!("{}/api/v1/groups/{shop}", server.url))
        .bearer_auth(&admin)
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status.as_u16(), 409);

    // The last administrator stays; nobody removes their own access.
    server.create_user("alice", Role::Admin, PASSWORD).await;
    let alice_id = server
        .store
        .user_by_username("alice")
        .await
        .unwrap()
        .unwrap()
        .id;
    let resp = server
        .http
        .patch(format!("{}/api/v1/users/{alice_id}", server.url))
        .bearer_auth(&admin)
        .json(&serde_json::json!({"disabled": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 409, "last administrator");
    let alice = server.sign_in("alice", PASSWORD).await;
    let (_, page) = get(&http, &server, &alice, "/account/sessions").await;
    let alice_csrf = csrf_in(&page);
    let resp = server
        .http
        .patch(format!("{}/api/v1/users/{alice_id}", server.url))
        .header("cookie", &alice)
        .header("x-csrf-token", &alice_csrf)
        .json(&serde_json::json!({"role": "viewer"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 409, "own account");
    // Disabling ends the user's sessions at once; changes are audited with before/after.
    let tech_id = created["user"]["id"].as_str().unwrap();
    let resp = server
        .http
        .patch(format!("{}/api/v1/users/{tech_id}", server.url))
        .bearer_auth(&admin)
        .json(&serde_json::json!({"disabled": true, "role": "viewer"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
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
    let alice_id = server
        .store
        .user_by_username("alice")
        .await
        .unwrap()
        .unwrap()
        .id;
    let bob_id = server
        .store
        .user_by_username("bob")
        .await
        .unwrap()
        .unwrap()
        .id;
    let api_post = |path: String| {
        let (http, url, alice, csrf) = (
            http.clone(),
            server.url.clone(),
            alice.clone(),
            csrf.clone(),
        );
        async move {
            http.post(format!("{url}{path}"))
                .header("cookie", alice)
                .header("x-csrf-token", csrf)
                .json(&serde_json::json!({}))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
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
    let bob_session = server.sign_in("bob", &bob_password).await;
    let (_, page) = get(&http, &server, &bob_session, "/tokens").await;
    let bob_csrf = csrf_in(&page);
    let created: serde_json::Value = http
        .post(format!("{}/api/v1/api-tokens", server.url))
        .header("cookie", &bob_session)
        .header("x-csrf-token", &bob_csrf)
        .json(&serde_json::json!({"name": "bob's script", "role": "viewer"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
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
