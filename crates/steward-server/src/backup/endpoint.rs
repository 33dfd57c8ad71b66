//! restic's REST protocol (restic's "REST backend" reference; rest-server's behaviour in
//! append-only mode) for one device's own repository, under `/backup/v1/{device}/`:
//!
//! | request | answer |
//! |---|---|
//! | `POST /?create=true` | creates the repository's storage (idempotent) |
//! | `HEAD`, `GET /config`; `GET /{type}/{name}` | the object (`Range: bytes=a-b` gives 206); HEAD its size |
//! | `GET /{type}/` | its objects: names (v1), or names and sizes when `Accept` is v2 |
//! | `POST /config`, `POST /{type}/{name}` | stores a new object ([`super::upload`]); an existing one: 403 |
//! | `DELETE /locks/{name}` | removes a lock (a missing one too: retries are harmless) |
//! | `DELETE` of anything else | 403: append-only (see [`super`]) |
//!
//! `{type}` is one of keys, snapshots, index, data, locks; `{name}` 64 lowercase hex digits.
//! Every request takes the device's own credential ([`BackupClient`]): none is 401, another
//! device's repository 403. Storage calls block, so they run in the blocking pool.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Serialize;
use steward_backup::storage::{ObjectKind, ObjectName, ObjectRef, Range, Storage, StorageError};

use super::client::BackupClient;
use super::{NoStorage, range, upload};
use crate::error::{AppError, AppResult};
use crate::state::AppState;
use crate::web::routes::Routes;

const LIST_V1: &str = "application/vnd.x.restic.rest.v1";
const LIST_V2: &str = "application/vnd.x.restic.rest.v2";
const OCTETS: &str = "application/octet-stream";

const APPEND_ONLY: &str = "backups are append-only: an agent may delete only its own lock files \
    (forgetting snapshots and pruning run on the server)";

pub(super) fn routes(small: usize) -> Routes {
    use crate::net::body_limit::limit;
    let all = [Method::GET, Method::POST, Method::DELETE];
    let objects = Routes::new()
        .backup(
            "/backup/v1/{device}/config",
            &all,
            get(read_config)
                .head(head_config)
                .post(write_config)
                .delete(delete_config),
        )
        .backup(
            "/backup/v1/{device}/{kind}/{name}",
            &all,
            get(read_object)
                .head(head_object)
                .post(write_object)
                .delete(delete_object),
        )
        .map_routers(|api| api, |pages| limit(pages, upload::MAX_OBJECT_BYTES));
    let requests = Routes::new()
        .backup("/backup/v1/{device}/", &[Method::POST], post(create))
        .backup("/backup/v1/{device}/{kind}/", &[Method::GET], get(list))
        .map_routers(|api| api, |pages| limit(pages, small));
    objects.merge(requests)
}

/// What a request does with a repository.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Use {
    Read,
    Write,
}

/// The storage of `device`'s repository, if the asking device may use it so: its own; or,
/// to read, another's while it runs a restore from it (a restore to another device).
async fn repository(
    state: &AppState,
    client: &BackupClient,
    device: &str,
    usage: Use,
) -> AppResult<Arc<dyn Storage>> {
    let own = &client.0.device.device_id;
    let restoring = usage == Use::Read
        && own != device
        && super::service::may_read(state, own, device)
            .await
            .map_err(AppError::from)?;
    if restoring {
        return super::storage_for(state, device).map_err(|e| match e {
            NoStorage::NotConfigured => AppError::unavailable(e.to_string()),
            NoStorage::BadDevice(_) => AppError::bad_request(e.to_string()),
        });
    }
    if own != device {
        tracing::warn!(device = %own, asked = ?clip(device), "refused: a device asked for another device's backup repository");
        return Err(AppError::forbidden(
            "this is another device's backup repository: an agent reaches only its own",
        ));
    }
    super::storage_for(state, own).map_err(|e| match e {
        NoStorage::NotConfigured => AppError::unavailable(e.to_string()),
        NoStorage::BadDevice(_) => AppError::internal(e),
    })
}

