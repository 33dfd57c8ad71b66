//! The device page's "Backups" section — the last backup and what it saved, the next run,
//! the last proven restore, the snapshots — with "Back up now", and the page that shows a
//! repository's password (administrators, after a step-up).

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use steward_core::backup::schedule::Schedule;
use steward_core::{Action, Timestamp};
use steward_store::{BackupSnapshotRecord, DeviceRecord, DrillOutcome};

use super::figures::{self, Savings};
use super::{device_href, short_id, snapshot_href};
use crate::auth::{ConsoleUser, ManageBackups, RevealBackupPasswords, urlencode};
use crate::backup::service::{self, BackupError};
use crate::console::format::{bytes, duration_secs, relative, utc};
use crate::console::{Chrome, refused, render};
use crate::devices::DeviceError;
use crate::error::AppResult;
use crate::service::Caller;
use crate::state::AppState;
use crate::web::csrf::CsrfForm;

/// Snapshots listed in the section (newest first); a snapshot's page compares with any.
const SNAPSHOT_ROWS: usize = 30;

/// The newest snapshot, explained.
pub struct LastBackup {
    pub when: String,
    pub exact: String,
    pub files: String,
    pub size: String,
    pub duration: String,
    pub savings: Option<Savings>,
    pub late: bool,
    pub href: String,
}

pub struct SnapshotRow {
    pub short: String,
    pub href: String,
    pub received: String,
    pub received_exact: String,
    /// The time the device wrote into it, when its clock seems off (else empty).
    pub written_exact: String,
    pub files: String,
    pub size: String,
    pub added: String,
    pub paths: String,
}

impl SnapshotRow {
    pub fn new(device_id: &str, s: &BackupSnapshotRecord, now: Timestamp) -> SnapshotRow {
        let clock = figures::clock_differs(s.received_at, s.written_at, s.duration_ms);
        SnapshotRow {
            short: short_id(&s.snapshot_id).to_owned(),
            href: snapshot_href(device_id, &s.snapshot_id),
            received: relative(s.received_at, now),
            received_exact: utc(s.received_at),
            written_exact: match s.written_at {
                Some(w) if clock => utc(w),
                _ => String::new(),
            },
            files: count(s.files),
            size: size(s.bytes),
            added: size(s.added_bytes),
            paths: s.paths.as_deref().unwrap_or_default().join(", "),
        }
    }
}

/// A policy that covers the device.
pub struct PolicyLine {
    pub name: String,
    pub schedule: String,
    pub paths: String,
}

/// The section.
#[derive(Default)]
pub struct DeviceBackups {
    pub device_id: String,
    /// Why nothing can be backed up here (no backups directory), or empty.
    pub unavailable: String,
    pub has_repository: bool,
    pub last: Option<LastBackup>,
    /// What the repository holds: the new data of every snapshot kept, as stored.
    pub stored: String,
    pub next_run: String,
    pub next_run_exact: String,
    /// The last restore drill: `never`, or how it went and when.
    pub drill: String,
    /// `ok`, `critical`, `pending` or empty (never): the drill's badge.
    pub drill_badge: &'static str,
    pub policies: Vec<PolicyLine>,
    pub snapshots: Vec<SnapshotRow>,
    pub snapshots_total: usize,
    /// What was just queued, in words.
    pub flash: String,
    pub can_back_up: bool,
    pub can_reveal: bool,
}

fn count(n: Option<i64>) -> String {
    n.map_or_else(|| "—".to_owned(), |n| n.to_string())
}

fn size(n: Option<i64>) -> String {
    n.and_then(|n| u64::try_from(n).ok())
        .map_or_else(|| "—".to_owned(), bytes)
}

