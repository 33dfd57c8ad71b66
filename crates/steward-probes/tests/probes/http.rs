use std::time::Duration;

use steward_core::alerting::CheckStatus;
use steward_probes::{Http, Outcome, Probe, run};

use crate::peers::{Answer, Ca, DAY, Offset, client, http as serve, https};

const SECOND: Duration = Duration::from_secs(2);

fn url(port: u16) -> String {
    format!("http://127.0.0.1:{port}/")
}

async fn look(probe: Http) -> Outcome {
    run(&Probe::Http(probe), &client(), SECOND).await
}

#[tokio::test]
async fn targets_are_judged_by_status_and_keyword() {
    let up = serve(Answer::text(200, "shop open")).await;
    let broken = serve(Answer::text(503, "maintenance")).await;
    let ok = look(Http {
        url: url(up.port),
        keyword: Some("open".into()),
        ..Http::default()
    })
    .await;
    assert_eq!(ok.status, CheckStatus::Ok, "{ok:?}");
    assert!(ok.summary.starts_with("HTTP 200 in "), "{ok:?}");
    let missing = look(Http {
        url: url(up.port),
        keyword: Some("closed".into()),
        ..Http::default()
    })
    .await;
    assert_eq!(missing.status, CheckStatus::Critical);
    assert!(
        missing.summary.ends_with("without \"closed\""),
        "{missing:?}"
    );
    let bad = look(Http {
        url: url(broken.port),
        ..Http::default()
    })
    .await;
    assert_eq!(bad.status, CheckStatus::Critical);
    assert!(bad.summary.starts_with("HTTP 503"), "{bad:?}");
    let expected = look(Http {
        url: url(broken.port),
        expect_status: Some(503),
        ..Http::default()
    })
    .await;
    assert_eq!(expected.status, CheckStatus::Ok, "{expected:?}");
    let nonsense = look(Http {
        url: "not a url".into(),
        ..Http::default()
    })
    .await;
    assert_eq!(nonsense.status, CheckStatus::Unknown);
}

#[tokio::test]
async fn a_closed_port_and_a_silent_one_are_critical() {
    let closed = {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        l.local_addr().unwrap().port()
    };
    let refused = look(Http {
        url: url(closed),
        ..Http::default()
    })
    .await;
    assert_eq!(refused.status, CheckStatus::Critical);
    assert!(refused.summary.contains("cannot connect"), "{refused:?}");
    // Accepts but never answers: the timeout decides, and bounds the look.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = silent.local_addr().unwrap().port();
    let started = std::time::Instant::now();
    let hung = run(
        &Probe::Http(Http {
            url: url(port),
            ..Http::default()
        }),
        &client(),
        Duration::from_millis(300),
    )
    .await;
    assert_eq!(hung.status, CheckStatus::Critical);
    assert!(hung.summary.contains("no answer within 300 ms"), "{hung:?}");
    assert!(started.elapsed() < Duration::from_secs(2));
}

