//! Telegram: sendMessage to a local Bot API, and its refusals told without the token.

use steward_notify::{Channel, Secret, SendError, Telegram, send};

use crate::support::http::{closed_port, receiver};
use crate::{TIMEOUT, client, problem};

const TOKEN: &str = "123456:AAE-secret_token";

fn telegram(api_base: String) -> Channel {
    Channel::Telegram(Telegram {
        bot_token: Secret::from(TOKEN),
        chat_id: "-1001234567890".into(),
        api_base,
    })
}

#[tokio::test]
async fn telegram_gets_send_message_with_the_chat_and_the_text() {
    let mut api = receiver(200, r#"{"ok":true,"result":{"message_id":1}}"#).await;
    let message = problem();
    send(&telegram(api.base.clone()), &message, &client(), TIMEOUT)
        .await
        .unwrap();
    let got = api.next().await;
    assert_eq!(got.method, "POST");
    assert_eq!(got.path, format!("/bot{TOKEN}/sendMessage"));
    assert_eq!(got.header("content-type"), "application/json");
    let json = got.json();
    assert_eq!(json["chat_id"], "-1001234567890");
    assert_eq!(json["text"], message.text());
    assert_eq!(json["disable_web_page_preview"], true);
    assert!(json.get("parse_mode").is_none());
}

#[tokio::test]
async fn a_refusal_gives_telegrams_reason_and_never_the_token() {
    let api = receiver(
        400,
        r#"{"ok":false,"error_code":400,"description":"Bad Request: chat not found"}"#,
    )
    .await;
    let err = send(&telegram(api.base.clone()), &problem(), &client(), TIMEOUT)
        .await
        .unwrap_err();
    assert_eq!(
        err,
        SendError::Refused("the receiver answered HTTP 400: Bad Request: chat not found".into())
    );
    // An answer that is not the Bot API's (a proxy's page) is not shown at all.
    let proxy = receiver(
        502,
        "<html>bad gateway for /bot123456:AAE-secret_token</html>",
    )
    .await;
    let err = send(
        &telegram(proxy.base.clone()),
        &problem(),
        &client(),
        TIMEOUT,
    )
    .await
    .unwrap_err();
    assert_eq!(
        err,
        SendError::Refused("the receiver answered HTTP 502: not a Bot API answer".into())
    );
    // 200 without "ok": true is not delivered.
    let odd = receiver(
        200,
        r#"{"ok":false,"description":"Forbidden: bot was blocked"}"#,
    )
    .await;
    let err = send(&telegram(odd.base.clone()), &problem(), &client(), TIMEOUT)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("bot was blocked"), "{err}");

    let port = closed_port().await;
    let err = send(
        &telegram(format!("http://127.0.0.1:{port}")),
        &problem(),
        &client(),
        TIMEOUT,
    )
    .await
    .unwrap_err();
    let text = err.to_string();
    assert!(text.starts_with("cannot connect"), "{text}");
    assert!(
        !text.contains("secret_token") && !text.contains("123456"),
        "{text}"
    );
}
