//! A network monitor from the configuration, end to end: a real HTTP target the test stops
//! and starts again, the server's scheduler and notifier, and a real webhook receiver. The
//! alert reaches the receiver once, the recovery once.

use std::time::{Duration, Instant};

use steward_server::monitoring::{DeclaredChannel, DeclaredCheck};
use steward_testkit::TestServer;
use steward_testkit::peers::{
    free_address, http_target as target, next_within, webhook_receiver as receiver,
};

#[tokio::test]
async fn a_target_going_down_and_up_is_announced_once_each_way() {
    let addr = free_address().await;
    let up = target(addr).await;
    let (hook, mut received) = receiver().await;
    let interval = Duration::from_secs(1);
    let retries = 1;
    let server = TestServer::sqlite_configured(|c| {
        c.declared_checks = vec![DeclaredCheck {
            name: "shop-website".into(),
            probe: steward_probes::Probe::Http(steward_probes::Http {
                url: format!("http://{addr}/"),
                ..Default::default()
            }),
            interval,
            timeout: Duration::from_secs(1),
            retries,
            runbook: "Restart the shop's web server.".into(),
        }];
        c.declared_channels = vec![DeclaredChannel {
            name: "ops-webhook".into(),
            channel: steward_notify::Channel::Webhook(steward_notify::Webhook {
                url: hook,
                secret: None,
            }),
        }];
    })
    .await;
    // While it is up, nobody is told anything.
    assert!(
        next_within(&mut received, Duration::from_secs(3))
            .await
            .is_none()
    );
    let state = server
        .store
        .check_state("config:shop-website", "")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(state.status, "ok");

    up.abort();
    let _ = up.await;
    let stopped = Instant::now();
    let bound = interval * (retries + 1) + Duration::from_secs(5);
    let message = next_within(&mut received, bound)
        .await
        .expect("the alert within the bound");
    assert_eq!(message["text"], "CRITICAL: shop-website", "{message}");
    let alert = &message["alerts"][0];
    assert!(stopped.elapsed() <= bound, "{:?}", stopped.elapsed());
    assert_eq!(alert["event"], "problem", "{alert}");
    assert_eq!(alert["check"], "shop-website");
    assert_eq!(alert["status"], "critical");
    assert_eq!(alert["runbook"], "Restart the shop's web server.");
    // Still down: no second alert.
    assert!(
        next_within(&mut received, Duration::from_secs(3))
            .await
            .is_none()
    );

    let _again = target(addr).await;
    let message = next_within(&mut received, bound)
        .await
        .expect("the recovery within the bound");
    let recovery = &message["alerts"][0];
    assert_eq!(recovery["event"], "recovery", "{recovery}");
    assert_eq!(recovery["previous"], "critical");
    assert!(
        next_within(&mut received, Duration::from_secs(3))
            .await
            .is_none()
    );
    let history = server
        .store
        .check_history("config:shop-website", "", 10)
        .await
        .unwrap();
    assert_eq!(history.len(), 2, "{history:?}");
    let delivered = server.store.notifications(10).await.unwrap();
    assert_eq!(delivered.len(), 2);
    assert!(delivered.iter().all(|n| n.delivered_at.is_some()));
    server.cleanup().await;
}

/// A delivery that fails is retried and shows how it stands: the API's outbox view and the
/// console's "Recent deliveries" say "retrying", with the attempts and the receiver's error.
#[tokio::test]
async fn a_failing_delivery_is_visible_with_its_error() {
    let down = free_address().await; // nothing listens: the probe fails
    let nowhere = free_address().await; // nothing listens: the webhook fails
    let server = TestServer::sqlite_configured(|c| {
        c.declared_checks = vec![DeclaredCheck {
            name: "backup-nas".into(),
            probe: steward_probes::Probe::Tcp(steward_probes::Tcp {
                host: "127.0.0.1".into(),
                port: down.port(),
            }),
            interval: Duration::from_secs(1),
            timeout: Duration::from_secs(1),
            retries: 0,
            runbook: String::new(),
        }];
        c.declared_channels = vec![DeclaredChannel {
            name: "broken-hook".into(),
            channel: steward_notify::Channel::Webhook(steward_notify::Webhook {
                url: format!("http://{nowhere}/hook"),
                secret: None,
            }),
        }];
    })
    .await;
    let api = server.api_token().await;
    let delivery =
        steward_testkit::eventually(Duration::from_secs(20), "a failed delivery", || async {
            let (status, listed) = server.api_get(&api, "/api/v1/notifications").await;
            assert_eq!(status, 200, "{listed}");
            listed
                .as_array()
                .and_then(|l| l.iter().find(|d| d["state"] == "retrying").cloned())
        })
        .await;
    assert_eq!(delivery["channel"], "broken-hook", "{delivery}");
    assert!(
        delivery["title"].as_str().unwrap().contains("backup-nas"),
        "{delivery}"
    );
    assert!(delivery["attempts"].as_i64().unwrap() >= 1);
    assert!(!delivery["last_error"].as_str().unwrap().is_empty());
    assert!(delivery["delivered_at"].is_null());

    server
        .create_user("boss", steward_core::Role::Admin, "correct horse battery")
        .await;
    let cookie = server.sign_in("boss", "correct horse battery").await;
    let page = server
        .http
        .get(format!("{}/channels", server.url))
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let table = page
        .split("id=\"deliveries\"")
        .nth(1)
        .expect("the deliveries table");
    assert!(
        table.contains("retrying") && table.contains("broken-hook"),
        "{table}"
    );
    server.cleanup().await;
}