/// The Backups section of `device`'s page; `done` is the page's `done` parameter (what a
/// form just queued).
pub async fn section(
    state: &AppState,
    caller: &Caller,
    device: &DeviceRecord,
    now: Timestamp,
    done: Option<&str>,
) -> AppResult<DeviceBackups> {
    let snapshots = service::snapshots(state, caller, &device.id).await?;
    let policies = service::policies_covering(state, device).await?;
    let view = state.store.scoped(caller.scope());
    let overview = view.backup_overview_of(&device.id).await?;
    let drill = view.backup_drills(&device.id, 1).await?.into_iter().next();
    let interval = policies
        .iter()
        .filter_map(|p| Schedule::parse(&p.schedule).ok())
        .map(|s| s.period_ms())
        .min();
    let last = snapshots.first().map(|s| LastBackup {
        when: relative(s.received_at, now),
        exact: utc(s.received_at),
        files: count(s.files),
        size: size(s.bytes),
        duration: s.duration_ms.map_or_else(
            || "—".to_owned(),
            |ms| duration_secs((ms.max(0) / 1000) as u64),
        ),
        savings: figures::savings(s.bytes, s.added_bytes, s.stored_bytes),
        late: figures::is_late(s.received_at, now, interval),
        href: snapshot_href(&device.id, &s.snapshot_id),
    });
    let next = overview.as_ref().and_then(|o| o.next_due_at);
    let last_bytes = overview.as_ref().and_then(|o| o.last_bytes);
    let (drill, drill_badge) = match &drill {
        None => ("never".to_owned(), ""),
        Some(d) => match (d.outcome, d.finished_at) {
            (DrillOutcome::Running, _) | (_, None) => (
                format!("running since {}", relative(d.started_at, now)),
                "pending",
            ),
            (DrillOutcome::Passed, Some(at)) => (
                format!(
                    "passed {} ({} files, {} restored and compared){}",
                    relative(at, now),
                    d.files_checked,
                    bytes(u64::try_from(d.bytes_checked).unwrap_or(0)),
                    recovery_estimate(d, last_bytes)
                ),
                "ok",
            ),
            (DrillOutcome::Failed, Some(at)) => (
                format!(
                    "failed {}: {}",
                    relative(at, now),
                    d.error.as_deref().unwrap_or("no reason recorded")
                ),
                "critical",
            ),
        },
    };
    Ok(DeviceBackups {
        device_id: device.id.clone(),
        unavailable: if !crate::backup::storage::configured(state) {
            "This server keeps no backups: it has no backup storage configured.".into()
        } else {
            String::new()
        },
        has_repository: overview
            .as_ref()
            .is_some_and(|o| o.repository_created_at.is_some()),
        last,
        stored: overview
            .as_ref()
            .map(|o| bytes(u64::try_from(o.live_stored_bytes).unwrap_or(0)))
            .unwrap_or_default(),
        next_run: next.map_or_else(
            || {
                if policies.is_empty() {
                    "none scheduled: no backup policy covers this device".to_owned()
                } else {
                    "not scheduled yet".to_owned()
                }
            },
            |t| relative(t, now),
        ),
        next_run_exact: next.map(utc).unwrap_or_default(),
        drill,
        drill_badge,
        policies: policies
            .iter()
            .map(|p| PolicyLine {
                name: p.name.clone(),
                schedule: p.schedule.clone(),
                paths: p.paths.join(", "),
            })
            .collect(),
        snapshots_total: snapshots.len(),
        snapshots: snapshots
            .iter()
            .take(SNAPSHOT_ROWS)
            .map(|s| SnapshotRow::new(&device.id, s, now))
            .collect(),
        flash: match done {
            Some("backup") => "Backup queued: the agent starts it at its next check-in, and its snapshot is listed here when it ends.".into(),
            Some("restore") => "Restore queued: the agent restores the files at its next check-in; the Jobs section shows how it went.".into(),
            Some("drill") => "Restore drill started: the server checks the repository, then the agent restores a sample and the server compares it; the outcome shows here.".into(),
            _ => String::new(),
        },
        can_back_up: caller.who.may(Action::ManageBackups),
        can_reveal: caller.who.may(Action::RevealBackupPasswords),
    })
}

#[derive(Deserialize)]
pub struct BackUpForm {
    /// Absolute paths, one a line; empty: those of the policies covering the device.
    #[serde(default)]
    paths: String,
}

/// "Back up now": queues a backup of the paths typed, or of the covering policies'.
pub async fn back_up_now(
    State(state): State<AppState>,
    user: ConsoleUser<ManageBackups>,
    Path(id): Path<String>,
    CsrfForm(form): CsrfForm<BackUpForm>,
) -> Response {
    let paths: Vec<String> = form.paths.lines().map(str::to_owned).collect();
    match service::run_now(&state, &user.caller(&state), &id, paths, Vec::new()).await {
        Ok(_) => Redirect::to(&device_href(&id, Some("backup"))).into_response(),
        Err(BackupError::Device(DeviceError::NotFound)) => device_not_found(&user.0),
        Err(e) => refused(
            &user.0,
            e,
            "Could not start the backup",
            &device_href(&id, None),
        ),
    }
}

/// "Run restore drill": proves the device's backups restore now (on the device itself).
pub async fn run_drill(
    State(state): State<AppState>,
    user: ConsoleUser<ManageBackups>,
    Path(id): Path<String>,
    CsrfForm(_): CsrfForm<DrillForm>,
) -> Response {
    match super::super::drills::start(&state, &user.caller(&state), &id, None).await {
        Ok(_) => Redirect::to(&device_href(&id, Some("drill"))).into_response(),
        Err(BackupError::Device(DeviceError::NotFound)) => device_not_found(&user.0),
        Err(e) => refused(
            &user.0,
            e,
            "Could not start the drill",
            &device_href(&id, None),
        ),
    }
}

