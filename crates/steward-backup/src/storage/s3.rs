//! A repository in an S3-compatible bucket, through opendal: the same layout as a local
//! repository (`<prefix>/<device>/config`, `keys/…`, `data/xx/…`), which is also restic's S3
//! layout, so `restic -r s3:https://ENDPOINT/BUCKET/PREFIX/DEVICE` opens it. An object is
//! written with `If-None-Match: *`, so the bucket itself refuses to replace one.
//!
//! Object Lock: a bucket made with Object Lock and a default retention rule locks every
//! object Steward writes for that long, so not even the server's own S3 key can delete or
//! replace a backup before then. Steward does not set a retention per object (opendal sends
//! no retention headers); it sends each object's MD5, which such a bucket requires, and
//! reads the bucket's rule ([`S3Bucket::object_lock`], in `lock`) to show whether backups
//! are locked.

use opendal::blocking::Operator;
use opendal::options::{ListOptions, ReadOptions, WriteOptions};
use opendal::{ErrorKind, HttpTransporter, OperationContext, services::S3};
use opendal_http_transport_reqwest::ReqwestTransport;

use super::{ObjectKind, ObjectName, ObjectRef, Range, Storage, StorageError};

/// Where a bucket is and how to reach it.
#[derive(Clone, PartialEq, Eq)]
pub struct S3Config {
    /// `https://s3.eu-west-1.amazonaws.com`, or a MinIO/Garage/Ceph address.
    pub endpoint: String,
    pub region: String,
    pub bucket: String,
    /// A folder in the bucket under which each device's repository is a folder.
    pub prefix: String,
    pub access_key_id: String,
    pub secret_access_key: String,
}

impl std::fmt::Debug for S3Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Config")
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .finish()
    }
}

/// A bucket holding devices' repositories, one folder each ([`S3Bucket::repository`]). One
/// HTTP client and connection pool for all of them; cheap to clone.
#[derive(Clone)]
pub struct S3Bucket {
    operator: Operator,
    config: S3Config,
    client: reqwest::Client,
}

/// One device's repository in a bucket.
pub struct S3Storage {
    operator: Operator,
    /// `prefix/device/`, the repository's folder in the bucket.
    root: String,
    location: String,
}

fn failed(what: &str, error: opendal::Error) -> StorageError {
    match error.kind() {
        ErrorKind::NotFound => StorageError::NotFound(what.to_owned()),
        ErrorKind::AlreadyExists | ErrorKind::ConditionNotMatch => {
            StorageError::Exists(what.to_owned())
        }
        _ => StorageError::Io(format!("{what}: {error}")),
    }
}

impl S3Bucket {
    /// Reaches the bucket (nothing is sent until it is used). Must be called within a tokio
    /// runtime: opendal's blocking calls run on it, and the calls themselves block.
    pub fn connect(config: &S3Config) -> Result<Self, StorageError> {
        let builder = S3::default()
            .endpoint(&config.endpoint)
            .region(&config.region)
            .bucket(&config.bucket)
            .access_key_id(&config.access_key_id)
            .secret_access_key(&config.secret_access_key)
            // A bucket with Object Lock refuses a write without a checksum of its content.
            .checksum_algorithm("md5")
            // Only what Steward's configuration says: no credentials from the environment
            // or an instance's metadata service.
            .disable_config_load()
            .disable_ec2_metadata();
        // reqwest over rustls with ring (what the rest of Steward uses); opendal's own default
        // transport would bring a second TLS stack.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = reqwest::Client::builder()
            .no_proxy()
            .build()
            .map_err(|e| StorageError::Io(format!("the S3 client: {e}")))?;
        let transport = HttpTransporter::new(ReqwestTransport::new(client.clone()));
        let operator = opendal::Operator::new(builder)
            .map_err(|e| StorageError::Io(format!("the S3 bucket: {e}")))?
            .with_context(OperationContext::new().with_http_transport(transport));
        let operator =
            Operator::new(operator).map_err(|e| StorageError::Io(format!("the S3 bucket: {e}")))?;
        Ok(Self {
            operator,
            config: config.clone(),
            client,
        })
    }

    /// Where the bucket is, for people: `s3:ENDPOINT/BUCKET/PREFIX`.
    pub fn location(&self) -> String {
        let prefix = self.config.prefix.trim_matches('/');
        format!(
            "s3:{}/{}{}{}",
            self.config.endpoint.trim_end_matches('/'),
            self.config.bucket,
            if prefix.is_empty() { "" } else { "/" },
            prefix
        )
    }

    /// `device`'s repository: the folder `PREFIX/DEVICE/` of the bucket.
    pub fn repository(&self, device: &str) -> S3Storage {
        let prefix = self.config.prefix.trim_matches('/');
        let root = if prefix.is_empty() {
            format!("{device}/")
        } else {
            format!("{prefix}/{device}/")
        };
        let location = format!(
            "s3:{}/{}/{}",
            self.config.endpoint.trim_end_matches('/'),
            self.config.bucket,
            root.trim_end_matches('/')
        );
        S3Storage {
            operator: self.operator.clone(),
            root,
            location,
        }
    }

