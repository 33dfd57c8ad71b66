//! The patching service: reads of the fleet's and a device's updates, approvals, installs
//! on demand and patch policies (who may, audit). The API, the console and the CLI call
//! these; the scheduler uses [`policy_for`] and [`pending_by_device`].

use std::collections::{HashMap, HashSet};

use steward_core::checks::{Membership, Target};
use steward_core::patching::window::{self, BadWindowText};
use steward_core::patching::{PatchPolicy, PendingUpdate, Reason, plan};
use steward_core::{Action, JobKind, Timestamp};
use steward_proto::agent::InstallUpdatesParams;
use steward_proto::patching::{
    Approval, ApprovalOut, DeviceUpdates, InstallNow, PatchPolicyInput, PatchPolicyOut, PendingRow,
    UpdatesOverview,
};
use steward_proto::scripts::Batch;
use steward_store::{DeviceMembership, PatchPolicyRecord, PatchPolicyWrite, StoreError};

use crate::batches::service::{self as batches, BatchError, Eligibility, Fanout};
use crate::service::{Caller, Denied, DomainError, Refusal};
use crate::state::AppState;

const DAY_MS: i64 = 86_400_000;

#[derive(Debug, thiserror::Error)]
pub enum PatchingError {
    #[error("{0}")]
    Invalid(String),
    #[error("no patch policy {0:?}")]
    NoPolicy(String),
    #[error("no device {0:?} within your scope")]
    NoDevice(String),
    #[error(transparent)]
    Window(#[from] BadWindowText),
    #[error(transparent)]
    Batch(#[from] BatchError),
    #[error(transparent)]
    Denied(#[from] Denied),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl DomainError for PatchingError {
    fn refusal(&self) -> Refusal {
        match self {
            PatchingError::Invalid(_) | PatchingError::Window(_) => Refusal::Invalid,
            PatchingError::NoPolicy(_) | PatchingError::NoDevice(_) => Refusal::NotFound,
            PatchingError::Batch(e) => e.refusal(),
            PatchingError::Denied(d) => d.refusal(),
            PatchingError::Store(e) => e.refusal(),
        }
    }
}

pub type Result<T> = std::result::Result<T, PatchingError>;

/// A stored policy, read.
#[derive(Debug, Clone)]
pub struct StoredPolicy {
    pub record: PatchPolicyRecord,
    pub target: Target,
    pub policy: PatchPolicy,
    pub window: Option<steward_core::alerting::window::Window>,
}

impl StoredPolicy {
    fn read(record: PatchPolicyRecord) -> Option<StoredPolicy> {
        let target = Target::parse(&record.target).ok()?;
        let policy = serde_json::from_str(&record.policy).ok()?;
        let window = match record.window.as_str() {
            "" => None,
            text => Some(window::parse(text).ok()?),
        };
        Some(StoredPolicy {
            record,
            target,
            policy,
            window,
        })
    }

    /// Whether installs may run at `now`.
    pub fn window_open(&self, now: Timestamp) -> bool {
        self.window.as_ref().is_none_or(|w| w.covers(now))
    }

    fn out(&self) -> PatchPolicyOut {
        PatchPolicyOut {
            id: self.record.id.clone(),
            name: self.record.name.clone(),
            target: self.record.target.clone(),
            policy: self.policy.clone(),
            window: self.window.as_ref().map(window::format),
            enabled: self.record.enabled,
            updated_at: self.record.updated_at,
            updated_by: self.record.updated_by.clone(),
        }
    }
}

/// Every stored policy that reads (one that does not is logged and left out).
pub async fn stored_policies(state: &AppState) -> Result<Vec<StoredPolicy>> {
    Ok(state
        .store
        .patch_policies()
        .await?
        .into_iter()
        .filter_map(|r| {
            let id = r.id.clone();
            let read = StoredPolicy::read(r);
            if read.is_none() {
                tracing::warn!(policy = %id, "patching: a stored policy does not read; skipped");
            }
            read
        })
        .collect())
}

/// The enabled policy that governs a device: the most specific target wins (a device's own,
/// then its group's, then a tag's, then `all`); among equals, the first by name.
pub fn policy_for<'a>(
    policies: &'a [StoredPolicy],
    device: &DeviceMembership,
) -> Option<&'a StoredPolicy> {
    let groups: Vec<String> = device.group_id.iter().cloned().collect();
    let membership = Membership {
        device_id: &device.device_id,
        groups: &groups,
        tags: &device.tags,
    };
    let rank = |t: &Target| match t {
        Target::Device(_) => 0,
        Target::Group(_) => 1,
        Target::Tag(_) => 2,
        Target::All => 3,
    };
    policies
        .iter()
        .filter(|p| p.record.enabled && p.target.covers(&membership))
        .min_by(|a, b| (rank(&a.target), &a.record.name).cmp(&(rank(&b.target), &b.record.name)))
}

/// Every device's pending updates with the time each was first seen.
pub async fn pending_by_device(
    state: &AppState,
) -> Result<HashMap<String, Vec<(PendingUpdate, Timestamp)>>> {
    let mut by_device: HashMap<String, Vec<(PendingUpdate, Timestamp)>> = HashMap::new();
    for row in state.store.pending_updates(None).await? {
        by_device
            .entry(row.device_id)
            .or_default()
            .push((row.update, row.first_seen));
    }
    Ok(by_device)
}

/// The approved (package, version) pairs.
pub async fn approved_set(state: &AppState) -> Result<HashSet<(String, String)>> {
    Ok(state
        .store
        .patch_approvals()
        .await?
        .into_iter()
        .map(|a| (a.package, a.version))
        .collect())
}

/// Whether a caller limited to some groups may see and change a policy on `target`: only
/// one of their groups, or one of their devices. `all` and tags reach beyond any scope; only
/// callers who see every device may use them.
fn target_within(caller: &Caller, target: &Target, devices: &[DeviceMembership]) -> bool {
    match (caller.scope(), target) {
        (steward_core::Scope::AllDevices, _) => true,
        (scope, Target::Group(g)) => scope.allows(Some(g)),
        (scope, Target::Device(id)) => devices
            .iter()
            .find(|d| &d.device_id == id)
            .is_some_and(|d| scope.allows(d.group_id.as_deref())),
        (_, Target::All | Target::Tag(_)) => false,
    }
}

/// Approvals are fleet-wide: they take a caller who sees every device.
fn require_every_device(caller: &Caller, what: &str) -> Result<()> {
    if *caller.scope() == steward_core::Scope::AllDevices {
        Ok(())
    } else {
        Err(PatchingError::Invalid(format!(
            "{what} holds for every device: it takes access to every device"
        )))
    }
}

fn in_scope(caller: &Caller, devices: Vec<DeviceMembership>) -> Vec<DeviceMembership> {
    devices
        .into_iter()
        .filter(|d| caller.scope().allows(d.group_id.as_deref()))
        .collect()
}

/// The fleet's patching within the caller's scope: the dashboard's three numbers and each
/// device's line.
pub async fn overview(state: &AppState, caller: &Caller) -> Result<UpdatesOverview> {
    caller.require(Action::ViewDevices)?;
    let devices = in_scope(caller, state.store.device_memberships().await?);
    let statuses: HashMap<String, steward_store::UpdateStatusRecord> = state
        .store
        .update_statuses()
        .await?
        .into_iter()
        .map(|s| (s.device_id.clone(), s))
        .collect();
    let pending = pending_by_device(state).await?;
    let capabilities = state.store.agent_capabilities().await?;
    let mut overview = UpdatesOverview {
        devices_missing_security: 0,
        oldest_security_days: None,
        reboot_required: 0,
        devices_listed: 0,
        devices: Vec::with_capacity(devices.len()),
    };
    for d in &devices {
        let status = statuses.get(&d.device_id);
        let list = pending.get(&d.device_id).map(Vec::as_slice).unwrap_or(&[]);
        let security: Vec<&Timestamp> = list
            .iter()
            .filter(|(u, _)| u.security)
            .map(|(_, t)| t)
            .collect();
        let oldest = security
            .iter()
            .min()
            .map(|t| caller.now.since(**t).max(0) / DAY_MS);
        let reboot = status.is_some_and(|s| s.reboot_required);
        if status.is_some() {
            overview.devices_listed += 1;
        }
        if !security.is_empty() {
            overview.devices_missing_security += 1;
        }
        if reboot {
            overview.reboot_required += 1;
        }
        if let Some(days) = oldest {
            overview.oldest_security_days = Some(
                overview
                    .oldest_security_days
                    .map_or(days, |o: i64| o.max(days)),
            );
        }
        overview.devices.push(DeviceUpdates {
            device_id: d.device_id.clone(),
            device_name: d.name.clone(),
            manager: status.map(|s| s.manager.clone()).unwrap_or_default(),
            listed_at: status.map(|s| s.listed_at),
            pending: list.len() as u32,
            security: security.len() as u32,
            oldest_security_days: oldest,
            reboot_required: reboot,
            error: status.and_then(|s| s.error.clone()),
            scripts_allowed: capabilities.get(&d.device_id).is_some_and(|(_, a)| *a),
        });
    }
    // The devices that need attention first: most security updates, oldest first.
    overview.devices.sort_by(|a, b| {
        (
            b.security,
            b.oldest_security_days,
            b.pending,
            &a.device_name,
        )
            .cmp(&(
                a.security,
                a.oldest_security_days,
                a.pending,
                &b.device_name,
            ))
    });
    Ok(overview)
}

/// A device's pending updates, each with what its policy does with it.
pub async fn device_pending(
    state: &AppState,
    caller: &Caller,
    device_id: &str,
) -> Result<Vec<PendingRow>> {
    caller.require(Action::ViewDevices)?;
    let device = in_scope(caller, state.store.device_memberships().await?)
        .into_iter()
        .find(|d| d.device_id == device_id)
        .ok_or_else(|| PatchingError::NoDevice(device_id.to_owned()))?;
    let list: Vec<(PendingUpdate, Timestamp)> = state
        .store
        .pending_updates(Some(device_id))
        .await?
        .into_iter()
        .map(|r| (r.update, r.first_seen))
        .collect();
    let approved = approved_set(state).await?;
    let is_approved = |p: &str, v: &str| approved.contains(&(p.to_owned(), v.to_owned()));
    let policies = stored_policies(state).await?;
    let governing = policy_for(&policies, &device);
    let planned = governing.map(|p| plan(&p.policy, &list, &is_approved, caller.now));
    Ok(list
        .into_iter()
        .map(|(u, first_seen)| {
            let plan_text = match (&planned, governing) {
                (None, _) | (_, None) => "no policy".to_owned(),
                (Some(plan), Some(policy)) => {
                    if plan.install.contains(&u.package) {
                        match &policy.window {
                            Some(w) => format!("installs in the window ({})", window::format(w)),
                            None => "installs at the next scheduler run".to_owned(),
                        }
                    } else {
                        plan.waiting
                            .iter()
                            .find(|(name, _)| name == &u.package)
                            .map(|(_, reason): &(String, Reason)| reason.to_string())
                            .unwrap_or_default()
                    }
                }
            };
            PendingRow {
                approved: is_approved(&u.package, &u.candidate),
                pending_days: caller.now.since(first_seen).max(0) / DAY_MS,
                package: u.package,
                arch: u.arch,
                installed: u.installed,
                candidate: u.candidate,
                source: u.source,
                security: u.security,
                advisories: u.advisories,
                first_seen,
                plan: plan_text,
            }
        })
        .collect())
}

fn check_package_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 200
        && !name.starts_with('-')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-._:~".contains(c));
    if ok {
        Ok(())
    } else {
        Err(PatchingError::Invalid(format!(
            "{name:?}: a package name is letters, digits and + - . _ : ~, not starting with -"
        )))
    }
}

