//! The generic webhook: the JSON it posts, and a signature a receiver can verify.

use std::time::SystemTime;

use hmac::{KeyInit, Mac};
use steward_notify::webhook::{SIGNATURE_HEADER, TIMESTAMP_HEADER};
use steward_notify::{Channel, Secret, SendError, Webhook, send};

use crate::support::http::{closed_port, receiver};
use crate::{TIMEOUT, client, problem};

/// What a receiver does: recompute the HMAC over "{timestamp}.{body}", compare in constant
/// time, and refuse a stale timestamp.
fn verify(secret: &str, timestamp: &str, body: &[u8], signature: &str) -> Result<(), String> {
    let ts: u64 = timestamp.parse().map_err(|_| "bad timestamp")?;
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    if now.abs_diff(ts) > 300 {
        return Err("stale".into());
    }
    let hex_sig = signature
        .strip_prefix("sha256=")
        .ok_or("no sha256= prefix")?;
    let expected = hex::decode(hex_sig).map_err(|_| "not hex")?;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    mac.verify_slice(&expected)
        .map_err(|_| "signature mismatch".to_string())
}

#[tokio::test]
async fn a_signed_webhook_posts_the_alerts_and_a_signature_that_verifies() {
    let mut hook = receiver(204, "").await;
    let channel = Channel::Webhook(Webhook {
        url: format!("{}/hook?team=ops", hook.base),
        secret: Some(Secret::from("s3cret-key")),
    });
    let message = problem();
    send(&channel, &message, &client(), TIMEOUT).await.unwrap();
    let got = hook.next().await;
    assert_eq!(got.method, "POST");
    assert_eq!(got.path, "/hook?team=ops");
    assert_eq!(got.header("content-type"), "application/json");
    let json = got.json();
    assert_eq!(json["text"], "CRITICAL: shop-website on web-1");
    assert_eq!(json["alerts"][0]["event"], "problem");
    assert_eq!(json["alerts"][0]["check"], "shop-website");
    assert_eq!(json["alerts"][0]["subject"], "web-1");
    assert_eq!(json["alerts"][0]["status"], "critical");
    assert_eq!(json["alerts"][0]["previous"], "ok");
    assert_eq!(json["alerts"][0]["at"], 1_795_000_000_000_i64);
    assert_eq!(
        json["alerts"][0]["link"],
        "https://steward.example/alerts/7"
    );
    let back: Vec<steward_notify::Alert> = serde_json::from_value(json["alerts"].clone()).unwrap();
    assert_eq!(back, message.alerts);

    let (ts, sig) = (got.header(TIMESTAMP_HEADER), got.header(SIGNATURE_HEADER));
    verify("s3cret-key", ts, &got.body, sig).unwrap();
    // The same check refuses a changed body, another key, or another timestamp.
    let mut tampered = got.body.to_vec();
    tampered[0] = b' ';
    assert!(verify("s3cret-key", ts, &tampered, sig).is_err());
    assert!(verify("other-key", ts, &got.body, sig).is_err());
    let earlier = (ts.parse::<u64>().unwrap() - 1).to_string();
    assert!(verify("s3cret-key", &earlier, &got.body, sig).is_err());
    // The scheme as documented, computed independently (Python: hmac.new(b"key", b"1700000000.{}", sha256)).
    assert_eq!(
        steward_notify::webhook::sign("key", 1_700_000_000, b"{}"),
        "sha256=9d713ed406bb7076d4123f0dc2c39d2df5c654ed4b0cd56b52c8b4c940bd63ae"
    );
}

#[tokio::test]
async fn an_unsigned_webhook_carries_no_signature() {
    let mut hook = receiver(200, "ok").await;
    let channel = Channel::Webhook(Webhook {
        url: format!("{}/hook", hook.base),
        secret: None,
    });
    send(&channel, &problem(), &client(), TIMEOUT)
        .await
        .unwrap();
    let got = hook.next().await;
    assert!(got.headers.get(SIGNATURE_HEADER).is_none());
    assert!(got.headers.get(TIMESTAMP_HEADER).is_none());
}

#[tokio::test]
async fn a_refusal_says_the_status_and_what_the_receiver_said() {
    let hook = receiver(500, "database is down").await;
    let channel = Channel::Webhook(Webhook {
        url: format!("{}/hook", hook.base),
        secret: Some(Secret::from("s3cret-key")),
    });
    let err = send(&channel, &problem(), &client(), TIMEOUT)
        .await
        .unwrap_err();
    assert_eq!(
        err,
        SendError::Refused("the receiver answered HTTP 500: database is down".into())
    );
}

#[tokio::test]
async fn nobody_listening_is_unreachable_and_a_redirect_is_not_followed() {
    let port = closed_port().await;
    let channel = Channel::Webhook(Webhook {
        url: format!("http://127.0.0.1:{port}/hook?token=abcd1234"),
        secret: None,
    });
    let err = send(&channel, &problem(), &client(), TIMEOUT)
        .await
        .unwrap_err();
    let SendError::Unreachable(text) = &err else {
        panic!("{err:?}")
    };
    assert!(text.starts_with("cannot connect"), "{text}");
    assert!(
        !text.contains("abcd1234") && !text.contains("127.0.0.1"),
        "{text}"
    );

    let moved = receiver(302, "").await;
    let channel = Channel::Webhook(Webhook {
        url: format!("{}/hook", moved.base),
        secret: None,
    });
    assert!(matches!(
        send(&channel, &problem(), &client(), TIMEOUT).await,
        Err(SendError::Refused(t)) if t.contains("HTTP 302")
    ));
}
