//! Backups in the console: the device page's "Backups" section with "Back up now" and the
//! repository password ([`device`]), a snapshot's page — its files, a diff with another
//! snapshot and the restore form ([`snapshot`], answered by [`restore`]) —, the fleet's backups at `/backups`
//! ([`fleet`]) and the dashboard's card ([`summary`]), and the backup policies at `/backups/policies` ([`policies`], its form
//! [`policy_form`]). Thin, like the API: every action goes to the backup service
//! (`backup::service`), which authorises, validates and audits; the pages only read and
//! explain ([`figures`], [`listing`]).
//!
//! Who may do what follows the API: anyone who sees a device sees its backups; backing up
//! and restoring take `ManageBackups`; the password takes `RevealBackupPasswords`
//! (administrators) and a recent step-up.

mod device;
mod figures;
mod fleet;
mod listing;
mod policies;
mod policy_form;
mod restore;
mod snapshot;
mod summary;

pub use device::{DeviceBackups, section};
pub use summary::{BackupCard, card as dashboard_card};

use axum::http::StatusCode;
use axum::response::Response;
use steward_core::Action;

use crate::auth::{Principal, urlencode};
use crate::web::routes::{Access, Routes};

/// The console's backup pages and forms.
pub fn routes() -> Routes {
    use Action::{ManageBackups, RevealBackupPasswords, ViewDevices};
    Routes::new()
        .get("/backups", Access::Requires(ViewDevices), fleet::page)
        .get(
            "/backups/policies",
            Access::Requires(ViewDevices),
            policies::page,
        )
        .post(
            "/backups/policies",
            Access::Requires(ManageBackups),
            policies::create,
        )
        .get(
            "/backups/policies/{id}",
            Access::Requires(ViewDevices),
            policies::edit,
        )
        .post(
            "/backups/policies/{id}",
            Access::Requires(ManageBackups),
            policies::update,
        )
        .post(
            "/backups/policies/{id}/delete",
            Access::Requires(ManageBackups),
            policies::delete,
        )
        .post(
            "/devices/{id}/backups",
            Access::Requires(ManageBackups),
            device::back_up_now,
        )
        .get(
            "/devices/{id}/backups/{snapshot}",
            Access::Requires(ViewDevices),
            snapshot::page,
        )
        .post(
            "/devices/{id}/backups/{snapshot}/restore",
            Access::Requires(ManageBackups),
            restore::restore,
        )
        .post(
            "/devices/{id}/backup-drills",
            Access::Requires(ManageBackups),
            device::run_drill,
        )
        .get(
            "/devices/{id}/backup-password",
            Access::Requires(RevealBackupPasswords),
            device::password_page,
        )
        .post(
            "/devices/{id}/backup-password",
            Access::Requires(RevealBackupPasswords),
            device::reveal_password,
        )
}

/// The device page, at its Backups section (`done` says what was just queued).
fn device_href(id: &str, done: Option<&str>) -> String {
    match done {
        Some(done) => format!("/devices/{}?done={done}#backups", urlencode(id)),
        None => format!("/devices/{}#backups", urlencode(id)),
    }
}

/// A snapshot's page.
fn snapshot_href(device: &str, snapshot: &str) -> String {
    format!(
        "/devices/{}/backups/{}",
        urlencode(device),
        urlencode(snapshot)
    )
}

/// The first eight hex digits, as restic shows a snapshot's id.
fn short_id(id: &str) -> &str {
    id.get(..8).unwrap_or(id)
}

fn not_found(user: &Principal, title: &str, message: &str) -> Response {
    crate::console::error_page(user, StatusCode::NOT_FOUND, title, message)
}
