//! `/backups/policies`: the backup policies the user can see, and (for those who manage
//! backups) the form to add one, edit one (`/backups/policies/{id}`, the same form
//! prefilled) or delete one. Policies declared in the configuration file are listed but
//! changed only there. Every change goes to the policies service (`backup::policies`), which
//! validates, limits to the caller's scope and audits; a refused form comes back as typed
//! with the reason above it, as monitoring's forms do.

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use steward_core::Action;

use super::policy_form::{self, KEEP_FIELDS, PolicyForm};
use crate::auth::{ConsoleUser, ManageBackups, Principal};
use crate::backup::policies::{self, FROM_CONFIG, PolicyError, keep_text};
use crate::console::format::sentence;
use crate::console::{Chrome, FormFields, refused, render};
use crate::error::AppResult;
use crate::monitoring::manage::targets::Choices;
use crate::service::{Caller, DomainError, Refusal};
use crate::state::AppState;
use crate::web::csrf::CsrfForm;

const PAGE: &str = "/backups/policies";

pub struct PolicyRow {
    pub id: String,
    pub name: String,
    pub target: String,
    pub schedule: String,
    pub paths: String,
    pub keep: String,
    pub protection_days: u32,
    /// Empty: no limit.
    pub bandwidth: String,
    pub enabled: bool,
    pub declared: bool,
}

#[derive(Template)]
#[template(path = "backup_policies.html")]
struct PoliciesPage {
    chrome: Chrome,
    policies: Vec<PolicyRow>,
    can_manage: bool,
    form: PolicyForm,
    /// The policy being edited (the form then saves it), or empty for a new one.
    editing: String,
    error: String,
    done: String,
    choices: Choices,
    presets: Vec<(&'static str, &'static str)>,
    keep_fields: [(&'static str, &'static str); 6],
}

#[derive(Debug, Default, Deserialize)]
pub struct PageQuery {
    done: Option<String>,
}

pub async fn page(
    State(state): State<AppState>,
    user: ConsoleUser,
    q: Result<Query<PageQuery>, QueryRejection>,
) -> Response {
    let done = match q.ok().and_then(|Query(q)| q.done).as_deref() {
        Some("created") => "Backup policy added.",
        Some("updated") => "Backup policy saved.",
        Some("deleted") => "Backup policy deleted; the snapshots it made stay.",
        _ => "",
    };
    let caller = user.caller(&state);
    let page = build(
        &state,
        &user.0,
        &caller,
        PolicyForm::new(),
        String::new(),
        String::new(),
        done.into(),
    )
    .await;
    show(page, StatusCode::OK)
}

/// The page with the form filled with policy `id` (by id or name). A policy from the
/// configuration file is not offered for editing: the page says where to change it.
pub async fn edit(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(id): Path<String>,
) -> Response {
    let caller = user.caller(&state);
    let policy = match policies::get(&state, &caller, &id).await {
        Ok(p) => p,
        Err(e) => return refused(&user.0, e, "Cannot show the policy", PAGE),
    };
    let (form, editing, error) = if policy.source == FROM_CONFIG {
        let message = format!("{}: {}", policy.name, PolicyError::Declared);
        (PolicyForm::new(), String::new(), message)
    } else {
        (PolicyForm::of(&policy), policy.id, String::new())
    };
    let page = build(
        &state,
        &user.0,
        &caller,
        form,
        editing,
        sentence_or_empty(&error),
        String::new(),
    )
    .await;
    show(page, StatusCode::OK)
}

fn sentence_or_empty(text: &str) -> String {
    if text.is_empty() {
        String::new()
    } else {
        sentence(text)
    }
}

fn show(page: AppResult<PoliciesPage>, status: StatusCode) -> Response {
    match page {
        Ok(p) => render(status, &p),
        Err(e) => e.into_response(),
    }
}