#[derive(Deserialize)]
pub struct DrillForm {}

/// `; a full restore (1.2 GiB) would take about 3 min at this speed`, from the drill's
/// measured throughput, or nothing when it restored too little to say.
fn recovery_estimate(drill: &steward_store::BackupDrillRecord, total: Option<i64>) -> String {
    let (Some(total), Some(ms)) = (total, drill.duration_ms) else {
        return String::new();
    };
    let total = u64::try_from(total).unwrap_or(0);
    let done = u64::try_from(drill.bytes_checked).unwrap_or(0);
    match steward_core::backup::drill::recovery_estimate_ms(
        total,
        done,
        u64::try_from(ms).unwrap_or(0),
    ) {
        Some(estimate) => format!(
            "; a full restore ({}) would take about {} at this speed",
            bytes(total),
            duration_secs(estimate.div_ceil(1000))
        ),
        None => String::new(),
    }
}

fn device_not_found(user: &crate::auth::Principal) -> Response {
    super::not_found(
        user,
        "Device not found",
        "No device has this address. It may have been removed; the device list shows every device Steward knows.",
    )
}

#[derive(Template)]
#[template(path = "backup_password.html")]
struct PasswordPage {
    chrome: Chrome,
    device_id: String,
    device_name: String,
    /// Empty until revealed.
    password: String,
    /// `restic -r LOCATION snapshots`, quoted for a shell.
    command: String,
}

fn password_href(id: &str) -> String {
    format!("/devices/{}/backup-password", urlencode(id))
}

/// What revealing the password means, and the button that does it. A session that has not
/// confirmed its password lately confirms it first.
pub async fn password_page(
    State(state): State<AppState>,
    user: ConsoleUser<RevealBackupPasswords>,
    Path(id): Path<String>,
) -> Response {
    if let Some(detour) =
        crate::account::reauth::require_recent(&user.0, state.now(), &password_href(&id))
    {
        return detour;
    }
    match crate::devices::find(&state, &user.caller(&state), &id).await {
        Ok(device) => render(
            StatusCode::OK,
            &PasswordPage {
                chrome: Chrome::new(&user.0, "devices"),
                device_id: device.id,
                device_name: device.name,
                password: String::new(),
                command: String::new(),
            },
        ),
        Err(DeviceError::NotFound) => device_not_found(&user.0),
        Err(e) => refused(
            &user.0,
            e,
            "Cannot show the password",
            &device_href(&id, None),
        ),
    }
}

/// Shows the repository's password once (the service audits it), with the restic command
/// that opens the repository on the server.
pub async fn reveal_password(
    State(state): State<AppState>,
    user: ConsoleUser<RevealBackupPasswords>,
    Path(id): Path<String>,
    CsrfForm(_): CsrfForm<crate::console::FormFields>,
) -> Response {
    let caller = user.caller(&state);
    let revealed = service::reveal_password(&state, &caller, &id).await;
    let (device_id, location, password) = match revealed {
        Ok(r) => r,
        Err(BackupError::Device(DeviceError::NotFound)) => return device_not_found(&user.0),
        // A step-up refusal comes back to the page with the button, not to this POST.
        Err(e) => return refused(&user.0, e, "Cannot show the password", &password_href(&id)),
    };
    let device_name = crate::devices::find(&state, &caller, &device_id)
        .await
        .map(|d| d.name)
        .unwrap_or_else(|_| device_id.clone());
    render(
        StatusCode::OK,
        &PasswordPage {
            chrome: Chrome::new(&user.0, "devices"),
            device_id,
            device_name,
            password,
            command: format!("restic -r {} snapshots", shell_quote(&location)),
        },
    )
}

/// `text` as one shell word: as it is when it has nothing a shell reads specially, else in
/// single quotes.
fn shell_quote(text: &str) -> String {
    let plain = !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/-_.:@,+=".contains(&b));
    if plain {
        text.to_owned()
    } else {
        format!("'{}'", text.replace('\'', "'\\''"))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn locations_are_quoted_for_a_shell() {
        use super::shell_quote;
        assert_eq!(
            shell_quote("/var/lib/steward/backups/d-1"),
            "/var/lib/steward/backups/d-1"
        );
        assert_eq!(shell_quote("/srv/my backups"), "'/srv/my backups'");
        assert_eq!(shell_quote("/srv/it's"), "'/srv/it'\\''s'");
    }
}
