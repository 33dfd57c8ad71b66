//! `/scripts`: the library in the console — each script with its content, parameters and
//! versions; administrators add and change scripts (after a step-up), technicians run them
//! on a device, a group or a tag and follow the run on `/batches/{id}`. Every action goes
//! to the scripts service, which checks the role, the scope and the device's own opt-in.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use steward_core::scripts::{Interpreter, ParamKind, ParamSpec, Platform};
use steward_core::{Action, Timestamp};
use steward_proto::scripts::{Batch, BatchDetail, RunScript, Script, ScriptInput, ScriptVersion};

use super::service::{self, ScriptsError, params_text, parse_params};
use crate::auth::{ConsoleUser, ManageScripts, RunScripts};
use crate::batches::service::progress_line;
use crate::console::format::{relative, utc};
use crate::console::{Chrome, FormFields, refused, render};
use crate::state::AppState;
use crate::web::csrf::CsrfForm;
use crate::web::routes::{Access, Routes};

const PAGE: &str = "/scripts";

pub fn routes() -> Routes {
    Routes::new()
        .get(PAGE, Access::Requires(Action::ViewDevices), list)
        .post(PAGE, Access::Requires(Action::ManageScripts), create)
        .get(
            "/scripts/{id}",
            Access::Requires(Action::ViewDevices),
            detail,
        )
        .post(
            "/scripts/{id}",
            Access::Requires(Action::ManageScripts),
            update,
        )
        .post(
            "/scripts/{id}/archive",
            Access::Requires(Action::ManageScripts),
            archive,
        )
        .post(
            "/scripts/{id}/run",
            Access::Requires(Action::RunScripts),
            run,
        )
        .get(
            "/batches/{id}",
            Access::Requires(Action::ViewDevices),
            batch,
        )
}

/// A batch as a row.
pub struct BatchRow {
    pub id: String,
    pub label: String,
    pub target: String,
    pub by: String,
    pub when: String,
    pub summary: String,
}

impl BatchRow {
    fn new(b: &Batch, now: Timestamp) -> BatchRow {
        BatchRow {
            id: b.id.clone(),
            label: b.label.clone(),
            target: b.target.clone(),
            by: b.requested_by.clone(),
            when: relative(b.created_at, now),
            summary: progress_line(b),
        }
    }
}

#[derive(Template)]
#[template(path = "scripts.html")]
pub struct ScriptsPage {
    pub chrome: Chrome,
    pub scripts: Vec<Script>,
    pub batches: Vec<BatchRow>,
    pub can_manage: bool,
    pub now: Timestamp,
}

impl ScriptsPage {
    fn updated(&self, s: &Script) -> String {
        relative(s.updated_at, self.now)
    }
    fn short(&self, s: &Script) -> String {
        s.content_sha256.chars().take(12).collect()
    }
}

pub async fn list(State(state): State<AppState>, user: ConsoleUser) -> Response {
    let caller = user.caller(&state);
    let scripts = match service::list(&state, &caller).await {
        Ok(s) => s,
        Err(e) => return refused(&user.0, e, "Scripts", "/"),
    };
    let batches = crate::batches::service::list(&state, &caller, 20)
        .await
        .unwrap_or_default()
        .iter()
        .map(|b| BatchRow::new(b, caller.now))
        .collect();
    render(
        StatusCode::OK,
        &ScriptsPage {
            chrome: Chrome::new(&user.0, "scripts"),
            scripts,
            batches,
            can_manage: user.0.may(Action::ManageScripts),
            now: caller.now,
        },
    )
}

fn input_from(fields: &FormFields) -> Result<ScriptInput, ScriptsError> {
    let interpreter = Interpreter::parse(fields.get("interpreter"))
        .ok_or_else(|| ScriptsError::Invalid("interpreter: sh or python3".into()))?;
    Ok(ScriptInput {
        name: fields.get("name").to_owned(),
        description: fields.get("description").to_owned(),
        platform: Platform::Linux,
        interpreter,
        params: parse_params(fields.get("params"))?,
        // Browsers send CR LF line ends; a shell script wants LF.
        content: fields.get("content").replace("\r\n", "\n"),
    })
}

