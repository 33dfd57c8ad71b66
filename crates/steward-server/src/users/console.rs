//! User management in the console (administrators): the list, creating a user (a one-time
//! password is shown once), and per-user actions — role, groups, disable/enable, reset the
//! password or the second factor, delete. Making someone an administrator needs a recent
//! step-up. The rules and the audit entries are in [`crate::users`].

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::auth::{ConsoleUser, ManageUsers, Principal};
use crate::console::format::utc;
use crate::console::{Chrome, FormFields, refused, render};
use crate::error::{AppError, AppResult};
use crate::service::{DomainError, Refusal};
use crate::state::AppState;
use crate::users;
use crate::web::csrf::CsrfForm;

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
    user: ConsoleUser<ManageUsers>,
    CsrfForm(f): CsrfForm<FormFields>,
) -> Response {
    let new = users::NewUserRequest {
        username: f.get("username"),
        role: f.get("role"),
        all_devices: (f.get("all_devices") == "1").then_some(true),
        groups: f.all("group"),
    };
    match users::create(&state, &user.caller(&state), new).await {
        Ok((created, password)) => show(
            build(&state, &user.0).await.map(|mut p| {
                p.notice = format!("Created {}.", created.username);
                p.password_for = created.username;
                p.password = password;
                p
            }),
            StatusCode::OK,
        ),
        Err(e) => failed(&state, &user, e).await,
    }
}

/// The users page with the refusal above it; a step-up sends the user to confirm their
/// password first.
async fn failed(
    state: &AppState,
    user: &ConsoleUser<ManageUsers>,
    e: users::UserError,
) -> Response {
    if e.refusal() == Refusal::StepUpRequired {
        return refused(&user.0, e, "", "/users");
    }
    let e = AppError::from(e);
    show(
        build(state, &user.0).await.map(|mut p| {
            p.error = e.message;
            p
        }),
        e.status,
    )
}

pub async fn update(
    State(state): State<AppState>,
    user: ConsoleUser<ManageUsers>,
    Path(id): Path<String>,
    CsrfForm(f): CsrfForm<FormFields>,
) -> Response {
    let caller = user.caller(&state);
    let result: users::Result<Outcome> = async {
        let target = users::find(&state, &caller, &id).await?;
        let name = target.username.clone();
        let done = |notice: String| Outcome {
            notice,
            password: None,
        };
        let change = |changes: users::UserChanges| {
            let (state, caller, id) = (&state, &caller, &id);
            async move { users::update(state, caller, id, &changes).await }
        };
        match f.get("op") {
            "save" => {
                // The form shows every device as its own box: unticking the last group
                // leaves no device, never every device.
                change(users::UserChanges {
                    role: Some(f.get("role").to_string()),
                    all_devices: Some(f.get("all_devices") == "1"),
                    groups: Some(f.all("group")),
                    disabled: None,
                })
                .await?;
                Ok(done(format!("Saved {name}.")))
            }
            "disable" => {
                change(users::UserChanges {
                    disabled: Some(true),
                    ..Default::default()
                })
                .await?;
                Ok(done(format!(
                    "Disabled {name}; their sessions ended and their API tokens were revoked."
                )))
            }
            "enable" => {
                change(users::UserChanges {
                    disabled: Some(false),
                    ..Default::default()
                })
                .await?;
                Ok(done(format!("Enabled {name}.")))
            }
            "reset-password" => {
                let password = users::reset_password(&state, &caller, &id).await?;
                Ok(Outcome {
                    notice: format!("New one-time password for {name}."),
                    password: Some((name, password)),
                })
            }
            "reset-2fa" => {
                users::reset_two_factor(&state, &caller, &id).await?;
                Ok(done(format!("Two-factor sign-in of {name} is off.")))
            }
            "delete" => {
                users::delete(&state, &caller, &id).await?;
                Ok(done(format!("Deleted {name}.")))
            }
            _ => Err(users::UserError::UnknownAction),
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
        Err(e) => failed(&state, &user, e).await,
    }
}