async fn build(
    state: &AppState,
    user: &Principal,
    caller: &Caller,
    form: PolicyForm,
    editing: String,
    error: String,
    done: String,
) -> AppResult<PoliciesPage> {
    let mut choices = Choices::load(state, caller).await?;
    choices.keep(&form.target);
    let listed = policies::list(state, caller).await?;
    Ok(PoliciesPage {
        chrome: Chrome::new(user, "backups"),
        policies: listed
            .iter()
            .map(|p| {
                let view = policies::view(p);
                PolicyRow {
                    id: p.id.clone(),
                    name: p.name.clone(),
                    target: choices.describe(&p.target),
                    schedule: p.schedule.clone(),
                    paths: p.paths.join(", "),
                    keep: keep_text(&p.keep),
                    protection_days: view.protection_days,
                    bandwidth: view
                        .bandwidth_kib
                        .map(|k| format!("{k} KiB/s"))
                        .unwrap_or_default(),
                    enabled: p.enabled,
                    declared: p.source == FROM_CONFIG,
                }
            })
            .collect(),
        can_manage: user.may(Action::ManageBackups),
        form,
        editing,
        error,
        done,
        choices,
        presets: policy_form::presets(),
        keep_fields: KEEP_FIELDS,
    })
}

pub async fn create(
    State(state): State<AppState>,
    user: ConsoleUser<ManageBackups>,
    CsrfForm(fields): CsrfForm<FormFields>,
) -> Response {
    save(&state, &user, None, &fields).await
}

pub async fn update(
    State(state): State<AppState>,
    user: ConsoleUser<ManageBackups>,
    Path(id): Path<String>,
    CsrfForm(fields): CsrfForm<FormFields>,
) -> Response {
    save(&state, &user, Some(id), &fields).await
}

/// Creates (`id` none) or replaces a policy from the form; a refusal about what was typed
/// shows the form again as it was, with the reason.
async fn save(
    state: &AppState,
    user: &ConsoleUser<ManageBackups>,
    id: Option<String>,
    fields: &FormFields,
) -> Response {
    let form = PolicyForm::read(fields);
    let caller = user.caller(state);
    let (status, message) = match form.to_request() {
        Err(message) => (StatusCode::BAD_REQUEST, message),
        Ok(request) => {
            let saved = match &id {
                None => policies::create(state, &caller, &request).await,
                Some(id) => policies::update(state, &caller, id, &request).await,
            };
            match saved {
                Ok(_) => {
                    let done = if id.is_some() { "updated" } else { "created" };
                    return Redirect::to(&format!("{PAGE}?done={done}")).into_response();
                }
                Err(e) => match about_the_form(&e) {
                    Some(status) => (status, e.to_string()),
                    None => return refused(&user.0, e, "Cannot save the policy", PAGE),
                },
            }
        }
    };
    let page = build(
        state,
        &user.0,
        &caller,
        form,
        id.unwrap_or_default(),
        sentence(&message),
        String::new(),
    )
    .await;
    show(page, status)
}

pub async fn delete(
    State(state): State<AppState>,
    user: ConsoleUser<ManageBackups>,
    Path(id): Path<String>,
    CsrfForm(_): CsrfForm<FormFields>,
) -> Response {
    match policies::delete(&state, &user.caller(&state), &id).await {
        Ok(()) => Redirect::to(&format!("{PAGE}?done=deleted")).into_response(),
        Err(e) => refused(&user.0, e, "Cannot delete the policy", PAGE),
    }
}

/// Whether a refusal is about what was typed (shown above the form, the form kept) rather
/// than about the request (not found, a database failure: the error page).
fn about_the_form(e: &PolicyError) -> Option<StatusCode> {
    match e.refusal() {
        Refusal::Invalid => Some(StatusCode::BAD_REQUEST),
        Refusal::Conflict => Some(StatusCode::CONFLICT),
        Refusal::Forbidden => Some(StatusCode::FORBIDDEN),
        _ => None,
    }
}