/// A `{type}` of named objects.
fn named_kind(text: &str) -> AppResult<ObjectKind> {
    ObjectKind::from_dirname(text)
        .filter(|kind| *kind != ObjectKind::Config)
        .ok_or_else(|| {
            let expected: Vec<_> = ObjectKind::NAMED.iter().map(|k| k.dirname()).collect();
            AppError::bad_request(format!(
                "unknown object type {:?}: expected one of {}",
                clip(text),
                expected.join(", ")
            ))
        })
}

fn object(kind: &str, name: &str) -> AppResult<ObjectRef> {
    let kind = named_kind(kind)?;
    let name = ObjectName::parse(name).map_err(refused)?;
    Ok(ObjectRef::named(kind, name))
}

/// A storage answer as HTTP: the message says what happened; an IO failure is logged and
/// answered with a generic 500.
pub(super) fn refused(error: StorageError) -> AppError {
    match error {
        StorageError::NotFound(_) => {
            AppError::new(StatusCode::NOT_FOUND, "not_found", error.to_string())
        }
        StorageError::Exists(_) => AppError::forbidden(error.to_string()),
        StorageError::BadName(_) => AppError::bad_request(error.to_string()),
        StorageError::Full(_) => {
            tracing::error!(%error, "backup upload refused: the backup storage is full");
            AppError::new(
                StatusCode::INSUFFICIENT_STORAGE,
                "insufficient_storage",
                "the server's backup storage is full: nothing was stored (an administrator must \
                 free or add space)",
            )
        }
        StorageError::Io(_) => AppError::internal(error),
    }
}

/// Runs storage work in the blocking pool.
pub(super) async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, StorageError> + Send + 'static,
) -> Result<T, StorageError> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| StorageError::Io(format!("a backup storage task failed: {e}")))?
}

async fn create(
    State(state): State<AppState>,
    client: BackupClient,
    Path(device): Path<String>,
    RawQuery(query): RawQuery,
) -> AppResult<StatusCode> {
    let storage = repository(&state, &client, &device, Use::Write).await?;
    let asked = query
        .as_deref()
        .unwrap_or_default()
        .split('&')
        .any(|pair| pair == "create=true");
    if !asked {
        return Err(AppError::bad_request(
            "expected POST /backup/v1/{device}/?create=true (restic's request to create a repository)",
        ));
    }
    blocking(move || storage.create()).await.map_err(refused)?;
    Ok(StatusCode::OK)
}

#[derive(Serialize)]
struct Listed<'a> {
    name: &'a str,
    size: u64,
}

async fn list(
    State(state): State<AppState>,
    client: BackupClient,
    Path((device, kind)): Path<(String, String)>,
    headers: HeaderMap,
) -> AppResult<Response> {
    let storage = repository(&state, &client, &device, Use::Read).await?;
    let kind = named_kind(&kind)?;
    let mut objects = blocking(move || storage.list(kind))
        .await
        .map_err(refused)?;
    objects.sort();
    let v2 = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains(LIST_V2));
    let (content_type, body) = if v2 {
        let listed: Vec<_> = objects
            .iter()
            .map(|(name, size)| Listed {
                name: name.as_str(),
                size: *size,
            })
            .collect();
        (LIST_V2, serde_json::to_vec(&listed))
    } else {
        let names: Vec<_> = objects.iter().map(|(name, _)| name.as_str()).collect();
        (LIST_V1, serde_json::to_vec(&names))
    };
    let body = body.map_err(AppError::internal)?;
    Ok(([(header::CONTENT_TYPE, content_type)], body).into_response())
}

async fn head_config(
    State(state): State<AppState>,
    client: BackupClient,
    Path(device): Path<String>,
) -> AppResult<Response> {
    head(
        repository(&state, &client, &device, Use::Read).await?,
        ObjectRef::config(),
    )
    .await
}

