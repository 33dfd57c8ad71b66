//! The agent's side of the server's repository endpoint: restic's REST backend protocol
//! (`/backup/v1/{device}/…`) over the agent's own client, so the requests carry its
//! credential and go only to the pinned server. rustic_backend has a REST client, but it
//! cannot pin a certificate or send Steward's credential, so these few requests are
//! written here.

use reqwest::StatusCode;
use reqwest::header::{ACCEPT, RANGE};
use serde::Deserialize;
use steward_proto::backup::{BACKUP_PREFIX, RepositoryAccess};

use crate::client::{Client, ClientError};

/// The v2 listing of restic's REST protocol: names with sizes.
const LIST_V2: &str = "application/vnd.x.restic.rest.v2";
/// Uploads are packs of up to 16 MiB (64 MiB in older repositories): time enough for a slow
/// link.
const OBJECT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(15 * 60);

#[derive(Deserialize)]
struct Listed {
    name: String,
    size: u64,
}

impl Client {
    /// The repository and password of a backup or restore job this agent runs.
    pub async fn repository_access(&self, job_id: &str) -> Result<RepositoryAccess, ClientError> {
        let url = self.url(&format!("/agent/v1/jobs/{job_id}/repository"));
        let response = self.send(self.authed(self.http.get(url))).await?;
        response
            .json()
            .await
            .map_err(|e| ClientError::Protocol(format!("repository access: {e}")))
    }

    fn object_url(&self, device: &str, path: &str) -> String {
        self.url(&format!("{BACKUP_PREFIX}/{device}/{path}"))
    }

    /// `path`'s content (`config`, `data/<name>`), whole or `length` bytes from `offset`.
    pub async fn backup_read(
        &self,
        device: &str,
        path: &str,
        range: Option<(u64, u64)>,
    ) -> Result<Vec<u8>, ClientError> {
        let mut request = self
            .authed(self.http.get(self.object_url(device, path)))
            .timeout(OBJECT_TIMEOUT);
        if let Some((offset, length)) = range {
            request = request.header(
                RANGE,
                format!("bytes={offset}-{}", offset + length.max(1) - 1),
            );
        }
        let response = self.send(request).await?;
        let bytes = response
            .bytes()
            .await
            .map_err(|e| ClientError::Unreachable(format!("reading {path}: {e}")))?;
        Ok(bytes.to_vec())
    }

    /// The size of `path`, or `None` when it does not exist.
    pub async fn backup_size(&self, device: &str, path: &str) -> Result<Option<u64>, ClientError> {
        let request = self.authed(self.http.head(self.object_url(device, path)));
        match self.send(request).await {
            Ok(response) => Ok(response.content_length()),
            Err(ClientError::Rejected { status, .. })
                if status == StatusCode::NOT_FOUND.as_u16() =>
            {
                Ok(None)
            }
            Err(error) => Err(error),
        }
    }

    /// The names and sizes in directory `dir` (`data`, `snapshots`, …).
    pub async fn backup_list(
        &self,
        device: &str,
        dir: &str,
    ) -> Result<Vec<(String, u64)>, ClientError> {
        let request = self
            .authed(self.http.get(self.object_url(device, &format!("{dir}/"))))
            .header(ACCEPT, LIST_V2);
        let response = self.send(request).await?;
        let listed: Vec<Listed> = response
            .json()
            .await
            .map_err(|e| ClientError::Protocol(format!("listing {dir}: {e}")))?;
        Ok(listed.into_iter().map(|l| (l.name, l.size)).collect())
    }

    /// Store a new object at `path`.
    pub async fn backup_write(
        &self,
        device: &str,
        path: &str,
        body: reqwest::Body,
    ) -> Result<(), ClientError> {
        let request = self
            .authed(self.http.post(self.object_url(device, path)))
            .timeout(OBJECT_TIMEOUT)
            .body(body);
        self.send(request).await.map(drop)
    }

    /// Remove `path` (the server allows it for lock files only).
    pub async fn backup_remove(&self, device: &str, path: &str) -> Result<(), ClientError> {
        self.send(self.authed(self.http.delete(self.object_url(device, path))))
            .await
            .map(drop)
    }
}
