//! moto's S3 server on loopback (`moto_server`, from PyPI; `scripts/test` installs it): a
//! real S3 API for the tests of backups kept in a bucket. It checks no signatures, so a
//! test can also make buckets and try deletions with plain requests, as the bucket's owner.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running moto server, stopped when dropped.
pub struct Moto {
    child: Child,
    pub port: u16,
    http: reqwest::Client,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Moto {
    /// Starts moto on a free loopback port and waits until it answers.
    pub async fn start() -> Moto {
        let port = crate::peers::free_address().await.port();
        let child = Command::new("moto_server")
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto_server (pip install 'moto[server]'; scripts/test does)");
        let moto = Moto {
            child,
            port,
            http: reqwest::Client::builder().no_proxy().build().unwrap(),
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while moto.http.get(moto.url("/")).send().await.is_err() {
            assert!(Instant::now() < deadline, "moto_server did not start");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        moto
    }

    /// `http://127.0.0.1:PORT`, the S3 endpoint.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.endpoint())
    }

    /// Makes a bucket; with `lock_days`, with Object Lock and a default compliance-mode
    /// retention of that many days (which also turns versioning on).
    pub async fn bucket(&self, name: &str, lock_days: Option<u32>) {
        let mut make = self.http.put(self.url(&format!("/{name}")));
        if lock_days.is_some() {
            make = make.header("x-amz-bucket-object-lock-enabled", "true");
        }
        let made = make.send().await.unwrap();
        assert!(made.status().is_success(), "{:?}", made.text().await);
        if let Some(days) = lock_days {
            let rule = format!(
                "<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled>\
                 <Rule><DefaultRetention><Mode>COMPLIANCE</Mode><Days>{days}</Days>\
                 </DefaultRetention></Rule></ObjectLockConfiguration>"
            );
            let set = self
                .http
                .put(self.url(&format!("/{name}?object-lock")))
                .body(rule)
                .send()
                .await
                .unwrap();
            assert!(set.status().is_success(), "{:?}", set.text().await);
        }
    }

    /// The keys and version ids of every object version under `prefix`.
    pub async fn versions(&self, bucket: &str, prefix: &str) -> Vec<(String, String)> {
        let listed = self
            .http
            .get(self.url(&format!("/{bucket}?versions&prefix={prefix}")))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let mut out = Vec::new();
        for version in listed.split("<Version>").skip(1) {
            let field = |name: &str| {
                version
                    .split(&format!("<{name}>"))
                    .nth(1)
                    .and_then(|rest| rest.split(&format!("</{name}>")).next())
                    .unwrap_or_default()
                    .to_owned()
            };
            out.push((field("Key"), field("VersionId")));
        }
        out
    }

    /// Deletes one version of an object, as the bucket's owner would; the HTTP status.
    pub async fn delete_version(&self, bucket: &str, key: &str, version: &str) -> u16 {
        self.http
            .delete(self.url(&format!("/{bucket}/{key}?versionId={version}")))
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }
}
