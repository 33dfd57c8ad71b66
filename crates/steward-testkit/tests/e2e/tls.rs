//! Agents over HTTPS: the server's certificate is pinned at enrollment, and an agent talks to
//! no server presenting another one.

use std::time::Duration;

use steward_agent::client::{Client, ClientError};
use steward_core::CertFingerprint;
use steward_testkit::{ScriptedCollector, TestAgent, TestServer, eventually, sample_inventory};

const WAIT: Duration = Duration::from_secs(20);

#[tokio::test]
async fn enroll_over_https_pins_the_certificate_and_reports() {
    let server = TestServer::sqlite_tls().await;
    assert!(server.url.starts_with("https://"));
    let fingerprint = server.fingerprint.unwrap();
    let api = server.api_token().await;

    // Trust on first use: the certificate presented is recorded.
    let collector = ScriptedCollector::new(sample_inventory("ws-tls", 20));
    let token = server.enroll_token(2).await;
    let mut agent = TestAgent::enroll(&server.url, &token, collector.clone())
        .await
        .unwrap();
    let state = agent.state();
    assert_eq!(state.server_cert_pin, Some(fingerprint));
    assert!(state.server_url.starts_with("https://"));
    let on_disk = std::fs::read_to_string(agent.state_dir().join("agent.json")).unwrap();
    assert!(on_disk.contains(&fingerprint.to_string()), "{on_disk}");

    // With --pin: the same certificate, checked rather than trusted.
    let pinned = TestAgent::enroll_with(&server.url, &token, Some(fingerprint), collector.clone())
        .await
        .unwrap();
    assert_eq!(pinned.state().server_cert_pin, Some(fingerprint));

    agent.start(Duration::from_secs(1));
    let device = agent.device_id.clone();
    eventually(WAIT, "the inventory over HTTPS", || async {
        let (_, body) = server
            .api_get(
                &api,
                &format!("/api/v1/devices/{device}/software?per_page=1"),
            )
            .await;
        (body["total"] == 20).then_some(())
    })
    .await;
    let (_, detail) = server
        .api_get(&api, &format!("/api/v1/devices/{device}"))
        .await;
    assert_eq!(detail["status"], "online");
    agent.stop().await;

    // Over TLS handlers still see the peer's address (sign-in throttling and audit use it).
    server
        .create_user("alice", steward_core::Role::Admin, "correct horse battery")
        .await;
    server.sign_in("alice", "correct horse battery").await;
    let entries = server.store.audit_after(0, 1000).await.unwrap();
    let sign_in = entries
        .iter()
        .find(|e| e.facts.action == "sign_in")
        .expect("a sign_in audit entry");
    assert_eq!(sign_in.facts.source, "127.0.0.1");
    server.cleanup().await;
}

#[tokio::test]
async fn an_agent_refuses_a_server_with_another_certificate_and_sends_nothing() {
    // Server A, where the agent enrolls and pins A's certificate.
    let a = TestServer::sqlite_tls().await;
    let pin_a = a.fingerprint.unwrap();
    let token = a.enroll_token(1).await;
    let mut agent = TestAgent::enroll(
        &a.url,
        &token,
        ScriptedCollector::new(sample_inventory("pc", 5)),
    )
    .await
    .unwrap();
    let device = agent.device_id.clone();

    // Server B: the same database (so the device and its credential are valid there) behind
    // another certificate: what a replaced certificate or an impostor looks like.
    let db = a.stop().await;
    let b = TestServer::start_tls(db).await;
    let pin_b = b.fingerprint.unwrap();
    assert_ne!(pin_a, pin_b);
    let mut state = agent.state();
    state.server_url = b.url.clone();
    state.save(agent.state_dir()).unwrap();

    // The client says exactly why.
    let client = Client::new(&b.url, Some(state.credential.clone()), Some(pin_a)).unwrap();
    let err = client.next_job(0).await.unwrap_err();
    match &err {
        ClientError::CertificateMismatch(m) => {
            assert_eq!(m.presented, pin_b);
            assert_eq!(m.pinned, pin_a);
        }
        other => panic!("expected a certificate mismatch, got {other:?}"),
    }
    let message = err.to_string();
    assert!(
        message.contains(&format!(
            "the server's certificate {pin_b} does not match the pinned {pin_a}"
        )) && message.contains("enroll this agent again"),
        "{message}"
    );
    assert!(!message.contains(&state.credential), "{message}");

    // The running agent queues its reports and delivers none of them.
    agent.start(Duration::from_millis(200));
    eventually(WAIT, "reports to queue up", || async {
        (agent.queued() >= 3).then_some(())
    })
    .await;
    agent.stop().await;
    let seen = b
        .store
        .scoped(&steward_core::Scope::AllDevices)
        .device(&device)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(seen.last_seen_at, None, "B received a report");
    assert_eq!(
        b.store
            .device_ingest_state(&device)
            .await
            .unwrap()
            .unwrap()
            .last_seq,
        0
    );
    // The credential itself works at B: the refusal was the agent's.
    let resp = b
        .http
        .get(format!("{}/agent/v1/jobs/next?wait=0", b.url))
        .bearer_auth(&state.credential)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 204);
    b.cleanup().await;
}

