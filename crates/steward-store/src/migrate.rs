//! Embedded, append-only migrations, one directory per backend.
//!
//! Hand-written rather than `sqlx::migrate!` because that macro needs sqlx's `macros`
//! feature, which compiles the whole sqlx stack a second time (see CRATES.md); the runner is
//! a dozen lines. Each migration runs in its own transaction and is recorded with its
//! version; a database newer than the binary is refused rather than touched.

use sqlx::AnyPool;

use crate::{Backend, Result, StoreError};

struct Migration {
    version: i64,
    name: &'static str,
    sqlite: &'static str,
    postgres: &'static str,
}

const MIGRATIONS: &[Migration] = &[Migration {
    version: 1,
    name: "foundation",
    sqlite: include_str!("../migrations/sqlite/0001_foundation.sql"),
    postgres: include_str!("../migrations/postgres/0001_foundation.sql"),
}];

pub(crate) async fn run(pool: &AnyPool, backend: Backend) -> Result<()> {
    sqlx::raw_sql(
        "CREATE TABLE IF NOT EXISTS steward_migrations (
            version BIGINT PRIMARY KEY,
            name TEXT NOT NULL,
            applied_at BIGINT NOT NULL
        )",
    )
    .execute(pool)
    .await?;
    let current: Option<i64> = sqlx::query_scalar("SELECT MAX(version) FROM steward_migrations")
        .fetch_one(pool)
        .await?;
    let current = current.unwrap_or(0);
    let known = MIGRATIONS.last().map_or(0, |m| m.version);
    if current > known {
        return Err(StoreError::SchemaTooNew {
            found: current,
            known,
        });
    }
    for m in MIGRATIONS.iter().filter(|m| m.version > current) {
        let sql = match backend {
            Backend::Sqlite => m.sqlite,
            Backend::Postgres => m.postgres,
        };
        let fail = |source| StoreError::Migration {
            version: m.version,
            name: m.name.to_string(),
            source,
        };
        let mut tx = pool.begin().await.map_err(fail)?;
        sqlx::raw_sql(sql).execute(&mut *tx).await.map_err(fail)?;
        sqlx::query(
            "INSERT INTO steward_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
        )
        .bind(m.version)
        .bind(m.name)
        .bind(now_millis())
        .execute(&mut *tx)
        .await
        .map_err(fail)?;
        tx.commit().await.map_err(fail)?;
        tracing::info!(
            version = m.version,
            name = m.name,
            "applied database migration"
        );
    }
    Ok(())
}

/// The only clock read in the store: the bookkeeping time a migration was applied.
fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
