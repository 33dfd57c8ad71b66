//! Fresh databases for tests (feature `test-support`): the one implementation behind the
//! store's contract tests and steward-testkit's servers.
//!
//! SQLite: a file in a temporary directory of the test's own. PostgreSQL: a database created
//! for the test on the server named by `STEWARD_TEST_PG_URL`, and dropped by
//! [`TestDatabase::cleanup`]. With the variable unset the PostgreSQL variants are skipped
//! ([`TestDatabase::postgres`] answers `None`); set but unreachable, they fail, so a run that
//! was meant to cover PostgreSQL cannot pass without it.

#![allow(clippy::panic)]

use std::io::Write;
use std::sync::Mutex;

use sqlx::Connection;
use sqlx::postgres::PgConnection;

use crate::{Backend, redact};

/// The server to run the PostgreSQL variants against, e.g.
/// `postgres://postgres@127.0.0.1:5432/test`.
pub const PG_URL_VAR: &str = "STEWARD_TEST_PG_URL";

/// The value of [`PG_URL_VAR`]; `None` when unset or blank.
pub fn pg_url() -> Option<String> {
    std::env::var(PG_URL_VAR)
        .ok()
        .filter(|url| !url.trim().is_empty())
}

/// One test's database (not connected: see `url`), with any extra empty ones it made.
pub struct TestDatabase {
    pub url: String,
    pub backend: Backend,
    place: Place,
}

enum Place {
    Sqlite(tempfile::TempDir),
    /// The server URL, the test database's name, and the extra databases made so far.
    Postgres {
        base: String,
        name: String,
        extra: Mutex<Vec<String>>,
    },
}

impl TestDatabase {
    /// A new SQLite file (created on first connect) in a temporary directory.
    pub fn sqlite() -> TestDatabase {
        let dir = tempfile::tempdir()
            .unwrap_or_else(|e| panic!("cannot create a temporary directory: {e}"));
        let url = format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("steward.db").display()
        );
        TestDatabase {
            url,
            backend: Backend::Sqlite,
            place: Place::Sqlite(dir),
        }
    }

    /// A new, empty PostgreSQL database; `None` when `STEWARD_TEST_PG_URL` is unset. Panics
    /// when it is set but the server cannot be reached or the database cannot be made.
    pub async fn postgres() -> Option<TestDatabase> {
        let base = pg_url()?;
        let name = format!("steward_t_{}", uuid::Uuid::new_v4().simple());
        create_database(&base, &name).await;
        Some(TestDatabase {
            url: with_database(&base, &name),
            backend: Backend::Postgres,
            place: Place::Postgres {
                base,
                name,
                extra: Mutex::new(Vec::new()),
            },
        })
    }

    /// A new database on `backend` ([`Self::postgres`] for PostgreSQL, so `None` there when
    /// `STEWARD_TEST_PG_URL` is unset).
    pub async fn on(backend: Backend) -> Option<TestDatabase> {
        match backend {
            Backend::Sqlite => Some(Self::sqlite()),
            Backend::Postgres => Self::postgres().await,
        }
    }

    /// The URL of another new, empty database (no schema) on the same backend, for tests of
    /// what connecting does to a database; cleaned up with this one. `tag` tells several
    /// apart (lower-case letters, digits).
    pub async fn empty_database(&self, tag: &str) -> String {
        match &self.place {
            Place::Sqlite(dir) => format!(
                "sqlite://{}?mode=rwc",
                dir.path().join(format!("{tag}.db")).display()
            ),
            Place::Postgres { base, name, extra } => {
                let name = format!("{name}_{tag}");
                create_database(base, &name).await;
                extra
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .push(name.clone());
                with_database(base, &name)
            }
        }
    }

    /// Removes the database and every extra one. Close the stores on it first: PostgreSQL
    /// databases are dropped with `FORCE`, which ends any connection still open.
    pub async fn cleanup(self) {
        match self.place {
            Place::Sqlite(dir) => drop(dir),
            Place::Postgres { base, name, extra } => {
                drop_database(&base, &name).await;
                let extra = extra.into_inner().unwrap_or_else(|e| e.into_inner());
                for name in extra {
                    drop_database(&base, &name).await;
                }
            }
        }
    }
}

/// Every migration's version, name and text for `backend`, in order: for tests that build a
/// database as an older release left it.
pub fn migrations(backend: Backend) -> Vec<(i64, &'static str, &'static str)> {
    crate::migrate::MIGRATIONS
        .iter()
        .map(|m| (m.version, m.name, m.sql(backend)))
        .collect()
}

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
