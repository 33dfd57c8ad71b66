//! Device groups (sites, or an MSP's clients), which device is in which, and which groups a
//! user is limited to.

use steward_core::{Scope, Timestamp};

use crate::rows::{int, text, touched};
use crate::{Result, Store, StoreError};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupRecord {
    pub id: String,
    pub name: String,
    pub created_at: Timestamp,
    /// Devices in the group.
    pub devices: u64,
}

impl Store {
    /// Creates a group; `Conflict` if the name is taken.
    pub async fn create_group(&self, id: &str, name: &str, now: Timestamp) -> Result<GroupRecord> {
        let res =
            sqlx::query("INSERT INTO device_groups (id, name, created_at) VALUES ($1, $2, $3)")
                .bind(id)
                .bind(name)
                .bind(now.0)
                .execute(&self.write)
                .await;
        match res {
            Ok(_) => {}
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                return Err(StoreError::Conflict(format!(
                    "a group named {name} already exists"
                )));
            }
            Err(e) => return Err(e.into()),
        }
        Ok(GroupRecord {
            id: id.to_string(),
            name: name.to_string(),
            created_at: now,
            devices: 0,
        })
    }

    /// Every group with its device count, by name.
    pub async fn list_groups(&self) -> Result<Vec<GroupRecord>> {
        let rows = sqlx::query(
            "SELECT g.id, g.name, g.created_at, \
             (SELECT COUNT(*) FROM devices d WHERE d.group_id = g.id) AS devices \
             FROM device_groups g ORDER BY LOWER(g.name), g.id",
        )
        .fetch_all(&self.read)
        .await?;
        rows.iter()
            .map(|r| {
                Ok(GroupRecord {
                    id: text(r, "id")?,
                    name: text(r, "name")?,
                    created_at: Timestamp(int(r, "created_at")?),
                    devices: int(r, "devices")? as u64,
                })
            })
            .collect()
    }

    /// Deletes a group; its devices become ungrouped. Refused (`Conflict`) while a user is
    /// limited to it: dropping the membership would widen that user's view to every device.
    pub async fn delete_group(&self, id: &str) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let users: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM user_groups WHERE group_id = $1")
            .bind(id)
            .fetch_one(&mut *tx)
            .await?;
        if users > 0 {
            return Err(StoreError::Conflict(format!(
                "{users} user(s) are limited to this group; change their groups first"
            )));
        }
        // The foreign key (no cascade) refuses too, should a user be limited to the group
        // between the count and the delete.
        let res = match sqlx::query("DELETE FROM device_groups WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
        {
            Ok(res) => res,
            Err(sqlx::Error::Database(e)) if e.is_foreign_key_violation() => {
                return Err(StoreError::Conflict(
                    "a user is limited to this group; change their groups first".into(),
                ));
            }
            Err(e) => return Err(e.into()),
        };
        touched(&res)?;
        tx.commit().await?;
        Ok(())
    }

    /// Places a device in a group, or in none.
    pub async fn set_device_group(&self, device_id: &str, group_id: Option<&str>) -> Result<()> {
        let res = sqlx::query("UPDATE devices SET group_id = $1 WHERE id = $2")
            .bind(group_id)
            .bind(device_id)
            .execute(&self.write)
            .await;
        match res {
            Ok(r) => touched(&r),
            Err(sqlx::Error::Database(e)) if e.is_foreign_key_violation() => {
                Err(StoreError::NotFound)
            }
            Err(e) => Err(e.into()),
        }
    }

    /// The ids of the groups a user is limited to (whether they see every device regardless
    /// is `UserRecord::all_devices`).
    pub async fn user_groups(&self, user_id: &str) -> Result<Vec<String>> {
        let rows =
            sqlx::query("SELECT group_id FROM user_groups WHERE user_id = $1 ORDER BY group_id")
                .bind(user_id)
                .fetch_all(&self.read)
                .await?;
        rows.iter().map(|r| text(r, "group_id")).collect()
    }

    /// Sets which devices a user sees: every device (their groups are dropped), or only
    /// the devices of these groups — none at all if the list is empty. `NotFound` if the
    /// user or a group does not exist.
    pub async fn set_user_scope(&self, user_id: &str, scope: &Scope) -> Result<()> {
        self.update_user(
            user_id,
            &crate::UserUpdate {
                scope: Some(scope.clone()),
                ..crate::UserUpdate::default()
            },
        )
        .await
    }
}

/// Sets a user's scope inside a transaction (see [`Store::set_user_scope`]).
pub(crate) async fn set_user_scope_in(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    user_id: &str,
    scope: &Scope,
) -> Result<()> {
    let (all_devices, group_ids): (bool, &[String]) = match scope {
        Scope::AllDevices => (true, &[]),
        Scope::Groups(groups) => (false, groups),
    };
    let res = sqlx::query("UPDATE users SET all_devices = $1 WHERE id = $2")
        .bind(i64::from(all_devices))
        .bind(user_id)
        .execute(&mut **tx)
        .await?;
    touched(&res)?;
    sqlx::query("DELETE FROM user_groups WHERE user_id = $1")
        .bind(user_id)
        .execute(&mut **tx)
        .await?;
    insert_user_groups(tx, user_id, group_ids).await
}

/// Adds group memberships inside a transaction; `NotFound` if a group does not exist.
pub(crate) async fn insert_user_groups(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    user_id: &str,
    group_ids: &[String],
) -> Result<()> {
    let mut unique: Vec<&String> = group_ids.iter().collect();
    unique.sort();
    unique.dedup();
    for g in unique {
        let res = sqlx::query("INSERT INTO user_groups (user_id, group_id) VALUES ($1, $2)")
            .bind(user_id)
            .bind(g)
            .execute(&mut **tx)
            .await;
        match res {
            Ok(_) => {}
            Err(sqlx::Error::Database(e)) if e.is_foreign_key_violation() => {
                return Err(StoreError::NotFound);
            }
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}
