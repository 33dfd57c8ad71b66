//! Device groups (sites): the list with device counts, creating one (technicians and
//! administrators), deleting one (administrators; refused while a user is limited to it).

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use steward_core::Action;

use crate::auth::{ConsoleUser, ManageUsers, OrganizeDevices};
use crate::console::{Chrome, refused, render};
use crate::state::AppState;
use crate::web::csrf::CsrfForm;

pub struct GroupRow {
    pub id: String,
    pub name: String,
    pub devices: u64,
}

#[derive(Template)]
#[template(path = "groups.html")]
struct GroupsPage {
    chrome: Chrome,
    groups: Vec<GroupRow>,
    can_create: bool,
    can_delete: bool,
}

pub async fn page(State(state): State<AppState>, user: ConsoleUser) -> Response {
    let caller = user.caller(&state);
    let groups = match super::list(&state, &caller).await {
        Ok(g) => g,
        Err(e) => return crate::error::AppError::from(e).into_response(),
    };
    render(
        StatusCode::OK,
        &GroupsPage {
            chrome: Chrome::new(&user.0, "groups"),
            groups: groups
                .into_iter()
                .map(|g| GroupRow {
                    id: g.id,
                    name: g.name,
                    devices: g.devices,
                })
                .collect(),
            can_create: super::may_create(&caller),
            can_delete: user.0.may(Action::ManageUsers),
        },
    )
}

#[derive(Deserialize)]
pub struct GroupForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    id: String,
}

pub async fn create(
    State(state): State<AppState>,
    user: ConsoleUser<OrganizeDevices>,
    CsrfForm(form): CsrfForm<GroupForm>,
) -> Response {
    match super::create(&state, &user.caller(&state), &form.name).await {
        Ok(_) => Redirect::to("/groups").into_response(),
        Err(e) => refused(&user.0, e, "Cannot create the group", "/groups"),
    }
}

pub async fn delete(
    State(state): State<AppState>,
    user: ConsoleUser<ManageUsers>,
    CsrfForm(form): CsrfForm<GroupForm>,
) -> Response {
    match super::delete(&state, &user.caller(&state), &form.id).await {
        Ok(()) => Redirect::to("/groups").into_response(),
        Err(e) => refused(&user.0, e, "Cannot delete the group", "/groups"),
    }
}