/// Approves one version of a package, fleet-wide: policies that ask for approval install it.
pub async fn approve(state: &AppState, caller: &Caller, approval: &Approval) -> Result<()> {
    caller.require(Action::ManagePatching)?;
    require_every_device(caller, "an approval")?;
    check_package_name(&approval.package)?;
    check_package_name(&approval.version)?;
    state
        .store
        .approve_update(
            &approval.package,
            &approval.version,
            caller.now,
            &caller.label(),
        )
        .await?;
    caller
        .audit(
            &state.store,
            "update_approved",
            &approval.package,
            &approval.version,
        )
        .await;
    Ok(())
}

/// Withdraws an approval (an install already queued still runs).
pub async fn revoke_approval(state: &AppState, caller: &Caller, approval: &Approval) -> Result<()> {
    caller.require(Action::ManagePatching)?;
    require_every_device(caller, "an approval")?;
    state
        .store
        .revoke_approval(&approval.package, &approval.version)
        .await?;
    caller
        .audit(
            &state.store,
            "update_approval_revoked",
            &approval.package,
            &approval.version,
        )
        .await;
    Ok(())
}

pub async fn approvals(state: &AppState, caller: &Caller) -> Result<Vec<ApprovalOut>> {
    caller.require(Action::ViewDevices)?;
    Ok(state
        .store
        .patch_approvals()
        .await?
        .into_iter()
        .map(|a| ApprovalOut {
            package: a.package,
            version: a.version,
            approved_at: a.approved_at,
            approved_by: a.approved_by,
        })
        .collect())
}

