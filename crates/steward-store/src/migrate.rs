//! Embedded, append-only migrations, one directory per backend.
//!
//! Hand-written rather than `sqlx::migrate!` because that macro needs sqlx's `macros`
//! feature, which compiles the whole sqlx stack a second time (see CRATES.md); the runner is
//! a dozen lines. Each migration runs in its own transaction and is recorded with its
//! version; a database newer than the binary is refused rather than touched.

use sqlx::{AnyConnection, AnyPool, Connection};

use crate::{Backend, Result, StoreError};

struct Migration {
    version: i64,
    name: &'static str,
    sqlite: &'static str,
    postgres: &'static str,
}

const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "foundation",
        sqlite: include_str!("../migrations/sqlite/0001_foundation.sql"),
        postgres: include_str!("../migrations/postgres/0001_foundation.sql"),
    },
    Migration {
        version: 2,
        name: "token_roles",
        sqlite: include_str!("../migrations/sqlite/0002_token_roles.sql"),
        postgres: include_str!("../migrations/postgres/0002_token_roles.sql"),
    },
    Migration {
        version: 3,
        name: "login_failures",
        sqlite: include_str!("../migrations/sqlite/0003_login_failures.sql"),
        postgres: include_str!("../migrations/postgres/0003_login_failures.sql"),
    },
    Migration {
        version: 4,
        name: "audit_log",
        sqlite: include_str!("../migrations/sqlite/0004_audit_log.sql"),
        postgres: include_str!("../migrations/postgres/0004_audit_log.sql"),
    },
    Migration {
        version: 5,
        name: "access",
        sqlite: include_str!("../migrations/sqlite/0005_access.sql"),
        postgres: include_str!("../migrations/postgres/0005_access.sql"),
    },
    Migration {
        version: 6,
        name: "credential_rotation",
        sqlite: include_str!("../migrations/sqlite/0006_credential_rotation.sql"),
        postgres: include_str!("../migrations/postgres/0006_credential_rotation.sql"),
    },
    Migration {
        version: 7,
        name: "change_history_retention",
        sqlite: include_str!("../migrations/sqlite/0007_change_history_retention.sql"),
        postgres: include_str!("../migrations/postgres/0007_change_history_retention.sql"),
    },
    Migration {
        version: 8,
        name: "access_hardening",
        sqlite: include_str!("../migrations/sqlite/0008_access_hardening.sql"),
        postgres: include_str!("../migrations/postgres/0008_access_hardening.sql"),
    },
    Migration {
        version: 9,
        name: "job_expiry",
        sqlite: include_str!("../migrations/sqlite/0009_job_expiry.sql"),
        postgres: include_str!("../migrations/postgres/0009_job_expiry.sql"),
    },
    Migration {
        version: 10,
        name: "software_projection",
        sqlite: include_str!("../migrations/sqlite/0010_software_projection.sql"),
        postgres: include_str!("../migrations/postgres/0010_software_projection.sql"),
    },
    Migration {
        version: 11,
        name: "job_lifecycle",
        sqlite: include_str!("../migrations/sqlite/0011_job_lifecycle.sql"),
        postgres: include_str!("../migrations/postgres/0011_job_lifecycle.sql"),
    },
];

/// Key of the PostgreSQL advisory lock held while migrating ("stewmigr" in ASCII).
const MIGRATION_LOCK_KEY: i64 = 0x7374_6577_6d69_6772;

/// Brings the schema up to date. Safe when several processes start at once against one
/// database (server replicas, or the CLI beside a server): on PostgreSQL they queue on an
/// advisory lock, on SQLite on the write lock of an `IMMEDIATE` transaction, and whoever comes
/// second finds the migration already applied.
pub(crate) async fn run(pool: &AnyPool, backend: Backend) -> Result<()> {
    let mut conn = pool.acquire().await?;
    match backend {
        Backend::Sqlite => migrate(&mut conn, backend).await,
        Backend::Postgres => {
            // Even `CREATE TABLE IF NOT EXISTS` fails on PostgreSQL's catalog when run
            // concurrently, so the whole run is serialised, not just each migration.
            sqlx::query("SELECT pg_advisory_lock($1)")
                .bind(MIGRATION_LOCK_KEY)
                .execute(&mut *conn)
                .await?;
            let result = migrate(&mut conn, backend).await;
            let unlocked = sqlx::query("SELECT pg_advisory_unlock($1)")
                .bind(MIGRATION_LOCK_KEY)
                .execute(&mut *conn)
                .await;
            if unlocked.is_err() {
                // Ending the session releases its lock; never pool a connection holding it.
                let _ = conn.close().await;
            }
            result
        }
    }
}

async fn migrate(conn: &mut AnyConnection, backend: Backend) -> Result<()> {
    sqlx::raw_sql(
        "CREATE TABLE IF NOT EXISTS steward_migrations (
            version BIGINT PRIMARY KEY,
            name TEXT NOT NULL,
            applied_at BIGINT NOT NULL
        )",
    )
    .execute(&mut *conn)
    .await?;
    let known = MIGRATIONS.last().map_or(0, |m| m.version);
    let current = current_version(conn).await?;
    if current > known {
        return Err(StoreError::SchemaTooNew {
            found: current,
            known,
        });
    }
    for m in MIGRATIONS.iter().filter(|m| m.version > current) {
        let (sql, begin) = match backend {
            // IMMEDIATE takes the write lock now, so the version read below cannot go stale.
            Backend::Sqlite => (m.sqlite, "BEGIN IMMEDIATE"),
            Backend::Postgres => (m.postgres, "BEGIN"),
        };
        let fail = |source| StoreError::Migration {
            version: m.version,
            name: m.name.to_string(),
            source,
        };
        let mut tx = conn.begin_with(begin).await.map_err(fail)?;
        if current_version(&mut tx).await? >= m.version {
            // Another process applied it since we looked.
            tx.rollback().await.map_err(fail)?;
            continue;
        }
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

async fn current_version(conn: &mut AnyConnection) -> Result<i64> {
    let current: Option<i64> = sqlx::query_scalar("SELECT MAX(version) FROM steward_migrations")
        .fetch_one(conn)
        .await?;
    Ok(current.unwrap_or(0))
}

/// The only clock read in the store: the bookkeeping time a migration was applied.
fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}
