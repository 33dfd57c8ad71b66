//! A snapshot's page: its files folder by folder (`?path=`), what changed against another
//! snapshot of the device (`?diff=ID`, for the folder shown and everything under it), and
//! the restore form — files ticked or typed, the device and the folder to put them in
//! (its answer: [`super::restore`]).
//!
//! A snapshot may hold millions of files, so every listing is bounded: the folder shown is
//! listed alone (its own entries, not what is under them), the diff's subtrees up to
//! [`LISTED`] entries each (compared as far as both reach), and at most [`MAX_ROWS`] rows of
//! either list are shown. The page says when any of them was cut.

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use steward_backup::{Entry, EntryKind, ListScope, Listing};
use steward_core::Timestamp;
use steward_store::{BackupSnapshotRecord, DeviceFilter, DeviceSortKey};

use super::device::SnapshotRow;
use super::listing::{self, Change, Listed};
use super::{short_id, snapshot_href};
use crate::auth::{ConsoleUser, urlencode};
use crate::backup::service::{self, ListRequest};
use crate::console::format::{bytes, relative, utc};
use crate::console::{Chrome, render};
use crate::error::AppResult;
use crate::service::Caller;
use crate::state::AppState;

/// Rows of a folder or of a diff shown at most.
pub const MAX_ROWS: usize = 1_000;
/// Entries listed at most: of the folder shown (enough to put its folders first and count
/// them), and of each side of a diff.
pub const LISTED: usize = 10_000;
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
    /// Where the comparison stopped (`/…`) when either snapshot held more than [`LISTED`]
    /// entries under the folder; empty when it is whole.
    pub stopped_at: String,
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
    /// The folder holds more than [`LISTED`] entries: `rows_total` counts the first ones.
    rows_cut: bool,
    listed: usize,
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
pub(super) struct Place {
    pub device: String,
    pub snapshot: String,
    pub folder: String,
    pub diff: String,
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

pub(super) async fn show(
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
    let other = snapshots
        .iter()
        .find(|s| !place.diff.is_empty() && s.snapshot_id == place.diff);
    let mut asked = vec![ask(&place.snapshot, place, ListScope::children(LISTED))];
    if let Some(other) = other {
        asked.push(ask(&other.snapshot_id, place, ListScope::subtree(LISTED)));
        asked.push(ask(&place.snapshot, place, ListScope::subtree(LISTED)));
    }
    let mut found = list(state, caller, place, asked).await.into_iter();
    let (folder, unreadable) = match found.next() {
        Some(Ok(folder)) => {
            let why = not_a_folder(&folder, place);
            (folder, why)
        }
        Some(Err(why)) => (Listing::default(), why),
        None => (Listing::default(), String::new()),
    };
    let (children, rows_total) = listing::children(&folder.entries, &place.folder, MAX_ROWS);
    let rows = children
        .iter()
        .map(|c| file_row(c, place, now, &form))
        .collect();
    let diff = other.map(|other| {
        let (before, after) = (found.next(), found.next());
        diff_view(place, other, before, after, now)
    });
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
        rows_cut: folder.cut,
        listed: LISTED,
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

fn ask(snapshot: &str, place: &Place, scope: ListScope) -> ListRequest {
    ListRequest {
        snapshot: snapshot.to_owned(),
        path: place.folder.clone(),
        scope,
    }
}

/// The listings `asked` of the page's folder, in order; a failure in words (logged: the
/// repository does not tell a folder it lacks from a fault).
async fn list(
    state: &AppState,
    caller: &Caller,
    place: &Place,
    asked: Vec<ListRequest>,
) -> Vec<Result<Listing, String>> {
    let snapshots: Vec<String> = asked.iter().map(|a| a.snapshot.clone()).collect();
    let found: Vec<Result<Listing, String>> =
        match service::listings(state, caller, &place.device, asked).await {
            Ok(found) => found
                .into_iter()
                .map(|l| l.map_err(|e| e.to_string()))
                .collect(),
            Err(e) => snapshots.iter().map(|_| Err(e.to_string())).collect(),
        };
    found
        .into_iter()
        .zip(&snapshots)
        .map(|(listing, snapshot)| {
            listing.map_err(|e| {
                tracing::warn!(device = %place.device, snapshot, folder = %place.folder, "listing a snapshot: {e}");
                format!(
                    "Could not list /{} in snapshot {}: it may not be in it.",
                    place.folder,
                    short_id(snapshot)
                )
            })
        })
        .collect()
}

/// Why the folder cannot be shown as one when it is a file (or a link): the repository
/// lists that alone, under the folder's own path.
fn not_a_folder(listing: &Listing, place: &Place) -> String {
    match listing.entries.as_slice() {
        [only] if only.path == place.folder && only.kind != EntryKind::Dir => format!(
            "/{} is a {} in snapshot {}, not a folder.",
            place.folder,
            kind(only.kind),
            short_id(&place.snapshot)
        ),
        _ => String::new(),
    }
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
        // A folder's size would take listing everything under it: left out.
        size: if e.kind == EntryKind::File {
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

/// The comparison of the folder's subtree in `other` (`before`) and in this snapshot
/// (`after`), as [`list`] answered them.
fn diff_view(
    place: &Place,
    other: &BackupSnapshotRecord,
    before: Option<Result<Listing, String>>,
    after: Option<Result<Listing, String>>,
    now: Timestamp,
) -> DiffView {
    let unreadable = !matches!(before, Some(Ok(_)));
    let (before, after) = match (before, after) {
        (Some(Ok(before)), Some(Ok(after))) => (before, after),
        // This snapshot lacks the folder (the page says it could not be listed): all of the
        // other's is gone from it.
        (Some(Ok(before)), _) => (before, Listing::default()),
        // The other snapshot lacks it: nothing to compare with.
        _ => (Listing::default(), Listing::default()),
    };
    let (changes, stopped_at) = listing::diff(
        Listed {
            entries: &before.entries,
            cut: before.cut,
        },
        Listed {
            entries: &after.entries,
            cut: after.cut,
        },
    );
    let counted = |c: Change| changes.iter().filter(|d| d.change == c).count();
    DiffView {
        other_short: short_id(&other.snapshot_id).to_owned(),
        other_href: snapshot_href(&place.device, &other.snapshot_id),
        other_received: label(other, now),
        added: counted(Change::Added),
        removed: counted(Change::Removed),
        changed: counted(Change::Changed),
        cut: changes.len() > MAX_ROWS,
        stopped_at: stopped_at.map(|p| format!("/{p}")).unwrap_or_default(),
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
