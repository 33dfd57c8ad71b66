//! Alerts as people see them, within a scope: what is wrong now, what recovered lately, a
//! device's checks and a check's history. A network monitor (no device: subject `''`)
//! belongs to no group, so every scope sees it, as it sees the organisation's manual
//! checklist items (`manual:ITEM`); a device's checks are seen only within a scope that
//! holds the device.

use sqlx::any::AnyRow;
use steward_core::Timestamp;

use super::ScopedStore;
use crate::CheckHistoryRecord;
use crate::Result;
use crate::rows::{int, opt_text, text};

/// A check's state for one subject, with what a person needs to read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AlertRecord {
    pub check_id: String,
    pub check_name: String,
    pub check_kind: String,
    pub runbook: String,
    /// A device id, or empty for a network monitor.
    pub subject: String,
    pub device_name: Option<String>,
    pub status: String,
    pub since: Timestamp,
    pub summary: String,
    /// `steward_core::alerting::AlertState`, JSON (acknowledgement, flapping).
    pub state: String,
}

/// A confirmed change that ended a problem, for "recently resolved".
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedRecord {
    pub check_id: String,
    pub check_name: String,
    pub subject: String,
    pub device_name: Option<String>,
    pub from_status: String,
    pub at: Timestamp,
    pub summary: String,
}

const ALERT_COLS: &str = "s.check_id, c.name AS check_name, c.kind AS check_kind, c.runbook, \
     s.subject, d.name AS device_name, s.status, s.since, s.summary, s.state";
const ALERTS_FROM: &str =
    "check_state s JOIN checks c ON c.id = s.check_id LEFT JOIN devices d ON d.id = s.subject";

fn alert(row: &AnyRow) -> Result<AlertRecord> {
    Ok(AlertRecord {
        check_id: text(row, "check_id")?,
        check_name: text(row, "check_name")?,
        check_kind: text(row, "check_kind")?,
        runbook: text(row, "runbook")?,
        subject: text(row, "subject")?,
        device_name: opt_text(row, "device_name")?,
        status: text(row, "status")?,
        since: Timestamp(int(row, "since")?),
        summary: text(row, "summary")?,
        state: text(row, "state")?,
    })
}

impl ScopedStore<'_> {
    /// `subject = ''` (a network monitor), `manual:ITEM` (the organisation's checklist item,
    /// `steward_core::posture::manual::SUBJECT_PREFIX`) or a device within the scope.
    fn visible(&self, bound: usize) -> (String, Vec<String>) {
        let (cond, args) = self.condition("d", bound);
        (
            format!(
                "(s.subject = '' OR s.subject LIKE 'manual:%' \
                 OR (d.id IS NOT NULL AND d.revoked_at IS NULL AND {cond}))"
            ),
            args,
        )
    }

    /// Every problem now (not OK), of enabled checks, at most `limit`; the caller sorts
    /// (worst first).
    pub async fn open_alerts(&self, limit: u32) -> Result<Vec<AlertRecord>> {
        let (visible, args) = self.visible(0);
        let q = sqlx::query(safe_sql!(
            "SELECT {ALERT_COLS} FROM {ALERTS_FROM} WHERE s.status <> 'ok' AND c.enabled = 1 \
             AND {visible} ORDER BY s.since DESC, s.check_id, s.subject LIMIT {limit}"
        ));
        let rows = Self::bind_all(q, args).fetch_all(&self.store.read).await?;
        rows.iter().map(alert).collect()
    }

    /// A device's checks and how each stands (empty when the device is outside the scope).
    pub async fn device_alerts(&self, device_id: &str) -> Result<Vec<AlertRecord>> {
        let (visible, args) = self.visible(1);
        let q = sqlx::query(safe_sql!(
            "SELECT {ALERT_COLS} FROM {ALERTS_FROM} WHERE s.subject = $1 AND s.subject <> '' \
             AND {visible} ORDER BY c.name, s.check_id"
        ))
        .bind(device_id);
        let rows = Self::bind_all(q, args).fetch_all(&self.store.read).await?;
        rows.iter().map(alert).collect()
    }

    /// One check's state for one subject, if visible.
    pub async fn alert(&self, check_id: &str, subject: &str) -> Result<Option<AlertRecord>> {
        let (visible, args) = self.visible(2);
        let q = sqlx::query(safe_sql!(
            "SELECT {ALERT_COLS} FROM {ALERTS_FROM} WHERE s.check_id = $1 AND s.subject = $2 \
             AND {visible}"
        ))
        .bind(check_id)
        .bind(subject);
        let row = Self::bind_all(q, args)
            .fetch_optional(&self.store.read)
            .await?;
        row.as_ref().map(alert).transpose()
    }

    /// Problems that ended at or after `since`, newest first.
    pub async fn resolved_alerts(
        &self,
        since: Timestamp,
        limit: u32,
    ) -> Result<Vec<ResolvedRecord>> {
        let (visible, args) = self.visible(1);
        let visible = visible.replace("s.subject", "h.subject");
        let q = sqlx::query(safe_sql!(
            "SELECT h.check_id, c.name AS check_name, h.subject, d.name AS device_name, \
             h.from_status, h.at, h.summary FROM check_history h JOIN checks c ON c.id = h.check_id \
             LEFT JOIN devices d ON d.id = h.subject WHERE h.event = 'change' \
             AND h.to_status = 'ok' AND h.at >= $1 AND {visible} ORDER BY h.id DESC LIMIT {limit}"
        ))
        .bind(since.0);
        let rows = Self::bind_all(q, args).fetch_all(&self.store.read).await?;
        rows.iter()
            .map(|r| {
                Ok(ResolvedRecord {
                    check_id: text(r, "check_id")?,
                    check_name: text(r, "check_name")?,
                    subject: text(r, "subject")?,
                    device_name: opt_text(r, "device_name")?,
                    from_status: text(r, "from_status")?,
                    at: Timestamp(int(r, "at")?),
                    summary: text(r, "summary")?,
                })
            })
            .collect()
    }

    /// A check's history for a subject (changes and acknowledgements), newest first; empty
    /// when the subject is a device outside the scope.
    pub async fn alert_history(
        &self,
        check_id: &str,
        subject: &str,
        limit: u32,
    ) -> Result<Vec<CheckHistoryRecord>> {
        if !subject.is_empty() && self.device(subject).await?.is_none() {
            return Ok(Vec::new());
        }
        let rows = sqlx::query(safe_sql!(
            "SELECT id, check_id, subject, at, from_status, to_status, summary, event, actor \
             FROM check_history WHERE check_id = $1 AND subject = $2 ORDER BY id DESC LIMIT {limit}"
        ))
        .bind(check_id)
        .bind(subject)
        .fetch_all(&self.store.read)
        .await?;
        rows.iter().map(crate::monitoring::history).collect()
    }
}
