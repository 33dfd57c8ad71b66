//! The notifications page (administrators): channels with their secrets masked, adding one
//! (webhook, mail, Slack, Teams, ntfy, Telegram), deleting one, "Send test" with what
//! happened; and routes — which urgency, about which devices, reaches which channel.

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::{Map, Value};
use steward_core::alerting::CheckStatus;
use steward_proto::monitoring::{CreateChannel, CreateRoute};

use super::parse::number;
use super::targets::{self, Choices};
use super::{Tab, about_the_form, tabs};
use crate::auth::{ConsoleUser, ManageChannels};
use crate::console::format::sentence;
use crate::console::{Chrome, FormFields, refused, render};
use crate::error::AppResult;
use crate::monitoring::channels;
use crate::state::AppState;
use crate::web::csrf::CsrfForm;

const PAGE: &str = "/channels";

pub struct RouteRow {
    pub id: String,
    pub min_status: &'static str,
    pub devices: String,
}

/// A notification in the outbox, for the deliveries table.
pub struct DeliveryRow {
    pub created: String,
    pub created_exact: String,
    pub channel: String,
    pub title: String,
    pub state: String,
    pub attempts: i64,
    pub next: String,
    pub last_error: String,
}

/// How many recent deliveries the page lists.
const DELIVERIES_SHOWN: u32 = 30;

pub struct ChannelRow {
    pub id: String,
    pub name: String,
    pub kind: String,
    /// Where it sends, secrets masked.
    pub summary: String,
    pub declared: bool,
    pub routes: Vec<RouteRow>,
}

/// The channel form as typed. Secrets are never shown back.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ChannelForm {
    pub name: String,
    pub kind: String,
    /// Webhook, Slack, Teams, ntfy.
    pub url: String,
    /// Webhook: signs each request.
    pub secret: String,
    // Mail.
    pub host: String,
    pub port: String,
    pub security: String,
    pub username: String,
    pub password: String,
    pub from: String,
    /// Recipients, separated by commas or spaces.
    pub to: String,
    /// ntfy: an access token.
    pub token: String,
    // Telegram.
    pub bot_token: String,
    pub chat_id: String,
}

fn put(c: &mut Map<String, Value>, key: &str, text: &str) {
    let text = text.trim();
    if !text.is_empty() {
        c.insert(key.into(), text.into());
    }
}

impl ChannelForm {
    fn to_request(&self) -> Result<CreateChannel, String> {
        let kind = self.kind.trim();
        let mut c = Map::new();
        c.insert("kind".into(), kind.into());
        match kind {
            "webhook" | "slack" | "teams" | "ntfy" => {
                c.insert("url".into(), self.url.trim().into());
                match kind {
                    "webhook" => put(&mut c, "secret", &self.secret),
                    "ntfy" => put(&mut c, "token", &self.token),
                    _ => {}
                }
            }
            "email" => {
                c.insert("host".into(), self.host.trim().into());
                if let Some(port) = number::<u16>("port", &self.port)? {
                    c.insert("port".into(), port.into());
                }
                put(&mut c, "security", &self.security);
                put(&mut c, "username", &self.username);
                put(&mut c, "password", &self.password);
                c.insert("from".into(), self.from.trim().into());
                let to: Vec<Value> = self
                    .to
                    .split([',', ' ', '\n', ';'])
                    .map(str::trim)
                    .filter(|a| !a.is_empty())
                    .map(Value::from)
                    .collect();
                c.insert("to".into(), Value::Array(to));
            }
            "telegram" => {
                c.insert("bot_token".into(), self.bot_token.trim().into());
                c.insert("chat_id".into(), self.chat_id.trim().into());
            }
            "" => return Err("kind: choose a kind of channel".into()),
            other => return Err(format!("kind: {other:?} is not a kind of channel")),
        }
        Ok(CreateChannel {
            name: self.name.clone(),
            channel: Value::Object(c),
        })
    }

