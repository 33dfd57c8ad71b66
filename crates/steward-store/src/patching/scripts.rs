//! The script library: each script's current definition, and every version of its content,
//! never rewritten once stored (a job names the version it ran).

use sha2::{Digest, Sha256};
use sqlx::any::AnyRow;
use steward_core::Timestamp;

use super::name_taken;
use crate::rows::{int, opt_int, text};
use crate::{Result, Store, StoreError};

/// A script as a person writes it: created, or edited into a new version, at `at` by `by`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptWrite {
    /// Unique among scripts.
    pub name: String,
    pub description: String,
    /// A `steward_core::scripts::Platform`, as text.
    pub platform: String,
    /// A `steward_core::scripts::Interpreter`, as text.
    pub interpreter: String,
    /// The JSON of its `Vec<ParamSpec>`.
    pub params: String,
    pub content: String,
    pub at: Timestamp,
    pub by: String,
}

/// A script with its current version's content.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptRecord {
    pub id: String,
    pub name: String,
    pub description: String,
    pub platform: String,
    pub interpreter: String,
    pub params: String,
    /// The current version, from 1.
    pub version: i64,
    pub content: String,
    /// Hex SHA-256 of `content`.
    pub content_sha256: String,
    /// When it was withdrawn from use, if it was.
    pub archived_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub created_by: String,
    pub updated_at: Timestamp,
    pub updated_by: String,
}

/// One stored version of a script.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptVersionRecord {
    pub script_id: String,
    pub version: i64,
    pub content: String,
    pub content_sha256: String,
    pub interpreter: String,
    pub params: String,
    pub created_at: Timestamp,
    pub created_by: String,
}

/// The columns of a script with its current version, of `scripts s JOIN script_versions v`.
const SCRIPT_COLS: &str = "s.id, s.name, s.description, s.platform, s.interpreter, s.params, \
     s.version, v.content, v.content_sha256, s.archived_at, s.created_at, s.created_by, \
     s.updated_at, s.updated_by";

const SCRIPT_FROM: &str =
    "scripts s JOIN script_versions v ON v.script_id = s.id AND v.version = s.version";

const VERSION_COLS: &str = "script_id, version, content, content_sha256, interpreter, params, \
     created_at, created_by";

fn script(row: &AnyRow) -> Result<ScriptRecord> {
    Ok(ScriptRecord {
        id: text(row, "id")?,
        name: text(row, "name")?,
        description: text(row, "description")?,
        platform: text(row, "platform")?,
        interpreter: text(row, "interpreter")?,
        params: text(row, "params")?,
        version: int(row, "version")?,
        content: text(row, "content")?,
        content_sha256: text(row, "content_sha256")?,
        archived_at: opt_int(row, "archived_at")?.map(Timestamp),
        created_at: Timestamp(int(row, "created_at")?),
        created_by: text(row, "created_by")?,
        updated_at: Timestamp(int(row, "updated_at")?),
        updated_by: text(row, "updated_by")?,
    })
}

fn script_version(row: &AnyRow) -> Result<ScriptVersionRecord> {
    Ok(ScriptVersionRecord {
        script_id: text(row, "script_id")?,
        version: int(row, "version")?,
        content: text(row, "content")?,
        content_sha256: text(row, "content_sha256")?,
        interpreter: text(row, "interpreter")?,
        params: text(row, "params")?,
        created_at: Timestamp(int(row, "created_at")?),
        created_by: text(row, "created_by")?,
    })
}

