//! Backups: the server is where devices' backups are stored.
//!
//! [`endpoint`] serves restic's REST protocol under `/backup/v1/{device}/`, so an agent
//! backs up through rustic's (or restic's) own REST backend, with its own device credential
//! ([`client`]). Each device has one repository of its own, in a directory or a bucket
//! ([`storage`]).
//!
//! **The rule is append-only and per device.** An agent may create objects that do not
//! exist yet and read the objects of its own repository; it may delete only its own lock
//! files. Replacing or deleting a key, snapshot, index, pack or the config is refused, and so
//! is any request for another device's repository. Why: a device's credential sits on the
//! device, so whoever takes the device (ransomware, an intruder with root) holds it; with
//! this rule the most they can do is add junk — what was backed up before stays and still
//! restores. Forgetting snapshots and pruning packs are the server's own work, run on the
//! storage directly, never over this endpoint. The storage refuses to replace an object too
//! (`steward_backup::storage`), so the rule holds even against a confused caller here.

pub mod alerts;
mod api;
mod client;
pub mod console;
pub mod declared;
pub mod drills;
mod endpoint;
pub mod maintenance;
pub mod policies;
mod policies_api;
pub mod presets;
mod range;
mod repositories;
pub mod scheduler;
pub mod service;
pub mod storage;
mod upload;

/// What [`files`] is asked and answers.
pub use steward_backup::{ListScope, Listing};
pub use storage::{NoStorage, storage_for};

pub use service::{
    BackupError, DEFAULT_LISTED, MAX_LISTED, RestoreRequest, files, job_finished, may_read,
    policies_covering, repository_access, restore, reveal_password, run_now, snapshots,
};

use steward_backup::storage::ObjectName;

use crate::state::AppState;
use crate::web::routes::Routes;

/// Every backup route starts with this (the listener gives these requests a longer body
/// timeout: `net::NetLimits::backup_body_timeout`).
pub const PATH_PREFIX: &str = "/backup/";

/// The repository routes (`small` is the body limit of requests that carry no object) and
/// the API's backup routes.
pub fn routes(small: usize) -> Routes {
    use crate::web::routes::Access;
    use steward_core::Action;
    use utoipa_axum::routes;
    endpoint::routes(small).merge(
        Routes::new()
            .api(
                Access::Requires(Action::ViewDevices),
                routes!(api::overview),
            )
            .api(Access::Requires(Action::ManageBackups), routes!(api::run))
            .api(
                Access::Requires(Action::ViewDevices),
                routes!(api::snapshots),
            )
            .api(Access::Requires(Action::ViewDevices), routes!(api::files))
            .api(
                Access::Requires(Action::ManageBackups),
                routes!(api::restore),
            )
            .api(
                Access::Requires(Action::RevealBackupPasswords),
                routes!(api::password),
            )
            .api(
                Access::Requires(Action::ManageBackups),
                routes!(api::start_drill),
            )
            .api(Access::Requires(Action::ViewDevices), routes!(api::drills))
            .api(
                Access::Requires(Action::ViewDevices),
                routes!(policies_api::list),
            )
            .api(
                Access::Requires(Action::ManageBackups),
                routes!(policies_api::create),
            )
            .api(
                Access::Requires(Action::ViewDevices),
                routes!(policies_api::get),
            )
            .api(
                Access::Requires(Action::ManageBackups),
                routes!(policies_api::update),
            )
            .api(
                Access::Requires(Action::ManageBackups),
                routes!(policies_api::delete),
            )
            .api(
                Access::Requires(Action::ViewDevices),
                routes!(policies_api::presets),
            ),
    )
}

/// A new snapshot object `snapshot` of `device_id`'s repository was stored at
/// `received_at_ms` (the server's clock). The received time is what retention judges by, so
/// a device cannot push real snapshots out with forged times.
///
/// The store write of the receipt (the `backup_snapshots` table) goes here. It must not fail
/// the upload: the object is stored, and restic's retry would be refused as existing.
pub(crate) async fn snapshot_received(
    state: &AppState,
    device_id: &str,
    snapshot: &ObjectName,
    received_at_ms: i64,
) {
    let at = steward_core::Timestamp(received_at_ms);
    if let Err(e) = state
        .store
        .record_snapshot_received(device_id, snapshot.as_str(), at)
        .await
    {
        // The backup's result records it later, once the storage is seen to hold it.
        tracing::warn!(device = %device_id, %snapshot, "recording a received snapshot: {e}");
    }
}
