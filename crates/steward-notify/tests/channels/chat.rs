//! Slack, Teams and ntfy: the exact request each receives.

use steward_notify::{Channel, Ntfy, Secret, SendError, Slack, Teams, send};

use crate::support::http::receiver;
use crate::{TIMEOUT, client, problem, recovery};

#[tokio::test]
async fn slack_gets_text_and_an_attachment_coloured_by_status() {
    let mut slack = receiver(200, "ok").await;
    let channel = Channel::Slack(Slack {
        url: format!("{}/services/T0/B0/XXXX", slack.base),
    });
    send(&channel, &problem(), &client(), TIMEOUT)
        .await
        .unwrap();
    let got = slack.next().await;
    assert_eq!(got.method, "POST");
    assert_eq!(got.path, "/services/T0/B0/XXXX");
    assert_eq!(got.header("content-type"), "application/json");
    let json = got.json();
    assert_eq!(json["text"], "CRITICAL: shop-website on web-1");
    let attachments = json["attachments"].as_array().unwrap();
    assert_eq!(attachments.len(), 1);
    let a = &attachments[0];
    assert_eq!(a["color"], "#d32f2f");
    assert_eq!(a["title"], "CRITICAL: shop-website on web-1");
    assert_eq!(a["title_link"], "https://steward.example/alerts/7");
    assert_eq!(a["fallback"], "CRITICAL: shop-website on web-1");
    assert_eq!(a["ts"], 1_795_000_000);
    // Slack's escaping of <, > and &.
    assert_eq!(
        a["text"],
        "*Status:* critical (was ok)\n*Summary:* HTTP 503 &lt;Service Unavailable&gt; &amp; slow\n\
         *Runbook:*\nRestart the shop:\n\n    systemctl restart nginx"
    );

    send(&channel, &recovery(), &client(), TIMEOUT)
        .await
        .unwrap();
    assert_eq!(
        slack.next().await.json()["attachments"][0]["color"],
        "#2e7d32"
    );
}

#[tokio::test]
async fn slack_refusing_says_why_without_the_webhook_url() {
    // A receiver whose error page repeats the path it was asked for (the secret part).
    let slack = receiver(404, "no_service: /services/T0/B0/XXXX").await;
    let channel = Channel::Slack(Slack {
        url: format!("{}/services/T0/B0/XXXX", slack.base),
    });
    let err = send(&channel, &problem(), &client(), TIMEOUT)
        .await
        .unwrap_err();
    let SendError::Refused(text) = err else {
        panic!()
    };
    assert!(
        text.starts_with("the receiver answered HTTP 404: no_service"),
        "{text}"
    );
    assert!(!text.contains("XXXX"), "{text}");
}

#[tokio::test]
async fn teams_gets_an_adaptive_card_in_a_message_envelope() {
    let mut teams = receiver(202, "").await;
    let channel = Channel::Teams(Teams {
        url: format!(
            "{}/workflows/abc/triggers/manual/paths/invoke?sig=s1g",
            teams.base
        ),
    });
    send(&channel, &problem(), &client(), TIMEOUT)
        .await
        .unwrap();
    let got = teams.next().await;
    assert_eq!(
        got.path,
        "/workflows/abc/triggers/manual/paths/invoke?sig=s1g"
    );
    let json = got.json();
    assert_eq!(json["type"], "message");
    let attachment = &json["attachments"][0];
    assert_eq!(
        attachment["contentType"],
        "application/vnd.microsoft.card.adaptive"
    );
    assert_eq!(attachment["contentUrl"], serde_json::Value::Null);
    let card = &attachment["content"];
    assert_eq!(card["type"], "AdaptiveCard");
    assert_eq!(card["version"], "1.4");
    assert_eq!(card["body"][0]["type"], "TextBlock");
    assert_eq!(card["body"][0]["text"], "CRITICAL: shop-website on web-1");
    assert_eq!(card["body"][0]["color"], "attention");
    assert_eq!(card["body"][1]["type"], "FactSet");
    assert_eq!(card["body"][1]["facts"][0]["title"], "Status");
    assert_eq!(card["body"][1]["facts"][0]["value"], "critical (was ok)");
    assert_eq!(
        card["body"][1]["facts"][2]["value"],
        "HTTP 503 <Service Unavailable> & slow"
    );
    assert_eq!(
        card["body"][2]["text"],
        "Restart the shop:\n\n    systemctl restart nginx"
    );
    assert_eq!(card["actions"][0]["type"], "Action.OpenUrl");
    assert_eq!(
        card["actions"][0]["url"],
        "https://steward.example/alerts/7"
    );
}

#[tokio::test]
async fn ntfy_gets_the_text_with_title_priority_tags_and_token() {
    let mut ntfy = receiver(200, r#"{"id":"x1","event":"message"}"#).await;
    let channel = Channel::Ntfy(Ntfy {
        url: format!("{}/steward-alerts", ntfy.base),
        token: Some(Secret::from("tk_abcdef")),
    });
    let message = problem();
    send(&channel, &message, &client(), TIMEOUT).await.unwrap();
    let got = ntfy.next().await;
    assert_eq!(got.method, "POST");
    assert_eq!(got.path, "/steward-alerts");
    assert_eq!(got.header("x-title"), "CRITICAL: shop-website on web-1");
    assert_eq!(got.header("x-priority"), "5");
    assert_eq!(got.header("x-tags"), "steward,rotating_light");
    assert_eq!(got.header("x-click"), "https://steward.example/alerts/7");
    assert_eq!(got.header("authorization"), "Bearer tk_abcdef");
    assert_eq!(got.text(), message.text());

    let mut warning = problem();
    warning.alerts[0].status = steward_notify::CheckStatus::Warning;
    warning.alerts[0].check = "disque plein ⚠".into();
    send(&channel, &warning, &client(), TIMEOUT).await.unwrap();
    let got = ntfy.next().await;
    assert_eq!(got.header("x-priority"), "4");
    assert_eq!(got.header("x-tags"), "steward,warning");
    // Not ASCII: an RFC 2047 encoded word, which ntfy decodes.
    assert_eq!(
        got.header("x-title"),
        "=?UTF-8?B?V0FSTklORzogZGlzcXVlIHBsZWluIOKaoCBvbiB3ZWItMQ==?="
    );

    send(&channel, &recovery(), &client(), TIMEOUT)
        .await
        .unwrap();
    let got = ntfy.next().await;
    assert_eq!(got.header("x-priority"), "3");
    assert_eq!(got.header("x-tags"), "steward,white_check_mark");
}
