//! A snapshot's page: its files folder by folder (`?path=`), what changed against another
//! snapshot of the device (`?diff=ID`, for the folder shown and everything under it), and
//! the restore form — files ticked or typed, the device and the folder to put them in.
//!
//! The repository lists a folder recursively; the page shows its own entries only
//! ([`listing::children`]) and at most [`MAX_ROWS`] rows of either list, saying so when cut.

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use steward_backup::{Entry, EntryKind};
use steward_core::Timestamp;
use steward_store::{BackupSnapshotRecord, DeviceFilter, DeviceSortKey};

use super::device::SnapshotRow;
use super::listing::{self, Change};
use super::{device_href, short_id, snapshot_href};
use crate::auth::{ConsoleUser, ManageBackups, urlencode};
use crate::backup::service::{self, BackupError, RestoreRequest};
use crate::console::format::{bytes, relative, utc};
use crate::console::{Chrome, FormFields, render};
use crate::devices::DeviceError;
use crate::error::{AppError, AppResult};
use crate::service::{Caller, DomainError, Refusal};
use crate::state::AppState;
use crate::web::csrf::CsrfForm;

/// Rows of a folder or of a diff shown at most.
pub const MAX_ROWS: usize = 1_000;
/// Devices offered as restore targets (the caller's, by name).
const MAX_TARGETS: u64 = 1_000;

pub struct FileRow {
    pub name: String,
    /// Its absolute path on the device (what the restore form sends).
    pub path: String,
    pub kind: &'static str,
    /// For a folder: the page of its contents.
    pub href: String,
    pub size: String,
    pub mode: String,
    pub mtime: String,
    pub mtime_exact: String,
    pub link: String,
    pub checked: bool,
}

pub struct DiffRow {
    /// `added`, `removed` or `changed`.
    pub change: &'static str,
    pub path: String,
    pub before: String,
    pub after: String,
}

pub struct DiffView {
    pub other_short: String,
    pub other_href: String,
    pub other_received: String,
    pub rows: Vec<DiffRow>,
    pub added: usize,
    pub removed: usize,
    pub changed: usize,
    pub cut: bool,
    /// The other snapshot could not be read at this folder (it may not have it).
    pub unreadable: bool,
}

/// What the restore form holds (as typed, when it comes back with a reason).
#[derive(Default)]
pub struct RestoreValues {
    pub ticked: Vec<String>,
    pub typed: String,
    pub target_device: String,
    pub target_path: String,
}

#[derive(Template)]
#[template(path = "snapshot.html")]
struct SnapshotPage {
    chrome: Chrome,
    device_id: String,
    device_name: String,
    snapshot_id: String,
    snapshot: SnapshotRow,
    /// This page without parameters (the compare form's target), and the folder shown
    /// (`/…`).
    form_href: String,
    folder: String,
    /// The way up: (name, link), root first.
    crumbs: Vec<(String, String)>,
    rows: Vec<FileRow>,
    rows_total: usize,
    /// The folder could not be listed: why.
    unreadable: String,
    diff: Option<DiffView>,
    diff_id: String,
    /// Other snapshots to compare with: (id, label).
    others: Vec<(String, String)>,
    /// The next older snapshot, to compare with in one click (empty for the oldest).
    previous_href: String,
    can_restore: bool,
    targets: Vec<(String, String)>,
    form: RestoreValues,
    error: String,
}

/// Lenient: a mangled parameter is ignored.
#[derive(Debug, Default, Deserialize)]
pub struct SnapshotQuery {
    path: Option<String>,
    diff: Option<String>,
}

pub async fn page(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path((id, snapshot)): Path<(String, String)>,
    q: Result<Query<SnapshotQuery>, QueryRejection>,
) -> Response {
    let q = q.map(|Query(q)| q).unwrap_or_default();
    let place = Place {
        device: id,
        snapshot,
        folder: listing::normalize(q.path.as_deref().unwrap_or_default()),
        diff: q.diff.unwrap_or_default().trim().to_owned(),
    };
    let values = RestoreValues {
        target_device: place.device.clone(),
        ..RestoreValues::default()
    };
    let caller = user.caller(&state);
    show(
        &state,
        &caller,
        &place,
        values,
        String::new(),
        StatusCode::OK,
    )
    .await
}

/// Where on the page: which device, snapshot, folder and comparison.
struct Place {
    device: String,
    snapshot: String,
    folder: String,
    diff: String,
}

