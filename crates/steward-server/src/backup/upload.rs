//! Receiving an object: checked that it does not exist before a byte of it is read, written
//! to a spool file as it arrives (a pack is tens of MiB; many devices back up at the same
//! hour, so uploads are not held in memory), its SHA-256 computed on the way, and stored
//! under its name only when the hash is the name — restic's names are the hashes of the
//! contents, and rest-server verifies them the same way.

use std::io::Write;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::http::StatusCode;
use http_body_util::BodyExt;
use sha2::{Digest, Sha256};
use steward_backup::storage::{ObjectKind, ObjectRef, Storage, StorageError};

use super::endpoint::{blocking, refused};
use crate::error::AppError;

/// The largest object accepted. Steward's repositories cap packs at 16 MiB (64 MiB for those
/// made before that changed), as restic's default packs are.
pub const MAX_OBJECT_BYTES: usize = 128 << 20;

/// Received data is handed to the blocking pool (hashed and written) in batches of about
/// this size: the memory an upload holds, and one short blocking task per batch.
const BATCH_BYTES: usize = 1 << 20;

/// An object being received: the spool file and the hash of what it holds so far.
struct Spool {
    file: tempfile::NamedTempFile,
    hasher: Sha256,
}

impl Spool {
    fn write(mut self, batch: Vec<Bytes>) -> Result<Self, StorageError> {
        for chunk in &batch {
            self.hasher.update(chunk);
            self.file
                .write_all(chunk)
                .map_err(|e| StorageError::from_io("an upload's spool file", e))?;
        }
        Ok(self)
    }
}

/// Stores `body` as the new object `object`. Answers as rest-server does: 403 when it
/// exists (refused before the body is read), 400 when the content's hash is not the name
/// (every kind but config), 413 over [`MAX_OBJECT_BYTES`], 507 when the storage is full.
pub async fn receive(
    storage: Arc<dyn Storage>,
    object: ObjectRef,
    body: Body,
) -> Result<(), AppError> {
    let (s, o) = (storage.clone(), object.clone());
    if blocking(move || s.size(&o))
        .await
        .map_err(refused)?
        .is_some()
    {
        return Err(refused(StorageError::Exists(object.to_string())));
    }
    let s = storage.clone();
    let mut spool = Spool {
        file: blocking(move || s.spool()).await.map_err(refused)?,
        hasher: Sha256::new(),
    };
    let mut body = body;
    let mut batch = Vec::new();
    let (mut batched, mut total) = (0usize, 0usize);
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(broke_off)?;
        let Ok(data) = frame.into_data() else {
            continue; // trailers
        };
        total += data.len();
        if total > MAX_OBJECT_BYTES {
            return Err(AppError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!(
                    "{object} is larger than a repository object may be ({} MiB)",
                    MAX_OBJECT_BYTES >> 20
                ),
            ));
        }
        batched += data.len();
        batch.push(data);
        if batched >= BATCH_BYTES {
            let full = std::mem::take(&mut batch);
            batched = 0;
            spool = blocking(move || spool.write(full)).await.map_err(refused)?;
        }
    }
    let spool = blocking(move || spool.write(batch))
        .await
        .map_err(refused)?;
    let digest = hex::encode(spool.hasher.finalize());
    if let Some(name) = object
        .name
        .as_ref()
        .filter(|_| object.kind != ObjectKind::Config)
        && digest != name.as_str()
    {
        return Err(AppError::bad_request(format!(
            "the content's SHA-256 is {digest}, not its name {name}: restic names an object by \
             the hash of its content (a damaged or forged upload)"
        )));
    }
    let file = spool.file;
    blocking(move || storage.put_spooled(&object, file))
        .await
        .map_err(refused)
}

/// The body did not arrive whole: too slowly (the listener's body timeout) or cut off.
fn broke_off(error: axum::Error) -> AppError {
    if crate::error::caused_by_timeout(&error) {
        AppError::new(
            StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
            "the upload did not arrive in time (the server's backup body timeout)",
        )
    } else {
        AppError::bad_request(format!("the upload broke off: {error}"))
    }
}
