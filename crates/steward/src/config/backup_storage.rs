//! `[backup_storage]`: where the server keeps devices' backup repositories. By default a
//! directory, `<data-dir>/backups`; `kind = "local"` with `dir` puts it elsewhere (a disk of
//! its own), `kind = "s3"` in an S3-compatible bucket (AWS S3, MinIO, Garage, Ceph, …):
//!
//! ```toml
//! [backup_storage]
//! kind = "s3"
//! endpoint = "https://s3.eu-central-1.amazonaws.com"
//! region = "eu-central-1"
//! bucket = "factory-backups"
//! prefix = "steward"
//! access_key_id = "AKIA…"
//! secret_access_key_file = "/etc/steward/s3-secret"
//! ```

use std::path::{Path, PathBuf};

use anyhow::bail;
use serde::Deserialize;
use steward_server::backup::storage::S3Config;

/// The section as written. Its `Debug` leaves the secret out.
#[derive(Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BackupStorageSection {
    kind: Option<Kind>,
    /// `local`: the directory (default `<data-dir>/backups`).
    dir: Option<PathBuf>,
    endpoint: Option<String>,
    region: Option<String>,
    bucket: Option<String>,
    prefix: Option<String>,
    access_key_id: Option<String>,
    secret_access_key: Option<String>,
    secret_access_key_file: Option<PathBuf>,
}

impl std::fmt::Debug for BackupStorageSection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BackupStorageSection")
            .field("kind", &self.kind)
            .field("dir", &self.dir)
            .field("endpoint", &self.endpoint)
            .field("region", &self.region)
            .field("bucket", &self.bucket)
            .field("prefix", &self.prefix)
            .field("access_key_id", &self.access_key_id)
            .field(
                "secret_access_key",
                &self.secret_access_key.as_ref().map(|_| "<redacted>"),
            )
            .field("secret_access_key_file", &self.secret_access_key_file)
            .finish()
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
enum Kind {
    #[default]
    Local,
    S3,
}

/// Where repositories go: a directory, or a bucket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BackupStorage {
    Local(PathBuf),
    S3(S3Config),
}

impl BackupStorageSection {
    /// The storage the section describes (`data_dir` gives the default directory); a
    /// missing, contradictory or malformed setting is an error naming it.
    pub fn resolve(&self, data_dir: &Path) -> anyhow::Result<BackupStorage> {
        let s3_keys = [
            ("endpoint", self.endpoint.is_some()),
            ("region", self.region.is_some()),
            ("bucket", self.bucket.is_some()),
            ("prefix", self.prefix.is_some()),
            ("access_key_id", self.access_key_id.is_some()),
            ("secret_access_key", self.secret_access_key.is_some()),
            (
                "secret_access_key_file",
                self.secret_access_key_file.is_some(),
            ),
        ];
        match self.kind.unwrap_or_default() {
            Kind::Local => {
                if let Some((key, _)) = s3_keys.iter().find(|(_, given)| *given) {
                    bail!(
                        "[backup_storage] {key} is a setting of a bucket: add kind = \"s3\", \
                         or remove it"
                    );
                }
                Ok(BackupStorage::Local(
                    self.dir.clone().unwrap_or_else(|| data_dir.join("backups")),
                ))
            }
            Kind::S3 => {
                if self.dir.is_some() {
                    bail!("[backup_storage] dir is a setting of kind = \"local\", not of a bucket");
                }
                let required = |key: &str, value: &Option<String>| match value.as_deref() {
                    Some(v) if !v.trim().is_empty() => Ok(v.trim().to_owned()),
                    _ => bail!("[backup_storage] {key} is needed with kind = \"s3\""),
                };
                let endpoint = required("endpoint", &self.endpoint)?;
                if !(endpoint.starts_with("https://") || endpoint.starts_with("http://")) {
                    bail!(
                        "[backup_storage] endpoint must be an http:// or https:// address, such \
                         as https://s3.eu-central-1.amazonaws.com, not {endpoint:?}"
                    );
                }
                let bucket = required("bucket", &self.bucket)?;
                let secret = crate::secret_file::pick(
                    "[backup_storage] secret_access_key",
                    self.secret_access_key.clone(),
                    self.secret_access_key_file.as_deref(),
                )?;
                Ok(BackupStorage::S3(S3Config {
                    endpoint,
                    region: self
                        .region
                        .clone()
                        .filter(|r| !r.trim().is_empty())
                        .unwrap_or_else(|| "us-east-1".into()),
                    bucket,
                    prefix: self.prefix.clone().unwrap_or_default(),
                    access_key_id: required("access_key_id", &self.access_key_id)?,
                    secret_access_key: secret
                        .map(|s| s.trim().to_owned())
                        .filter(|s| !s.is_empty())
                        .ok_or_else(|| {
                            anyhow::anyhow!(
                                "[backup_storage] secret_access_key or secret_access_key_file \
                                 is needed with kind = \"s3\""
                            )
                        })?,
                }))
            }
        }
    }
}