async fn head_object(
    State(state): State<AppState>,
    client: BackupClient,
    Path((device, kind, name)): Path<(String, String, String)>,
) -> AppResult<Response> {
    let storage = repository(&state, &client, &device, Use::Read).await?;
    head(storage, object(&kind, &name)?).await
}

async fn read_config(
    State(state): State<AppState>,
    client: BackupClient,
    Path(device): Path<String>,
    headers: HeaderMap,
) -> AppResult<Response> {
    let storage = repository(&state, &client, &device, Use::Read).await?;
    read(storage, ObjectRef::config(), &headers).await
}

async fn read_object(
    State(state): State<AppState>,
    client: BackupClient,
    Path((device, kind, name)): Path<(String, String, String)>,
    headers: HeaderMap,
) -> AppResult<Response> {
    let storage = repository(&state, &client, &device, Use::Read).await?;
    read(storage, object(&kind, &name)?, &headers).await
}

async fn write_config(
    State(state): State<AppState>,
    client: BackupClient,
    Path(device): Path<String>,
    body: Body,
) -> AppResult<StatusCode> {
    let storage = repository(&state, &client, &device, Use::Write).await?;
    let object = ObjectRef::config();
    upload::receive(storage, object.clone(), body)
        .await
        .inspect_err(|e| noted(&device, &object, e))?;
    Ok(StatusCode::OK)
}

async fn write_object(
    State(state): State<AppState>,
    client: BackupClient,
    Path((device, kind, name)): Path<(String, String, String)>,
    body: Body,
) -> AppResult<StatusCode> {
    let storage = repository(&state, &client, &device, Use::Write).await?;
    let object = object(&kind, &name)?;
    upload::receive(storage, object.clone(), body)
        .await
        .inspect_err(|e| noted(&device, &object, e))?;
    if let (ObjectKind::Snapshot, Some(name)) = (object.kind, &object.name) {
        super::snapshot_received(&state, &device, name, state.now().0).await;
    }
    Ok(StatusCode::OK)
}

async fn delete_config(
    State(state): State<AppState>,
    client: BackupClient,
    Path(device): Path<String>,
) -> AppResult<StatusCode> {
    repository(&state, &client, &device, Use::Write).await?;
    let refusal = AppError::forbidden(APPEND_ONLY);
    noted(&device, &ObjectRef::config(), &refusal);
    Err(refusal)
}

async fn delete_object(
    State(state): State<AppState>,
    client: BackupClient,
    Path((device, kind, name)): Path<(String, String, String)>,
) -> AppResult<StatusCode> {
    let storage = repository(&state, &client, &device, Use::Write).await?;
    let object = object(&kind, &name)?;
    if object.kind != ObjectKind::Lock {
        let refusal = AppError::forbidden(APPEND_ONLY);
        noted(&device, &object, &refusal);
        return Err(refusal);
    }
    // As rest-server: removing a lock that is not there succeeds, so that a retried delete
    // whose first answer was lost does not fail the agent's run.
    match blocking(move || storage.remove(&object)).await {
        Ok(()) | Err(StorageError::NotFound(_)) => Ok(StatusCode::OK),
        Err(error) => Err(refused(error)),
    }
}

/// A refused overwrite or delete is what ransomware on a device would try: logged.
fn noted(device: &str, object: &ObjectRef, error: &AppError) {
    if error.status == StatusCode::FORBIDDEN {
        tracing::warn!(%device, %object, "refused: backups are append-only ({})", error.message);
    }
}

async fn head(storage: Arc<dyn Storage>, object: ObjectRef) -> AppResult<Response> {
    let what = object.to_string();
    let size = blocking(move || storage.size(&object))
        .await
        .map_err(refused)?
        .ok_or_else(|| refused(StorageError::NotFound(what)))?;
    Ok((
        [
            (header::CONTENT_LENGTH, size.to_string()),
            (header::CONTENT_TYPE, OCTETS.to_owned()),
            (header::ACCEPT_RANGES, "bytes".to_owned()),
        ],
        (),
    )
        .into_response())
}