/// Installs updates now on the devices a target names (within the caller's scope): each
/// device's pending updates, or those of `packages` pending on it. Devices with nothing to
/// install are skipped, and named.
pub async fn install_now(state: &AppState, caller: &Caller, req: &InstallNow) -> Result<Batch> {
    caller.require(Action::ManagePatching)?;
    for p in &req.packages {
        check_package_name(p)?;
    }
    let pending = pending_by_device(state).await?;
    let busy = state
        .store
        .devices_with_unfinished_jobs_of_kind(JobKind::InstallUpdates)
        .await?;
    let pick = |device_id: &str| -> Vec<String> {
        let mut names: Vec<String> = pending
            .get(device_id)
            .map(Vec::as_slice)
            .unwrap_or(&[])
            .iter()
            .filter(|(u, _)| !req.security_only || u.security)
            .filter(|(u, _)| req.packages.is_empty() || req.packages.contains(&u.package))
            .map(|(u, _)| u.package.clone())
            .collect();
        names.sort();
        names.dedup();
        names
    };
    let label = if req.packages.is_empty() {
        if req.security_only {
            "install security updates".to_owned()
        } else {
            "install all updates".to_owned()
        }
    } else {
        format!("install {}", req.packages.join(", "))
    };
    let batch = batches::send(
        state,
        caller,
        Fanout {
            kind: JobKind::InstallUpdates,
            target: &req.target,
            label: label.clone(),
            deadline_at: JobKind::InstallUpdates.deadline_for(caller.now),
            max_jobs: 10_000,
        },
        |candidate| {
            if busy.contains(&candidate.device.device_id) {
                Eligibility::No("an install is already waiting or running on it".into())
            } else if pick(&candidate.device.device_id).is_empty() {
                Eligibility::No("nothing of this is pending on it".into())
            } else {
                Eligibility::Yes
            }
        },
        |_, device| {
            // A person asked for this install; a reboot stays theirs to decide.
            serde_json::to_value(InstallUpdatesParams {
                packages: pick(&device.device_id),
                reboot: false,
            })
            .unwrap_or_default()
        },
    )
    .await?;
    caller
        .audit(
            &state.store,
            "updates_install_queued",
            &req.target,
            &format!(
                "{label} on {} devices ({} skipped; batch {})",
                batch.progress.total,
                batch.skipped.len(),
                batch.id
            ),
        )
        .await;
    Ok(batch)
}

