//! Devices and their inventory: the service every surface uses to find, list and read a
//! device within the caller's scope, queue work for it, rotate its credential, revoke it and
//! place it in a group or tag it. The API (`api`), console pages (`console`, `console_list`,
//! `dashboard`, `sections`) and `steward admin device …` are adapters over these functions.

pub mod api;
pub mod console;
pub mod console_list;
pub mod dashboard;
pub mod sections;

use steward_core::history::{Point, Resolution, SeriesName};
use steward_core::{Action, ChangeKind, Inventory, JobKind, JobState, Metrics, Scope, Timestamp};
use steward_store::{
    ChangeRecord, DeviceFilter, DeviceRecord, FleetStats, JobRecord, ScopedStore, SeriesCatalog,
    SoftwareRecord, StoreError,
};
use utoipa_axum::routes;

use crate::secrets::new_id;
use crate::service::{Caller, Denied, DomainError, Refusal};
use crate::state::AppState;
use crate::web::routes::{Access, Routes};

/// Why a device operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    #[error("device not found")]
    NotFound,
    #[error("no device named {0:?}; `steward admin device list` shows them")]
    NoDeviceNamed(String),
    #[error(
        "{0} devices are named so; use an id instead ({1}); `steward admin device list` shows them"
    )]
    Ambiguous(usize, String),
    #[error("this device is revoked and takes no jobs; enroll it again to restore it")]
    Revoked,
    #[error(
        "a credential rotation is asked for on its own (POST /api/v1/devices/{{id}}/rotate-credential), as it needs the revoke permission"
    )]
    RotationIsSeparate,
    #[error(
        "this kind of job is queued with its parameters: backups and restores at POST /api/v1/devices/{{id}}/backups or …/restores, installs at POST /api/v1/updates/install, scripts at POST /api/v1/scripts/{{id}}/runs"
    )]
    NeedsParameters,
    #[error("you can only place devices in groups you serve")]
    GroupOutsideScope,
    #[error("no such group")]
    NoSuchGroup,
    #[error("at most 50 tags of at most 50 characters each")]
    BadTags,
    #[error("unknown change kind {0:?}")]
    UnknownChangeKind(String),
    #[error(transparent)]
    Denied(#[from] Denied),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl DomainError for DeviceError {
    fn refusal(&self) -> Refusal {
        match self {
            DeviceError::NotFound | DeviceError::NoDeviceNamed(_) => Refusal::NotFound,
            DeviceError::Revoked => Refusal::Conflict,
            DeviceError::GroupOutsideScope => Refusal::Forbidden,
            DeviceError::Ambiguous(..)
            | DeviceError::RotationIsSeparate
            | DeviceError::NeedsParameters
            | DeviceError::NoSuchGroup
            | DeviceError::BadTags
            | DeviceError::UnknownChangeKind(_) => Refusal::Invalid,
            DeviceError::Denied(d) => d.refusal(),
            DeviceError::Store(e) => e.refusal(),
        }
    }
}

pub type Result<T> = std::result::Result<T, DeviceError>;

/// The device, if it exists within the caller's scope. A device outside it is "not found",
/// so a scoped user learns nothing about other clients' machines — but the attempt is
/// audited: probing other clients' machines is worth an administrator's attention.
pub async fn find(state: &AppState, caller: &Caller, id: &str) -> Result<DeviceRecord> {
    if let Some(device) = state.store.scoped(caller.scope()).device(id).await? {
        return Ok(device);
    }
    let exists = state
        .store
        .scoped(&Scope::AllDevices)
        .device(id)
        .await?
        .is_some();
    if exists {
        caller
            .audit(
                &state.store,
                "authorisation_denied",
                id,
                "device outside the groups this user serves",
            )
            .await;
    }
    Err(DeviceError::NotFound)
}