impl Place {
    /// This page at `folder`, comparing as it does now.
    fn href(&self, folder: &str) -> String {
        let mut params = Vec::new();
        if !folder.is_empty() {
            params.push(format!("path={}", urlencode(folder)));
        }
        if !self.diff.is_empty() {
            params.push(format!("diff={}", urlencode(&self.diff)));
        }
        let base = snapshot_href(&self.device, &self.snapshot);
        if params.is_empty() {
            base
        } else {
            format!("{base}?{}", params.join("&"))
        }
    }
}

async fn show(
    state: &AppState,
    caller: &Caller,
    place: &Place,
    form: RestoreValues,
    error: String,
    status: StatusCode,
) -> Response {
    let user = &caller.who;
    match build(state, caller, place, form, error).await {
        Ok(Some(page)) => render(status, &page),
        Ok(None) => super::not_found(
            user,
            "Snapshot not found",
            "This device has no such snapshot. It may have been let go by its retention policy; the device page lists the snapshots kept.",
        ),
        Err(e) if e.status == StatusCode::NOT_FOUND => super::not_found(
            user,
            "Not found",
            "No device with backups has this address. The device list shows every device Steward knows.",
        ),
        Err(e) => e.into_response(),
    }
}

async fn build(
    state: &AppState,
    caller: &Caller,
    place: &Place,
    form: RestoreValues,
    error: String,
) -> AppResult<Option<SnapshotPage>> {
    let (user, now) = (&caller.who, caller.now);
    let device = crate::devices::find(state, caller, &place.device).await?;
    let snapshots = service::snapshots(state, caller, &device.id).await?;
    let Some(position) = snapshots
        .iter()
        .position(|s| s.snapshot_id == place.snapshot)
    else {
        return Ok(None);
    };
    let this = &snapshots[position];
    let (entries, unreadable) = match list(state, caller, place, &place.snapshot).await {
        Ok(entries) => (entries, String::new()),
        Err(why) => (Vec::new(), why),
    };
    let (children, rows_total) = listing::children(&entries, &place.folder, MAX_ROWS);
    let rows = children
        .iter()
        .map(|c| file_row(c, place, now, &form))
        .collect();
    let other = snapshots
        .iter()
        .find(|s| !place.diff.is_empty() && s.snapshot_id == place.diff);
    let diff = match other {
        Some(other) => Some(diff_view(state, caller, place, other, &entries, now).await),
        None => None,
    };
    let can_restore = user.may(steward_core::Action::ManageBackups);
    let targets = if can_restore {
        restore_targets(state, caller).await?
    } else {
        Vec::new()
    };
    Ok(Some(SnapshotPage {
        chrome: Chrome::new(user, "devices"),
        device_name: device.name.clone(),
        snapshot: SnapshotRow::new(&device.id, this, now),
        snapshot_id: this.snapshot_id.clone(),
        form_href: snapshot_href(&device.id, &this.snapshot_id),
        folder: format!("/{}", place.folder),
        crumbs: crumbs(place),
        rows,
        rows_total,
        unreadable,
        diff,
        diff_id: place.diff.clone(),
        others: snapshots
            .iter()
            .filter(|s| s.snapshot_id != this.snapshot_id)
            .take(MAX_ROWS)
            .map(|s| (s.snapshot_id.clone(), label(s, now)))
            .collect(),
        previous_href: snapshots
            .get(position + 1)
            .map(|older| {
                Place {
                    diff: older.snapshot_id.clone(),
                    ..clone_place(place)
                }
                .href(&place.folder)
            })
            .unwrap_or_default(),
        can_restore,
        targets,
        form,
        error,
        device_id: device.id,
    }))
}

fn clone_place(p: &Place) -> Place {
    Place {
        device: p.device.clone(),
        snapshot: p.snapshot.clone(),
        folder: p.folder.clone(),
        diff: p.diff.clone(),
    }
}

/// The entries under the page's folder in `snapshot`; a failure in words (logged: the
/// repository does not tell a folder it lacks from a fault).
async fn list(
    state: &AppState,
    caller: &Caller,
    place: &Place,
    snapshot: &str,
) -> Result<Vec<Entry>, String> {
    service::files(state, caller, &place.device, snapshot, &place.folder)
        .await
        .map_err(|e| {
            tracing::warn!(device = %place.device, snapshot, folder = %place.folder, "listing a snapshot: {e}");
            format!(
                "Could not list /{} in snapshot {}: it may not be in it.",
                place.folder,
                short_id(snapshot)
            )
        })
}

