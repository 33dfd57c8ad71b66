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
    /// The database could not take the request in time: the writer was held (SQLite's
    /// busy timeout ran out) or no connection came free. Nothing was written; the same
    /// request may be sent again.
    #[error("the database is busy")]
    Busy,
    /// The database refused a value as such, e.g. a NUL character in text on PostgreSQL.
    /// The caller's input was bad, not the database.
    #[error("{0}")]
    InvalidInput(String),
    #[error("database error: {0}")]
    Database(sqlx::Error),
}

impl From<sqlx::Error> for StoreError {
    /// Sorts database failures by whose fault they are: busy (retry), bad input (refuse),
    /// or anything else.
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::PoolTimedOut => StoreError::Busy,
            sqlx::Error::Database(db) => match db.code().as_deref() {
                Some(code) if sqlite_busy(code) => StoreError::Busy,
                // PostgreSQL: serialization failure, deadlock, lock not available.
                Some("40001" | "40P01" | "55P03") => StoreError::Busy,
                // PostgreSQL: character_not_in_repertoire (NUL in text, invalid UTF-8),
                // untranslatable_character, string_data_right_truncation.
                Some("22021" | "22P05" | "22001") => StoreError::InvalidInput(format!(
                    "the database refused a value: {}",
                    db.message()
                )),
                _ => StoreError::Database(e),
            },
            _ => StoreError::Database(e),
        }
    }
}

/// SQLite reports busy/locked as result code 5/6, or an extended code whose low byte is one
/// of them (e.g. 517 SQLITE_BUSY_SNAPSHOT, 262 SQLITE_LOCKED_SHAREDCACHE). Its codes are
/// numbers of at most four digits; PostgreSQL's SQLSTATEs always have five characters.
fn sqlite_busy(code: &str) -> bool {
    code.len() < 5 && code.parse::<i32>().is_ok_and(|n| matches!(n & 0xff, 5 | 6))
}

impl StoreError {
    pub(crate) fn connect(url: &str, source: sqlx::Error) -> Self {
        StoreError::Connect {
            url: crate::redact(url),
            source,
        }
    }
}
