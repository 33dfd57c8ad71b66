//! The backup endpoint (`/backup/v1/{device}/`, restic's REST protocol) over real HTTP: a
//! device writes and reads its own repository as restic and rustic do; everything that would
//! destroy a backup — replacing or deleting an object — is refused with the device's own
//! credential (the ransomware test); another device's repository, no credential and a
//! person's credentials are refused; the objects land on disk in restic's layout. restic
//! itself and slow uploads: `backup_clients.rs`.

use reqwest::{Method, StatusCode};
use serde_json::Value;
use sha2::{Digest, Sha256};
use steward_core::Role;
use steward_server::web::routes::{Access, Surface};
use steward_testkit::TestServer;

const LIST_V2: &str = "application/vnd.x.restic.rest.v2";

pub(crate) fn sha256(content: &[u8]) -> String {
    hex::encode(Sha256::digest(content))
}

/// One device's view of a repository: requests made with its credential.
pub(crate) struct Repo {
    http: reqwest::Client,
    base: String,
    credential: Option<String>,
}

impl Repo {
    pub(crate) fn of(server: &TestServer, device: &str, credential: Option<&str>) -> Repo {
        Repo {
            http: server.http.clone(),
            base: format!("{}/backup/v1/{device}", server.url),
            credential: credential.map(str::to_owned),
        }
    }

    fn request(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        let req = self.http.request(method, format!("{}{path}", self.base));
        match &self.credential {
            Some(credential) => req.bearer_auth(credential),
            None => req,
        }
    }

    pub(crate) async fn post(&self, path: &str, body: &[u8]) -> StatusCode {
        self.request(Method::POST, path)
            .body(body.to_vec())
            .send()
            .await
            .unwrap()
            .status()
    }

    async fn get(&self, path: &str) -> (StatusCode, Vec<u8>) {
        let resp = self.request(Method::GET, path).send().await.unwrap();
        (resp.status(), resp.bytes().await.unwrap().to_vec())
    }

    async fn head(&self, path: &str) -> (StatusCode, Option<u64>) {
        let resp = self.request(Method::HEAD, path).send().await.unwrap();
        let length = resp
            .headers()
            .get("content-length")
            .and_then(|v| v.to_str().ok()?.parse().ok());
        (resp.status(), length)
    }

    async fn delete(&self, path: &str) -> StatusCode {
        self.request(Method::DELETE, path)
            .send()
            .await
            .unwrap()
            .status()
    }

    /// Stores `content` as a `kind` object named by its hash; returns the object's path.
    async fn store(&self, kind: &str, content: &[u8]) -> String {
        let path = format!("/{kind}/{}", sha256(content));
        assert_eq!(self.post(&path, content).await, StatusCode::OK, "{path}");
        path
    }
}

