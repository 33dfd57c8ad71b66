//! Device groups (sites): listing those the caller can see, creating and deleting them.
//! Placing a device in a group is the devices service's (`devices::organize`). The API
//! (`api`), the console (`console`) and `steward admin group …` are adapters over these.

pub mod api;
pub mod console;

use steward_core::{Action, Scope};
use steward_store::{GroupRecord, StoreError};
use utoipa_axum::routes;

use crate::secrets::new_id;
use crate::service::{Caller, Denied, DomainError, Refusal};
use crate::state::AppState;
use crate::web::routes::{Access, Routes};

#[derive(Debug, thiserror::Error)]
pub enum GroupError {
    #[error("a group name is 1 to 100 characters")]
    BadName,
    #[error("only users who see every device create groups; ask an administrator")]
    NotEveryDevice,
    #[error("group not found")]
    NotFound,
    #[error("no group named {0:?}; `steward admin group list` shows them")]
    NoGroupNamed(String),
    #[error("{0}")]
    InUse(String),
    #[error(transparent)]
    Denied(#[from] Denied),
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for GroupError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => GroupError::NotFound,
            // A name taken, or users still limited to the group.
            StoreError::Conflict(m) => GroupError::InUse(m),
            other => GroupError::Store(other),
        }
    }
}

impl DomainError for GroupError {
    fn refusal(&self) -> Refusal {
        match self {
            GroupError::BadName => Refusal::Invalid,
            GroupError::NotEveryDevice => Refusal::Forbidden,
            GroupError::NotFound | GroupError::NoGroupNamed(_) => Refusal::NotFound,
            GroupError::InUse(_) => Refusal::Conflict,
            GroupError::Denied(d) => d.refusal(),
            GroupError::Store(e) => e.refusal(),
        }
    }
}

pub type Result<T> = std::result::Result<T, GroupError>;

/// The groups the caller can see, with their device counts.
pub async fn list(state: &AppState, caller: &Caller) -> Result<Vec<GroupRecord>> {
    caller.require(Action::ViewDevices)?;
    let groups = state.store.list_groups().await?;
    Ok(groups
        .into_iter()
        .filter(|g| caller.scope().allows(Some(&g.id)))
        .collect())
}

/// Whether the caller may create groups (shown as a button before they try).
pub fn may_create(caller: &Caller) -> bool {
    caller.who.may(Action::OrganizeDevices) && *caller.scope() == Scope::AllDevices
}

/// Creates a group. Names are 1–100 characters and unique. Only callers who see every
/// device create groups: one they created would be outside their own view, and a name clash
/// would tell them about other clients' groups.
pub async fn create(state: &AppState, caller: &Caller, name: &str) -> Result<GroupRecord> {
    caller.require(Action::OrganizeDevices)?;
    if *caller.scope() != Scope::AllDevices {
        return Err(GroupError::NotEveryDevice);
    }
    let name = name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(GroupError::BadName);
    }
    let group = state
        .store
        .create_group(&new_id(), name, caller.now)
        .await?;
    caller
        .audit(&state.store, "group_created", &group.name, "")
        .await;
    Ok(group)
}

/// Deletes a group (refused while a user is limited to it); its devices become ungrouped.
pub async fn delete(state: &AppState, caller: &Caller, id: &str) -> Result<()> {
    caller.require(Action::ManageUsers)?;
    state.store.delete_group(id).await?;
    caller.audit(&state.store, "group_deleted", id, "").await;
    Ok(())
}

/// A group by name (for people typing commands).
pub async fn find_by_name(state: &AppState, caller: &Caller, name: &str) -> Result<GroupRecord> {
    list(state, caller)
        .await?
        .into_iter()
        .find(|g| g.name == name)
        .ok_or_else(|| GroupError::NoGroupNamed(name.to_string()))
}

pub fn routes() -> Routes {
    use Action::*;
    Routes::new()
        .api(Access::Requires(ViewDevices), routes!(api::list))
        .api(Access::Requires(OrganizeDevices), routes!(api::create))
        .api(Access::Requires(ManageUsers), routes!(api::delete))
        .get("/groups", Access::Requires(ViewDevices), console::page)
        .post(
            "/groups",
            Access::Requires(OrganizeDevices),
            console::create,
        )
        .post(
            "/groups/delete",
            Access::Requires(ManageUsers),
            console::delete,
        )
}