/// The policies the caller may see: every one for a caller who sees every device; those on
/// their groups and devices otherwise.
pub async fn policies(state: &AppState, caller: &Caller) -> Result<Vec<PatchPolicyOut>> {
    caller.require(Action::ViewDevices)?;
    let devices = state.store.device_memberships().await?;
    Ok(stored_policies(state)
        .await?
        .iter()
        .filter(|p| target_within(caller, &p.target, &devices))
        .map(StoredPolicy::out)
        .collect())
}

/// A policy's target must lie within the caller's scope.
async fn check_target(state: &AppState, caller: &Caller, write: &PatchPolicyWrite) -> Result<()> {
    let target = Target::parse(&write.target).map_err(|e| PatchingError::Invalid(e.to_string()))?;
    let devices = state.store.device_memberships().await?;
    if target_within(caller, &target, &devices) {
        Ok(())
    } else {
        Err(PatchingError::Invalid(format!(
            "target {}: you can give policies only to your own groups and their devices",
            write.target
        )))
    }
}

fn checked(input: &PatchPolicyInput) -> Result<PatchPolicyWrite> {
    let name = input.name.trim();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(PatchingError::Invalid(
            "name: 1 to 100 characters, one line".into(),
        ));
    }
    let target =
        Target::parse(input.target.trim()).map_err(|e| PatchingError::Invalid(e.to_string()))?;
    let window = match input.window.as_deref().map(str::trim) {
        None | Some("") => String::new(),
        Some(text) => window::format(&window::parse(text)?),
    };
    if let steward_core::patching::OthersRule::Auto { defer_days } = input.policy.others
        && defer_days > 365
    {
        return Err(PatchingError::Invalid(
            "others.defer_days: at most 365".into(),
        ));
    }
    if input.policy.holds.len() > 200 {
        return Err(PatchingError::Invalid("holds: at most 200".into()));
    }
    for hold in &input.policy.holds {
        check_package_name(hold.strip_suffix('*').unwrap_or(hold))?;
    }
    Ok(PatchPolicyWrite {
        name: name.to_owned(),
        target: target.as_string(),
        policy: serde_json::to_string(&input.policy)
            .map_err(|e| PatchingError::Invalid(e.to_string()))?,
        window,
        enabled: input.enabled,
    })
}

