//! Mail through a real SMTP exchange: STARTTLS and implicit TLS with a certificate from the
//! relay's own CA (trusted through `ca_cert`), authentication, and the server saying no.

use steward_notify::{Channel, Email, Secret, Security, SendError, send};

use crate::support::smtp::{self, Options};
use crate::{TIMEOUT, client, problem};

fn account() -> Option<(String, String)> {
    Some(("alerts".into(), "relay-pass".into()))
}

fn email(port: u16, security: Security, ca_pem: &str, password: &str) -> Channel {
    Channel::Email(Email {
        host: "127.0.0.1".into(),
        port: Some(port),
        security,
        username: Some("alerts".into()),
        password: Some(Secret::from(password)),
        from: "Steward <steward@example.com>".into(),
        to: vec!["ops@example.com".into(), "Ann <ann@example.com>".into()],
        ca_cert: Some(ca_pem.into()),
    })
}

async fn delivered_over(implicit_tls: bool, security: Security) {
    let mut server = smtp::start(Options {
        implicit_tls,
        account: account(),
        refuse_data_with: None,
    })
    .await;
    let channel = email(server.port, security, &server.ca_pem, "relay-pass");
    let message = problem();
    send(&channel, &message, &client(), TIMEOUT).await.unwrap();
    let mail = tokio::time::timeout(TIMEOUT, server.mails.recv())
        .await
        .unwrap()
        .unwrap();
    assert!(mail.over_tls);
    assert_eq!(mail.user.as_deref(), Some("alerts"));
    assert_eq!(mail.from, "steward@example.com");
    assert_eq!(mail.to, ["ops@example.com", "ann@example.com"]);
    let (headers, body) = mail.data.split_once("\n\n").unwrap();
    assert!(
        headers.contains("Subject: CRITICAL: shop-website on web-1\n"),
        "{headers}"
    );
    assert!(
        headers.contains("From: Steward <steward@example.com>\n"),
        "{headers}"
    );
    assert!(
        headers.contains("To: ops@example.com, Ann <ann@example.com>\n"),
        "{headers}"
    );
    assert!(
        headers.contains("Content-Type: text/plain; charset=utf-8\n"),
        "{headers}"
    );
    assert!(
        body.contains("Summary: HTTP 503 <Service Unavailable> & slow"),
        "{body}"
    );
    assert!(body.contains("systemctl restart nginx"), "{body}");
}

#[tokio::test]
async fn mail_is_delivered_over_starttls() {
    delivered_over(false, Security::Starttls).await;
}

#[tokio::test]
async fn mail_is_delivered_over_implicit_tls() {
    delivered_over(true, Security::Tls).await;
}

#[tokio::test]
async fn a_wrong_password_is_refused_with_the_servers_reply_and_not_the_password() {
    let mut server = smtp::start(Options {
        implicit_tls: false,
        account: account(),
        refuse_data_with: None,
    })
    .await;
    let channel = email(
        server.port,
        Security::Starttls,
        &server.ca_pem,
        "wrong-pass",
    );
    let err = send(&channel, &problem(), &client(), TIMEOUT)
        .await
        .unwrap_err();
    let SendError::Refused(text) = &err else {
        panic!("{err:?}")
    };
    assert!(text.contains("535"), "{text}");
    assert!(
        text.contains("authentication credentials invalid"),
        "{text}"
    );
    assert!(!text.contains("wrong-pass"), "{text}");
    assert!(server.mails.try_recv().is_err());
}

#[tokio::test]
async fn a_5xx_reply_to_the_mail_is_a_refusal() {
    let mut server = smtp::start(Options {
        implicit_tls: true,
        account: account(),
        refuse_data_with: Some("554 5.7.1 message rejected as spam".into()),
    })
    .await;
    let channel = email(server.port, Security::Tls, &server.ca_pem, "relay-pass");
    let err = send(&channel, &problem(), &client(), TIMEOUT)
        .await
        .unwrap_err();
    let SendError::Refused(text) = &err else {
        panic!("{err:?}")
    };
    assert!(
        text.contains("554") && text.contains("rejected as spam"),
        "{text}"
    );
    assert!(server.mails.try_recv().is_err());
}

#[tokio::test]
async fn a_certificate_from_an_untrusted_ca_is_refused() {
    let server = smtp::start(Options {
        implicit_tls: true,
        account: account(),
        refuse_data_with: None,
    })
    .await;
    let Channel::Email(mut settings) =
        email(server.port, Security::Tls, &server.ca_pem, "relay-pass")
    else {
        unreachable!()
    };
    settings.ca_cert = None;
    let err = send(
        &Channel::Email(settings.clone()),
        &problem(),
        &client(),
        TIMEOUT,
    )
    .await
    .unwrap_err();
    let SendError::Unreachable(text) = &err else {
        panic!("{err:?}")
    };
    assert!(text.to_lowercase().contains("certificate"), "{text}");
    // Another relay's CA is no better.
    let other = smtp::start(Options {
        implicit_tls: true,
        account: None,
        refuse_data_with: None,
    })
    .await;
    settings.ca_cert = Some(other.ca_pem.clone());
    assert!(matches!(
        send(&Channel::Email(settings), &problem(), &client(), TIMEOUT).await,
        Err(SendError::Unreachable(_))
    ));
}
