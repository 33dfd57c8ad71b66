//! The checks page: every check the user can see with how it stands, and (for those who may
//! define checks) the form to add one, edit one (`?edit=ID`) or delete one. Checks declared
//! in the configuration file are listed but not editable here.

use std::collections::HashMap;

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use serde_json::Value;
use steward_core::Action;
use steward_core::alerting::CheckStatus;
use steward_proto::monitoring::{AlertQuery, CheckInfo};

use super::check_form::{self, CheckForm, KINDS};
use super::parse::format_duration;
use super::targets::Choices;
use super::{Tab, about_the_form, tabs};
use crate::auth::{ConsoleUser, ManageMonitoring, Principal, urlencode};
use crate::console::format::sentence;
use crate::console::{Chrome, FormFields, refused, render};
use crate::error::AppResult;
use crate::monitoring::spec::Spec;
use crate::monitoring::{alerts, checks};
use crate::service::Caller;
use crate::state::AppState;
use crate::web::csrf::CsrfForm;

const PAGE: &str = "/checks";
const RECORD_TYPES: [&str; 10] = [
    "A", "AAAA", "CNAME", "MX", "TXT", "NS", "SOA", "SRV", "PTR", "CAA",
];

/// An option of a menu, and whether it is the one chosen.
pub struct Choice {
    pub value: &'static str,
    pub selected: bool,
}

pub struct CheckRow {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub detail: String,
    pub target: String,
    pub interval: String,
    /// A badge: `ok`, `warning`, `critical`, `unknown`, or `pending` (not judged yet) and
    /// `disabled`.
    pub state: &'static str,
    pub state_text: String,
    pub source: String,
    /// Declared in the configuration file: read-only here.
    pub declared: bool,
}

#[derive(Template)]
#[template(path = "checks.html")]
struct ChecksPage {
    chrome: Chrome,
    tabs: Vec<Tab>,
    checks: Vec<CheckRow>,
    can_manage: bool,
    form: CheckForm,
    /// The check being edited (the form then saves it), or empty for a new one.
    editing: String,
    error: String,
    done: String,
    /// The kinds offered, as (value, label).
    device_kinds: Vec<(String, String)>,
    network_kinds: Vec<(String, String)>,
    /// The DNS record types, the form's marked.
    record_types: Vec<Choice>,
    choices: Choices,
    /// Checks this one may depend on: (id, name).
    parents: Vec<(String, String)>,
}

/// Lenient: a mangled parameter is ignored.
#[derive(Debug, Default, Deserialize)]
pub struct PageQuery {
    edit: Option<String>,
    done: Option<String>,
}

pub async fn page(
    State(state): State<AppState>,
    user: ConsoleUser,
    q: Result<Query<PageQuery>, QueryRejection>,
) -> Response {
    let q = q.map(|Query(q)| q).unwrap_or_default();
    let caller = user.caller(&state);
    let mut form = CheckForm::default();
    let mut editing = String::new();
    let mut error = String::new();
    if let Some(id) = q.edit.filter(|id| !id.is_empty()) {
        match checks::get(&state, &caller, &id).await {
            Ok(c) if c.source == crate::monitoring::FROM_CONFIG => {
                error = "This check is declared in the configuration file; change it there.".into()
            }
            Ok(c) => {
                form = CheckForm::from_info(&checks::info(&c));
                // The API's view has no timeout; the stored settings do (kept on save).
                if let Ok(Spec::Probe { timeout_ms, .. }) = serde_json::from_str(&c.spec) {
                    form.timeout = format_duration(timeout_ms / 1000);
                }
                editing = c.id;
            }
            Err(e) => error = sentence(&e.to_string()),
        }
    }
    let done = done_message(q.done.as_deref());
    show(
        build(&state, &user.0, &caller, form, editing, error, done).await,
        StatusCode::OK,
    )
}

fn show(page: AppResult<ChecksPage>, status: StatusCode) -> Response {
    match page {
        Ok(p) => render(status, &p),
        Err(e) => e.into_response(),
    }
}

