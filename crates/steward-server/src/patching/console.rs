//! `/updates`: patching in the console — the fleet's three numbers (devices missing
//! security updates, the oldest in days, reboots required), each device's line, patch
//! policies and approvals; `/updates/{device}`: a device's pending updates with what its
//! policy does with each, approvals and an install now. Every change goes to the patching
//! service, which checks the role and the scope and audits.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use steward_core::patching::{OthersRule, PatchPolicy, RebootRule, SecurityRule};
use steward_core::{Action, Timestamp};
use steward_proto::patching::{
    Approval, ApprovalOut, InstallNow, PatchPolicyInput, PatchPolicyOut, PendingRow,
    UpdatesOverview,
};

use super::service::{self, PatchingError};
use crate::auth::{ConsoleUser, ManagePatching};
use crate::console::format::relative;
use crate::console::{Chrome, FormFields, refused, render};
use crate::monitoring::manage::targets::{self, Choices};
use crate::state::AppState;
use crate::web::csrf::CsrfForm;
use crate::web::routes::{Access, Routes};

const PAGE: &str = "/updates";

pub fn routes() -> Routes {
    Routes::new()
        .get(PAGE, Access::Requires(Action::ViewDevices), page)
        .get(
            "/updates/devices/{id}",
            Access::Requires(Action::ViewDevices),
            device,
        )
        .post(
            "/updates/install",
            Access::Requires(Action::ManagePatching),
            install,
        )
        .post(
            "/updates/approvals",
            Access::Requires(Action::ManagePatching),
            approve,
        )
        .post(
            "/updates/approvals/revoke",
            Access::Requires(Action::ManagePatching),
            revoke,
        )
        .post(
            "/updates/policies",
            Access::Requires(Action::ManagePatching),
            create_policy,
        )
        .post(
            "/updates/policies/{id}/delete",
            Access::Requires(Action::ManagePatching),
            delete_policy,
        )
}

#[derive(Debug, Deserialize)]
pub struct DoneQuery {
    done: Option<String>,
}

/// A policy as a row.
pub struct PolicyRow {
    pub id: String,
    pub name: String,
    pub target: String,
    pub rules: String,
    pub window: String,
    pub enabled: bool,
}

#[derive(Template)]
#[template(path = "updates.html")]
pub struct UpdatesPage {
    pub chrome: Chrome,
    pub overview: UpdatesOverview,
    pub policies: Vec<PolicyRow>,
    pub approvals: Vec<ApprovalOut>,
    pub choices: Choices,
    /// The forms' initial target (every device) and tag (none).
    pub all: String,
    pub no_tag: String,
    pub can_manage: bool,
    pub done: Option<String>,
    pub now: Timestamp,
}

impl UpdatesPage {
    fn listed(&self, at: &Option<Timestamp>) -> String {
        at.map_or_else(|| "never".to_owned(), |t| relative(t, self.now))
    }
    fn when(&self, t: &Timestamp) -> String {
        relative(*t, self.now)
    }
}

pub async fn page(
    State(state): State<AppState>,
    user: ConsoleUser,
    Query(q): Query<DoneQuery>,
) -> Response {
    let caller = user.caller(&state);
    let loaded = async {
        let overview = service::overview(&state, &caller).await?;
        let policies = service::policies(&state, &caller).await?;
        let approvals = service::approvals(&state, &caller).await?;
        Ok::<_, PatchingError>((overview, policies, approvals))
    }
    .await;
    let (overview, policies, approvals) = match loaded {
        Ok(loaded) => loaded,
        Err(e) => return refused(&user.0, e, "Updates", "/"),
    };
    let choices = Choices::load(&state, &caller).await.unwrap_or_default();
    let policies = policies
        .into_iter()
        .map(|p: PatchPolicyOut| PolicyRow {
            target: choices.describe(&p.target),
            rules: p.policy.describe(),
            window: p.window.unwrap_or_else(|| "any time".into()),
            id: p.id,
            name: p.name,
            enabled: p.enabled,
        })
        .collect();
    render(
        StatusCode::OK,
        &UpdatesPage {
            chrome: Chrome::new(&user.0, "updates"),
            overview,
            policies,
            approvals,
            choices,
            all: "all".into(),
            no_tag: String::new(),
            can_manage: user.0.may(Action::ManagePatching),
            done: q.done,
            now: caller.now,
        },
    )
}

#[derive(Template)]
#[template(path = "device_updates.html")]
pub struct DeviceUpdatesPage {
    pub chrome: Chrome,
    pub device_id: String,
    pub device_name: String,
    pub rows: Vec<PendingRow>,
    pub can_manage: bool,
    pub done: Option<String>,
}

