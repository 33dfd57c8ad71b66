//! The channels' settings: what is stored, what is refused (naming the field), and what
//! the console may show.

use super::*;

fn webhook(url: &str) -> Channel {
    Channel::Webhook(Webhook {
        url: url.into(),
        secret: None,
    })
}

fn email() -> Email {
    Email {
        host: "smtp.example.com".into(),
        port: None,
        security: Security::Starttls,
        username: Some("alerts".into()),
        password: Some(Secret::from("mail-pass")),
        from: "Steward <steward@example.com>".into(),
        to: vec!["ops@example.com".into(), "Ann <ann@example.com>".into()],
        ca_cert: None,
    }
}

fn telegram() -> Telegram {
    Telegram {
        bot_token: Secret::from("123456:ABC-def_ghi"),
        chat_id: "-1001234567890".into(),
        api_base: telegram::DEFAULT_API_BASE.into(),
    }
}

fn field(channel: Channel) -> &'static str {
    channel.check().unwrap_err().field
}

#[test]
fn every_kind_is_stored_with_its_kind_and_read_back() {
    let channels = [
        Channel::Webhook(Webhook {
            url: "https://hooks.example/x".into(),
            secret: Some(Secret::from("k")),
        }),
        Channel::Email(email()),
        Channel::Slack(Slack {
            url: "https://hooks.slack.com/services/T/B/X".into(),
        }),
        Channel::Teams(Teams {
            url: "https://prod.example.logic.azure.com/workflows/1?sig=abc".into(),
        }),
        Channel::Ntfy(Ntfy {
            url: "https://ntfy.sh/steward-alerts".into(),
            token: None,
        }),
        Channel::Telegram(telegram()),
    ];
    for (channel, kind) in channels.iter().zip(Channel::KINDS) {
        assert_eq!(channel.kind(), kind);
        let json = serde_json::to_value(channel).unwrap();
        assert_eq!(json["kind"], kind, "{json}");
        let back: Channel = serde_json::from_value(json).unwrap();
        assert_eq!(&back, channel);
        channel.check().unwrap();
    }
    // Defaults fill what may be left out.
    let t: Channel =
        serde_json::from_str(r#"{"kind":"telegram","bot_token":"1:a","chat_id":"@ops"}"#).unwrap();
    let Channel::Telegram(t) = t else { panic!() };
    assert_eq!(t.api_base, "https://api.telegram.org");
    let e: Email =
        serde_json::from_str(r#"{"host":"h","security":"tls","from":"a@b.c","to":["d@e.f"]}"#)
            .unwrap();
    assert_eq!(e.port(), 465);
    // Unknown fields are refused, not ignored.
    assert!(
        serde_json::from_str::<Channel>(r#"{"kind":"slack","url":"u","channel":"x"}"#).is_err()
    );
    assert!(serde_json::from_str::<Channel>(r#"{"kind":"pager","url":"u"}"#).is_err());
}

#[test]
fn bad_settings_are_refused_naming_the_field() {
    assert_eq!(field(webhook("ftp://x/")), "url");
    assert_eq!(field(webhook("/relative")), "url");
    assert_eq!(field(webhook("https://user:pw@example.com/")), "url");
    let err = webhook("ftp://x/").check().unwrap_err().to_string();
    assert_eq!(err, "url: must be http:// or https://, not ftp://");
    assert_eq!(
        field(Channel::Webhook(Webhook {
            url: "https://x/".into(),
            secret: Some(Secret::from(""))
        })),
        "secret"
    );

    let mut e = email();
    e.port = Some(0);
    assert_eq!(
        Channel::Email(e).check().unwrap_err().to_string(),
        "port: is 1 to 65535, not 0"
    );
    let mut e = email();
    e.to.clear();
    assert_eq!(
        Channel::Email(e).check().unwrap_err().to_string(),
        "to: lists no recipient"
    );
    let mut e = email();
    e.to.push("not an address".into());
    let err = Channel::Email(e).check().unwrap_err().to_string();
    assert!(
        err.starts_with("to: recipient 3 is not a mail address"),
        "{err}"
    );
    let mut e = email();
    e.from = "nobody".into();
    assert_eq!(field(Channel::Email(e)), "from");
    let mut e = email();
    e.password = None;
    assert_eq!(field(Channel::Email(e)), "password");
    let mut e = email();
    e.username = None;
    assert_eq!(field(Channel::Email(e)), "username");
    let mut e = email();
    e.ca_cert =
        Some("-----BEGIN CERTIFICATE-----\nnot base64!\n-----END CERTIFICATE-----\n".into());
    assert_eq!(field(Channel::Email(e)), "ca_cert");
    // Plain SMTP only to this machine.
    let mut e = email();
    e.security = Security::None;
    let err = Channel::Email(e.clone()).check().unwrap_err().to_string();
    assert!(
        err.starts_with("security: \"none\" sends mail and password in the clear"),
        "{err}"
    );
    for local in ["localhost", "127.0.0.1", "::1", "[::1]"] {
        e.host = local.into();
        Channel::Email(e.clone()).check().unwrap();
    }

    assert_eq!(
        field(Channel::Ntfy(Ntfy {
            url: "https://ntfy.sh/".into(),
            token: None
        })),
        "url"
    );
    assert_eq!(
        field(Channel::Ntfy(Ntfy {
            url: "https://ntfy.sh/t".into(),
            token: Some(Secret::from("tk with space"))
        })),
        "token"
    );
    let mut t = telegram();
    t.bot_token = Secret::from("123456:ABC/../../x");
    assert_eq!(field(Channel::Telegram(t)), "bot_token");
    let mut t = telegram();
    t.chat_id = "ops team".into();
    assert_eq!(field(Channel::Telegram(t)), "chat_id");
    let mut t = telegram();
    t.api_base = "telegram".into();
    assert_eq!(field(Channel::Telegram(t)), "api_base");
}

#[test]
fn the_console_view_masks_every_secret() {
    let shown = |c: &Channel| {
        c.redacted()
            .into_iter()
            .map(|s| format!("{}={}", s.field, s.value))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        shown(&Channel::Webhook(Webhook {
            url: "https://hooks.example/in?token=abc".into(),
            secret: Some(Secret::from("hmac-key")),
        })),
        ["url=https://hooks.example/in?…", "secret=********"]
    );
    assert_eq!(
        shown(&Channel::Email(email())),
        [
            "host=smtp.example.com",
            "port=587",
            "security=starttls",
            "username=alerts",
            "password=********",
            "from=Steward <steward@example.com>",
            "to=ops@example.com, Ann <ann@example.com>",
        ]
    );
    assert_eq!(
        shown(&Channel::Slack(Slack {
            url: "https://hooks.slack.com/services/T/B/X".into()
        })),
        ["url=https://hooks.slack.com/…"]
    );
    assert_eq!(
        shown(&Channel::Ntfy(Ntfy {
            url: "https://ntfy.sh/secret-topic".into(),
            token: Some(Secret::from("tk_1"))
        })),
        ["url=https://ntfy.sh/…", "token=********"]
    );
    assert_eq!(
        shown(&Channel::Telegram(telegram())),
        [
            "bot_token=********",
            "chat_id=-1001234567890",
            "api_base=https://api.telegram.org"
        ]
    );
    // Nor does a channel printed by mistake show its secrets.
    let debug = format!("{:?}", Channel::Telegram(telegram()));
    assert!(!debug.contains("ABC-def_ghi"), "{debug}");
}

#[test]
fn errors_are_scrubbed_of_secrets() {
    let scrubbed = scrub(
        SendError::Refused("HTTP 404: no route /bot123456:ABC-def_ghi/sendMessage".into()),
        &["123456:ABC-def_ghi".to_string()],
    );
    assert_eq!(
        scrubbed,
        SendError::Refused("HTTP 404: no route /bot********/sendMessage".into())
    );
}
