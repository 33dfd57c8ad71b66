//! A real server on 127.0.0.1:0 with its own database.

use std::net::SocketAddr;
use std::sync::Arc;

use steward_core::{CertFingerprint, Timestamp};
use steward_server::secrets::PasswordHashing;
use steward_server::{AppState, Clock, ManualClock, ServerConfig, SystemClock};
use steward_store::{Backend, Store};
use tokio::sync::oneshot;

use crate::TestDb;

pub struct TestServer {
    pub addr: SocketAddr,
    pub url: String,
    pub store: Store,
    pub state: AppState,
    pub db: Option<TestDb>,
    /// Set when the server was started with a clock that the test moves ([`Self::clock`]).
    manual_clock: Option<Arc<ManualClock>>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    /// An HTTP client for this server (over HTTPS it trusts exactly its certificate).
    pub http: reqwest::Client,
    /// Over HTTPS: the fingerprint of the server's self-signed certificate.
    pub fingerprint: Option<CertFingerprint>,
    /// Over HTTPS: where the certificate and key are kept.
    _tls_dir: Option<tempfile::TempDir>,
    /// Where devices' backups go unless the configuration names a directory
    /// ([`Self::backups_dir`]).
    _backups_dir: Option<tempfile::TempDir>,
}

/// A reqwest client that trusts exactly the certificate `pin`.
pub fn pinned_http_client(pin: CertFingerprint) -> reqwest::Client {
    let config = steward_agent::tls::PinVerifier::pinned(pin)
        .client_config()
        .unwrap();
    reqwest::Client::builder()
        .tls_backend_preconfigured(config)
        .build()
        .unwrap()
}

pub fn test_config() -> ServerConfig {
    ServerConfig {
        checkin_interval_secs: 60,
        password_hashing: PasswordHashing::TestOnlyCheap,
        ..ServerConfig::default()
    }
}