    /// Whether the bucket answers at all: lists the prefix. Blocks.
    pub fn reachable(&self) -> Result<(), StorageError> {
        let prefix = self.config.prefix.trim_matches('/');
        let dir = if prefix.is_empty() {
            String::new()
        } else {
            format!("{prefix}/")
        };
        match self.operator.list(&dir) {
            Ok(_) => Ok(()),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
            Err(e) => Err(failed(&self.location(), e)),
        }
    }

    /// The bucket's Object Lock rule, read from the bucket (`GET ?object-lock`).
    pub async fn object_lock(&self) -> Result<super::ObjectLock, StorageError> {
        super::lock::read(&self.client, &self.config).await
    }
}

impl S3Storage {
    /// The repository of `device` in the bucket, with a bucket of its own (see
    /// [`S3Bucket::connect`]; a server keeps one bucket for every device).
    pub fn new(config: &S3Config, device: &str) -> Result<Self, StorageError> {
        Ok(S3Bucket::connect(config)?.repository(device))
    }

    fn path_of(&self, object: &ObjectRef) -> String {
        match (&object.kind, &object.name) {
            (ObjectKind::Data, Some(name)) => {
                format!("{}data/{}/{}", self.root, &name.as_str()[..2], name)
            }
            (kind, Some(name)) => format!("{}{}/{}", self.root, kind.dirname(), name),
            (kind, None) => format!("{}{}", self.root, kind.dirname()),
        }
    }
}

impl S3Storage {
    /// One PUT of the whole object, refused by the bucket when the name exists. An object is
    /// at most a pack (16 MiB in new repositories, 128 MiB accepted), held once in memory.
    fn put_whole(&self, object: &ObjectRef, body: Vec<u8>) -> Result<(), StorageError> {
        let options = WriteOptions {
            if_not_exists: true,
            ..WriteOptions::default()
        };
        self.operator
            .write_options(&self.path_of(object), body, options)
            .map(drop)
            .map_err(|e| failed(&object.to_string(), e))
    }
}

impl Storage for S3Storage {
    fn kind(&self) -> &'static str {
        "s3"
    }

    fn location(&self) -> String {
        self.location.clone()
    }

    fn create(&self) -> Result<(), StorageError> {
        // A bucket has no folders to make.
        Ok(())
    }

    fn list(&self, kind: ObjectKind) -> Result<Vec<(ObjectName, u64)>, StorageError> {
        if kind == ObjectKind::Config {
            return Ok(Vec::new());
        }
        let dir = format!("{}{}/", self.root, kind.dirname());
        let entries = match self.operator.list_options(
            &dir,
            ListOptions {
                recursive: true,
                ..ListOptions::default()
            },
        ) {
            Ok(entries) => entries,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(failed(&dir, e)),
        };
        let mut out = Vec::new();
        for entry in entries {
            let Some(name) = entry
                .name()
                .split('/')
                .next_back()
                .and_then(|n| ObjectName::parse(n).ok())
            else {
                continue;
            };
            let size = match entry.metadata().content_length() {
                0 => self
                    .operator
                    .stat(entry.path())
                    .map_err(|e| failed(entry.path(), e))?
                    .content_length(),
                size => size,
            };
            out.push((name, size));
        }
        Ok(out)
    }

    fn size(&self, object: &ObjectRef) -> Result<Option<u64>, StorageError> {
        match self.operator.stat(&self.path_of(object)) {
            Ok(meta) => Ok(Some(meta.content_length())),
            Err(e) if e.kind() == ErrorKind::NotFound => Ok(None),
            Err(e) => Err(failed(&object.to_string(), e)),
        }
    }

    fn read(&self, object: &ObjectRef, range: Option<Range>) -> Result<Vec<u8>, StorageError> {
        let mut options = ReadOptions::default();
        if let Some(range) = range {
            options.range = (range.offset..range.offset + range.length).into();
        }
        let buffer = self
            .operator
            .read_options(&self.path_of(object), options)
            .map_err(|e| failed(&object.to_string(), e))?;
        Ok(buffer.to_vec())
    }

    fn put(&self, object: &ObjectRef, parts: &[&[u8]]) -> Result<(), StorageError> {
        self.put_whole(object, parts.concat())
    }

    /// The spool file read once into the body sent (the default would copy it again).
    fn put_spooled(
        &self,
        object: &ObjectRef,
        file: tempfile::NamedTempFile,
    ) -> Result<(), StorageError> {
        let body = std::fs::read(file.path())
            .map_err(|e| StorageError::from_io(&object.to_string(), e))?;
        self.put_whole(object, body)
    }

    fn remove(&self, object: &ObjectRef) -> Result<(), StorageError> {
        self.operator
            .delete(&self.path_of(object))
            .map_err(|e| failed(&object.to_string(), e))
    }
}