/// `abcd1234 · 2026-11-23 14:05 UTC (3 d ago)`.
fn label(s: &BackupSnapshotRecord, now: Timestamp) -> String {
    format!(
        "{} · {} ({})",
        short_id(&s.snapshot_id),
        utc(s.received_at),
        relative(s.received_at, now)
    )
}

fn crumbs(place: &Place) -> Vec<(String, String)> {
    let mut out = vec![("/".to_owned(), place.href(""))];
    let mut prefix = String::new();
    for part in place.folder.split('/').filter(|p| !p.is_empty()) {
        if !prefix.is_empty() {
            prefix.push('/');
        }
        prefix.push_str(part);
        out.push((part.to_owned(), place.href(&prefix)));
    }
    out
}

fn kind(kind: EntryKind) -> &'static str {
    match kind {
        EntryKind::File => "file",
        EntryKind::Dir => "folder",
        EntryKind::Symlink => "link",
        EntryKind::Other => "other",
    }
}

fn file_row(
    c: &listing::Child<'_>,
    place: &Place,
    now: Timestamp,
    form: &RestoreValues,
) -> FileRow {
    let e = c.entry;
    let path = format!("/{}", e.path);
    let is_dir = e.kind == EntryKind::Dir;
    FileRow {
        name: c.name.to_owned(),
        kind: kind(e.kind),
        href: if is_dir {
            place.href(&e.path)
        } else {
            String::new()
        },
        size: if is_dir {
            format!(
                "{} in {} file{}",
                bytes(c.bytes_under),
                c.files_under,
                if c.files_under == 1 { "" } else { "s" }
            )
        } else if e.kind == EntryKind::File {
            bytes(e.size)
        } else {
            String::new()
        },
        mode: e
            .mode
            .map(|m| format!("{:04o}", m & 0o7777))
            .unwrap_or_default(),
        mtime: e
            .mtime_ms
            .map(|t| relative(Timestamp(t), now))
            .unwrap_or_default(),
        mtime_exact: e.mtime_ms.map(|t| utc(Timestamp(t))).unwrap_or_default(),
        link: e.link.clone().unwrap_or_default(),
        checked: form.ticked.contains(&path),
        path,
    }
}

/// `12.0 KiB, 2026-11-23 14:05 UTC` (or a link's target) for one side of a change.
fn describe(e: Option<&Entry>) -> String {
    let Some(e) = e else {
        return String::new();
    };
    match e.kind {
        EntryKind::Symlink => format!("→ {}", e.link.as_deref().unwrap_or_default()),
        EntryKind::Dir => "folder".to_owned(),
        _ => {
            let when = e.mtime_ms.map(|t| utc(Timestamp(t))).unwrap_or_default();
            format!("{}, {when}", bytes(e.size))
        }
    }
}

async fn diff_view(
    state: &AppState,
    caller: &Caller,
    place: &Place,
    other: &BackupSnapshotRecord,
    entries: &[Entry],
    now: Timestamp,
) -> DiffView {
    let (before, unreadable) = match list(state, caller, place, &other.snapshot_id).await {
        Ok(before) => (before, false),
        Err(_) => (Vec::new(), true),
    };
    let changes = if unreadable {
        Vec::new()
    } else {
        listing::diff(&before, entries)
    };
    let counted = |c: Change| changes.iter().filter(|d| d.change == c).count();
    DiffView {
        other_short: short_id(&other.snapshot_id).to_owned(),
        other_href: snapshot_href(&place.device, &other.snapshot_id),
        other_received: label(other, now),
        added: counted(Change::Added),
        removed: counted(Change::Removed),
        changed: counted(Change::Changed),
        cut: changes.len() > MAX_ROWS,
        unreadable,
        rows: changes
            .iter()
            .take(MAX_ROWS)
            .map(|d| DiffRow {
                change: match d.change {
                    Change::Added => "added",
                    Change::Removed => "removed",
                    Change::Changed => "changed",
                },
                path: format!("/{}", d.path()),
                before: describe(d.before),
                after: describe(d.after),
            })
            .collect(),
    }
}