    /// The form to show again: the secrets typed are not echoed.
    fn without_secrets(mut self) -> (Self, bool) {
        let had = [&self.secret, &self.password, &self.token, &self.bot_token]
            .iter()
            .any(|s| !s.is_empty());
        self.secret.clear();
        self.password.clear();
        self.token.clear();
        self.bot_token.clear();
        (self, had)
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct RouteForm {
    pub channel_id: String,
    pub min_status: String,
    pub target: String,
    pub tag: String,
}

impl Default for RouteForm {
    fn default() -> Self {
        Self {
            channel_id: String::new(),
            min_status: "critical".into(),
            target: "all".into(),
            tag: String::new(),
        }
    }
}

/// What "Send test" did, shown at the top of the page.
#[derive(Default)]
pub struct TestOutcome {
    pub shown: bool,
    pub delivered: bool,
    pub message: String,
}

#[derive(Template)]
#[template(path = "channels.html")]
struct ChannelsPage {
    chrome: Chrome,
    tabs: Vec<Tab>,
    channels: Vec<ChannelRow>,
    kinds: Vec<(String, String)>,
    form: ChannelForm,
    route: RouteForm,
    choices: Choices,
    error: String,
    route_error: String,
    done: String,
    test: TestOutcome,
    deliveries: Vec<DeliveryRow>,
}

impl ChannelsPage {
    fn kind_label(kind: &str) -> &'static str {
        match kind {
            "webhook" => "Webhook",
            "email" => "Mail (SMTP)",
            "slack" => "Slack",
            "teams" => "Microsoft Teams",
            "ntfy" => "ntfy",
            "telegram" => "Telegram",
            _ => "Other",
        }
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct PageQuery {
    done: Option<String>,
}

pub async fn page(
    State(state): State<AppState>,
    user: ConsoleUser<ManageChannels>,
    q: Result<Query<PageQuery>, QueryRejection>,
) -> Response {
    let done = match q.ok().and_then(|Query(q)| q.done).as_deref() {
        Some("created") => "Channel added. Send it a test to see that it arrives.",
        Some("deleted") => "Channel deleted.",
        Some("route-created") => "Route added.",
        Some("route-deleted") => "Route deleted.",
        _ => "",
    };
    let page = build(&state, &user).await.map(|mut p| {
        p.done = done.into();
        p
    });
    show(page, StatusCode::OK)
}

fn show(page: AppResult<ChannelsPage>, status: StatusCode) -> Response {
    match page {
        Ok(p) => render(status, &p),
        Err(e) => e.into_response(),
    }
}

async fn build(state: &AppState, user: &ConsoleUser<ManageChannels>) -> AppResult<ChannelsPage> {
    let caller = user.caller(state);
    let listed = channels::list(state, &caller).await?;
    let mut choices = Choices::load(state, &caller).await?;
    for c in &listed {
        for r in &c.routes {
            choices.keep(&r.devices);
        }
    }
    let now = state.now();
    let deliveries = crate::monitoring::deliveries::recent(state, &caller, DELIVERIES_SHOWN)
        .await?
        .into_iter()
        .map(|d| DeliveryRow {
            created: crate::console::format::relative(d.created_at, now),
            created_exact: crate::console::format::utc(d.created_at),
            channel: if d.channel.is_empty() {
                "(deleted)".into()
            } else {
                d.channel
            },
            title: d.title,
            state: d.state,
            attempts: d.attempts,
            next: crate::console::format::relative(d.next_attempt_at, now),
            last_error: d.last_error,
        })
        .collect();
    let rows = listed
        .into_iter()
        .map(|c| ChannelRow {
            routes: c
                .routes
                .iter()
                .map(|r| RouteRow {
                    id: r.id.clone(),
                    min_status: r.min_status.as_str(),
                    devices: choices.describe(&r.devices),
                })
                .collect(),
            declared: c.source == crate::monitoring::FROM_CONFIG,
            kind: ChannelsPage::kind_label(&c.kind).to_string(),
            id: c.id,
            name: c.name,
            summary: c.summary,
        })
        .collect();
    Ok(ChannelsPage {
        chrome: Chrome::new(&user.0, "monitoring"),
        tabs: tabs(&user.0, PAGE),
        channels: rows,
        kinds: steward_notify::Channel::KINDS
            .iter()
            .map(|k| (k.to_string(), ChannelsPage::kind_label(k).to_string()))
            .collect(),
        form: ChannelForm {
            kind: "webhook".into(),
            security: "starttls".into(),
            ..ChannelForm::default()
        },
        route: RouteForm::default(),
        choices,
        error: String::new(),
        route_error: String::new(),
        done: String::new(),
        test: TestOutcome::default(),
        deliveries,
    })
}

pub async fn create(
    State(state): State<AppState>,
    user: ConsoleUser<ManageChannels>,
    CsrfForm(form): CsrfForm<ChannelForm>,
) -> Response {
    let (status, message) = match form.to_request() {
        Err(message) => (StatusCode::BAD_REQUEST, message),
        Ok(request) => match channels::create(&state, &user.caller(&state), &request).await {
            Ok(_) => return Redirect::to(&format!("{PAGE}?done=created")).into_response(),
            Err(e) => match about_the_form(&e) {
                Some(status) => (status, e.to_string()),
                None => return refused(&user.0, e, "Cannot add the channel", PAGE),
            },
        },
    };
    let (form, had_secrets) = form.without_secrets();
    let page = build(&state, &user).await.map(|mut p| {
        p.error = sentence(&message);
        if had_secrets {
            p.error
                .push_str(" Secrets are not shown again: enter them again.");
        }
        p.form = form;
        p
    });
    show(page, status)
}

pub async fn delete(
    State(state): State<AppState>,
    user: ConsoleUser<ManageChannels>,
    Path(id): Path<String>,
    CsrfForm(_): CsrfForm<FormFields>,
) -> Response {
    match channels::delete(&state, &user.caller(&state), &id).await {
        Ok(()) => Redirect::to(&format!("{PAGE}?done=deleted")).into_response(),
        Err(e) => refused(&user.0, e, "Cannot delete the channel", PAGE),
    }
}

/// Sends a test message now and shows the page with what happened.
pub async fn test(
    State(state): State<AppState>,
    user: ConsoleUser<ManageChannels>,
    Path(id): Path<String>,
    CsrfForm(_): CsrfForm<FormFields>,
) -> Response {
    let caller = user.caller(&state);
    let result = match channels::test(&state, &caller, &id).await {
        Ok(r) => r,
        Err(e) => return refused(&user.0, e, "Cannot send a test message", PAGE),
    };
    let page = build(&state, &user).await.map(|mut p| {
        let name = p
            .channels
            .iter()
            .find(|c| c.id == id)
            .map(|c| c.name.clone())
            .unwrap_or_default();
        p.test = TestOutcome {
            shown: true,
            delivered: result.delivered,
            message: match &result.error {
                None => format!("Test message delivered to “{name}”."),
                Some(error) => format!("The test message to “{name}” failed: {error}"),
            },
        };
        p
    });
    show(page, StatusCode::OK)
}

pub async fn create_route(
    State(state): State<AppState>,
    user: ConsoleUser<ManageChannels>,
    CsrfForm(form): CsrfForm<RouteForm>,
) -> Response {
    let request = CheckStatus::parse(form.min_status.trim())
        .ok_or_else(|| "urgency: warning, unknown or critical".to_string())
        .map(|min_status| CreateRoute {
            channel_id: form.channel_id.clone(),
            min_status,
            devices: targets::value(&form.target, &form.tag),
        });
    let (status, message) = match request {
        Err(message) => (StatusCode::BAD_REQUEST, message),
        Ok(request) => match channels::create_route(&state, &user.caller(&state), &request).await {
            Ok(_) => return Redirect::to(&format!("{PAGE}?done=route-created")).into_response(),
            Err(e) => match about_the_form(&e) {
                Some(status) => (status, e.to_string()),
                // An unknown channel is a mistake in the form here, not a missing page.
                None if crate::service::DomainError::refusal(&e)
                    == crate::service::Refusal::NotFound =>
                {
                    (StatusCode::BAD_REQUEST, e.to_string())
                }
                None => return refused(&user.0, e, "Cannot add the route", PAGE),
            },
        },
    };
    let page = build(&state, &user).await.map(|mut p| {
        p.route_error = sentence(&message);
        p.route = form;
        p
    });
    show(page, status)
}

pub async fn delete_route(
    State(state): State<AppState>,
    user: ConsoleUser<ManageChannels>,
    Path(id): Path<String>,
    CsrfForm(_): CsrfForm<FormFields>,
) -> Response {
    match channels::delete_route(&state, &user.caller(&state), &id).await {
        Ok(()) => Redirect::to(&format!("{PAGE}?done=route-deleted")).into_response(),
        Err(e) => refused(&user.0, e, "Cannot delete the route", PAGE),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::ChannelForm;

    #[test]
    fn channel_forms_become_channels() {
        let mail = ChannelForm {
            name: "ops mail".into(),
            kind: "email".into(),
            host: "smtp.example.com".into(),
            port: "587".into(),
            security: "starttls".into(),
            password: "hunter2".into(),
            from: "steward@example.com".into(),
            to: "a@example.com, b@example.com".into(),
            ..ChannelForm::default()
        };
        let request = mail.to_request().unwrap();
        assert_eq!(
            request.channel["to"],
            json!(["a@example.com", "b@example.com"])
        );
        assert_eq!(request.channel["port"], json!(587));
        let channel: steward_notify::Channel = serde_json::from_value(request.channel).unwrap();
        assert_eq!(channel.kind(), "email");
        let (shown, had) = mail.without_secrets();
        assert!(had && shown.password.is_empty());

        let hook = ChannelForm {
            kind: "webhook".into(),
            url: "http://127.0.0.1:9/hook".into(),
            ..ChannelForm::default()
        };
        assert_eq!(
            hook.to_request().unwrap().channel,
            json!({"kind": "webhook", "url": "http://127.0.0.1:9/hook"})
        );
        let bad = ChannelForm {
            kind: "pigeon".into(),
            ..ChannelForm::default()
        };
        assert!(bad.to_request().unwrap_err().starts_with("kind:"));
    }
}
