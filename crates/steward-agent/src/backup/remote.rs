//! A device's repository on the server, as [`Storage`] for rustic_core: each call is one
//! request to the repository endpoint, made on the worker's runtime from rustic's threads.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body::{Body, Frame, SizeHint};

use steward_backup::storage::{ObjectKind, ObjectName, ObjectRef, Range, Storage, StorageError};
use tokio::runtime::Handle;

use crate::client::{Client, ClientError};

pub struct RemoteStorage {
    client: Client,
    device: String,
    runtime: Handle,
    limit: Option<Throttle>,
}

impl RemoteStorage {
    /// The repository of `device` through `client`; `bandwidth_kib` caps uploads.
    pub fn new(
        client: Client,
        device: String,
        runtime: Handle,
        bandwidth_kib: Option<u64>,
    ) -> Self {
        let limit = bandwidth_kib
            .filter(|k| *k > 0)
            .map(|k| Throttle::new(k * 1024));
        Self {
            client,
            device,
            runtime,
            limit,
        }
    }
}

fn path_of(object: &ObjectRef) -> String {
    match &object.name {
        Some(name) => format!("{}/{name}", object.kind),
        None => object.kind.to_string(),
    }
}

fn storage_error(object: &str, error: ClientError) -> StorageError {
    match error {
        ClientError::Rejected { status: 404, .. } => StorageError::NotFound(object.to_owned()),
        ClientError::Rejected {
            status: 507,
            message,
        } => StorageError::Full(message),
        ClientError::Rejected {
            status: 403,
            message,
        } if message.contains("never replaced") => StorageError::Exists(object.to_owned()),
        other => StorageError::Io(format!("{object}: {other}")),
    }
}

impl Storage for RemoteStorage {
    fn kind(&self) -> &'static str {
        "rest"
    }

    fn location(&self) -> String {
        format!(
            "{}{}/{}/",
            self.client.server_url(),
            steward_proto::backup::BACKUP_PREFIX,
            self.device
        )
    }

    fn create(&self) -> Result<(), StorageError> {
        // The server creates a device's repository before it sends the first backup job.
        Ok(())
    }

    fn list(&self, kind: ObjectKind) -> Result<Vec<(ObjectName, u64)>, StorageError> {
        let listed = self
            .runtime
            .block_on(self.client.backup_list(&self.device, kind.dirname()))
            .map_err(|e| storage_error(kind.dirname(), e))?;
        listed
            .into_iter()
            .map(|(name, size)| Ok((ObjectName::parse(&name)?, size)))
            .collect()
    }

    fn size(&self, object: &ObjectRef) -> Result<Option<u64>, StorageError> {
        let path = path_of(object);
        self.runtime
            .block_on(self.client.backup_size(&self.device, &path))
            .map_err(|e| storage_error(&path, e))
    }

    fn read(&self, object: &ObjectRef, range: Option<Range>) -> Result<Vec<u8>, StorageError> {
        let path = path_of(object);
        let range = range.map(|r| (r.offset, r.length));
        self.runtime
            .block_on(self.client.backup_read(&self.device, &path, range))
            .map_err(|e| storage_error(&path, e))
    }

    fn put(&self, object: &ObjectRef, parts: &[&[u8]]) -> Result<(), StorageError> {
        self.put_parts(object, vec![Bytes::from(parts.concat())])
    }

    /// A pack goes out as the blobs rustic holds it in, one after the other: joining them
    /// first would hold a second copy of every pack for the length of its upload.
    fn put_parts(&self, object: &ObjectRef, parts: Vec<Bytes>) -> Result<(), StorageError> {
        let path = path_of(object);
        let body = Parts::new(parts);
        if let Some(limit) = &self.limit {
            limit.wait_for(body.len());
        }
        self.runtime
            .block_on(
                self.client
                    .backup_write(&self.device, &path, reqwest::Body::wrap(body)),
            )
            .map_err(|e| storage_error(&path, e))
    }

    fn remove(&self, object: &ObjectRef) -> Result<(), StorageError> {
        let path = path_of(object);
        self.runtime
            .block_on(self.client.backup_remove(&self.device, &path))
            .map_err(|e| storage_error(&path, e))
    }
}

/// An upload's body: the parts of an object, sent in turn, with their total length (so the
/// request has a Content-Length, as the whole object had).
struct Parts {
    parts: VecDeque<Bytes>,
    left: u64,
}

impl Parts {
    fn new(parts: Vec<Bytes>) -> Self {
        let left = parts.iter().map(|p| p.len() as u64).sum();
        Self {
            parts: parts.into(),
            left,
        }
    }

    fn len(&self) -> u64 {
        self.left
    }
}

impl Body for Parts {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let next = self.parts.pop_front();
        if let Some(part) = &next {
            self.left -= part.len() as u64;
        }
        Poll::Ready(next.map(|part| Ok(Frame::data(part))))
    }

    fn is_end_stream(&self) -> bool {
        self.parts.is_empty()
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.left)
    }
}

/// The upload limit: before each upload, wait until the bytes sent so far fit the rate
/// since the backup began. Packs are a few MiB to 64 MiB, so the average holds over
/// seconds; rustic uploads from several threads, and they share one budget.
struct Throttle {
    bytes_per_sec: u64,
    started: Instant,
    sent: std::sync::Mutex<u64>,
}

impl Throttle {
    fn new(bytes_per_sec: u64) -> Self {
        Self {
            bytes_per_sec,
            started: Instant::now(),
            sent: std::sync::Mutex::new(0),
        }
    }

    fn wait_for(&self, bytes: u64) {
        let due = {
            let mut sent = self
                .sent
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            *sent += bytes;
            Duration::from_secs_f64(*sent as f64 / self.bytes_per_sec as f64)
        };
        if let Some(wait) = due.checked_sub(self.started.elapsed()) {
            std::thread::sleep(wait);
        }
    }
}