#[tokio::test]
async fn a_device_writes_and_reads_its_own_repository_as_restic_does() {
    let server = TestServer::sqlite().await;
    let (device, credential) = server.enroll_raw("laptop").await;
    let repo = Repo::of(&server, &device, Some(&credential));

    // restic and rustic send the credential of a rest:https://user:password@… URL as Basic.
    let created = server
        .http
        .post(format!("{}/?create=true", repo.base))
        .basic_auth(&device, Some(&credential))
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::OK);
    assert_eq!(
        repo.post("/?create=true", b"").await,
        StatusCode::OK,
        "idempotent"
    );
    let (status, body) = {
        let resp = repo.request(Method::POST, "/").send().await.unwrap();
        (resp.status(), resp.text().await.unwrap())
    };
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(body.contains("create=true"), "{body}");

    assert_eq!(repo.head("/config").await.0, StatusCode::NOT_FOUND);
    assert_eq!(repo.post("/config", b"sealed config").await, StatusCode::OK);
    assert_eq!(repo.head("/config").await, (StatusCode::OK, Some(13)));
    assert_eq!(
        repo.get("/config").await,
        (StatusCode::OK, b"sealed config".to_vec())
    );

    let pack: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let name = sha256(&pack);
    let pack_path = repo.store("data", &pack).await;
    assert_eq!(repo.get(&pack_path).await, (StatusCode::OK, pack.clone()));
    assert_eq!(repo.head(&pack_path).await, (StatusCode::OK, Some(100_000)));

    let ranged = |range: &'static str| {
        repo.request(Method::GET, &pack_path)
            .header("range", range)
            .send()
    };
    let part = ranged("bytes=1000-1999").await.unwrap();
    assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        part.headers()["content-range"],
        "bytes 1000-1999/100000",
        "rustic reads blobs out of packs this way"
    );
    assert_eq!(part.bytes().await.unwrap().as_ref(), &pack[1000..2000]);
    let tail = ranged("bytes=99990-").await.unwrap();
    assert_eq!(tail.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(tail.bytes().await.unwrap().as_ref(), &pack[99_990..]);
    let past = ranged("bytes=100000-100010").await.unwrap();
    assert_eq!(past.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(past.headers()["content-range"], "bytes */100000");
    let bad = ranged("bytes=5-1").await.unwrap();
    assert_eq!(bad.status(), StatusCode::BAD_REQUEST);
    assert!(bad.text().await.unwrap().contains("bytes=FIRST-LAST"));

    let snapshot = br#"{"time":"2026-01-01T00:00:00Z","tree":"0"}"#;
    let snapshot_path = repo.store("snapshots", snapshot).await;
    let index_path = repo.store("index", b"index").await;
    let key_path = repo.store("keys", b"key").await;

    // Lists: v1 is the names; v2, asked for by Accept, names and sizes.
    let (status, v1) = repo.get("/data/").await;
    assert_eq!(status, StatusCode::OK);
    let v1: Value = serde_json::from_slice(&v1).unwrap();
    assert_eq!(v1, serde_json::json!([name]));
    let v2 = repo
        .request(Method::GET, "/data/")
        .header("accept", LIST_V2)
        .send()
        .await
        .unwrap();
    assert_eq!(v2.headers()["content-type"], LIST_V2);
    let v2: Value = v2.json().await.unwrap();
    assert_eq!(v2, serde_json::json!([{"name": name, "size": 100_000}]));
    let (_, snapshots) = repo.get("/snapshots/").await;
    assert_eq!(
        serde_json::from_slice::<Value>(&snapshots).unwrap(),
        serde_json::json!([sha256(snapshot)])
    );
    assert_eq!(
        serde_json::from_slice::<Value>(&repo.get("/locks/").await.1).unwrap(),
        serde_json::json!([])
    );

    // On disk: a plain restic repository, packs under data/<first two hex digits>/.
    let root = server.backups_dir().join(&device);
    assert_eq!(
        std::fs::read(root.join("data").join(&name[..2]).join(&name)).unwrap(),
        pack
    );
    assert!(root.join("data/00").is_dir() && root.join("data/ff").is_dir());
    assert_eq!(
        std::fs::read(root.join("config")).unwrap(),
        b"sealed config"
    );
    for (dir, path) in [
        ("snapshots", &snapshot_path),
        ("index", &index_path),
        ("keys", &key_path),
    ] {
        let file = path.rsplit('/').next().unwrap();
        assert!(root.join(dir).join(file).is_file(), "{dir}/{file}");
    }
    server.cleanup().await;
}

/// Ransomware on the device holds the device's credential: with it, nothing already backed
/// up can be replaced or deleted, and nothing unverified is stored.
#[tokio::test]
async fn the_devices_own_credential_cannot_destroy_its_backups() {
    let server = TestServer::sqlite().await;
    let (device, credential) = server.enroll_raw("victim").await;
    let repo = Repo::of(&server, &device, Some(&credential));
    assert_eq!(repo.post("/?create=true", b"").await, StatusCode::OK);
    assert_eq!(repo.post("/config", b"config").await, StatusCode::OK);
    let objects = [
        ("/config".to_string(), b"config".to_vec()),
        (repo.store("keys", b"key").await, b"key".to_vec()),
        (repo.store("data", b"pack").await, b"pack".to_vec()),
        (repo.store("index", b"index").await, b"index".to_vec()),
        (
            repo.store("snapshots", b"snapshot").await,
            b"snapshot".to_vec(),
        ),
    ];
    for (path, content) in &objects {
        // Encrypted junk in place of the object, and the very same content again.
        let overwrite = repo
            .request(Method::POST, path)
            .body("encrypted by ransomware")
            .send()
            .await
            .unwrap();
        assert_eq!(
            overwrite.status(),
            StatusCode::FORBIDDEN,
            "overwrite {path}"
        );
        let message: Value = overwrite.json().await.unwrap();
        assert!(
            message["message"]
                .as_str()
                .unwrap()
                .contains("never replaced"),
            "{message}"
        );
        assert_eq!(
            repo.post(path, content).await,
            StatusCode::FORBIDDEN,
            "rewrite {path}"
        );
        let delete = repo.request(Method::DELETE, path).send().await.unwrap();
        assert_eq!(delete.status(), StatusCode::FORBIDDEN, "delete {path}");
        assert!(delete.text().await.unwrap().contains("append-only"));
        assert_eq!(
            repo.get(path).await,
            (StatusCode::OK, content.clone()),
            "{path} is unchanged"
        );
    }

    // An upload whose content is not its name is refused and leaves nothing.
    let forged = format!("/snapshots/{}", sha256(b"what the name promises"));
    let refused = repo
        .request(Method::POST, &forged)
        .body("something else")
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
    assert!(refused.text().await.unwrap().contains("SHA-256"));
    assert_eq!(repo.head(&forged).await.0, StatusCode::NOT_FOUND);

    // Names and types are checked before they reach a path.
    let upper = format!("/data/{}", sha256(b"pack").to_uppercase());
    for path in [
        "/data/..%2Fx",
        "/data/..%2F..%2F..%2Fconfig",
        upper.as_str(),
        "/data/abc",
        "/plans/0000000000000000000000000000000000000000000000000000000000000000",
        "/config/",
        "/plans/",
    ] {
        let listing = path.ends_with('/');
        let resp = repo.request(Method::GET, path).send().await.unwrap();
        assert_eq!(resp.status(), StatusCode::BAD_REQUEST, "GET {path}");
        let message: Value = resp.json().await.unwrap();
        assert!(
            message["message"].as_str().unwrap().contains("expected"),
            "GET {path}: {message}"
        );
        if !listing {
            assert_eq!(
                repo.post(path, b"x").await,
                StatusCode::BAD_REQUEST,
                "POST {path}"
            );
        }
    }

    // Locks are the agent's own to remove; removing one twice is harmless (a retry).
    let lock = repo.store("locks", b"lock").await;
    assert_eq!(repo.head(&lock).await.0, StatusCode::OK);
    assert_eq!(repo.delete(&lock).await, StatusCode::OK);
    assert_eq!(repo.head(&lock).await.0, StatusCode::NOT_FOUND);
    assert_eq!(repo.delete(&lock).await, StatusCode::OK);

    let root = server.backups_dir().join(&device);
    assert_eq!(std::fs::read(root.join("config")).unwrap(), b"config");
    assert_eq!(
        std::fs::read_dir(root.join(".steward-tmp"))
            .unwrap()
            .count(),
        0,
        "refused uploads leave nothing behind"
    );
    server.cleanup().await;
}

#[tokio::test]
async fn a_device_reaches_no_other_repository_and_no_one_else_reaches_any() {
    let server = TestServer::sqlite().await;
    let (owner, owner_credential) = server.enroll_raw("owner").await;
    let (_, other_credential) = server.enroll_raw("other").await;
    let own = Repo::of(&server, &owner, Some(&owner_credential));
    assert_eq!(own.post("/?create=true", b"").await, StatusCode::OK);
    assert_eq!(own.post("/config", b"config").await, StatusCode::OK);
    let pack = own.store("data", b"pack").await;
    let lock = own.store("locks", b"lock").await;
    let fresh = format!("/data/{}", sha256(b"new"));

    let admin_token = server.api_token_with(Role::Admin).await;
    server
        .create_user("admin", Role::Admin, "correct horse battery staple")
        .await;
    let cookie = server
        .sign_in("admin", "correct horse battery staple")
        .await;
    let other = Repo::of(&server, &owner, Some(&other_credential));
    let anonymous = Repo::of(&server, &owner, None);
    let person = Repo::of(&server, &owner, Some(&admin_token));
    let checks: [(&Repo, StatusCode, &str); 3] = [
        (&other, StatusCode::FORBIDDEN, "another device"),
        (&anonymous, StatusCode::UNAUTHORIZED, "no credential"),
        (
            &person,
            StatusCode::UNAUTHORIZED,
            "an administrator's API token",
        ),
    ];
    for (repo, expected, who) in checks {
        assert_eq!(repo.get("/config").await.0, expected, "{who}: read");
        assert_eq!(repo.head(&pack).await.0, expected, "{who}: head");
        assert_eq!(repo.get(&pack).await.0, expected, "{who}: read");
        assert_eq!(repo.get("/data/").await.0, expected, "{who}: list");
        assert_eq!(repo.post(&fresh, b"new").await, expected, "{who}: write");
        assert_eq!(repo.delete(&lock).await, expected, "{who}: delete a lock");
        assert_eq!(
            repo.post("/?create=true", b"").await,
            expected,
            "{who}: create"
        );
    }
    let by_session = server
        .http
        .get(format!("{}{pack}", own.base))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(by_session.status(), StatusCode::UNAUTHORIZED, "a session");
    // Basic credentials must name the device whose credential they carry.
    let mismatched = server
        .http
        .get(format!("{}/config", own.base))
        .basic_auth("someone-else", Some(&owner_credential))
        .send()
        .await
        .unwrap();
    assert_eq!(mismatched.status(), StatusCode::UNAUTHORIZED);

    // Nothing was written or removed by any of them.
    assert_eq!(own.head(&fresh).await.0, StatusCode::NOT_FOUND);
    assert_eq!(own.head(&lock).await.0, StatusCode::OK);
    server.cleanup().await;
}

/// The access walk for the backup routes (the API and console walks in `access.rs` cover
/// theirs): every one is a device's, and refuses anonymous requests and every role's API
/// token and session.
#[tokio::test]
async fn every_backup_route_is_for_devices_only() {
    let table = steward_server::route_table();
    let routes: Vec<_> = table
        .iter()
        .filter(|r| r.surface == Surface::Backup || r.path.starts_with("/backup/"))
        .collect();
    assert!(routes.len() >= 8, "the table was read: {routes:?}");
    assert!(
        routes
            .iter()
            .all(|r| r.surface == Surface::Backup && r.access == Access::Device),
        "{routes:?}"
    );
    let server = TestServer::sqlite().await;
    let (device, _) = server.enroll_raw("walked").await;
    let name = sha256(b"walk");
    let mut callers = vec![("anonymous".to_string(), None, None)];
    for role in Role::ALL {
        let password = "correct horse battery staple";
        server.create_user(role.as_str(), role, password).await;
        let cookie = server.sign_in(role.as_str(), password).await;
        callers.push((
            format!("{role:?} token"),
            Some(server.api_token_with(role).await),
            None,
        ));
        callers.push((format!("{role:?} session"), None, Some(cookie)));
    }
    for route in &routes {
        let path = route
            .path
            .replace("{device}", &device)
            .replace("{kind}", "data")
            .replace("{name}", &name);
        for (who, token, cookie) in &callers {
            let mut req = server
                .http
                .request(route.method.clone(), format!("{}{path}", server.url))
                .body("walk");
            if let Some(token) = token {
                req = req.bearer_auth(token);
            }
            if let Some(cookie) = cookie {
                req = req.header("cookie", cookie);
            }
            let status = req.send().await.unwrap().status();
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{route} as {who}");
        }
    }
    assert!(
        !server.backups_dir().join(&device).exists(),
        "nothing was created"
    );
    server.cleanup().await;
}