/// A device by id or by exact name (for people typing commands); an ambiguous name is an
/// error listing the candidates' ids.
pub async fn find_by_name_or_id(
    state: &AppState,
    caller: &Caller,
    name_or_id: &str,
) -> Result<DeviceRecord> {
    let view = state.store.scoped(caller.scope());
    if let Some(d) = view.device(name_or_id).await? {
        return Ok(d);
    }
    let mut found = view.devices_named(name_or_id).await?;
    match found.len() {
        0 => Err(DeviceError::NoDeviceNamed(name_or_id.to_string())),
        1 => Ok(found.remove(0)),
        n => Err(DeviceError::Ambiguous(
            n,
            found
                .iter()
                .map(|d| d.id.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        )),
    }
}

/// One page of the devices in the caller's scope matching `filter`, and how many match.
pub async fn list(
    state: &AppState,
    caller: &Caller,
    filter: &DeviceFilter,
) -> Result<(Vec<DeviceRecord>, u64)> {
    caller.require(Action::ViewDevices)?;
    Ok(state
        .store
        .scoped(caller.scope())
        .list_devices(filter)
        .await?)
}

/// Counts of the devices in the caller's scope, for the dashboard and the device list.
pub async fn fleet_stats(state: &AppState, caller: &Caller) -> Result<FleetStats> {
    caller.require(Action::ViewDevices)?;
    Ok(state
        .store
        .scoped(caller.scope())
        .fleet_stats(caller.now)
        .await?)
}

/// The latest changes across the devices in the caller's scope, newest first.
pub async fn recent_changes(
    state: &AppState,
    caller: &Caller,
    limit: u64,
) -> Result<Vec<ChangeRecord>> {
    caller.require(Action::ViewDevices)?;
    Ok(state
        .store
        .scoped(caller.scope())
        .recent_changes(limit)
        .await?)
}

/// A device found within the caller's scope, and reads of its data through the same scope.
/// Opened once per request, however many of its lists a page shows.
pub struct OpenDevice<'a> {
    pub device: DeviceRecord,
    view: ScopedStore<'a>,
}

/// Opens a device the caller may see (see [`find`]).
pub async fn open<'a>(state: &'a AppState, caller: &'a Caller, id: &str) -> Result<OpenDevice<'a>> {
    caller.require(Action::ViewDevices)?;
    let device = find(state, caller, id).await?;
    Ok(OpenDevice {
        device,
        view: state.store.scoped(caller.scope()),
    })
}

impl OpenDevice<'_> {
    pub async fn inventory(&self) -> Result<Option<Inventory>> {
        Ok(self.view.inventory(&self.device.id).await?)
    }

    /// The latest metrics and when they were collected.
    pub async fn metrics(&self) -> Result<Option<(Timestamp, Metrics)>> {
        Ok(self.view.metrics(&self.device.id).await?)
    }

    /// One page of the software (names containing `search`), and how many match.
    pub async fn software(
        &self,
        search: Option<&str>,
        offset: u64,
        limit: u64,
    ) -> Result<(Vec<SoftwareRecord>, u64)> {
        Ok(self
            .view
            .software(&self.device.id, search, offset, limit)
            .await?)
    }

    /// One page of the timeline, newest first, optionally of one kind of change (an
    /// unknown kind is refused).
    pub async fn changes(
        &self,
        kind: Option<&str>,
        offset: u64,
        limit: u64,
    ) -> Result<(Vec<ChangeRecord>, u64)> {
        let kind = match kind.filter(|k| !k.is_empty()) {
            Some(k) => Some(
                ChangeKind::parse(k)
                    .ok_or_else(|| DeviceError::UnknownChangeKind(k.to_string()))?,
            ),
            None => None,
        };
        Ok(self
            .view
            .changes(&self.device.id, kind.map(|k| k.as_str()), offset, limit)
            .await?)
    }

    /// The latest jobs, newest first.
    pub async fn jobs(&self, limit: u64) -> Result<Vec<JobRecord>> {
        Ok(self.view.jobs(&self.device.id, limit).await?)
    }

    /// Its metric series and how far their roll-ups have come (`None`: no history yet).
    pub async fn metric_catalog(&self) -> Result<Option<SeriesCatalog>> {
        Ok(self.view.metric_catalog(&self.device.id).await?)
    }

    /// Points of `series` in `[from, to)` as kept at `resolution` (see
    /// `ScopedStore::metric_points`).
    pub async fn metric_points(
        &self,
        catalog: &SeriesCatalog,
        series: &[SeriesName],
        resolution: Resolution,
        from: Timestamp,
        to: Timestamp,
    ) -> Result<Vec<Vec<Point>>> {
        Ok(self
            .view
            .metric_points(&self.device.id, catalog, series, resolution, from, to)
            .await?)
    }
}