/// What a read found.
enum Found {
    Whole(Vec<u8>),
    Part {
        range: Range,
        size: u64,
        content: Vec<u8>,
    },
    /// The range asked starts past the end of an object of this size.
    Outside(u64),
}

async fn read(
    storage: Arc<dyn Storage>,
    object: ObjectRef,
    headers: &HeaderMap,
) -> AppResult<Response> {
    let asked = match headers.get(header::RANGE) {
        None => None,
        Some(value) => Some(
            range::parse(value.to_str().unwrap_or("(not text)")).map_err(AppError::bad_request)?,
        ),
    };
    let what = object.to_string();
    let found = blocking(move || {
        let Some(asked) = asked else {
            return Ok(Found::Whole(storage.read(&object, None)?));
        };
        let size = storage
            .size(&object)?
            .ok_or_else(|| StorageError::NotFound(object.to_string()))?;
        Ok(match asked.within(size) {
            Some(range) => Found::Part {
                range,
                size,
                content: storage.read(&object, Some(range))?,
            },
            None => Found::Outside(size),
        })
    })
    .await
    .map_err(refused)?;
    Ok(match found {
        Found::Whole(content) => (
            [
                (header::CONTENT_TYPE, OCTETS.to_owned()),
                (header::ACCEPT_RANGES, "bytes".to_owned()),
            ],
            content,
        )
            .into_response(),
        Found::Part {
            range,
            size,
            content,
        } => {
            // The storage reads what exists; the header states what was read.
            let last = (range.offset + content.len() as u64).saturating_sub(1);
            (
                StatusCode::PARTIAL_CONTENT,
                [
                    (header::CONTENT_TYPE, OCTETS.to_owned()),
                    (
                        header::CONTENT_RANGE,
                        format!("bytes {}-{last}/{size}", range.offset),
                    ),
                ],
                content,
            )
                .into_response()
        }
        Found::Outside(size) => {
            let mut response = AppError::new(
                StatusCode::RANGE_NOT_SATISFIABLE,
                "range_not_satisfiable",
                format!("the range asked starts past the end of {what} ({size} bytes)"),
            )
            .into_response();
            if let Ok(value) = format!("bytes */{size}").parse() {
                response.headers_mut().insert(header::CONTENT_RANGE, value);
            }
            response
        }
    })
}

fn clip(text: &str) -> String {
    text.chars().take(80).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_answers_become_clear_statuses() {
        let status = |e| refused(e).status.as_u16();
        assert_eq!(status(StorageError::NotFound("data/ab".into())), 404);
        assert_eq!(status(StorageError::Exists("data/ab".into())), 403);
        assert_eq!(status(StorageError::BadName("x".into())), 400);
        assert_eq!(status(StorageError::Io("disk".into())), 500);
        let full = refused(StorageError::Full(
            "data/ab: No space left on device".into(),
        ));
        assert_eq!(full.status.as_u16(), 507);
        assert!(full.message.contains("backup storage is full"), "{full:?}");
        assert!(
            !full.message.contains("No space left"),
            "no storage detail reaches the device"
        );
    }

    #[test]
    fn object_types_and_names_are_checked() {
        let name = "0".repeat(64);
        assert!(object("data", &name).is_ok());
        for (kind, name) in [
            ("config", name.as_str()),
            ("plans", name.as_str()),
            ("data", "../x"),
            ("data", &"A".repeat(64)),
        ] {
            let error = object(kind, name).map(|_| ()).unwrap_err();
            assert_eq!(error.status.as_u16(), 400, "{kind}/{name}");
            assert!(error.message.contains("expected"), "{}", error.message);
        }
    }
}
