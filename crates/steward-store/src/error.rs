use thiserror::Error;

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("{0}")]
    BadUrl(String),
    #[error("cannot connect to the database {url}: {source}")]
    Connect {
        url: String,
        #[source]
        source: sqlx::Error,
    },
    #[error("database migration {version} ({name}) failed: {source}")]
    Migration {
        version: i64,
        name: String,
        #[source]
        source: sqlx::Error,
    },
    #[error(
        "the database schema is at version {found}, newer than this binary knows ({known}): upgrade steward"
    )]
    SchemaTooNew { found: i64, known: i64 },
    #[error("not found")]
    NotFound,
    /// Someone else changed the row first; the caller may retry.
    #[error("concurrent update: {0}")]
    Conflict(String),
    /// A stored value could not be read back (e.g. a JSON document of an older format).
    #[error("corrupt stored value: {0}")]
    Corrupt(String),
    #[error("database error: {0}")]
    Database(#[from] sqlx::Error),
}

impl StoreError {
    pub(crate) fn connect(url: &str, source: sqlx::Error) -> Self {
        StoreError::Connect {
            url: crate::redact(url),
            source,
        }
    }
}