/// Queues a job for the device and wakes its agent if it is connected to this server.
/// Credential rotation is not a job one queues: see [`request_rotation`].
pub async fn queue_job(
    state: &AppState,
    caller: &Caller,
    id: &str,
    kind: JobKind,
) -> Result<JobRecord> {
    caller.require(Action::OperateDevices)?;
    if kind == JobKind::RotateCredential {
        return Err(DeviceError::RotationIsSeparate);
    }
    if matches!(
        kind,
        JobKind::Backup
            | JobKind::Restore
            | JobKind::InstallUpdates
            | JobKind::RunScript
            | JobKind::DetectionResponse
            | JobKind::RansomwareDrill
    ) {
        return Err(DeviceError::NeedsParameters);
    }
    let device = find(state, caller, id).await?;
    let job = enqueue(state, caller, &device, kind).await?;
    caller
        .audit(
            &state.store,
            "job_queued",
            &device.id,
            &format!("{} ({}) on {}", kind.as_str(), job.id, device.name),
        )
        .await;
    Ok(job)
}

/// Asks a device's agent to replace its credential (a `rotate_credential` job): the agent
/// fetches a new one, stores it, and its old one stops working at its next request.
pub async fn request_rotation(state: &AppState, caller: &Caller, id: &str) -> Result<JobRecord> {
    caller.require(Action::RevokeDevices)?;
    let device = find(state, caller, id).await?;
    let job = enqueue(state, caller, &device, JobKind::RotateCredential).await?;
    caller
        .audit(
            &state.store,
            "credential_rotation_requested",
            &device.id,
            &format!("job {} on {}", job.id, device.name),
        )
        .await;
    tracing::info!(device = %device.id, by = %caller.label(), "credential rotation requested");
    Ok(job)
}

async fn enqueue(
    state: &AppState,
    caller: &Caller,
    device: &DeviceRecord,
    kind: JobKind,
) -> Result<JobRecord> {
    if device.revoked_at.is_some() {
        return Err(DeviceError::Revoked);
    }
    let job = new_job(&device.id, kind, &caller.label(), caller.now);
    state.store.create_job(&job).await?;
    state.dispatcher.notify(&device.id);
    Ok(job)
}

/// A job record in the `queued` state.
pub fn new_job(device_id: &str, kind: JobKind, requested_by: &str, now: Timestamp) -> JobRecord {
    JobRecord {
        id: new_id(),
        device_id: device_id.to_string(),
        kind,
        params: serde_json::Value::Null,
        state: JobState::Queued,
        message: String::new(),
        output: String::new(),
        requested_by: requested_by.to_string(),
        created_at: now,
        updated_at: now,
        deadline_at: kind.deadline_for(now),
    }
}

/// What revoking did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Revoked {
    /// The device's credential stopped working now.
    Now,
    /// It had been revoked before; nothing changed (and nothing more is audited), so
    /// asking again — after a lost answer, say — is safe.
    Already,
}

/// Cuts the device off: its credential stops working at once.
pub async fn revoke(state: &AppState, caller: &Caller, id: &str) -> Result<Revoked> {
    caller.require(Action::RevokeDevices)?;
    let device = find(state, caller, id).await?;
    if device.revoked_at.is_some() {
        return Ok(Revoked::Already);
    }
    match state.store.revoke_device(&device.id, caller.now).await {
        Ok(()) => {}
        // Revoked by someone else in between: the same outcome.
        Err(StoreError::NotFound) => return Ok(Revoked::Already),
        Err(e) => return Err(e.into()),
    }
    caller
        .audit(&state.store, "device_revoked", &device.id, &device.name)
        .await;
    tracing::info!(device = %device.id, by = %caller.label(), "device revoked");
    Ok(Revoked::Now)
}