#[tokio::test]
async fn enroll_with_a_wrong_pin_or_plain_http_off_loopback_is_refused() {
    let server = TestServer::sqlite_tls().await;
    let right = server.fingerprint.unwrap();
    let wrong = CertFingerprint::of_der(b"some other certificate");
    let collector = ScriptedCollector::new(sample_inventory("pc", 1));
    let token = server.enroll_token(1).await;

    let err = TestAgent::enroll_with(&server.url, &token, Some(wrong), collector.clone())
        .await
        .err()
        .expect("a wrong pin must be refused");
    let err = format!("{err:#}");
    assert!(
        err.contains(&format!("presented the certificate {right}, not {wrong}")),
        "{err}"
    );
    // Nothing reached the server: the one-use token is still good.
    TestAgent::enroll_with(&server.url, &token, Some(right), collector.clone())
        .await
        .unwrap();

    // Plain HTTP is refused before connecting, off loopback.
    let err = TestAgent::enroll("http://192.0.2.1:8080", &token, collector.clone())
        .await
        .err()
        .unwrap();
    assert!(
        format!("{err:#}").contains("outside loopback must use https"),
        "{err:#}"
    );
    // A pin with plain HTTP makes no sense.
    let plain = TestServer::sqlite().await;
    let token = plain.enroll_token(1).await;
    let err = TestAgent::enroll_with(&plain.url, &token, Some(right), collector)
        .await
        .err()
        .unwrap();
    assert!(format!("{err:#}").contains("needs an https"), "{err:#}");
    plain.cleanup().await;
    server.cleanup().await;
}

#[tokio::test]
async fn the_console_enroll_command_carries_the_pin() {
    let server = TestServer::sqlite_tls().await;
    let fingerprint = server.fingerprint.unwrap().to_string();
    server
        .create_user(
            "admin",
            steward_core::Role::Admin,
            "correct horse battery staple",
        )
        .await;
    // A fresh session, made directly (the pinned client follows redirects, losing cookies).
    let now = server.now();
    server
        .store
        .create_session(&steward_store::SessionRecord {
            token_hash: steward_server::secrets::token_hash("tls-test-session"),
            user_id: "user-admin".into(),
            csrf_token: "tls-test-csrf".into(),
            created_at: now,
            last_seen_at: now,
            expires_at: now.plus_millis(3_600_000),
            source: "127.0.0.1".into(),
            reauth_at: now,
        })
        .await
        .unwrap();
    let page = server
        .http
        .post(format!("{}/enroll", server.url))
        .header("cookie", "steward_session=tls-test-session")
        .form(&[("csrf", "tls-test-csrf"), ("uses", "1"), ("hours", "1")])
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("--server https://") && page.contains(&format!("--pin {fingerprint}")),
        "{page}"
    );
    server.cleanup().await;
}
