//! A [`Storage`] as rustic_core sees a repository backend. This is the only place where
//! rustic_core's backend traits meet Steward's storage, so a change in those traits (the
//! API is young) is mended here.

use std::str::FromStr;
use std::sync::Arc;

use bytes::Bytes;
use rustic_core::{
    BytesList, ErrorKind, FileType, Id, ReadBackend, RusticError, RusticResult, WriteBackend,
};

use crate::storage::{ObjectKind, ObjectName, ObjectRef, Range, Storage, StorageError};

/// rustic_core's view of one repository's storage.
#[derive(Clone)]
pub struct StorageBackend {
    storage: Arc<dyn Storage>,
}

impl StorageBackend {
    pub fn new(storage: Arc<dyn Storage>) -> Self {
        Self { storage }
    }
}

fn kind_of(tpe: FileType) -> ObjectKind {
    match tpe {
        FileType::Config => ObjectKind::Config,
        FileType::Index => ObjectKind::Index,
        FileType::Key => ObjectKind::Key,
        FileType::Snapshot => ObjectKind::Snapshot,
        FileType::Pack => ObjectKind::Data,
    }
}

fn object_of(tpe: FileType, id: &Id) -> RusticResult<ObjectRef> {
    match tpe {
        FileType::Config => Ok(ObjectRef::config()),
        _ => Ok(ObjectRef::named(
            kind_of(tpe),
            ObjectName::parse(&id.to_hex()).map_err(to_rustic)?,
        )),
    }
}

/// A storage error as rustic_core reports it. Its message is kept whole: it is what a
/// person reads when a backup fails ("the backup storage is full: …").
pub(crate) fn to_rustic(error: StorageError) -> Box<RusticError> {
    RusticError::with_source(
        ErrorKind::Backend,
        "the backup storage refused or failed: {message}",
        error.to_string(),
    )
    .attach_context("message", error.to_string())
}

fn id_of(name: &ObjectName) -> RusticResult<Id> {
    Id::from_str(name.as_str())
}

impl ReadBackend for StorageBackend {
    fn location(&self) -> String {
        self.storage.location()
    }

    fn list_with_size(&self, tpe: FileType) -> RusticResult<Vec<(Id, u32)>> {
        if tpe == FileType::Config {
            // rustic asks for the config's "list" to learn whether a repository exists.
            let size = self.storage.size(&ObjectRef::config()).map_err(to_rustic)?;
            return Ok(size
                .map(|s| (Id::default(), u32::try_from(s).unwrap_or(u32::MAX)))
                .into_iter()
                .collect());
        }
        self.storage
            .list(kind_of(tpe))
            .map_err(to_rustic)?
            .iter()
            .map(|(name, size)| Ok((id_of(name)?, u32::try_from(*size).unwrap_or(u32::MAX))))
            .collect()
    }

    fn read_full(&self, tpe: FileType, id: &Id) -> RusticResult<Bytes> {
        let object = object_of(tpe, id)?;
        Ok(self.storage.read(&object, None).map_err(to_rustic)?.into())
    }

    fn read_partial(
        &self,
        tpe: FileType,
        id: &Id,
        _cacheable: bool,
        offset: u32,
        length: u32,
    ) -> RusticResult<Bytes> {
        let object = object_of(tpe, id)?;
        let range = Range {
            offset: offset.into(),
            length: length.into(),
        };
        let bytes = self.storage.read(&object, Some(range)).map_err(to_rustic)?;
        if bytes.len() != length as usize {
            return Err(to_rustic(StorageError::Io(format!(
                "{object}: asked for {length} bytes at {offset}, got {}",
                bytes.len()
            ))));
        }
        Ok(bytes.into())
    }

    fn warmup_path(&self, tpe: FileType, id: &Id) -> String {
        object_of(tpe, id)
            .map(|o| o.to_string())
            .unwrap_or_default()
    }
}

impl WriteBackend for StorageBackend {
    fn create(&self) -> RusticResult<()> {
        self.storage.create().map_err(to_rustic)
    }

    fn write_bytes(
        &self,
        tpe: FileType,
        id: &Id,
        _cacheable: bool,
        content: BytesList,
    ) -> RusticResult<()> {
        let object = object_of(tpe, id)?;
        match self.storage.put_parts(&object, content.into_vec()) {
            // Objects are named by their content, so one that exists holds these bytes
            // already: a retried write has nothing left to do. (The config is written once,
            // at init, which checks it is absent first.)
            Err(StorageError::Exists(_)) if tpe != FileType::Config => Ok(()),
            other => other.map_err(to_rustic),
        }
    }

    fn remove(&self, tpe: FileType, id: &Id, _cacheable: bool) -> RusticResult<()> {
        self.storage.remove(&object_of(tpe, id)?).map_err(to_rustic)
    }
}