/// Tags: 1–50 characters each, at most 50 per device; blanks dropped.
fn check_tags(tags: &[String]) -> Result<Vec<String>> {
    let tags: Vec<String> = tags
        .iter()
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .collect();
    if tags.len() > 50 || tags.iter().any(|t| t.chars().count() > 50) {
        return Err(DeviceError::BadTags);
    }
    Ok(tags)
}

/// Moves a device into a group (`Some(None)`: out of any) and/or replaces its tags, within
/// the caller's scope: a technician limited to some groups can move devices only between
/// them. Audited with before and after. Returns the device as it now is.
pub async fn organize(
    state: &AppState,
    caller: &Caller,
    id: &str,
    group: Option<Option<&str>>,
    tags: Option<&[String]>,
) -> Result<DeviceRecord> {
    caller.require(Action::OrganizeDevices)?;
    let device = find(state, caller, id).await?;
    let store = &state.store;
    if let Some(group) = group {
        if !caller.scope().allows(group) {
            return Err(DeviceError::GroupOutsideScope);
        }
        if group != device.group_id.as_deref() {
            let groups = store.list_groups().await?;
            let name_of = |id: Option<&str>| {
                id.and_then(|id| groups.iter().find(|g| g.id == id))
                    .map_or("no group".to_string(), |g| g.name.clone())
            };
            if group.is_some_and(|g| !groups.iter().any(|x| x.id == g)) {
                return Err(DeviceError::NoSuchGroup);
            }
            store.set_device_group(&device.id, group).await?;
            caller
                .audit(
                    store,
                    "device_group_changed",
                    &device.name,
                    &format!(
                        "{} → {}",
                        name_of(device.group_id.as_deref()),
                        name_of(group)
                    ),
                )
                .await;
        }
    }
    if let Some(tags) = tags {
        let tags = check_tags(tags)?;
        if tags != device.tags {
            store.set_device_tags(&device.id, &tags).await?;
            caller
                .audit(
                    store,
                    "device_tags_changed",
                    &device.name,
                    &format!("[{}] → [{}]", device.tags.join(", "), tags.join(", ")),
                )
                .await;
        }
    }
    find(state, caller, id).await
}

/// The capability's routes: the API's and the console's.
pub fn routes() -> Routes {
    use Action::*;
    Routes::new()
        .api(Access::Requires(ViewDevices), routes!(api::list))
        .api(Access::Requires(ViewDevices), routes!(api::detail))
        .api(Access::Requires(OrganizeDevices), routes!(api::update))
        .api(Access::Requires(ViewDevices), routes!(api::software))
        .api(Access::Requires(ViewDevices), routes!(api::changes))
        .api(Access::Requires(ViewDevices), routes!(api::jobs))
        .api(Access::Requires(OperateDevices), routes!(api::create_job))
        .api(Access::Requires(RevokeDevices), routes!(api::revoke))
        .api(
            Access::Requires(RevokeDevices),
            routes!(api::rotate_credential),
        )
        .get("/", Access::Requires(ViewDevices), dashboard::page)
        .get(
            "/devices",
            Access::Requires(ViewDevices),
            console_list::list,
        )
        .get(
            "/devices/{id}",
            Access::Requires(ViewDevices),
            console::detail,
        )
        .post(
            "/devices/{id}/refresh",
            Access::Requires(OperateDevices),
            console::refresh,
        )
        .post(
            "/devices/{id}/organize",
            Access::Requires(OrganizeDevices),
            console::organize,
        )
        .post(
            "/devices/{id}/access",
            Access::Requires(RevokeDevices),
            console::access,
        )
}
