//! Device groups (sites): the list with device counts, creating one (technicians and
//! administrators), deleting one (administrators; refused while a user is limited to it).

use askama::Template;
use axum::Form;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use steward_core::Action;

use super::{Chrome, csrf_ok, csrf_rejected, error_page, render};
use crate::auth::{ConsoleUser, OrganizeDevices};
use crate::net::ClientAddr;
use crate::state::AppState;

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
    let groups = match state.store.list_groups().await {
        Ok(g) => g,
        Err(e) => return crate::error::AppError::from(e).into_response(),
    };
    render(
        StatusCode::OK,
        &GroupsPage {
            chrome: Chrome::new(&user.0, "groups"),
            groups: groups
                .into_iter()
                .filter(|g| user.0.sees(Some(&g.id)))
                .map(|g| GroupRow {
                    id: g.id,
                    name: g.name,
                    devices: g.devices,
                })
                .collect(),
            can_create: user.0.may(Action::OrganizeDevices)
                && user.0.scope == steward_core::Scope::Everything,
            can_delete: user.0.may(Action::ManageUsers),
        },
    )
}

#[derive(Deserialize)]
pub struct GroupForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    id: String,
}

pub async fn create(
    State(state): State<AppState>,
    ClientAddr(peer): ClientAddr,
    user: ConsoleUser<OrganizeDevices>,
    Form(form): Form<GroupForm>,
) -> Response {
    if !csrf_ok(&user.0, &form.csrf) {
        return csrf_rejected(&user.0);
    }
    if user.0.scope != steward_core::Scope::Everything {
        return error_page(
            &user.0,
            StatusCode::FORBIDDEN,
            "Cannot create the group",
            "Only users who see every device create groups; ask an administrator.",
        );
    }
    match crate::admin::create_group(&state.store, &form.name, state.now()).await {
        Ok(g) => {
            crate::audit::record(
                &state.store,
                state.now(),
                &user.0.label(),
                "group_created",
                &g.name,
                "",
                &peer.ip().to_string(),
            )
            .await;
            Redirect::to("/groups").into_response()
        }
        Err(e) => error_page(&user.0, e.status, "Cannot create the group", &e.message),
    }
}

pub async fn delete(
    State(state): State<AppState>,
    ClientAddr(peer): ClientAddr,
    user: ConsoleUser<crate::auth::ManageUsers>,
    Form(form): Form<GroupForm>,
) -> Response {
    if !csrf_ok(&user.0, &form.csrf) {
        return csrf_rejected(&user.0);
    }
    match state.store.delete_group(&form.id).await {
        Ok(()) => {
            crate::audit::record(
                &state.store,
                state.now(),
                &user.0.label(),
                "group_deleted",
                &form.id,
                "",
                &peer.ip().to_string(),
            )
            .await;
            Redirect::to("/groups").into_response()
        }
        Err(steward_store::StoreError::Conflict(m)) => {
            error_page(&user.0, StatusCode::CONFLICT, "Cannot delete the group", &m)
        }
        Err(steward_store::StoreError::NotFound) => error_page(
            &user.0,
            StatusCode::NOT_FOUND,
            "Group not found",
            "It may have been deleted already.",
        ),
        Err(e) => crate::error::AppError::from(e).into_response(),
    }
}