/// Replaces a one-time password in the console at `base_url` (as a person must before
/// anything else), for a session signed in with it; returns the new session's cookie
/// (`name=value`). For tests of a spawned `steward` as well as of a [`TestServer`].
pub async fn change_one_time_password(
    base_url: &str,
    cookie: &str,
    one_time: &str,
    new_password: &str,
) -> String {
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = crate::page_with(&http, format!("{base_url}/account/password"), cookie).await;
    let csrf = crate::csrf_in(&page);
    let resp = http
        .post(format!("{base_url}/account/password"))
        .header("cookie", cookie)
        .form(&[
            ("csrf", csrf.as_str()),
            ("current", one_time),
            ("new", new_password),
            ("confirm", new_password),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        resp.status().as_u16(),
        303,
        "changing the one-time password"
    );
    resp.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string()
}

impl TestServer {
    /// A server over a fresh SQLite database.
    pub async fn sqlite() -> TestServer {
        Self::start(TestDb::sqlite(), "127.0.0.1:0".parse().unwrap()).await
    }

    /// A server over a fresh PostgreSQL database, if `STEWARD_TEST_PG_URL` is set.
    pub async fn postgres() -> Option<TestServer> {
        Some(Self::start(TestDb::postgres().await?, "127.0.0.1:0".parse().unwrap()).await)
    }

    pub async fn on(backend: Backend) -> Option<TestServer> {
        match backend {
            Backend::Sqlite => Some(Self::sqlite().await),
            Backend::Postgres => Self::postgres().await,
        }
    }

    /// A server over a fresh SQLite database whose clock stands still (at the time it was
    /// started) until the test moves it with [`Self::clock`]: expiries and idle timeouts
    /// are reached at once and exactly, without sleeping.
    pub async fn sqlite_manual_clock() -> TestServer {
        let clock = Arc::new(ManualClock::at_system_time());
        let mut server = Self::start_on_clock(
            TestDb::sqlite(),
            "127.0.0.1:0".parse().unwrap(),
            None,
            test_config(),
            clock.clone(),
        )
        .await;
        server.manual_clock = Some(clock);
        server
    }

    /// The clock of a server made by [`Self::sqlite_manual_clock`], to `advance` or `set`.
    pub fn clock(&self) -> &ManualClock {
        self.manual_clock
            .as_deref()
            .unwrap_or_else(|| panic!("this TestServer runs on the system clock"))
    }

    /// A server over HTTPS with a self-signed certificate of its own (made the way
    /// `steward server` makes it), over a fresh SQLite database.
    pub async fn sqlite_tls() -> TestServer {
        Self::start_tls(TestDb::sqlite()).await
    }

    /// A server over a fresh SQLite database with `adjust` applied to the test
    /// configuration (limits, timeouts, trusted proxies…).
    pub async fn sqlite_configured(adjust: impl FnOnce(&mut ServerConfig)) -> TestServer {
        Self::start_configured(TestDb::sqlite(), adjust).await
    }

    /// A server over `db` with `adjust` applied to the test configuration.
    pub async fn start_configured(
        db: TestDb,
        adjust: impl FnOnce(&mut ServerConfig),
    ) -> TestServer {
        let mut config = test_config();
        adjust(&mut config);
        Self::start_with(db, "127.0.0.1:0".parse().unwrap(), None, config).await
    }

    /// A server over HTTPS on `db` with a new self-signed certificate.
    pub async fn start_tls(db: TestDb) -> TestServer {
        Self::start_tls_configured(db, |_| {}).await
    }

    /// [`Self::start_tls`] with `adjust` applied to the test configuration.
    pub async fn start_tls_configured(
        db: TestDb,
        adjust: impl FnOnce(&mut ServerConfig),
    ) -> TestServer {
        let dir = tempfile::tempdir().unwrap();
        let names = ["localhost".to_string(), "127.0.0.1".to_string()];
        let (identity, created) =
            steward_server::tls::TlsIdentity::self_signed_in(&dir.path().join("tls"), &names)
                .unwrap();
        assert!(created);
        let tls = identity.server_config().unwrap();
        let mut config = test_config();
        adjust(&mut config);
        let mut server = Self::start_with(
            db,
            "127.0.0.1:0".parse().unwrap(),
            Some((tls, identity.fingerprint.to_string())),
            config,
        )
        .await;
        server.url = format!("https://{}", server.addr);
        server.http = pinned_http_client(identity.fingerprint);
        server.fingerprint = Some(identity.fingerprint);
        server._tls_dir = Some(dir);
        server
    }

    pub async fn start(db: TestDb, addr: SocketAddr) -> TestServer {
        Self::start_with(db, addr, None, test_config()).await
    }

    async fn start_with(
        db: TestDb,
        addr: SocketAddr,
        tls: Option<(Arc<rustls::ServerConfig>, String)>,
        config: ServerConfig,
    ) -> TestServer {
        Self::start_on_clock(db, addr, tls, config, Arc::new(SystemClock)).await
    }

    async fn start_on_clock(
        db: TestDb,
        addr: SocketAddr,
        tls: Option<(Arc<rustls::ServerConfig>, String)>,
        config: ServerConfig,
        clock: Arc<dyn Clock>,
    ) -> TestServer {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let store = Store::connect(&db.url).await.unwrap();
        let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let own_backups_dir = match config.backups_dir {
            Some(_) => None,
            None => Some(tempfile::tempdir().unwrap()),
        };
        let config = ServerConfig {
            tls_fingerprint: tls.as_ref().map(|(_, f)| f.clone()),
            secure_cookies: tls.is_some(),
            backups_dir: config
                .backups_dir
                .clone()
                .or_else(|| own_backups_dir.as_ref().map(|d| d.path().to_path_buf())),
            ..config
        };
        let state = AppState::new(store.clone(), clock, config).unwrap();
        let (stop, stopped) = oneshot::channel::<()>();
        let stopped = async move {
            let _ = stopped.await;
        };
        let task = match tls {
            Some((tls, _)) => tokio::spawn(steward_server::serve_tls(
                listener,
                state.clone(),
                tls,
                stopped,
            )),
            None => tokio::spawn(steward_server::serve(listener, state.clone(), stopped)),
        };
        TestServer {
            addr,
            url: format!("http://{addr}"),
            store,
            state,
            db: Some(db),
            manual_clock: None,
            stop: Some(stop),
            task: Some(task),
            http: reqwest::Client::new(),
            fingerprint: None,
            _tls_dir: None,
            _backups_dir: own_backups_dir,
        }
    }

    /// Stops serving (in-flight requests finish) and returns the database for a restart.
    pub async fn stop(mut self) -> TestDb {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
        self.store.close().await;
        self.db.take().unwrap()
    }

    pub async fn cleanup(self) {
        let db = self.stop().await;
        db.cleanup().await;
    }

    /// Where this server keeps devices' backup repositories (a directory of the test's own
    /// unless the configuration named one).
    pub fn backups_dir(&self) -> &std::path::Path {
        self.state
            .config
            .backups_dir
            .as_deref()
            .unwrap_or_else(|| unreachable!("a TestServer always has a backups directory"))
    }

    /// The server's time (its clock's, manual or not).
    pub fn now(&self) -> Timestamp {
        self.state.now()
    }

    pub async fn enroll_token(&self, uses: u32) -> String {
        let now = self.now();
        steward_server::admin::create_enroll_token(
            &self.store,
            uses,
            now.plus_millis(3_600_000),
            now,
        )
        .await
        .unwrap()
    }

    /// An administrator's API token.
    pub async fn api_token(&self) -> String {
        self.api_token_with(steward_core::Role::Admin).await
    }

    pub async fn api_token_with(&self, role: steward_core::Role) -> String {
        steward_server::admin::create_api_token(
            &self.store,
            role.as_str(),
            role,
            None,
            None,
            self.now(),
        )
        .await
        .unwrap()
    }

    /// GET `path` with an API token; returns status and JSON body (Null if not JSON).
    pub async fn api_get(&self, token: &str, path: &str) -> (u16, serde_json::Value) {
        let resp = self
            .http
            .get(format!("{}{path}", self.url))
            .bearer_auth(token)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(serde_json::Value::Null))
    }

    pub async fn api_post(
        &self,
        token: &str,
        path: &str,
        body: serde_json::Value,
    ) -> (u16, serde_json::Value) {
        let resp = self
            .http
            .post(format!("{}{path}", self.url))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        (status, resp.json().await.unwrap_or(serde_json::Value::Null))
    }

    /// Creates a console user with a (cheaply hashed) password.
    pub async fn create_user(&self, username: &str, role: steward_core::Role, password: &str) {
        let hash = PasswordHashing::TestOnlyCheap.hash(password).unwrap();
        self.store
            .create_user(
                &steward_store::NewUser {
                    id: format!("user-{username}"),
                    username: username.into(),
                    password_hash: hash,
                    role: role.as_str().into(),
                    must_change_password: false,
                },
                self.now(),
            )
            .await
            .unwrap();
    }

    /// Signs in through the login form; returns the session cookie (`name=value`).
    pub async fn sign_in(&self, username: &str, password: &str) -> String {
        let mut builder = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none());
        if let Some(pin) = self.fingerprint {
            builder = builder.tls_backend_preconfigured(
                steward_agent::tls::PinVerifier::pinned(pin)
                    .client_config()
                    .unwrap(),
            );
        }
        let http = builder.build().unwrap();
        let resp = http
            .post(format!("{}/login", self.url))
            .form(&[("username", username), ("password", password)])
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 303, "sign-in as {username}");
        resp.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .split(';')
            .next()
            .unwrap()
            .to_string()
    }

    /// Signs in with a one-time password (a created user's or a reset one) and replaces it
    /// with `new_password`, as the console demands before anything else; returns the new
    /// session's cookie (`name=value`).
    pub async fn sign_in_first_time(
        &self,
        username: &str,
        one_time: &str,
        new_password: &str,
    ) -> String {
        let cookie = self.sign_in(username, one_time).await;
        change_one_time_password(&self.url, &cookie, one_time, new_password).await
    }

    /// Enrolls a device over the protocol; returns (device id, credential).
    pub async fn enroll_raw(&self, hostname: &str) -> (String, String) {
        let token = self.enroll_token(1).await;
        let resp = self
            .http
            .post(format!("{}/agent/v1/enroll", self.url))
            .json(&serde_json::json!({"token": token, "hostname": hostname}))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 200);
        let body: serde_json::Value = resp.json().await.unwrap();
        (
            body["device_id"].as_str().unwrap().to_string(),
            body["credential"].as_str().unwrap().to_string(),
        )
    }
}
