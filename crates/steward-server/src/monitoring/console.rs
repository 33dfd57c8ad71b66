//! Alerts in the console: the alerts page (open worst first, with runbook and
//! acknowledgement; recently resolved) and the dashboard's "what is wrong now".

use askama::Template;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use steward_core::Action;
use steward_proto::monitoring::{AlertInfo, AlertQuery};

use crate::auth::{ConsoleUser, ManageMonitoring};
use crate::console::format::{relative, utc};
use crate::console::{Chrome, refused, render};
use crate::state::AppState;
use crate::web::csrf::CsrfForm;

/// An alert as a row.
pub struct AlertRow {
    pub status: &'static str,
    pub flapping: bool,
    pub check_id: String,
    pub check: String,
    /// The stored subject (a device id, `''` or `manual:ITEM`), for the acknowledgement.
    pub subject: String,
    pub about: About,
    pub since: String,
    pub since_exact: String,
    pub summary: String,
    /// The runbook as sanitised HTML (`console::markdown`), empty when there is none.
    pub runbook_html: String,
    pub acknowledged_by: String,
    pub acknowledged_comment: String,
}

/// What an alert is about, as a cell: a device (linked to its page), the organisation's
/// checklist item (linked to it in the posture report), or a network monitor.
pub struct About {
    pub label: String,
    /// Empty when there is nothing to link to.
    pub href: String,
}

impl About {
    pub fn of(subject: &str, device_name: Option<&str>) -> About {
        if subject.is_empty() {
            return About {
                label: "network".into(),
                href: String::new(),
            };
        }
        if let Some(item) = steward_core::posture::manual::item_of_subject(subject) {
            return About {
                label: steward_posture::manual::item(item)
                    .map_or_else(|| item.to_string(), |i| i.title.to_string()),
                href: format!("/posture#item-{item}"),
            };
        }
        About {
            label: device_name.unwrap_or(subject).to_string(),
            href: format!("/devices/{subject}"),
        }
    }
}

pub fn row(a: &AlertInfo, now: steward_core::Timestamp) -> AlertRow {
    AlertRow {
        status: a.status.as_str(),
        flapping: a.flapping,
        check_id: a.check_id.clone(),
        check: a.check.clone(),
        subject: a.subject.clone(),
        about: About::of(&a.subject, a.device.as_deref()),
        since: relative(a.since, now),
        since_exact: utc(a.since),
        summary: a.summary.clone(),
        runbook_html: crate::console::markdown::to_html(&a.runbook),
        acknowledged_by: a
            .acknowledged
            .as_ref()
            .map(|k| crate::console::format::actor(&k.by))
            .unwrap_or_default(),
        acknowledged_comment: a
            .acknowledged
            .as_ref()
            .map(|k| k.comment.clone())
            .unwrap_or_default(),
    }
}

pub struct ResolvedRow {
    pub check: String,
    pub about: About,
    pub was: &'static str,
    pub at: String,
    pub at_exact: String,
}

#[derive(Template)]
#[template(path = "alerts.html")]
struct AlertsPage {
    chrome: Chrome,
    open: Vec<AlertRow>,
    resolved: Vec<ResolvedRow>,
    resolved_hours: u32,
    status: String,
    acknowledged: String,
    can_acknowledge: bool,
}

#[derive(Debug, Default, Deserialize)]
pub struct Filters {
    #[serde(default)]
    status: String,
    #[serde(default)]
    acknowledged: String,
}

pub async fn page(
    State(state): State<AppState>,
    user: ConsoleUser,
    Query(filters): Query<Filters>,
) -> Response {
    let caller = user.caller(&state);
    let query = AlertQuery {
        status: Some(filters.status.clone()).filter(|s| !s.is_empty()),
        acknowledged: match filters.acknowledged.as_str() {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        },
        device: None,
        resolved_hours: Some(24),
    };
    let view = match super::alerts::view(&state, &caller, &query).await {
        Ok(v) => v,
        Err(e) => return crate::error::AppError::from(e).into_response(),
    };
    let now = caller.now;
    render(
        StatusCode::OK,
        &AlertsPage {
            chrome: Chrome::new(&user.0, "alerts"),
            open: view.open.iter().map(|a| row(a, now)).collect(),
            resolved: view
                .resolved
                .iter()
                .map(|r| ResolvedRow {
                    check: r.check.clone(),
                    about: About::of(&r.subject, r.device.as_deref()),
                    was: r.was.as_str(),
                    at: relative(r.at, now),
                    at_exact: utc(r.at),
                })
                .collect(),
            resolved_hours: 24,
            status: filters.status,
            acknowledged: filters.acknowledged,
            can_acknowledge: user.0.may(Action::ManageMonitoring),
        },
    )
}

#[derive(Deserialize)]
pub struct AckForm {
    #[serde(default)]
    check_id: String,
    #[serde(default)]
    subject: String,
    #[serde(default)]
    comment: String,
}

pub async fn acknowledge(
    State(state): State<AppState>,
    user: ConsoleUser<ManageMonitoring>,
    CsrfForm(form): CsrfForm<AckForm>,
) -> Response {
    match super::alerts::acknowledge(
        &state,
        &user.caller(&state),
        &form.check_id,
        &form.subject,
        &form.comment,
    )
    .await
    {
        Ok(()) => Redirect::to("/alerts").into_response(),
        Err(e) => refused(&user.0, e, "Cannot acknowledge the alert", "/alerts"),
    }
}