pub async fn device(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(id): Path<String>,
    Query(q): Query<DoneQuery>,
) -> Response {
    let caller = user.caller(&state);
    let device = match crate::devices::find(&state, &caller, &id).await {
        Ok(d) => d,
        Err(e) => return refused(&user.0, e, "Updates", PAGE),
    };
    match service::device_pending(&state, &caller, &id).await {
        Ok(rows) => render(
            StatusCode::OK,
            &DeviceUpdatesPage {
                chrome: Chrome::new(&user.0, "updates"),
                device_id: device.id,
                device_name: device.name,
                rows,
                can_manage: user.0.may(Action::ManagePatching),
                done: q.done,
            },
        ),
        Err(e) => refused(&user.0, e, "Updates", PAGE),
    }
}

pub async fn install(
    State(state): State<AppState>,
    user: ConsoleUser<ManagePatching>,
    CsrfForm(fields): CsrfForm<FormFields>,
) -> Response {
    let req = InstallNow {
        target: fields.get("target").to_owned(),
        packages: fields
            .all("package")
            .into_iter()
            .filter(|p| !p.is_empty())
            .collect(),
        security_only: fields.get("security_only") == "on",
    };
    let back = fields.get("back");
    let back = if back.starts_with("/updates") {
        back.to_owned()
    } else {
        PAGE.to_owned()
    };
    match service::install_now(&state, &user.caller(&state), &req).await {
        Ok(batch) => Redirect::to(&format!("/batches/{}", batch.id)).into_response(),
        Err(e) => refused(&user.0, e, "Install updates", &back),
    }
}

fn approval(fields: &FormFields) -> Approval {
    Approval {
        package: fields.get("package").to_owned(),
        version: fields.get("version").to_owned(),
    }
}

fn back_to(fields: &FormFields, done: &str) -> Response {
    let back = fields.get("back");
    let back = if back.starts_with("/updates") {
        back
    } else {
        PAGE
    };
    Redirect::to(&format!("{back}?done={done}")).into_response()
}

pub async fn approve(
    State(state): State<AppState>,
    user: ConsoleUser<ManagePatching>,
    CsrfForm(fields): CsrfForm<FormFields>,
) -> Response {
    match service::approve(&state, &user.caller(&state), &approval(&fields)).await {
        Ok(()) => back_to(&fields, "approved"),
        Err(e) => refused(&user.0, e, "Approve an update", PAGE),
    }
}

pub async fn revoke(
    State(state): State<AppState>,
    user: ConsoleUser<ManagePatching>,
    CsrfForm(fields): CsrfForm<FormFields>,
) -> Response {
    match service::revoke_approval(&state, &user.caller(&state), &approval(&fields)).await {
        Ok(()) => back_to(&fields, "revoked"),
        Err(e) => refused(&user.0, e, "Withdraw an approval", PAGE),
    }
}

fn policy_from(fields: &FormFields) -> Result<PatchPolicyInput, PatchingError> {
    let security = match fields.get("security") {
        "approve" => SecurityRule::Approve,
        _ => SecurityRule::Auto,
    };
    let others = match fields.get("others") {
        "approve" => OthersRule::Approve,
        "never" => OthersRule::Never,
        _ => OthersRule::Auto {
            defer_days: match fields.get("defer_days").trim() {
                "" => 7,
                text => text
                    .parse()
                    .map_err(|_| PatchingError::Invalid("defer days: a whole number".into()))?,
            },
        },
    };
    let reboot = match fields.get("reboot") {
        "in_window" => RebootRule::InWindow,
        "ask" => RebootRule::Ask,
        _ => RebootRule::Never,
    };
    let holds = fields
        .get("holds")
        .split([',', '\n', ' '])
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .map(str::to_owned)
        .collect();
    Ok(PatchPolicyInput {
        name: fields.get("name").to_owned(),
        target: targets::value(fields.get("target"), fields.get("tag")),
        policy: PatchPolicy {
            security,
            others,
            holds,
            reboot,
        },
        window: Some(fields.get("window").to_owned()),
        enabled: true,
    })
}

pub async fn create_policy(
    State(state): State<AppState>,
    user: ConsoleUser<ManagePatching>,
    CsrfForm(fields): CsrfForm<FormFields>,
) -> Response {
    let result = match policy_from(&fields) {
        Ok(input) => service::create_policy(&state, &user.caller(&state), &input).await,
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => Redirect::to(&format!("{PAGE}?done=policy")).into_response(),
        Err(e) => refused(&user.0, e, "Add a patch policy", PAGE),
    }
}

pub async fn delete_policy(
    State(state): State<AppState>,
    user: ConsoleUser<ManagePatching>,
    Path(id): Path<String>,
    CsrfForm(_): CsrfForm<FormFields>,
) -> Response {
    match service::delete_policy(&state, &user.caller(&state), &id).await {
        Ok(()) => Redirect::to(&format!("{PAGE}?done=deleted")).into_response(),
        Err(e) => refused(&user.0, e, "Delete a patch policy", PAGE),
    }
}
