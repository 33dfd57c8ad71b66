//! What decides who is told about a check's state: maintenance windows, notification routes,
//! acknowledgements, and the device facts a check's target is matched against. See migration
//! 0014 for the tables. Per-device reads for people (a device's checks, open alerts) are in
//! `scoped::alerts`.

use sqlx::any::AnyRow;
use steward_core::Timestamp;

use crate::monitoring::{STATE_COLS, bump_revision, check_state};
use crate::rows::{int, opt_int, opt_text, text, touched};
use crate::{Backend, CheckStateRecord, Result, Store, StoreError};

/// A maintenance window (see migration 0014).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WindowRecord {
    pub id: String,
    pub name: String,
    pub target: String,
    /// `steward_core::alerting::window::Window`, JSON.
    pub schedule: String,
    pub comment: String,
    pub source: String,
    pub created_by: String,
    pub created_at: Timestamp,
}

/// A notification route (see migration 0014).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteRecord {
    pub id: String,
    pub channel_id: String,
    pub min_status: String,
    pub devices: String,
    pub source: String,
    pub created_at: Timestamp,
}

/// A device as check targets see it: its group, its tags, when it last checked in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceMembership {
    pub device_id: String,
    pub name: String,
    pub group_id: Option<String>,
    pub tags: Vec<String>,
    pub last_seen_at: Option<Timestamp>,
    pub enrolled_at: Timestamp,
}

/// An acknowledgement to store: the state it was given on (`expected_state`), so one made
/// on a state that has changed meanwhile is refused rather than lost.
#[derive(Debug, Clone)]
pub struct AckWrite {
    pub check_id: String,
    pub subject: String,
    pub expected_state: String,
    pub state: String,
    pub status: String,
    pub actor: String,
    pub comment: String,
    pub at: Timestamp,
}

fn window(row: &AnyRow) -> Result<WindowRecord> {
    Ok(WindowRecord {
        id: text(row, "id")?,
        name: text(row, "name")?,
        target: text(row, "target")?,
        schedule: text(row, "schedule")?,
        comment: text(row, "comment")?,
        source: text(row, "source")?,
        created_by: text(row, "created_by")?,
        created_at: Timestamp(int(row, "created_at")?),
    })
}

fn route(row: &AnyRow) -> Result<RouteRecord> {
    Ok(RouteRecord {
        id: text(row, "id")?,
        channel_id: text(row, "channel_id")?,
        min_status: text(row, "min_status")?,
        devices: text(row, "devices")?,
        source: text(row, "source")?,
        created_at: Timestamp(int(row, "created_at")?),
    })
}

