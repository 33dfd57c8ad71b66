//! User management in the console (administrators): the list, creating a user (a one-time
//! password is shown once), and per-user actions — role, groups, disable/enable, reset the
//! password or the second factor, delete. Making someone an administrator needs a recent
//! step-up. The rules and the audit entries are in [`crate::users`].

use askama::Template;
use axum::extract::{Path, RawForm, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use steward_core::Role;
use steward_core::access::{UserChange, needs_step_up};

use super::api::actor;
use crate::account::reauth::require_recent;
use crate::auth::{ConsoleUser, ManageUsers, Principal};
use crate::console::format::utc;
use crate::console::{Chrome, FormFields, csrf_ok, csrf_rejected, render};
use crate::error::AppResult;
use crate::net::ClientAddr;
use crate::state::AppState;
use crate::users;

pub struct UserRow {
    pub id: String,
    pub username: String,
    pub role: String,
    pub two_factor: bool,
    pub disabled: bool,
    pub created: String,
    pub groups: Vec<String>,
    /// Sees every device (an explicit grant; no ticked group means no device).
    pub all_devices: bool,
    pub is_me: bool,
}

pub struct GroupOption {
    pub id: String,
    pub name: String,
}

#[derive(Template)]
#[template(path = "users.html")]
struct UsersPage {
    chrome: Chrome,
    users: Vec<UserRow>,
    groups: Vec<GroupOption>,
    /// What just happened.
    notice: String,
    /// A one-time password to hand over, with whose it is.
    password_for: String,
    password: String,
    error: String,
}

impl UserRow {
    fn in_group(&self, id: &str) -> bool {
        self.groups.iter().any(|g| g == id)
    }
}

async fn build(state: &AppState, who: &Principal) -> AppResult<UsersPage> {
    let groups = state.store.list_groups().await?;
    let mut rows = Vec::new();
    for u in state.store.list_users().await? {
        rows.push(UserRow {
            groups: state.store.user_groups(&u.id).await?,
            all_devices: u.all_devices,
            is_me: u.id == who.id(),
            two_factor: u.totp_enabled_at.is_some(),
            disabled: u.disabled_at.is_some(),
            created: utc(u.created_at),
            id: u.id,
            username: u.username,
            role: u.role,
        });
    }
    Ok(UsersPage {
        chrome: Chrome::new(who, "users"),
        users: rows,
        groups: groups
            .into_iter()
            .map(|g| GroupOption {
                id: g.id,
                name: g.name,
            })
            .collect(),
        notice: String::new(),
        password_for: String::new(),
        password: String::new(),
        error: String::new(),
    })
}

fn show(result: AppResult<UsersPage>, status: StatusCode) -> Response {
    match result {
        Ok(page) => render(status, &page),
        Err(e) => e.into_response(),
    }
}

pub async fn page(State(state): State<AppState>, user: ConsoleUser<ManageUsers>) -> Response {
    show(build(&state, &user.0).await, StatusCode::OK)
}

/// What a user action did, for the page: a notice, and a one-time password with whose it is.
struct Outcome {
    notice: String,
    password: Option<(String, String)>,
}

pub async fn create(
    State(state): State<AppState>,
    ClientAddr(peer): ClientAddr,
    user: ConsoleUser<ManageUsers>,
    RawForm(raw): RawForm,
) -> Response {
    let f = FormFields::parse(&raw);
    if !csrf_ok(&user.0, f.get("csrf")) {
        return csrf_rejected(&user.0);
    }
    // Creating an administrator needs a recent step-up.
    if f.get("role") == Role::Admin.as_str()
        && let Some(step_up) = require_recent(&user.0, state.now(), "/users")
    {
        return step_up;
    }
    let result: AppResult<(String, String)> = async {
        let role = users::parse_role(f.get("role"))?;
        let all_devices = (f.get("all_devices") == "1").then_some(true);
        let scope = users::scope_for_new_user(all_devices, f.all("group"))?;
        let (created, password) = users::create(
            &state.store,
            state.config.password_hashing,
            &actor(&user.0, &peer.ip().to_string(), &state),
            f.get("username"),
            role,
            &scope,
        )
        .await?;
        Ok((created.username, password))
    }
    .await;
    match result {
        Ok((name, password)) => show(
            build(&state, &user.0).await.map(|mut p| {
                p.notice = format!("Created {name}.");
                p.password_for = name;
                p.password = password;
                p
            }),
            StatusCode::OK,
        ),
        Err(e) => show(
            build(&state, &user.0).await.map(|mut p| {
                p.error = e.message;
                p
            }),
            e.status,
        ),
    }
}

pub async fn update(
    State(state): State<AppState>,
    ClientAddr(peer): ClientAddr,
    user: ConsoleUser<ManageUsers>,
    Path(id): Path<String>,
    RawForm(raw): RawForm,
) -> Response {
    let f = FormFields::parse(&raw);
    if !csrf_ok(&user.0, f.get("csrf")) {
        return csrf_rejected(&user.0);
    }
    // Resets, enabling, and changes to administrators need a recent step-up.
    if let Ok(target) = users::find(&state.store, &id).await {
        let target_role = Role::parse(&target.role).unwrap_or(Role::Viewer);
        let change = match f.get("op") {
            "save" => Role::parse(f.get("role"))
                .filter(|r| r.as_str() != target.role)
                .map(UserChange::SetRole),
            "disable" => Some(UserChange::Disable),
            "enable" => Some(UserChange::Enable),
            "delete" => Some(UserChange::Delete),
            "reset-password" | "reset-2fa" => Some(UserChange::ResetCredentials),
            _ => None,
        };
        if change.is_some_and(|c| needs_step_up(c, target_role))
            && let Some(step_up) = require_recent(&user.0, state.now(), "/users")
        {
            return step_up;
        }
    }
    let actor = actor(&user.0, &peer.ip().to_string(), &state);
    let store = &state.store;
    let result: AppResult<Outcome> = async {
        let target = users::find(store, &id).await?;
        let name = target.username.clone();
        let done = |notice: String| Outcome {
            notice,
            password: None,
        };
        match f.get("op") {
            "save" => {
                let role = users::parse_role(f.get("role"))?;
                // The form shows every device as its own box: unticking the last group
                // leaves no device, never every device.
                let all_devices = f.get("all_devices") == "1";
                let current = users::stored_scope(store, &target).await?;
                let scope =
                    users::requested_scope(Some(all_devices), Some(f.all("group")), &current)?;
                users::set_role_and_scope(store, &actor, &id, Some(role), scope.as_ref()).await?;
                Ok(done(format!("Saved {name}.")))
            }
            "disable" => {
                users::set_disabled(store, &actor, &id, true).await?;
                Ok(done(format!(
                    "Disabled {name}; their sessions ended and their API tokens were revoked."
                )))
            }
            "enable" => {
                users::set_disabled(store, &actor, &id, false).await?;
                Ok(done(format!("Enabled {name}.")))
            }
            "reset-password" => {
                let password =
                    users::reset_password(store, state.config.password_hashing, &actor, &id)
                        .await?;
                Ok(Outcome {
                    notice: format!("New one-time password for {name}."),
                    password: Some((name, password)),
                })
            }
            "reset-2fa" => {
                users::reset_two_factor(store, &actor, &id).await?;
                Ok(done(format!("Two-factor sign-in of {name} is off.")))
            }
            "delete" => {
                users::delete(store, &actor, &id).await?;
                Ok(done(format!("Deleted {name}.")))
            }
            _ => Err(crate::error::AppError::bad_request("unknown action")),
        }
    }
    .await;
    match result {
        Ok(outcome) => show(
            build(&state, &user.0).await.map(|mut p| {
                p.notice = outcome.notice;
                if let Some((name, password)) = outcome.password {
                    p.password_for = name;
                    p.password = password;
                }
                p
            }),
            StatusCode::OK,
        ),
        Err(e) => show(
            build(&state, &user.0).await.map(|mut p| {
                p.error = e.message;
                p
            }),
            e.status,
        ),
    }
}