pub async fn create(
    State(state): State<AppState>,
    user: ConsoleUser<ManageScripts>,
    CsrfForm(fields): CsrfForm<FormFields>,
) -> Response {
    let result = match input_from(&fields) {
        Ok(input) => service::create(&state, &user.caller(&state), &input).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(script) => Redirect::to(&format!("/scripts/{}?done=created", script.id)).into_response(),
        Err(e) => refused(&user.0, e, "Add a script", PAGE),
    }
}

#[derive(Debug, Deserialize)]
pub struct DetailQuery {
    done: Option<String>,
}

/// A choice of devices, groups and tags to run on.
pub struct TargetOption {
    pub value: String,
    pub label: String,
}

#[derive(Template)]
#[template(path = "script.html")]
pub struct ScriptPage {
    pub chrome: Chrome,
    pub script: Script,
    pub params_text: String,
    pub versions: Vec<ScriptVersion>,
    pub targets: Vec<TargetOption>,
    pub can_manage: bool,
    pub can_run: bool,
    pub done: Option<String>,
    pub now: Timestamp,
}

impl ScriptPage {
    fn when(&self, t: &Timestamp) -> String {
        relative(*t, self.now)
    }
    fn kind(&self, p: &ParamSpec) -> String {
        match &p.kind {
            ParamKind::Text => "text".into(),
            ParamKind::Number => "number".into(),
            ParamKind::Choice(options) => format!("one of {}", options.join(", ")),
        }
    }
}

pub async fn detail(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(id): Path<String>,
    Query(q): Query<DetailQuery>,
) -> Response {
    let caller = user.caller(&state);
    let (script, versions) = match async {
        let script = service::get(&state, &caller, &id).await?;
        let versions = service::versions(&state, &caller, &script.id).await?;
        Ok::<_, ScriptsError>((script, versions))
    }
    .await
    {
        Ok(found) => found,
        Err(e) => return refused(&user.0, e, "Script", PAGE),
    };
    let targets = targets(&state, &caller).await;
    render(
        StatusCode::OK,
        &ScriptPage {
            chrome: Chrome::new(&user.0, "scripts"),
            params_text: params_text(&script.params),
            script,
            versions,
            targets,
            can_manage: user.0.may(Action::ManageScripts),
            can_run: user.0.may(Action::RunScripts),
            done: q.done,
            now: caller.now,
        },
    )
}

/// The devices (those that allow scripts first), groups and tags within the caller's
/// scope.
async fn targets(state: &AppState, caller: &crate::service::Caller) -> Vec<TargetOption> {
    let Ok(devices) = state.store.device_memberships().await else {
        return Vec::new();
    };
    let allowed = state.store.agent_capabilities().await.unwrap_or_default();
    let devices: Vec<_> = devices
        .into_iter()
        .filter(|d| caller.scope().allows(d.group_id.as_deref()))
        .collect();
    let mut options = Vec::new();
    let mut groups = BTreeMap::new();
    let mut tags = std::collections::BTreeSet::new();
    for d in &devices {
        let allows = allowed.get(&d.device_id).is_some_and(|(_, a)| *a);
        options.push((
            !allows,
            TargetOption {
                value: format!("device:{}", d.device_id),
                label: format!(
                    "{}{}",
                    d.name,
                    if allows {
                        " (allows scripts)"
                    } else {
                        " (does not allow scripts)"
                    }
                ),
            },
        ));
        if let Some(g) = &d.group_id {
            groups.insert(g.clone(), ());
        }
        tags.extend(d.tags.iter().cloned());
    }
    options.sort_by(|a, b| (a.0, &a.1.label).cmp(&(b.0, &b.1.label)));
    let names: BTreeMap<String, String> = crate::groups::list(state, caller)
        .await
        .unwrap_or_default()
        .into_iter()
        .map(|g| (g.id, g.name))
        .collect();
    let mut out: Vec<TargetOption> = options.into_iter().map(|(_, o)| o).collect();
    for g in groups.keys() {
        out.push(TargetOption {
            value: format!("group:{g}"),
            label: format!("group {}", names.get(g).unwrap_or(g)),
        });
    }
    for t in tags {
        out.push(TargetOption {
            value: format!("tag:{t}"),
            label: format!("tag {t}"),
        });
    }
    out
}

