use std::time::Duration;

use steward_core::alerting::CheckStatus;
use steward_probes::{Outcome, Probe, Tls, run};

use crate::peers::{Answer, Ca, DAY, Offset, Peer, client, https};

async fn look(probe: Tls) -> Outcome {
    run(&Probe::Tls(probe), &client(), Duration::from_secs(2)).await
}

/// A probe by address for the name `shop.test`, trusting `ca`.
fn shop(peer: &Peer, ca: &Ca) -> Tls {
    Tls {
        host: "127.0.0.1".into(),
        port: peer.port,
        server_name: Some("shop.test".into()),
        ca_pem: Some(ca.pem()),
        ..Tls::default()
    }
}

async fn serving(ca: &Ca, names: &[&str], expires: Offset) -> Peer {
    https(&ca.leaf(names, expires), Answer::text(200, "")).await
}

#[tokio::test]
async fn expiry_within_the_thresholds_is_a_warning_or_critical() {
    let ca = Ca::new("Test CA");
    let mut seen = Vec::new();
    for days in [90, 10, 2] {
        let peer = serving(&ca, &["shop.test"], Offset::In(days * DAY)).await;
        seen.push(look(shop(&peer, &ca)).await);
    }
    assert_eq!(
        seen.iter().map(|o| o.status).collect::<Vec<_>>(),
        [CheckStatus::Ok, CheckStatus::Warning, CheckStatus::Critical],
        "{seen:?}"
    );
    // "certificate for shop.test expires in 90 days (2027-02-25)"
    let summary = &seen[0].summary;
    let date = summary
        .strip_prefix("certificate for shop.test expires in 90 days (")
        .and_then(|rest| rest.strip_suffix(')'))
        .unwrap_or_else(|| panic!("{summary}"));
    assert!(
        date.len() == 10 && date.as_bytes()[4] == b'-' && date.as_bytes()[7] == b'-',
        "{summary}"
    );
    assert!(seen[1].summary.contains("expires in 10 days"), "{seen:?}");
    // The thresholds are the probe's: with a warning at 7 days, 10 days left is fine.
    let peer = serving(&ca, &["shop.test"], Offset::In(10 * DAY)).await;
    let relaxed = look(Tls {
        warn_days: 7,
        critical_days: 1,
        ..shop(&peer, &ca)
    })
    .await;
    assert_eq!(relaxed.status, CheckStatus::Ok, "{relaxed:?}");
}

#[tokio::test]
async fn an_invalid_certificate_is_critical_with_the_reason() {
    let ca = Ca::new("Test CA");
    let expired = serving(&ca, &["shop.test"], Offset::Ago(3 * DAY)).await;
    let outcome = look(shop(&expired, &ca)).await;
    assert_eq!(outcome.status, CheckStatus::Critical);
    assert!(
        outcome
            .summary
            .starts_with("certificate for shop.test expired 3 days ago ("),
        "{outcome:?}"
    );
    let other = serving(&ca, &["other.test"], Offset::In(90 * DAY)).await;
    let outcome = look(shop(&other, &ca)).await;
    assert_eq!(outcome.status, CheckStatus::Critical);
    assert_eq!(
        outcome.summary,
        "name mismatch: the certificate is not for shop.test"
    );
    let good = serving(&ca, &["shop.test"], Offset::In(90 * DAY)).await;
    let outcome = look(Tls {
        ca_pem: None,
        ..shop(&good, &ca)
    })
    .await;
    assert_eq!(outcome.status, CheckStatus::Critical);
    assert!(
        outcome
            .summary
            .starts_with("unknown issuer: the certificate for shop.test is not signed"),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn a_port_without_tls_or_without_a_listener_is_critical() {
    let plain = crate::peers::http(Answer::text(200, "not TLS")).await;
    let outcome = look(Tls {
        host: "127.0.0.1".into(),
        port: plain.port,
        ..Tls::default()
    })
    .await;
    assert_eq!(outcome.status, CheckStatus::Critical);
    assert!(outcome.summary.contains("TLS handshake"), "{outcome:?}");
    let closed = {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        l.local_addr().unwrap().port()
    };
    let outcome = look(Tls {
        host: "127.0.0.1".into(),
        port: closed,
        ..Tls::default()
    })
    .await;
    assert_eq!(outcome.status, CheckStatus::Critical);
    assert!(outcome.summary.starts_with("cannot connect"), "{outcome:?}");
}

#[test]
fn bad_settings_name_the_field() {
    let check = |p: Tls| Probe::Tls(p).check().unwrap_err();
    let base = || Tls {
        host: "shop.test".into(),
        ..Tls::default()
    };
    assert_eq!(
        check(Tls {
            warn_days: 2,
            critical_days: 5,
            ..base()
        }),
        "warn_days (2) must be at least critical_days (5)"
    );
    assert!(
        check(Tls {
            server_name: Some("not a name!".into()),
            ..base()
        })
        .starts_with("server_name must be a DNS name")
    );
    assert_eq!(check(Tls { port: 0, ..base() }), "port is 1 to 65535");
    assert!(
        check(Tls {
            ca_pem: Some(
                "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n".into()
            ),
            ..base()
        })
        .starts_with("ca_pem")
    );
    assert_eq!(Probe::Tls(base()).check(), Ok(()));
}