impl Store {
    /// Creates or replaces a maintenance window by id (`Conflict` when the name is taken).
    pub async fn save_window(&self, w: &WindowRecord) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let res = sqlx::query(
            "INSERT INTO maintenance_windows (id, name, target, schedule, comment, source, created_by, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO UPDATE SET \
             name = excluded.name, target = excluded.target, schedule = excluded.schedule, \
             comment = excluded.comment, source = excluded.source",
        )
        .bind(&w.id)
        .bind(&w.name)
        .bind(&w.target)
        .bind(&w.schedule)
        .bind(&w.comment)
        .bind(&w.source)
        .bind(&w.created_by)
        .bind(w.created_at.0)
        .execute(&mut *tx)
        .await;
        match res {
            Ok(_) => {
                bump_revision(&mut tx).await?;
                tx.commit().await?;
                Ok(())
            }
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => Err(StoreError::Conflict(
                format!("a maintenance window named {} already exists", w.name),
            )),
            Err(e) => Err(e.into()),
        }
    }

    /// Every maintenance window, by name.
    pub async fn windows(&self) -> Result<Vec<WindowRecord>> {
        let rows = sqlx::query(
            "SELECT id, name, target, schedule, comment, source, created_by, created_at \
             FROM maintenance_windows ORDER BY name, id",
        )
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(window).collect()
    }

    pub async fn delete_window(&self, id: &str) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let res = sqlx::query("DELETE FROM maintenance_windows WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        touched(&res)?;
        bump_revision(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Creates or replaces a route by id (`NotFound` when its channel does not exist).
    pub async fn save_route(&self, r: &RouteRecord) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let res = sqlx::query(
            "INSERT INTO notification_routes (id, channel_id, min_status, devices, source, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO UPDATE SET \
             channel_id = excluded.channel_id, min_status = excluded.min_status, \
             devices = excluded.devices, source = excluded.source",
        )
        .bind(&r.id)
        .bind(&r.channel_id)
        .bind(&r.min_status)
        .bind(&r.devices)
        .bind(&r.source)
        .bind(r.created_at.0)
        .execute(&mut *tx)
        .await;
        match res {
            Ok(_) => {
                bump_revision(&mut tx).await?;
                tx.commit().await?;
                Ok(())
            }
            Err(sqlx::Error::Database(e)) if e.is_foreign_key_violation() => {
                Err(StoreError::NotFound)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Every route, by channel.
    pub async fn routes(&self) -> Result<Vec<RouteRecord>> {
        let rows = sqlx::query(
            "SELECT id, channel_id, min_status, devices, source, created_at \
             FROM notification_routes ORDER BY channel_id, id",
        )
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(route).collect()
    }

    /// Replaces every route from `source` (the configuration file's, at each start) by
    /// `routes`, in one transaction: no notice is routed by half the old routes and half the
    /// new. Routes from elsewhere are left alone. `NotFound` (and nothing changed) when a
    /// route's channel does not exist.
    pub async fn replace_routes(&self, source: &str, routes: &[RouteRecord]) -> Result<()> {
        let mut tx = self.begin_write().await?;
        sqlx::query("DELETE FROM notification_routes WHERE source = $1")
            .bind(source)
            .execute(&mut *tx)
            .await?;
        for r in routes {
            // An upsert: two servers starting together both write the same ids.
            let res = sqlx::query(
                "INSERT INTO notification_routes (id, channel_id, min_status, devices, source, created_at) \
                 VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO UPDATE SET \
                 channel_id = excluded.channel_id, min_status = excluded.min_status, \
                 devices = excluded.devices, source = excluded.source",
            )
            .bind(&r.id)
            .bind(&r.channel_id)
            .bind(&r.min_status)
            .bind(&r.devices)
            .bind(source)
            .bind(r.created_at.0)
            .execute(&mut *tx)
            .await;
            match res {
                Ok(_) => {}
                Err(sqlx::Error::Database(e)) if e.is_foreign_key_violation() => {
                    return Err(StoreError::NotFound);
                }
                Err(e) => return Err(e.into()),
            }
        }
        tx.commit().await?;
        Ok(())
    }

    pub async fn delete_route(&self, id: &str) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let res = sqlx::query("DELETE FROM notification_routes WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        touched(&res)?;
        bump_revision(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Deletes a channel (its routes and queued notifications go with it).
    pub async fn delete_channel(&self, id: &str) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let res = sqlx::query("DELETE FROM channels WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        touched(&res)?;
        bump_revision(&mut tx).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Every check's state for one subject (a device's checks, judged at each report).
    pub async fn states_of_subject(&self, subject: &str) -> Result<Vec<CheckStateRecord>> {
        let rows = sqlx::query(safe_sql!(
            "SELECT {STATE_COLS} FROM check_state WHERE subject = $1 ORDER BY check_id"
        ))
        .bind(subject)
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(check_state).collect()
    }

    /// [`Store::states_of_subject`] in one row: the states aggregated as JSON by the
    /// database. What a report's judging reads each time, so it is one round trip to the
    /// database's worker rather than one per row (on SQLite each row is a hop between
    /// threads, and those hops were most of a check-in's cost).
    pub async fn states_of_device(&self, device_id: &str) -> Result<Vec<CheckStateRecord>> {
        let sql = match self.backend {
            Backend::Sqlite => {
                "SELECT COALESCE(json_group_array(json_object('check_id', check_id, \
                 'subject', subject, 'state', state, 'status', status, 'since', since, \
                 'summary', summary, 'next_run_at', next_run_at)), '[]') AS states \
                 FROM check_state WHERE subject = $1"
            }
            Backend::Postgres => {
                "SELECT COALESCE(json_agg(json_build_object('check_id', check_id, \
                 'subject', subject, 'state', state, 'status', status, 'since', since, \
                 'summary', summary, 'next_run_at', next_run_at))::text, '[]') AS states \
                 FROM check_state WHERE subject = $1"
            }
        };
        let row = sqlx::query(sql)
            .bind(device_id)
            .fetch_one(&self.read)
            .await?;
        let json = text(&row, "states")?;
        let rows: Vec<StateRow> =
            serde_json::from_str(&json).map_err(|e| StoreError::Corrupt(e.to_string()))?;
        let mut states: Vec<CheckStateRecord> = rows
            .into_iter()
            .map(|r| CheckStateRecord {
                check_id: r.check_id,
                subject: r.subject,
                state: r.state,
                status: r.status,
                since: Timestamp(r.since),
                summary: r.summary,
                next_run_at: Timestamp(r.next_run_at),
            })
            .collect();
        states.sort_by(|a, b| a.check_id.cmp(&b.check_id));
        Ok(states)
    }

    /// Every subject's state of one check (a heartbeat sweep).
    pub async fn states_of_check(&self, check_id: &str) -> Result<Vec<CheckStateRecord>> {
        let rows = sqlx::query(safe_sql!(
            "SELECT {STATE_COLS} FROM check_state WHERE check_id = $1 ORDER BY subject"
        ))
        .bind(check_id)
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(check_state).collect()
    }

    /// Stores an acknowledgement and its history line, unless the state changed since it
    /// was read (`Conflict`: read again and retry) or no longer exists (`NotFound`).
    pub async fn acknowledge_check(&self, a: &AckWrite) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let res = sqlx::query(
            "UPDATE check_state SET state = $1 WHERE check_id = $2 AND subject = $3 AND state = $4",
        )
        .bind(&a.state)
        .bind(&a.check_id)
        .bind(&a.subject)
        .bind(&a.expected_state)
        .execute(&mut *tx)
        .await?;
        if res.rows_affected() == 0 {
            let exists =
                sqlx::query("SELECT 1 FROM check_state WHERE check_id = $1 AND subject = $2")
                    .bind(&a.check_id)
                    .bind(&a.subject)
                    .fetch_optional(&mut *tx)
                    .await?
                    .is_some();
            return Err(if exists {
                StoreError::Conflict("the alert changed meanwhile; look again".into())
            } else {
                StoreError::NotFound
            });
        }
        sqlx::query(
            "INSERT INTO check_history (check_id, subject, at, from_status, to_status, summary, event, actor) \
             VALUES ($1, $2, $3, $4, $4, $5, 'acknowledged', $6)",
        )
        .bind(&a.check_id)
        .bind(&a.subject)
        .bind(a.at.0)
        .bind(&a.status)
        .bind(&a.comment)
        .bind(&a.actor)
        .execute(&mut *tx)
        .await?;
        crate::monitoring::device_states_changed(&mut tx, &a.subject).await?;
        tx.commit().await?;
        Ok(())
    }

    /// One device's group and tags, for matching check targets at its reports.
    pub async fn device_membership(&self, device_id: &str) -> Result<Option<DeviceMembership>> {
        let row = sqlx::query(
            "SELECT id, name, group_id, last_seen_at, enrolled_at FROM devices \
             WHERE id = $1 AND revoked_at IS NULL",
        )
        .bind(device_id)
        .fetch_optional(&self.read)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let mut m = membership(&row)?;
        m.tags = self.device_tags(device_id).await?;
        Ok(Some(m))
    }

    /// Every enrolled, unrevoked device with its group and tags (a heartbeat sweep).
    pub async fn device_memberships(&self) -> Result<Vec<DeviceMembership>> {
        let rows = sqlx::query(
            "SELECT id, name, group_id, last_seen_at, enrolled_at FROM devices \
             WHERE revoked_at IS NULL ORDER BY id",
        )
        .fetch_all(&self.read)
        .await?;
        let mut all: Vec<DeviceMembership> = rows.iter().map(membership).collect::<Result<_>>()?;
        let tags = sqlx::query(
            "SELECT t.device_id, t.tag FROM device_tags t JOIN devices d ON d.id = t.device_id \
             WHERE d.revoked_at IS NULL ORDER BY t.device_id, t.tag",
        )
        .fetch_all(&self.read)
        .await?;
        for row in &tags {
            let id = text(row, "device_id")?;
            if let Ok(i) = all.binary_search_by(|m| m.device_id.as_str().cmp(&id)) {
                all[i].tags.push(text(row, "tag")?);
            }
        }
        Ok(all)
    }
}

fn membership(row: &AnyRow) -> Result<DeviceMembership> {
    Ok(DeviceMembership {
        device_id: text(row, "id")?,
        name: text(row, "name")?,
        group_id: opt_text(row, "group_id")?,
        tags: Vec::new(),
        last_seen_at: opt_int(row, "last_seen_at")?.map(Timestamp),
        enrolled_at: Timestamp(int(row, "enrolled_at")?),
    })
}

/// A check state as the database aggregates it ([`Store::states_of_device`]).
#[derive(serde::Deserialize)]
struct StateRow {
    check_id: String,
    subject: String,
    state: String,
    status: String,
    since: i64,
    summary: String,
    next_run_at: i64,
}
