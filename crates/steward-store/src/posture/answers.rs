//! The manual checklist's answers, one per item, each with at most one attachment. Lists
//! carry an attachment's name, type and size; its bytes are read one at a time
//! ([`Store::posture_attachment`]), so listing the checklist never loads every file.

use sqlx::Row;
use sqlx::any::AnyRow;
use steward_core::Timestamp;

use crate::rows::{int, opt_int, opt_text, text};
use crate::{Result, Store, StoreError};

/// What saving an answer does to its attachment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttachmentChange {
    /// Leaves the stored attachment as it is (none, for a first answer).
    Keep,
    /// Deletes the stored attachment.
    Remove,
    /// Stores this attachment in place of any other.
    Replace {
        name: String,
        media_type: String,
        bytes: Vec<u8>,
    },
}

/// An answer as a person gives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostureAnswerWrite {
    pub item_id: String,
    pub owner: String,
    /// `yes`, `no`, `partly` or `not_applicable`.
    pub answer: String,
    pub note: String,
    pub review_by: Timestamp,
    pub answered_at: Timestamp,
    pub answered_by: String,
    pub attachment: AttachmentChange,
}

/// What an answer's attachment is, without its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostureAttachmentInfo {
    pub name: String,
    pub media_type: String,
    /// In bytes.
    pub size: i64,
}

/// An answer's attachment with its bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostureAttachment {
    pub name: String,
    pub media_type: String,
    pub bytes: Vec<u8>,
}

/// A stored answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostureAnswerRecord {
    pub item_id: String,
    pub owner: String,
    pub answer: String,
    pub note: String,
    pub review_by: Timestamp,
    pub answered_at: Timestamp,
    pub answered_by: String,
    pub attachment: Option<PostureAttachmentInfo>,
}

fn answer(row: &AnyRow) -> Result<PostureAnswerRecord> {
    let attachment = match (
        opt_text(row, "attachment_name")?,
        opt_text(row, "attachment_type")?,
        opt_int(row, "attachment_size")?,
    ) {
        (Some(name), Some(media_type), Some(size)) => Some(PostureAttachmentInfo {
            name,
            media_type,
            size,
        }),
        (None, None, None) => None,
        _ => {
            return Err(StoreError::Corrupt(
                "a posture answer's attachment is partly recorded".into(),
            ));
        }
    };
    Ok(PostureAnswerRecord {
        item_id: text(row, "item_id")?,
        owner: text(row, "owner")?,
        answer: text(row, "answer")?,
        note: text(row, "note")?,
        review_by: Timestamp(int(row, "review_by")?),
        answered_at: Timestamp(int(row, "answered_at")?),
        answered_by: text(row, "answered_by")?,
        attachment,
    })
}

/// The upsert of an answer's own columns ($1–$7); `attachment` adds its attachment's
/// columns ($8–$11, all NULL to remove it) to both the insert and the update.
fn upsert_sql(attachment: bool) -> String {
    let (columns, values, updates) = if attachment {
        (
            ", attachment_name, attachment_type, attachment_size, attachment",
            ", $8, $9, $10, $11",
            ", attachment_name = excluded.attachment_name, \
             attachment_type = excluded.attachment_type, \
             attachment_size = excluded.attachment_size, attachment = excluded.attachment",
        )
    } else {
        ("", "", "")
    };
    format!(
        "INSERT INTO posture_answers \
         (item_id, owner, answer, note, review_by, answered_at, answered_by{columns}) \
         VALUES ($1, $2, $3, $4, $5, $6, $7{values}) ON CONFLICT (item_id) DO UPDATE SET \
         owner = excluded.owner, answer = excluded.answer, note = excluded.note, \
         review_by = excluded.review_by, answered_at = excluded.answered_at, \
         answered_by = excluded.answered_by{updates}"
    )
}

impl Store {
    /// Every answer, by item id, with its attachment's name, type and size (not its bytes).
    pub async fn posture_answers(&self) -> Result<Vec<PostureAnswerRecord>> {
        let rows = sqlx::query(
            "SELECT item_id, owner, answer, note, review_by, answered_at, answered_by, \
             attachment_name, attachment_type, attachment_size FROM posture_answers \
             ORDER BY item_id",
        )
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(answer).collect()
    }

    /// Stores the item's answer in place of any earlier one, doing to its attachment what
    /// `a.attachment` says.
    pub async fn save_posture_answer(&self, a: &PostureAnswerWrite) -> Result<()> {
        let with_attachment = !matches!(a.attachment, AttachmentChange::Keep);
        let sql = upsert_sql(with_attachment);
        let mut q = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(&a.item_id)
            .bind(&a.owner)
            .bind(&a.answer)
            .bind(&a.note)
            .bind(a.review_by.0)
            .bind(a.answered_at.0)
            .bind(&a.answered_by);
        match &a.attachment {
            AttachmentChange::Keep => {}
            AttachmentChange::Remove => {
                q = q
                    .bind(None::<String>)
                    .bind(None::<String>)
                    .bind(None::<i64>)
                    .bind(None::<Vec<u8>>);
            }
            AttachmentChange::Replace {
                name,
                media_type,
                bytes,
            } => {
                let size = i64::try_from(bytes.len())
                    .map_err(|_| StoreError::InvalidInput("the attachment is too large".into()))?;
                q = q
                    .bind(name)
                    .bind(media_type)
                    .bind(size)
                    .bind(bytes.as_slice());
            }
        }
        let mut tx = self.begin_write().await?;
        q.execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// The item's attachment with its bytes; `None` when the item has no answer or its
    /// answer no attachment.
    pub async fn posture_attachment(&self, item_id: &str) -> Result<Option<PostureAttachment>> {
        let row = sqlx::query(
            "SELECT attachment_name, attachment_type, attachment FROM posture_answers \
             WHERE item_id = $1 AND attachment IS NOT NULL",
        )
        .bind(item_id)
        .fetch_optional(&self.read)
        .await?;
        row.map(|r| {
            Ok(PostureAttachment {
                name: text(&r, "attachment_name")?,
                media_type: text(&r, "attachment_type")?,
                bytes: r.try_get::<Vec<u8>, _>("attachment")?,
            })
        })
        .transpose()
    }
}