pub async fn create_policy(
    state: &AppState,
    caller: &Caller,
    input: &PatchPolicyInput,
) -> Result<PatchPolicyOut> {
    caller.require(Action::ManagePatching)?;
    let write = checked(input)?;
    check_target(state, caller, &write).await?;
    let record = state
        .store
        .create_patch_policy(&write, caller.now, &caller.label())
        .await?;
    caller
        .audit(
            &state.store,
            "patch_policy_created",
            &record.id,
            &format!("{} on {}", record.name, record.target),
        )
        .await;
    out_of(record)
}

/// A policy just stored, as the API answers it.
fn out_of(record: PatchPolicyRecord) -> Result<PatchPolicyOut> {
    StoredPolicy::read(record)
        .map(|p| p.out())
        .ok_or_else(|| PatchingError::Invalid("the stored policy does not read".into()))
}

/// A policy by id or name, among those the caller may see.
async fn find_policy(state: &AppState, caller: &Caller, id_or_name: &str) -> Result<StoredPolicy> {
    let devices = state.store.device_memberships().await?;
    stored_policies(state)
        .await?
        .into_iter()
        .filter(|p| target_within(caller, &p.target, &devices))
        .find(|p| p.record.id == id_or_name || p.record.name == id_or_name)
        .ok_or_else(|| PatchingError::NoPolicy(id_or_name.to_owned()))
}

pub async fn update_policy(
    state: &AppState,
    caller: &Caller,
    id_or_name: &str,
    input: &PatchPolicyInput,
) -> Result<PatchPolicyOut> {
    caller.require(Action::ManagePatching)?;
    let write = checked(input)?;
    check_target(state, caller, &write).await?;
    let current = find_policy(state, caller, id_or_name).await?;
    let record = state
        .store
        .update_patch_policy(&current.record.id, &write, caller.now, &caller.label())
        .await?;
    caller
        .audit(
            &state.store,
            "patch_policy_changed",
            &record.id,
            &format!("{} on {}", record.name, record.target),
        )
        .await;
    out_of(record)
}

pub async fn delete_policy(state: &AppState, caller: &Caller, id_or_name: &str) -> Result<()> {
    caller.require(Action::ManagePatching)?;
    let current = find_policy(state, caller, id_or_name).await?;
    state.store.delete_patch_policy(&current.record.id).await?;
    caller
        .audit(
            &state.store,
            "patch_policy_deleted",
            &current.record.id,
            &current.record.name,
        )
        .await;
    Ok(())
}
