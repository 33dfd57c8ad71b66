//! Every channel against a real peer on loopback: HTTP receivers (axum) checking the exact
//! request each kind makes, and an SMTP server receiving mail over STARTTLS and implicit TLS.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod chat;
mod email;
mod support;
mod telegram;
mod webhook;

use std::time::Duration;

use steward_notify::{Alert, CheckStatus, Event, Message};

pub const TIMEOUT: Duration = Duration::from_secs(5);

pub fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    steward_notify::client().unwrap()
}

/// A critical problem with a runbook and a console link.
pub fn problem() -> Message {
    Message::one(Alert {
        event: Event::Problem,
        check: "shop-website".into(),
        subject: Some("web-1".into()),
        status: CheckStatus::Critical,
        previous: Some(CheckStatus::Ok),
        summary: "HTTP 503 <Service Unavailable> & slow".into(),
        at: 1_795_000_000_000,
        runbook: "Restart the shop:\n\n    systemctl restart nginx".into(),
        link: Some("https://steward.example/alerts/7".into()),
    })
}

pub fn recovery() -> Message {
    let mut m = problem();
    m.alerts[0].event = Event::Recovery;
    m.alerts[0].status = CheckStatus::Ok;
    m.alerts[0].previous = Some(CheckStatus::Critical);
    m
}
