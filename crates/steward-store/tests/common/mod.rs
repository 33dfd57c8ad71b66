//! Per-backend plumbing for the contract tests: every test body is written once and run on a
//! fresh SQLite file and, when `STEWARD_TEST_PG_URL` is set, on a fresh PostgreSQL database.

use std::future::Future;
use std::io::Write;
use std::ops::Deref;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, Once};

use sqlx::Connection;
use sqlx::postgres::PgConnection;
use steward_store::{Backend, Store, redact};

/// The server to run the PostgreSQL variants against, e.g.
/// `postgres://postgres@127.0.0.1:5432/test`. Unset: those variants print that they were
/// skipped and pass; set but unreachable: they fail.
pub const PG_URL_VAR: &str = "STEWARD_TEST_PG_URL";

/// One test's database: the store connected to it, and its URL for connecting again.
pub struct TestDb {
    pub store: Store,
    pub url: String,
    pub backend: Backend,
    place: Place,
}

/// Where a test may make more (empty) databases, cleaned up with its own.
#[derive(Clone)]
enum Place {
    /// The test's temporary directory.
    Sqlite(PathBuf),
    /// The server URL and the test database's name; extra databases made so far.
    Postgres {
        base: String,
        name: String,
        extra: Arc<Mutex<Vec<String>>>,
    },
}

impl TestDb {
    /// The URL of a new, empty database (no schema) on the same backend, for tests of what
    /// connecting does to a database. `tag` tells several apart (lower-case letters, digits).
    pub async fn empty_database(&self, tag: &str) -> String {
        match &self.place {
            Place::Sqlite(dir) => format!(
                "sqlite://{}?mode=rwc",
                dir.join(format!("{tag}.db")).display()
            ),
            Place::Postgres { base, name, extra } => {
                let name = format!("{name}_{tag}");
                create_database(base, &name).await;
                extra.lock().unwrap().push(name.clone());
                with_database(base, &name)
            }
        }
    }
}

impl Deref for TestDb {
    type Target = Store;
    fn deref(&self) -> &Store {
        &self.store
    }
}

/// Writes `test_name::sqlite` and `test_name::postgres` from one body `|db| async move { … }`
/// (`db` is a [`TestDb`], which derefs to the `Store`).
macro_rules! contract_test {
    ($name:ident, $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                $crate::common::run_sqlite($body).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                $crate::common::run_postgres($body).await;
            }
        }
    };
}

pub async fn run_sqlite<F, Fut>(body: F)
where
    F: FnOnce(TestDb) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let dir = tempfile::tempdir().expect("create a temporary directory");
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("steward.db").display()
    );
    let store = Store::connect(&url)
        .await
        .unwrap_or_else(|e| panic!("cannot open SQLite store {url}: {e}"));
    let handle = store.clone();
    let outcome = tokio::spawn(body(TestDb {
        store,
        url,
        backend: Backend::Sqlite,
        place: Place::Sqlite(dir.path().to_path_buf()),
    }))
    .await;
    handle.close().await;
    drop(dir);
    finish(outcome);
}

pub async fn run_postgres<F, Fut>(body: F)
where
    F: FnOnce(TestDb) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let base = match std::env::var(PG_URL_VAR) {
        Ok(url) if !url.trim().is_empty() => url,
        _ => {
            report_pg_skipped();
            return;
        }
    };
    let name = format!("steward_t_{}", uuid::Uuid::new_v4().simple());
    create_database(&base, &name).await;
    let url = with_database(&base, &name);
    let store = match Store::connect(&url).await {
        Ok(store) => store,
        Err(e) => {
            drop_database(&base, &name).await;
            panic!("cannot open PostgreSQL store {}: {e}", redact(&url));
        }
    };
    let extra = Arc::new(Mutex::new(Vec::new()));
    let handle = store.clone();
    let outcome = tokio::spawn(body(TestDb {
        store,
        url,
        backend: Backend::Postgres,
        place: Place::Postgres {
            base: base.clone(),
            name: name.clone(),
            extra: extra.clone(),
        },
    }))
    .await;
    handle.close().await;
    drop_database(&base, &name).await;
    let extra = std::mem::take(&mut *extra.lock().unwrap_or_else(|e| e.into_inner()));
    for name in extra {
        drop_database(&base, &name).await;
    }
    finish(outcome);
}

/// Fails the test when the server cannot be reached: a set `STEWARD_TEST_PG_URL` means the
/// PostgreSQL variants must run.
async fn create_database(base: &str, name: &str) {
    let mut admin = PgConnection::connect(base).await.unwrap_or_else(|e| {
        panic!(
            "{PG_URL_VAR} is set but PostgreSQL at {} is unreachable: {e}",
            redact(base)
        )
    });
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
        .execute(&mut admin)
        .await
        .unwrap_or_else(|e| panic!("cannot create the test database {name}: {e}"));
    let _ = admin.close().await;
}

/// Re-raises the test body's panic (after the database was cleaned up).
fn finish(outcome: Result<(), tokio::task::JoinError>) {
    if let Err(e) = outcome {
        if e.is_panic() {
            std::panic::resume_unwind(e.into_panic());
        }
        panic!("the test body did not finish: {e}");
    }
}

/// Best effort: a leftover `steward_t_…` database is harmless, so failures are only reported.
async fn drop_database(base: &str, name: &str) {
    let result = async {
        let mut admin = PgConnection::connect(base).await?;
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
        )))
        .execute(&mut admin)
        .await?;
        admin.close().await
    }
    .await;
    if let Err(e) = result {
        let _ = writeln!(
            std::io::stderr(),
            "warning: could not drop test database {name}: {e}"
        );
    }
}

/// Once per test binary. Written to the stderr handle directly, so the test harness does not
/// capture it and the skip is visible in a passing run.
fn report_pg_skipped() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = writeln!(
            std::io::stderr(),
            "PostgreSQL skipped: {PG_URL_VAR} is not set, the store contract tests ran on SQLite only"
        );
    });
}

/// `base` with its database name (the URL path) replaced by `name`; query parameters kept.
pub fn with_database(base: &str, name: &str) -> String {
    let (without_query, query) = match base.split_once('?') {
        Some((u, q)) => (u, Some(q)),
        None => (base, None),
    };
    let authority_start = without_query.find("://").map_or(0, |i| i + 3);
    let root = match without_query[authority_start..].find('/') {
        Some(slash) => &without_query[..authority_start + slash],
        None => without_query,
    };
    match query {
        Some(q) => format!("{root}/{name}?{q}"),
        None => format!("{root}/{name}"),
    }
}
