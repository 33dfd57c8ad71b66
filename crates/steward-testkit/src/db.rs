//! Fresh databases for tests: a SQLite file in a temporary directory, or a new PostgreSQL
//! database (created and dropped per test) when `STEWARD_TEST_PG_URL` is set.

use steward_store::Backend;

pub struct TestDb {
    pub url: String,
    pub backend: Backend,
    _dir: Option<tempfile::TempDir>,
    pg_admin: Option<(String, String)>,
}

impl TestDb {
    pub fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().unwrap();
        let url = format!(
            "sqlite://{}?mode=rwc",
            dir.path().join("steward.db").display()
        );
        TestDb {
            url,
            backend: Backend::Sqlite,
            _dir: Some(dir),
            pg_admin: None,
        }
    }

    /// `None` when `STEWARD_TEST_PG_URL` is unset. When it is set, PostgreSQL must work.
    pub async fn postgres() -> Option<TestDb> {
        let admin_url = std::env::var("STEWARD_TEST_PG_URL").ok()?;
        sqlx::any::install_default_drivers();
        let name = format!("steward_e2e_{}", uuid::Uuid::new_v4().simple());
        let pool = sqlx::AnyPool::connect(&admin_url)
            .await
            .unwrap_or_else(|e| {
                panic!("STEWARD_TEST_PG_URL is set but PostgreSQL is unreachable: {e}")
            });
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
        let url = match admin_url.rfind('/') {
            Some(i) if admin_url[..i].contains("://") && i > admin_url.find("://").unwrap() + 2 => {
                let (base, rest) = admin_url.split_at(i);
                let query = rest.find('?').map(|q| &rest[q..]).unwrap_or("");
                format!("{base}/{name}{query}")
            }
            _ => format!("{admin_url}/{name}"),
        };
        Some(TestDb {
            url,
            backend: Backend::Postgres,
            _dir: None,
            pg_admin: Some((admin_url, name)),
        })
    }

    /// Drops a PostgreSQL test database (best effort).
    pub async fn cleanup(self) {
        if let Some((admin_url, name)) = self.pg_admin
            && let Ok(pool) = sqlx::AnyPool::connect(&admin_url).await
        {
            let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                "DROP DATABASE IF EXISTS {name} WITH (FORCE)"
            )))
            .execute(&pool)
            .await;
            pool.close().await;
        }
    }
}