/// Hex SHA-256 of a script's content, worked out here so the stored digest always matches
/// the stored content (the agent checks what it received against it).
fn sha256_hex(content: &str) -> String {
    Sha256::digest(content.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Stores version `version` of the script inside the caller's transaction.
async fn insert_version(
    conn: &mut sqlx::AnyConnection,
    script_id: &str,
    version: i64,
    w: &ScriptWrite,
) -> Result<()> {
    sqlx::query(safe_sql!(
        "INSERT INTO script_versions ({VERSION_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
    ))
    .bind(script_id)
    .bind(version)
    .bind(&w.content)
    .bind(sha256_hex(&w.content))
    .bind(&w.interpreter)
    .bind(&w.params)
    .bind(w.at.0)
    .bind(&w.by)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

impl Store {
    /// Stores a new script under a new id (a random UUID) as version 1, its definition and
    /// its content together. A name already taken is `Conflict`.
    pub async fn create_script(&self, w: &ScriptWrite) -> Result<ScriptRecord> {
        let id = uuid::Uuid::new_v4().to_string();
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO scripts (id, name, description, platform, interpreter, params, \
             version, archived_at, created_at, created_by, updated_at, updated_by) \
             VALUES ($1, $2, $3, $4, $5, $6, 1, NULL, $7, $8, $7, $8)",
        )
        .bind(&id)
        .bind(&w.name)
        .bind(&w.description)
        .bind(&w.platform)
        .bind(&w.interpreter)
        .bind(&w.params)
        .bind(w.at.0)
        .bind(&w.by)
        .execute(&mut *tx)
        .await
        .map_err(|e| name_taken(e, "script", &w.name))?;
        insert_version(&mut tx, &id, 1, w).await?;
        let record = read_script(&mut tx, &id).await?;
        tx.commit().await?;
        record.ok_or(StoreError::NotFound)
    }

    /// Stores `w` as the script's next version, if its current version is still
    /// `expected_version` (the one the person edited): otherwise `Conflict`, so two people
    /// editing at once cannot silently overwrite each other. `NotFound` when there is no
    /// such script; a name another script has is `Conflict`.
    pub async fn update_script(
        &self,
        id: &str,
        expected_version: i64,
        w: &ScriptWrite,
    ) -> Result<ScriptRecord> {
        let mut tx = self.begin_write().await?;
        // Moving the version on only from the expected one is the check and, on PostgreSQL,
        // takes the row's lock, so of two concurrent edits of one version one wins.
        let moved = sqlx::query(
            "UPDATE scripts SET name = $3, description = $4, platform = $5, interpreter = $6, \
             params = $7, version = version + 1, updated_at = $8, updated_by = $9 \
             WHERE id = $1 AND version = $2",
        )
        .bind(id)
        .bind(expected_version)
        .bind(&w.name)
        .bind(&w.description)
        .bind(&w.platform)
        .bind(&w.interpreter)
        .bind(&w.params)
        .bind(w.at.0)
        .bind(&w.by)
        .execute(&mut *tx)
        .await
        .map_err(|e| name_taken(e, "script", &w.name))?;
        if moved.rows_affected() == 0 {
            let current: Option<i64> =
                sqlx::query_scalar("SELECT version FROM scripts WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&mut *tx)
                    .await?;
            return Err(match current {
                None => StoreError::NotFound,
                Some(v) => StoreError::Conflict(format!(
                    "script {id} is at version {v}, not {expected_version}: someone else \
                     changed it meanwhile"
                )),
            });
        }
        insert_version(&mut tx, id, expected_version + 1, w).await?;
        let record = read_script(&mut tx, id).await?;
        tx.commit().await?;
        record.ok_or(StoreError::NotFound)
    }

    /// Withdraws the script as of `at`, by `by` (recorded as its last change); its versions
    /// stay. `false` when there is no such script or it was archived already.
    pub async fn archive_script(&self, id: &str, at: Timestamp, by: &str) -> Result<bool> {
        let res = sqlx::query(
            "UPDATE scripts SET archived_at = $2, updated_at = $2, updated_by = $3 \
             WHERE id = $1 AND archived_at IS NULL",
        )
        .bind(id)
        .bind(at.0)
        .bind(by)
        .execute(&self.write)
        .await?;
        Ok(res.rows_affected() > 0)
    }

    /// Every script, archived ones included, with its current version's content, by name.
    pub async fn scripts(&self) -> Result<Vec<ScriptRecord>> {
        let rows = sqlx::query(safe_sql!(
            "SELECT {SCRIPT_COLS} FROM {SCRIPT_FROM} ORDER BY s.name"
        ))
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(script).collect()
    }

    /// The script with its current version's content.
    pub async fn script(&self, id: &str) -> Result<Option<ScriptRecord>> {
        let mut conn = self.read.acquire().await?;
        read_script(&mut conn, id).await
    }

    /// Every version of the script, newest first (empty when there is no such script).
    pub async fn script_versions(&self, id: &str) -> Result<Vec<ScriptVersionRecord>> {
        let rows = sqlx::query(safe_sql!(
            "SELECT {VERSION_COLS} FROM script_versions WHERE script_id = $1 \
             ORDER BY version DESC"
        ))
        .bind(id)
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(script_version).collect()
    }

    /// One version of the script.
    pub async fn script_version(
        &self,
        id: &str,
        version: i64,
    ) -> Result<Option<ScriptVersionRecord>> {
        let row = sqlx::query(safe_sql!(
            "SELECT {VERSION_COLS} FROM script_versions WHERE script_id = $1 AND version = $2"
        ))
        .bind(id)
        .bind(version)
        .fetch_optional(&self.read)
        .await?;
        row.as_ref().map(script_version).transpose()
    }
}

/// The script with its current version, on the given connection (inside a write
/// transaction, to answer what was just written).
async fn read_script(conn: &mut sqlx::AnyConnection, id: &str) -> Result<Option<ScriptRecord>> {
    let row = sqlx::query(safe_sql!(
        "SELECT {SCRIPT_COLS} FROM {SCRIPT_FROM} WHERE s.id = $1"
    ))
    .bind(id)
    .fetch_optional(&mut *conn)
    .await?;
    row.as_ref().map(script).transpose()
}