async fn build(
    state: &AppState,
    user: &Principal,
    caller: &Caller,
    form: CheckForm,
    editing: String,
    error: String,
    done: String,
) -> AppResult<ChecksPage> {
    let defined: Vec<CheckInfo> = checks::list(state, caller)
        .await?
        .iter()
        .map(checks::info)
        .collect();
    let mut choices = Choices::load(state, caller).await?;
    choices.keep(&super::targets::value(&form.target, &form.tag));
    choices.keep(&form.runner);
    // Problems now, by check: how many of its devices stand at each status.
    let open = alerts::view(
        state,
        caller,
        &AlertQuery {
            resolved_hours: Some(0),
            ..AlertQuery::default()
        },
    )
    .await?
    .open;
    let mut problems: HashMap<&str, Vec<CheckStatus>> = HashMap::new();
    for a in &open {
        problems
            .entry(a.check_id.as_str())
            .or_default()
            .push(a.status);
    }
    let mut rows = Vec::with_capacity(defined.len());
    for c in &defined {
        let (state_class, state_text) = match &c.target {
            _ if !c.enabled => ("disabled", "Disabled".to_string()),
            Some(_) => device_state(problems.get(c.id.as_str()).map(Vec::as_slice)),
            None => match alerts::of_network_monitor(state, caller, &c.id).await? {
                Some(a) if !a.summary.is_empty() => (a.status.as_str(), a.summary),
                Some(a) => (a.status.as_str(), a.status.as_str().to_string()),
                None => ("pending", "Not run yet".to_string()),
            },
        };
        rows.push(CheckRow {
            id: c.id.clone(),
            name: c.name.clone(),
            kind: check_form::kind_label(&c.kind).to_string(),
            detail: detail(c),
            target: choices.describe(c.target.as_deref().unwrap_or("")),
            interval: match c.target {
                Some(_) => "each check-in".into(),
                None => format!("every {}", format_duration(c.interval_secs)),
            },
            state: state_class,
            state_text,
            source: c.source.clone(),
            declared: c.source == crate::monitoring::FROM_CONFIG,
        });
    }
    let parents = defined
        .iter()
        .filter(|c| c.id != editing)
        .map(|c| (c.id.clone(), c.name.clone()))
        .collect();
    Ok(ChecksPage {
        chrome: Chrome::new(user, "monitoring"),
        tabs: tabs(user, PAGE),
        checks: rows,
        can_manage: user.may(Action::ManageMonitoring),
        editing,
        error,
        done,
        device_kinds: kinds(true),
        network_kinds: kinds(false),
        record_types: RECORD_TYPES
            .iter()
            .map(|t| Choice {
                value: t,
                selected: form.record_type.eq_ignore_ascii_case(t),
            })
            .collect(),
        choices,
        parents,
        form,
    })
}

/// What a check looks at, in a few words: its thresholds, unit, process or address.
pub fn detail(info: &CheckInfo) -> String {
    let c = &info.check;
    let get = |key: &str| c.get(key).filter(|v| !v.is_null());
    let shown = |key: &str| get(key).map(|v| v.as_str().map_or(v.to_string(), str::to_string));
    let thresholds = |warn: &str, critical: &str, unit: &str| {
        let mut parts = Vec::new();
        if let Some(w) = shown(warn) {
            parts.push(format!("warning at {w}{unit}"));
        }
        if let Some(c) = shown(critical) {
            parts.push(format!("critical at {c}{unit}"));
        }
        parts.join(", ")
    };
    let text = match info.kind.as_str() {
        "disk" => {
            let on = shown("mount").unwrap_or_else(|| "fullest filesystem".into());
            format!(
                "{on}: {}",
                thresholds("warn_percent", "critical_percent", " %")
            )
        }
        "memory" | "cpu" => thresholds("warn_percent", "critical_percent", " %"),
        "load" => thresholds("warn", "critical", ""),
        "unit" => shown("unit").unwrap_or_default(),
        "process" => match get("min_count").and_then(Value::as_u64) {
            Some(n) if n > 1 => format!("{} (at least {n})", shown("name").unwrap_or_default()),
            _ => shown("name").unwrap_or_default(),
        },
        "heartbeat" => get("missed_after_secs")
            .and_then(Value::as_u64)
            .map(|s| format!("missed after {}", format_duration(s)))
            .unwrap_or_default(),
        "http" => shown("url").unwrap_or_default(),
        "tcp" | "tls" => format!(
            "{}:{}",
            shown("host").unwrap_or_default(),
            shown("port").unwrap_or_else(|| "443".into())
        ),
        "dns" => format!(
            "{} {}",
            shown("record_type").unwrap_or_else(|| "A".into()),
            shown("name").unwrap_or_default()
        ),
        "icmp" => shown("host").unwrap_or_default(),
        _ => String::new(),
    };
    if info.sustain_secs > 0 {
        format!("{text}; for {}", format_duration(info.sustain_secs))
    } else {
        text
    }
}

fn kinds(device: bool) -> Vec<(String, String)> {
    KINDS
        .iter()
        .filter(|(_, _, d)| *d == device)
        .map(|(k, label, _)| (k.to_string(), label.to_string()))
        .collect()
}

/// What was just done, from `?done=created:NAME` (after the redirect).
fn done_message(done: Option<&str>) -> String {
    match done.and_then(|d| d.split_once(':')) {
        Some((verb @ ("created" | "updated" | "deleted"), name)) => {
            format!("Check “{name}” {verb}.")
        }
        _ => String::new(),
    }
}