pub async fn update(
    State(state): State<AppState>,
    user: ConsoleUser<ManageScripts>,
    Path(id): Path<String>,
    CsrfForm(fields): CsrfForm<FormFields>,
) -> Response {
    let back = format!("/scripts/{id}");
    let expected: i64 = fields.get("expected_version").parse().unwrap_or(0);
    let result = match input_from(&fields) {
        Ok(input) => service::update(&state, &user.caller(&state), &id, expected, &input).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(script) => Redirect::to(&format!("/scripts/{}?done=saved", script.id)).into_response(),
        Err(e) => refused(&user.0, e, "Change a script", &back),
    }
}

pub async fn archive(
    State(state): State<AppState>,
    user: ConsoleUser<ManageScripts>,
    Path(id): Path<String>,
    CsrfForm(_): CsrfForm<FormFields>,
) -> Response {
    match service::archive(&state, &user.caller(&state), &id).await {
        Ok(()) => Redirect::to(PAGE).into_response(),
        Err(e) => refused(&user.0, e, "Archive a script", &format!("/scripts/{id}")),
    }
}

pub async fn run(
    State(state): State<AppState>,
    user: ConsoleUser<RunScripts>,
    Path(id): Path<String>,
    CsrfForm(fields): CsrfForm<FormFields>,
) -> Response {
    let back = format!("/scripts/{id}");
    let params: BTreeMap<String, String> = fields
        .pairs()
        .filter_map(|(k, v)| {
            k.strip_prefix("param.")
                .filter(|_| !v.is_empty())
                .map(|name| (name.to_owned(), v.to_owned()))
        })
        .collect();
    let number = |name: &str| -> Result<Option<u64>, ScriptsError> {
        match fields.get(name).trim() {
            "" => Ok(None),
            text => text
                .parse()
                .map(Some)
                .map_err(|_| ScriptsError::Invalid(format!("{name}: a whole number"))),
        }
    };
    let request = (|| {
        Ok::<_, ScriptsError>(RunScript {
            target: fields.get("target").to_owned(),
            params,
            timeout_secs: number("timeout_secs")?,
            expires_in_secs: number("expires_in_hours")?.map(|h| h.saturating_mul(3600)),
        })
    })();
    let result = match request {
        Ok(request) => service::run(&state, &user.caller(&state), &id, &request).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(batch) => Redirect::to(&format!("/batches/{}", batch.id)).into_response(),
        Err(e) => refused(&user.0, e, "Run a script", &back),
    }
}

#[derive(Template)]
#[template(path = "batch.html")]
pub struct BatchPage {
    pub chrome: Chrome,
    pub detail: BatchDetail,
    pub summary: String,
    pub created: String,
    pub now: Timestamp,
}

impl BatchPage {
    fn when(&self, t: &Timestamp) -> String {
        relative(*t, self.now)
    }
    fn badge(&self, state: &str) -> &'static str {
        match state {
            "succeeded" => "ok",
            "failed" | "unsupported" | "expired" => "critical",
            "offline" => "offline",
            _ => "pending",
        }
    }
}

pub async fn batch(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(id): Path<String>,
) -> Response {
    let caller = user.caller(&state);
    match crate::batches::service::detail(&state, &caller, &id).await {
        Ok(detail) => render(
            StatusCode::OK,
            &BatchPage {
                chrome: Chrome::new(&user.0, "scripts"),
                summary: progress_line(&detail.batch),
                created: utc(detail.batch.created_at),
                detail,
                now: caller.now,
            },
        ),
        Err(e) => refused(&user.0, e, "Batch", PAGE),
    }
}
