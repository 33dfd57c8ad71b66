//! Test support: a real Steward server on an ephemeral port over a fresh database (SQLite in
//! a temporary directory, or a fresh PostgreSQL database when `STEWARD_TEST_PG_URL` is set),
//! real agents against it, and typed helpers for the API and the agent protocol.
//!
//! Architecture invariant: nothing here is mocked except the platform collector (a scripted
//! inventory, so tests can change the "machine"); HTTP, database and agent code are real.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod agent;
pub mod apt;
pub mod db;
pub mod moto;
pub mod peers;
pub mod server;

pub use agent::{ScriptedCollector, TestAgent, sample_inventory};
pub use db::TestDb;
pub use server::{TestServer, change_one_time_password};

/// Installs the ring TLS provider that reqwest needs (idempotent). [`TestServer`] calls it;
/// tests that only use HTTP clients call it themselves.
pub fn init_tls() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The CSRF token in a console page's forms.
pub fn csrf_in(html: &str) -> String {
    html.split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_else(|| panic!("no CSRF token in the page"))
        .to_string()
}

/// The text of the console page at `url`, fetched with a session `cookie`.
pub async fn page_with(http: &reqwest::Client, url: impl reqwest::IntoUrl, cookie: &str) -> String {
    http.get(url)
        .header("cookie", cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

/// Polls `check` every 50 ms until it returns `Some`, or fails the test after `timeout`.
/// Tests wait on conditions, never on fixed sleeps.
pub async fn eventually<T, F, Fut>(timeout: std::time::Duration, what: &str, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        if tokio::time::Instant::now() >= deadline {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}
