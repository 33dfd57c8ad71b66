//! No remote lockout (issue 8): a stranger guessing an account's password is throttled, but
//! cannot keep the owner out — not from a browser they signed in with before, and not from
//! a step-up in a session they already have.

use steward_core::Role;
use steward_testkit::{TestServer, csrf_in};

use crate::support::{PASSWORD, cookies};

/// A client that does not follow redirects, its connections coming from `address`.
fn client_from(address: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .local_address(address.parse::<std::net::IpAddr>().unwrap())
        .build()
        .unwrap()
}

async fn sign_in(
    http: &reqwest::Client,
    server: &TestServer,
    password: &str,
    cookie: Option<&str>,
) -> reqwest::Response {
    let mut req = http
        .post(format!("{}/login", server.url))
        .form(&[("username", "alice"), ("password", password)]);
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    req.send().await.unwrap()
}

#[tokio::test]
async fn a_stranger_guessing_cannot_lock_the_owner_out() {
    let server = TestServer::sqlite().await;
    server.create_user("alice", Role::Admin, PASSWORD).await;
    let owner = client_from("127.0.0.1");
    let attacker = client_from("127.0.0.2");

    // The owner signs in once: the browser becomes a known device of the account.
    let resp = sign_in(&owner, &server, PASSWORD, None).await;
    assert_eq!(resp.status().as_u16(), 303);
    let set = cookies(&resp);
    let session = set[0].clone();
    let device = set
        .iter()
        .find(|c| c.starts_with("steward_device="))
        .expect("a known-device cookie")
        .clone();

    // A stranger guesses from another address until throttled.
    let mut statuses = Vec::new();
    for _ in 0..8 {
        statuses.push(
            sign_in(&attacker, &server, "not the password", None)
                .await
                .status()
                .as_u16(),
        );
    }
    assert_eq!(&statuses[..5], [401; 5]);
    assert!(statuses[5..].iter().all(|s| *s == 429), "{statuses:?}");
    // Even with the right password, the stranger still waits.
    assert_eq!(
        sign_in(&attacker, &server, PASSWORD, None)
            .await
            .status()
            .as_u16(),
        429
    );

    // The owner's known browser signs in at once, from its own address or any other.
    let resp = sign_in(&owner, &server, PASSWORD, Some(&device)).await;
    assert_eq!(resp.status().as_u16(), 303, "the owner is not locked out");
    let resp = sign_in(&client_from("127.0.0.3"), &server, PASSWORD, Some(&device)).await;
    assert_eq!(
        resp.status().as_u16(),
        303,
        "a known device is the browser, not the address"
    );
    // A browser the owner never signed in with is a stranger, and waits like one.
    assert_eq!(
        sign_in(&owner, &server, PASSWORD, None)
            .await
            .status()
            .as_u16(),
        429
    );
    // A known device of another account vouches for nothing here.
    server.create_user("bob", Role::Viewer, PASSWORD).await;
    let bob = owner
        .post(format!("{}/login", server.url))
        .form(&[("username", "bob"), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    let bob_device = cookies(&bob)
        .into_iter()
        .find(|c| c.starts_with("steward_device="))
        .unwrap();
    assert_eq!(
        sign_in(&owner, &server, PASSWORD, Some(&bob_device))
            .await
            .status()
            .as_u16(),
        429
    );

    // Step-up in the owner's session is not blocked by the stranger's failures either.
    let page = steward_testkit::page_with(&owner, format!("{}/reauth", server.url), &session).await;
    let csrf = csrf_in(&page);
    let resp = owner
        .post(format!("{}/reauth", server.url))
        .header("cookie", &session)
        .form(&[
            ("csrf", csrf.as_str()),
            ("password", PASSWORD),
            ("next", "/users"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status().as_u16(),
        303,
        "step-up works for the signed-in owner"
    );
    assert_eq!(resp.headers()["location"], "/users");

    // The stranger is still throttled, and the owner's sign-ins did not reset that.
    assert_eq!(
        sign_in(&attacker, &server, PASSWORD, None)
            .await
            .status()
            .as_u16(),
        429
    );
    server.cleanup().await;
}

#[tokio::test]
async fn the_owner_mistyping_on_a_known_device_is_slowed_not_free() {
    let server = TestServer::sqlite().await;
    server.create_user("alice", Role::Admin, PASSWORD).await;
    let owner = client_from("127.0.0.1");
    let resp = sign_in(&owner, &server, PASSWORD, None).await;
    let device = cookies(&resp)
        .into_iter()
        .find(|c| c.starts_with("steward_device="))
        .unwrap();
    for _ in 0..5 {
        let resp = sign_in(&owner, &server, "not the password", Some(&device)).await;
        assert_eq!(resp.status().as_u16(), 401);
    }
    let resp = sign_in(&owner, &server, "not the password", Some(&device)).await;
    assert_eq!(
        resp.status().as_u16(),
        429,
        "a known device has its own limit"
    );
    server.cleanup().await;
}