/// A device check's state over its devices: the worst status and the count at each.
fn device_state(problems: Option<&[CheckStatus]>) -> (&'static str, String) {
    let Some(problems) = problems.filter(|p| !p.is_empty()) else {
        return ("ok", "OK on every device".into());
    };
    let worst = problems
        .iter()
        .max_by_key(|s| s.urgency())
        .copied()
        .unwrap_or(CheckStatus::Unknown);
    let text = [
        CheckStatus::Critical,
        CheckStatus::Unknown,
        CheckStatus::Warning,
    ]
    .iter()
    .filter_map(|status| {
        let n = problems.iter().filter(|p| *p == status).count();
        (n > 0).then(|| {
            let devices = if n == 1 { "device" } else { "devices" };
            format!("{} on {n} {devices}", status.as_str())
        })
    })
    .collect::<Vec<_>>()
    .join(", ");
    (worst.as_str(), text)
}

/// The page again with the form as typed and what was wrong above it.
async fn again(
    state: &AppState,
    user: &ConsoleUser<ManageMonitoring>,
    form: CheckForm,
    editing: String,
    status: StatusCode,
    message: &str,
) -> Response {
    let caller = user.caller(state);
    let page = build(
        state,
        &user.0,
        &caller,
        form,
        editing,
        sentence(message),
        String::new(),
    );
    show(page.await, status)
}

pub async fn create(
    State(state): State<AppState>,
    user: ConsoleUser<ManageMonitoring>,
    CsrfForm(form): CsrfForm<CheckForm>,
) -> Response {
    save(&state, &user, form, None).await
}

pub async fn update(
    State(state): State<AppState>,
    user: ConsoleUser<ManageMonitoring>,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm<CheckForm>,
) -> Response {
    save(&state, &user, form, Some(id)).await
}

async fn save(
    state: &AppState,
    user: &ConsoleUser<ManageMonitoring>,
    form: CheckForm,
    id: Option<String>,
) -> Response {
    let editing = id.clone().unwrap_or_default();
    let request = match form.to_request() {
        Ok(r) => r,
        Err(message) => {
            return again(
                state,
                user,
                form,
                editing,
                StatusCode::BAD_REQUEST,
                &message,
            )
            .await;
        }
    };
    let caller = user.caller(state);
    let saved = match &id {
        None => checks::create(state, &caller, &request).await,
        Some(id) => checks::update(state, &caller, id, &request).await,
    };
    match saved {
        Ok(c) => {
            let done = if id.is_some() { "updated" } else { "created" };
            Redirect::to(&format!("{PAGE}?done={done}:{}#checks", urlencode(&c.name)))
                .into_response()
        }
        Err(e) => match about_the_form(&e) {
            Some(status) => again(state, user, form, editing, status, &e.to_string()).await,
            None => refused(&user.0, e, "Cannot save the check", PAGE),
        },
    }
}

pub async fn delete(
    State(state): State<AppState>,
    user: ConsoleUser<ManageMonitoring>,
    Path(id): Path<String>,
    CsrfForm(_): CsrfForm<FormFields>,
) -> Response {
    let caller = user.caller(&state);
    let name = checks::get(&state, &caller, &id)
        .await
        .map(|c| c.name)
        .unwrap_or_default();
    match checks::delete(&state, &caller, &id).await {
        Ok(()) => Redirect::to(&format!("{PAGE}?done=deleted:{}#checks", urlencode(&name)))
            .into_response(),
        Err(e) => match about_the_form(&e) {
            Some(status) => {
                again(
                    &state,
                    &user,
                    CheckForm::default(),
                    String::new(),
                    status,
                    &e.to_string(),
                )
                .await
            }
            None => refused(&user.0, e, "Cannot delete the check", PAGE),
        },
    }
}

#[cfg(test)]
mod tests {
    use steward_core::alerting::CheckStatus::*;

    #[test]
    fn a_check_is_described_in_a_few_words() {
        let form = super::CheckForm {
            kind: "disk".into(),
            mount: "/srv".into(),
            warn: "80".into(),
            critical: "95.5".into(),
            sustain: "10m".into(),
            ..super::CheckForm::default()
        };
        let request = form.to_request().unwrap();
        let info = steward_proto::monitoring::CheckInfo {
            id: "c1".into(),
            name: "Data disk".into(),
            kind: "disk".into(),
            check: request.check,
            target: request.target,
            interval_secs: 60,
            retries: 0,
            sustain_secs: 600,
            renotify_minutes: None,
            parent_id: None,
            runbook: String::new(),
            source: "console".into(),
            enabled: true,
            runner: "server".into(),
            updated_at: steward_core::Timestamp(0),
        };
        assert_eq!(
            super::detail(&info),
            "/srv: warning at 80.0 %, critical at 95.5 %; for 10m"
        );
    }

    #[test]
    fn a_device_check_is_summed_up_worst_first() {
        assert_eq!(super::device_state(None).0, "ok");
        let (badge, text) = super::device_state(Some(&[Warning, Critical, Warning]));
        assert_eq!(badge, "critical");
        assert_eq!(text, "critical on 1 device, warning on 2 devices");
    }
}
