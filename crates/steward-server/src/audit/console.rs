//! The audit log in the console (administrators): newest first, filtered by action and
//! actor, with the CSV export of the same filter a click away.

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;

use crate::auth::{ConsoleUser, ViewAudit, urlencode};
use crate::console::format::{relative, utc};
use crate::console::views::{Pager, page_param};
use crate::console::{Chrome, render};
use crate::state::AppState;

const PER_PAGE: u32 = 50;

pub struct AuditRow {
    pub seq: i64,
    pub when: String,
    pub exact: String,
    pub actor: String,
    pub action: String,
    pub target: String,
    pub detail: String,
    pub source: String,
    /// Failures and refusals stand out.
    pub alarming: bool,
}

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    chrome: Chrome,
    rows: Vec<AuditRow>,
    action: String,
    actor: String,
    csv_href: String,
    pager: Pager,
}

#[derive(Deserialize, Default)]
pub struct AuditFilter {
    action: Option<String>,
    actor: Option<String>,
    page: Option<String>,
}

fn href(action: &str, actor: &str, page: u32) -> String {
    let mut h = format!("/audit?page={page}");
    if !action.is_empty() {
        h.push_str(&format!("&action={}", urlencode(action)));
    }
    if !actor.is_empty() {
        h.push_str(&format!("&actor={}", urlencode(actor)));
    }
    h
}

pub async fn page(
    State(state): State<AppState>,
    user: ConsoleUser<ViewAudit>,
    q: Result<Query<AuditFilter>, QueryRejection>,
) -> Response {
    let q = q.map(|Query(q)| q).unwrap_or_default();
    let action = q.action.unwrap_or_default().trim().to_string();
    let actor = q.actor.unwrap_or_default().trim().to_string();
    let page = page_param(q.page.as_deref());
    let offset = u64::from(page - 1) * u64::from(PER_PAGE);
    let (records, total) = match super::page(
        &state,
        &user.caller(&state),
        Some(action.as_str()),
        Some(actor.as_str()),
        offset,
        u64::from(PER_PAGE),
    )
    .await
    {
        Ok(r) => r,
        Err(e) => return crate::error::AppError::from(e).into_response(),
    };
    let now = state.now();
    let rows = records
        .into_iter()
        .map(|r| AuditRow {
            seq: r.seq,
            when: relative(r.facts.at, now),
            exact: utc(r.facts.at),
            alarming: r.facts.action.contains("failed")
                || r.facts.action.contains("denied")
                || r.facts.action.contains("throttled"),
            actor: r.facts.actor,
            action: r.facts.action,
            target: r.facts.target,
            detail: r.facts.detail,
            source: r.facts.source,
        })
        .collect();
    let csv_href = if action.is_empty() {
        "/api/v1/audit.csv".to_string()
    } else {
        format!("/api/v1/audit.csv?action={}", urlencode(&action))
    };
    render(
        StatusCode::OK,
        &AuditPage {
            chrome: Chrome::new(&user.0, "audit"),
            pager: Pager::new(page, PER_PAGE, total, |p| href(&action, &actor, p)),
            rows,
            csv_href,
            action,
            actor,
        },
    )
}