/// The devices a restore may go to: the caller's, not revoked, by name.
async fn restore_targets(state: &AppState, caller: &Caller) -> AppResult<Vec<(String, String)>> {
    let filter = DeviceFilter {
        sort: DeviceSortKey::Name,
        limit: MAX_TARGETS,
        ..Default::default()
    };
    let (devices, _) = crate::devices::list(state, caller, &filter).await?;
    Ok(devices
        .into_iter()
        .filter(|d| d.revoked_at.is_none())
        .map(|d| (d.id, d.name))
        .collect())
}

/// The restore form: what was ticked (`path`, one per box) and typed (`paths`, one a line),
/// the device (`target_device`) and folder (`target_path`); restoring to `/` overwrites
/// files in place, so it needs `overwrite` ticked too. `folder` and `diff` bring the page
/// back as it was when the form is refused.
pub async fn restore(
    State(state): State<AppState>,
    user: ConsoleUser<ManageBackups>,
    Path((id, snapshot)): Path<(String, String)>,
    CsrfForm(fields): CsrfForm<FormFields>,
) -> Response {
    let place = Place {
        device: id,
        snapshot,
        folder: listing::normalize(fields.get("folder")),
        diff: fields.get("diff").trim().to_owned(),
    };
    let values = RestoreValues {
        ticked: fields.all("path"),
        typed: fields.get("paths").to_owned(),
        target_device: fields.get("target_device").trim().to_owned(),
        target_path: fields.get("target_path").trim().to_owned(),
    };
    let caller = user.caller(&state);
    let refuse = |values, error: &str| {
        show(
            &state,
            &caller,
            &place,
            values,
            error.to_owned(),
            StatusCode::BAD_REQUEST,
        )
    };
    let chosen = chosen_paths(&values.ticked, &values.typed);
    if chosen.is_empty() {
        return refuse(
            values,
            "Choose what to restore: tick files or folders, or type their paths.",
        )
        .await;
    }
    if values.target_path.is_empty() {
        return refuse(values, "Choose the folder to restore into: an absolute path on the target device (\"/\" puts the files back where they were).").await;
    }
    if values.target_path == "/" && fields.get("overwrite") != "on" {
        return refuse(values, "Restoring to \"/\" overwrites the files in their original place: tick the box that says so to go ahead.").await;
    }
    // "/" among the paths is the whole snapshot, which the service asks for as no paths.
    let paths = if chosen.iter().any(|p| p == "/") {
        Vec::new()
    } else {
        chosen
    };
    let request = RestoreRequest {
        source: place.device.clone(),
        snapshot: place.snapshot.clone(),
        paths,
        target_device: if values.target_device.is_empty() {
            place.device.clone()
        } else {
            values.target_device.clone()
        },
        target_path: values.target_path.clone(),
    };
    let target = request.target_device.clone();
    match service::restore(&state, &caller, request).await {
        Ok(_) => Redirect::to(&device_href(&target, Some("restore"))).into_response(),
        Err(BackupError::Device(DeviceError::NotFound)) => {
            refuse(values, "The device to restore to was not found.").await
        }
        Err(e) if matches!(e.refusal(), Refusal::Invalid | Refusal::Conflict) => {
            let reason = sentence(&e.to_string());
            refuse(values, &reason).await
        }
        Err(e) => AppError::from(e).into_response(),
    }
}

/// The paths ticked and typed, each absolute and canonical, without repeats, in order.
fn chosen_paths(ticked: &[String], typed: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for raw in ticked.iter().map(String::as_str).chain(typed.lines()) {
        if raw.trim().is_empty() {
            continue;
        }
        let path = format!("/{}", listing::normalize(raw.trim()));
        if !out.contains(&path) {
            out.push(path);
        }
    }
    out
}

/// A message as a sentence: capitalised, with a full stop.
fn sentence(text: &str) -> String {
    let mut chars = text.trim().chars();
    let mut out: String = chars
        .next()
        .map(|c| c.to_uppercase().chain(chars).collect())
        .unwrap_or_default();
    if !out.ends_with(['.', '!', '?']) {
        out.push('.');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::chosen_paths;

    #[test]
    fn chosen_paths_are_absolute_canonical_and_unique() {
        let ticked = vec!["/srv/share/a.txt".to_owned(), "/srv/share/docs".to_owned()];
        assert_eq!(
            chosen_paths(&ticked, "srv/share/a.txt\n\n  /srv//other/  \n"),
            ["/srv/share/a.txt", "/srv/share/docs", "/srv/other"]
        );
        assert!(chosen_paths(&[], " \n").is_empty());
        assert_eq!(chosen_paths(&[], "/"), ["/"]);
    }
}
