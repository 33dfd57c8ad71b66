//! Per-backend plumbing for the contract tests: every test body is written once and run on a
//! fresh SQLite file and, when `STEWARD_TEST_PG_URL` is set, on a fresh PostgreSQL database
//! (made by `steward_store::testing`, as for every other test of Steward).

use std::future::Future;
use std::io::Write;
use std::ops::Deref;
use std::sync::{Arc, Once};

use steward_store::testing::{PG_URL_VAR, TestDatabase};
use steward_store::{Backend, Store, redact};

/// One test's database: the store connected to it, and its URL for connecting again.
pub struct TestDb {
    pub store: Store,
    pub url: String,
    pub backend: Backend,
    database: Arc<TestDatabase>,
}

impl TestDb {
    /// The URL of a new, empty database (no schema) on the same backend, for tests of what
    /// connecting does to a database. `tag` tells several apart (lower-case letters, digits).
    pub async fn empty_database(&self, tag: &str) -> String {
        self.database.empty_database(tag).await
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
    run(TestDatabase::sqlite(), body).await;
}

pub async fn run_postgres<F, Fut>(body: F)
where
    F: FnOnce(TestDb) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    match TestDatabase::postgres().await {
        Some(database) => run(database, body).await,
        None => report_pg_skipped(),
    }
}

/// Runs the body on its own task, so its panic is caught, the database cleaned up, and then
/// the panic raised again.
async fn run<F, Fut>(database: TestDatabase, body: F)
where
    F: FnOnce(TestDb) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let store = match Store::connect(&database.url).await {
        Ok(store) => store,
        Err(e) => {
            let url = redact(&database.url);
            database.cleanup().await;
            panic!("cannot open the test store {url}: {e}");
        }
    };
    let handle = store.clone();
    let database = Arc::new(database);
    let outcome = tokio::spawn(body(TestDb {
        store,
        url: database.url.clone(),
        backend: database.backend,
        database: database.clone(),
    }))
    .await;
    handle.close().await;
    // The finished task dropped its clone; one kept by a task the body left running is
    // only reported (a leftover database is harmless).
    match Arc::try_unwrap(database) {
        Ok(database) => database.cleanup().await,
        Err(database) => {
            let _ = writeln!(
                std::io::stderr(),
                "warning: test database {} still in use, not removed",
                redact(&database.url)
            );
        }
    }
    finish(outcome);
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