#[tokio::test]
async fn a_json_value_is_found_by_its_pointer() {
    let api = serve(Answer::json(
        r#"{"status":"ok","db":{"replicas":[{"lag":0.5}]},"ready":true}"#,
    ))
    .await;
    let page = serve(Answer::text(200, "<html>shop</html>")).await;
    let json = |pointer: &str, value: Option<serde_json::Value>| Http {
        url: url(api.port),
        json_pointer: Some(pointer.into()),
        json_value: value,
        ..Http::default()
    };
    let ok = look(json("/status", Some("ok".into()))).await;
    assert_eq!(ok.status, CheckStatus::Ok, "{ok:?}");
    let nested = look(json("/db/replicas/0/lag", Some(serde_json::json!(0.5)))).await;
    assert_eq!(nested.status, CheckStatus::Ok, "{nested:?}");
    let exists = look(json("/ready", None)).await;
    assert_eq!(exists.status, CheckStatus::Ok, "{exists:?}");
    let wrong = look(json("/status", Some("degraded".into()))).await;
    assert_eq!(wrong.status, CheckStatus::Critical);
    assert!(
        wrong
            .summary
            .ends_with(r#"/status is "ok", not "degraded""#),
        "{wrong:?}"
    );
    let absent = look(json("/version", None)).await;
    assert_eq!(absent.status, CheckStatus::Critical);
    assert!(
        absent.summary.ends_with("no /version in the JSON"),
        "{absent:?}"
    );
    let html = look(Http {
        url: url(page.port),
        ..json("/status", None)
    })
    .await;
    assert_eq!(html.status, CheckStatus::Critical);
    assert!(html.summary.ends_with("body is not JSON"), "{html:?}");
}

#[tokio::test]
async fn a_slow_answer_is_a_warning_or_critical() {
    let slow = serve(Answer::text(200, "fine").after(Duration::from_millis(400))).await;
    let with = |warn, critical| Http {
        url: url(slow.port),
        warn_ms: Some(warn),
        critical_ms: Some(critical),
        ..Http::default()
    };
    let warned = look(with(100, 1_500)).await;
    assert_eq!(warned.status, CheckStatus::Warning, "{warned:?}");
    assert!(warned.summary.ends_with("slower than 100 ms"), "{warned:?}");
    let critical = look(with(100, 200)).await;
    assert_eq!(critical.status, CheckStatus::Critical, "{critical:?}");
    assert!(
        critical.summary.ends_with("slower than 200 ms"),
        "{critical:?}"
    );
    let patient = look(with(1_000, 1_500)).await;
    assert_eq!(patient.status, CheckStatus::Ok, "{patient:?}");
}

fn secure(port: u16, ca: &Ca) -> Http {
    Http {
        url: format!("https://127.0.0.1:{port}/"),
        cert_warn_days: Some(14),
        cert_critical_days: Some(3),
        ca_pem: Some(ca.pem()),
        ..Http::default()
    }
}

#[tokio::test]
async fn an_https_certificate_is_judged_by_its_expiry() {
    let ca = Ca::new("Test CA");
    let ok = Answer::text(200, "secure shop");
    let mut seen = Vec::new();
    for days in [90, 10, 2] {
        let peer = https(&ca.leaf(&["127.0.0.1"], Offset::In(days * DAY)), ok.clone()).await;
        seen.push(look(secure(peer.port, &ca)).await);
    }
    assert_eq!(
        seen.iter().map(|o| o.status).collect::<Vec<_>>(),
        [CheckStatus::Ok, CheckStatus::Warning, CheckStatus::Critical],
        "{seen:?}"
    );
    assert!(seen[0].summary.starts_with("HTTP 200 in "), "{seen:?}");
    assert!(
        seen[0]
            .summary
            .contains(", certificate for 127.0.0.1 expires in 90 days ("),
        "{seen:?}"
    );
    assert!(seen[1].summary.contains("expires in 10 days"), "{seen:?}");
    assert!(seen[2].summary.contains("expires in 2 days ("), "{seen:?}");
    // Without thresholds a valid certificate is not mentioned.
    let peer = https(&ca.leaf(&["127.0.0.1"], Offset::In(2 * DAY)), ok).await;
    let quiet = look(Http {
        cert_warn_days: None,
        cert_critical_days: None,
        ..secure(peer.port, &ca)
    })
    .await;
    assert_eq!(quiet.status, CheckStatus::Ok, "{quiet:?}");
    assert!(!quiet.summary.contains("certificate"), "{quiet:?}");
}

#[tokio::test]
async fn an_untrusted_https_certificate_is_critical_with_the_reason() {
    let ca = Ca::new("Test CA");
    let ok = Answer::text(200, "secure shop");
    let expired = https(&ca.leaf(&["127.0.0.1"], Offset::Ago(5 * DAY)), ok.clone()).await;
    let outcome = look(secure(expired.port, &ca)).await;
    assert_eq!(outcome.status, CheckStatus::Critical);
    assert!(
        outcome
            .summary
            .starts_with("certificate for 127.0.0.1 expired 5 days ago ("),
        "{outcome:?}"
    );
    let elsewhere = https(&ca.leaf(&["other.test"], Offset::In(90 * DAY)), ok.clone()).await;
    let outcome = look(secure(elsewhere.port, &ca)).await;
    assert_eq!(outcome.status, CheckStatus::Critical);
    assert_eq!(
        outcome.summary,
        "name mismatch: the certificate is not for 127.0.0.1"
    );
    let good = https(&ca.leaf(&["127.0.0.1"], Offset::In(90 * DAY)), ok).await;
    let stranger = Ca::new("Someone else's CA");
    let outcome = look(secure(good.port, &stranger)).await;
    assert_eq!(outcome.status, CheckStatus::Critical);
    assert!(outcome.summary.starts_with("unknown issuer"), "{outcome:?}");
    let outcome = look(Http {
        ca_pem: None,
        ..secure(good.port, &ca)
    })
    .await;
    assert!(outcome.summary.starts_with("unknown issuer"), "{outcome:?}");
}

#[test]
fn bad_settings_name_the_field() {
    let check = |p: Http| Probe::Http(p).check().unwrap_err();
    let base = || Http {
        url: "https://shop.test/".into(),
        ..Http::default()
    };
    assert!(
        check(Http {
            url: "ftp://x/".into(),
            ..base()
        })
        .starts_with("url must be http:// or https://")
    );
    assert!(
        check(Http {
            json_value: Some("ok".into()),
            ..base()
        })
        .starts_with("json_value needs json_pointer")
    );
    assert!(
        check(Http {
            json_pointer: Some("status".into()),
            ..base()
        })
        .starts_with("json_pointer is a JSON Pointer")
    );
    assert!(
        check(Http {
            warn_ms: Some(900),
            critical_ms: Some(100),
            ..base()
        })
        .starts_with("warn_ms (900) must be at most critical_ms")
    );
    assert!(
        check(Http {
            cert_warn_days: Some(3),
            cert_critical_days: Some(14),
            ..base()
        })
        .starts_with("cert_warn_days (3) must be at least cert_critical_days")
    );
    assert!(
        check(Http {
            url: "http://shop.test/".into(),
            cert_warn_days: Some(14),
            ..base()
        })
        .contains("are for https:// URLs")
    );
    assert!(
        check(Http {
            ca_pem: Some("not a certificate".into()),
            ..base()
        })
        .starts_with("ca_pem holds no certificate")
    );
    assert_eq!(Probe::Http(base()).check(), Ok(()));
}
