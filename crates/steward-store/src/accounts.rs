//! Console users, their sessions, and API tokens. Secrets are stored only as hashes made by
//! the server (Argon2id for passwords, SHA-256 for random high-entropy tokens).

use sqlx::any::AnyRow;
use steward_core::{Scope, Timestamp};

use crate::rows::{int, opt_int, opt_text, text, touched};
use crate::{Result, Store, StoreError};

/// Changes to one user, applied together by [`Store::update_user`]; `None` leaves that part.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserUpdate {
    pub role: Option<String>,
    pub scope: Option<Scope>,
    /// `Some(Some(time))` disables, `Some(None)` enables.
    pub disabled: Option<Option<Timestamp>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserRecord {
    pub id: String,
    pub username: String,
    pub password_hash: String,
    pub role: String,
    pub created_at: Timestamp,
    pub disabled_at: Option<Timestamp>,
    /// The sealed TOTP secret (only the server's key opens it); set while enrolling too.
    pub totp_secret: Option<String>,
    /// When two-factor sign-in was confirmed; `None` while off or still being enrolled.
    pub totp_enabled_at: Option<Timestamp>,
    /// The last accepted TOTP time step.
    pub totp_last_step: i64,
    /// Granted every device (otherwise only their groups' devices; see `Scope::of_user`).
    pub all_devices: bool,
    /// The password was set by someone else and must be changed before anything else.
    pub must_change_password: bool,
}

#[derive(Debug, Clone)]
pub struct NewUser {
    pub id: String,
    pub username: String,
    pub password_hash: String,
    pub role: String,
    /// A one-time password, to be changed at first sign-in.
    pub must_change_password: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRecord {
    pub token_hash: String,
    pub user_id: String,
    pub csrf_token: String,
    pub created_at: Timestamp,
    pub last_seen_at: Timestamp,
    pub expires_at: Timestamp,
    pub source: String,
    /// When the user last proved who they are in this session (sign-in or step-up).
    pub reauth_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiTokenRecord {
    pub id: String,
    pub name: String,
    pub token_hash: String,
    /// `admin`, `technician` or `viewer`.
    pub role: String,
    pub expires_at: Option<Timestamp>,
    pub created_at: Timestamp,
    pub last_used_at: Option<Timestamp>,
    pub revoked_at: Option<Timestamp>,
    /// The user who made it (`None`: the command line); their offboarding revokes it.
    pub created_by: Option<String>,
}

fn user(row: &AnyRow) -> Result<UserRecord> {
    Ok(UserRecord {
        id: text(row, "id")?,
        username: text(row, "username")?,
        password_hash: text(row, "password_hash")?,
        role: text(row, "role")?,
        created_at: Timestamp(int(row, "created_at")?),
        disabled_at: opt_int(row, "disabled_at")?.map(Timestamp),
        totp_secret: opt_text(row, "totp_secret")?,
        totp_enabled_at: opt_int(row, "totp_enabled_at")?.map(Timestamp),
        totp_last_step: int(row, "totp_last_step")?,
        all_devices: int(row, "all_devices")? != 0,
        must_change_password: int(row, "must_change_password")? != 0,
    })
}

fn session(row: &AnyRow) -> Result<SessionRecord> {
    Ok(SessionRecord {
        token_hash: text(row, "token_hash")?,
        user_id: text(row, "user_id")?,
        csrf_token: text(row, "csrf_token")?,
        created_at: Timestamp(int(row, "created_at")?),
        last_seen_at: Timestamp(int(row, "last_seen_at")?),
        expires_at: Timestamp(int(row, "expires_at")?),
        source: text(row, "source")?,
        reauth_at: Timestamp(int(row, "reauth_at")?),
    })
}

fn api_token(row: &AnyRow) -> Result<ApiTokenRecord> {
    Ok(ApiTokenRecord {
        id: text(row, "id")?,
        name: text(row, "name")?,
        token_hash: text(row, "token_hash")?,
        role: text(row, "role")?,
        expires_at: opt_int(row, "expires_at")?.map(Timestamp),
        created_at: Timestamp(int(row, "created_at")?),
        last_used_at: opt_int(row, "last_used_at")?.map(Timestamp),
        revoked_at: opt_int(row, "revoked_at")?.map(Timestamp),
        created_by: opt_text(row, "created_by")?,
    })
}

const USER_COLS: &str = "id, username, password_hash, role, created_at, disabled_at, \
                         totp_secret, totp_enabled_at, totp_last_step, all_devices, \
                         must_change_password";
const SESSION_COLS: &str =
    "token_hash, user_id, csrf_token, created_at, last_seen_at, expires_at, source, reauth_at";

/// The administrator role as stored.
const ADMIN: &str = "admin";

impl Store {
    pub async fn count_users(&self) -> Result<u64> {
        let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM users")
            .fetch_one(&self.read)
            .await?;
        Ok(n as u64)
    }

    /// Creates a user who sees every device; `Conflict` if the username is taken (in any
    /// case: `Admin` and `admin` are one name).
    pub async fn create_user(&self, new: &NewUser, now: Timestamp) -> Result<UserRecord> {
        self.create_user_with_scope(new, &Scope::AllDevices, now)
            .await
    }

    /// Creates a user who sees `scope`, in one transaction: a user never exists, even for a
    /// moment, without the limits they were created with. `Conflict` if the username is
    /// taken, `NotFound` if a group does not exist.
    pub async fn create_user_with_scope(
        &self,
        new: &NewUser,
        scope: &Scope,
        now: Timestamp,
    ) -> Result<UserRecord> {
        let (all_devices, groups): (bool, &[String]) = match scope {
            Scope::AllDevices => (true, &[]),
            Scope::Groups(groups) => (false, groups),
        };
        let mut tx = self.begin_write().await?;
        let res = sqlx::query(
            "INSERT INTO users (id, username, password_hash, role, created_at, all_devices, must_change_password) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&new.id)
        .bind(&new.username)
        .bind(&new.password_hash)
        .bind(&new.role)
        .bind(now.0)
        .bind(i64::from(all_devices))
        .bind(i64::from(new.must_change_password))
        .execute(&mut *tx)
        .await;
        match res {
            Ok(_) => {}
            Err(sqlx::Error::Database(e)) if e.is_unique_violation() => {
                return Err(StoreError::Conflict(format!(
                    "a user named {} already exists",
                    new.username
                )));
            }
            Err(e) => return Err(e.into()),
        }
        crate::groups::insert_user_groups(&mut tx, &new.id, groups).await?;
        tx.commit().await?;
        self.user_by_id(&new.id).await?.ok_or(StoreError::NotFound)
    }

    pub async fn user_by_id(&self, id: &str) -> Result<Option<UserRecord>> {
        let row = sqlx::query(safe_sql!("SELECT {USER_COLS} FROM users WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.read)
            .await?;
        row.as_ref().map(user).transpose()
    }

    /// The user of that name, in any case (names are unique regardless of case).
    pub async fn user_by_username(&self, username: &str) -> Result<Option<UserRecord>> {
        let row = sqlx::query(safe_sql!(
            "SELECT {USER_COLS} FROM users WHERE lower(username) = lower($1)"
        ))
        .bind(username)
        .fetch_optional(&self.read)
        .await?;
        row.as_ref().map(user).transpose()
    }

    /// Sets a new password hash and ends every session of the user. `must_change`: the
    /// password was set by someone else (a reset) and must be changed at the next sign-in.
    pub async fn set_password(
        &self,
        user_id: &str,
        password_hash: &str,
        must_change: bool,
    ) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let res = sqlx::query(
            "UPDATE users SET password_hash = $1, must_change_password = $2 WHERE id = $3",
        )
        .bind(password_hash)
        .bind(i64::from(must_change))
        .bind(user_id)
        .execute(&mut *tx)
        .await?;
        touched(&res)?;
        // Sessions and sign-ins half-way through (password given, code pending) end too.
        for table in ["sessions", "pending_sign_ins"] {
            sqlx::query(safe_sql!("DELETE FROM {table} WHERE user_id = $1"))
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Every user, by name.
    pub async fn list_users(&self) -> Result<Vec<UserRecord>> {
        let rows = sqlx::query(safe_sql!(
            "SELECT {USER_COLS} FROM users ORDER BY LOWER(username), id"
        ))
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(user).collect()
    }

    /// Enabled users with the admin role.
    pub async fn count_enabled_admins(&self) -> Result<u64> {
        let n: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM users WHERE role = 'admin' AND disabled_at IS NULL",
        )
        .fetch_one(&self.read)
        .await?;
        Ok(n as u64)
    }

    /// Changes a user's role. `Conflict` if that would leave no enabled administrator.
    pub async fn set_user_role(&self, user_id: &str, role: &str) -> Result<()> {
        self.update_user(
            user_id,
            &UserUpdate {
                role: Some(role.to_string()),
                ..UserUpdate::default()
            },
        )
        .await
    }

    /// Applies changes to one user together, in one transaction: all of them or none.
    /// `Conflict` if the user would stop being an enabled administrator while they are the
    /// last one; `NotFound` if the user or one of the groups does not exist. Disabling ends
    /// every session and pending sign-in of the user and revokes the API tokens they made.
    pub async fn update_user(&self, user_id: &str, update: &UserUpdate) -> Result<()> {
        let mut tx = self.begin_write().await?;
        let demoted = update.role.as_deref().is_some_and(|r| r != ADMIN);
        let disabled = matches!(update.disabled, Some(Some(_)));
        if demoted || disabled {
            self.keep_an_admin(&mut tx, user_id).await?;
        }
        if let Some(role) = &update.role {
            let res = sqlx::query("UPDATE users SET role = $1 WHERE id = $2")
                .bind(role)
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
            touched(&res)?;
        }
        if let Some(scope) = &update.scope {
            crate::groups::set_user_scope_in(&mut tx, user_id, scope).await?;
        }
        if let Some(at) = update.disabled {
            let res = sqlx::query("UPDATE users SET disabled_at = $1 WHERE id = $2")
                .bind(at.map(|t| t.0))
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
            touched(&res)?;
            if let Some(at) = at {
                for table in ["sessions", "pending_sign_ins"] {
                    sqlx::query(safe_sql!("DELETE FROM {table} WHERE user_id = $1"))
                        .bind(user_id)
                        .execute(&mut *tx)
                        .await?;
                }
                revoke_tokens_of(&mut tx, user_id, at).await?;
            }
        }
        tx.commit().await?;
        Ok(())
    }
    /// Refuses (`Conflict`) to go on if `user_id` is the only enabled administrator. The
    /// enabled administrators are locked first (PostgreSQL; SQLite has one writer), so two
    /// administrators removing each other at once cannot both succeed.
    async fn keep_an_admin(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        user_id: &str,
    ) -> Result<()> {
        if self.backend == crate::Backend::Postgres {
            sqlx::query(
                "SELECT id FROM users WHERE role = 'admin' AND disabled_at IS NULL ORDER BY id FOR UPDATE",
            )
            .fetch_all(&mut **tx)
            .await?;
        }
        let target: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM users WHERE id = $1 AND role = 'admin' AND disabled_at IS NULL",
        )
        .bind(user_id)
        .fetch_one(&mut **tx)
        .await?;
        let others: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM users WHERE id <> $1 AND role = 'admin' AND disabled_at IS NULL",
        )
        .bind(user_id)
        .fetch_one(&mut **tx)
        .await?;
        if target > 0 && others == 0 {
            return Err(StoreError::Conflict(
                "this is the last enabled administrator; make another administrator first".into(),
            ));
        }
        Ok(())
    }

    /// Disables (`Some(time)`) or re-enables (`None`) a user; disabling ends every session
    /// and pending sign-in and revokes the API tokens they made, in the same transaction. `Conflict` if disabling would leave no
    /// enabled administrator.
    pub async fn set_user_disabled(&self, user_id: &str, at: Option<Timestamp>) -> Result<()> {
        self.update_user(
            user_id,
            &UserUpdate {
                disabled: Some(at),
                ..UserUpdate::default()
            },
        )
        .await
    }

    /// Deletes a user; their sessions, codes and group memberships go with them (foreign
    /// keys cascade on both backends) and the API tokens they made are revoked. `Conflict` for
    /// the last enabled administrator.
    pub async fn delete_user(&self, user_id: &str, now: Timestamp) -> Result<()> {
        let mut tx = self.begin_write().await?;
        self.keep_an_admin(&mut tx, user_id).await?;
        revoke_tokens_of(&mut tx, user_id, now).await?;
        let res = sqlx::query("DELETE FROM users WHERE id = $1")
            .bind(user_id)
            .execute(&mut *tx)
            .await?;
        touched(&res)?;
        tx.commit().await?;
        Ok(())
    }

    /// Records that the session's user proved who they are again (step-up).
    pub async fn set_session_reauth(&self, token_hash: &str, at: Timestamp) -> Result<()> {
        let res = sqlx::query("UPDATE sessions SET reauth_at = $1 WHERE token_hash = $2")
            .bind(at.0)
            .bind(token_hash)
            .execute(&self.write)
            .await?;
        touched(&res)
    }

    pub async fn create_session(&self, s: &SessionRecord) -> Result<()> {
        sqlx::query(safe_sql!(
            "INSERT INTO sessions ({SESSION_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        ))
        .bind(&s.token_hash)
        .bind(&s.user_id)
        .bind(&s.csrf_token)
        .bind(s.created_at.0)
        .bind(s.last_seen_at.0)
        .bind(s.expires_at.0)
        .bind(&s.source)
        .bind(s.reauth_at.0)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    /// The session and its user, if the session exists (expiry is the caller's decision).
    pub async fn session(&self, token_hash: &str) -> Result<Option<(SessionRecord, UserRecord)>> {
        let Some(row) = sqlx::query(safe_sql!(
            "SELECT {SESSION_COLS} FROM sessions WHERE token_hash = $1"
        ))
        .bind(token_hash)
        .fetch_optional(&self.read)
        .await?
        else {
            return Ok(None);
        };
        let s = session(&row)?;
        Ok(self.user_by_id(&s.user_id).await?.map(|u| (s, u)))
    }

    pub async fn touch_session(&self, token_hash: &str, now: Timestamp) -> Result<()> {
        sqlx::query("UPDATE sessions SET last_seen_at = $1 WHERE token_hash = $2")
            .bind(now.0)
            .bind(token_hash)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    pub async fn delete_session(&self, token_hash: &str) -> Result<()> {
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(token_hash)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    /// The user's sessions, most recently used first.
    pub async fn sessions_for_user(&self, user_id: &str) -> Result<Vec<SessionRecord>> {
        let rows = sqlx::query(safe_sql!(
            "SELECT {SESSION_COLS} FROM sessions WHERE user_id = $1 ORDER BY last_seen_at DESC, token_hash"
        ))
        .bind(user_id)
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(session).collect()
    }

    /// Ends one of the user's own sessions; `NotFound` if it is not theirs.
    pub async fn delete_user_session(&self, user_id: &str, token_hash: &str) -> Result<()> {
        let res = sqlx::query("DELETE FROM sessions WHERE token_hash = $1 AND user_id = $2")
            .bind(token_hash)
            .bind(user_id)
            .execute(&self.write)
            .await?;
        touched(&res)
    }

    /// Ends every session of the user but `keep`; returns how many ended.
    pub async fn delete_other_sessions(&self, user_id: &str, keep: &str) -> Result<u64> {
        let res = sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND token_hash <> $2")
            .bind(user_id)
            .bind(keep)
            .execute(&self.write)
            .await?;
        Ok(res.rows_affected())
    }

    pub async fn delete_sessions_before(&self, now: Timestamp) -> Result<u64> {
        let res = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
            .bind(now.0)
            .execute(&self.write)
            .await?;
        Ok(res.rows_affected())
    }

    pub async fn create_api_token(&self, t: &ApiTokenRecord) -> Result<()> {
        sqlx::query(
            "INSERT INTO api_tokens (id, name, token_hash, role, expires_at, created_at, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(&t.id)
        .bind(&t.name)
        .bind(&t.token_hash)
        .bind(&t.role)
        .bind(t.expires_at.map(|t| t.0))
        .bind(t.created_at.0)
        .bind(&t.created_by)
        .execute(&self.write)
        .await?;
        Ok(())
    }

    pub async fn api_token_by_hash(&self, token_hash: &str) -> Result<Option<ApiTokenRecord>> {
        let row = sqlx::query(
            "SELECT id, name, token_hash, role, expires_at, created_at, last_used_at, revoked_at, created_by FROM api_tokens WHERE token_hash = $1",
        )
        .bind(token_hash)
        .fetch_optional(&self.read)
        .await?;
        row.as_ref().map(api_token).transpose()
    }

    pub async fn list_api_tokens(&self) -> Result<Vec<ApiTokenRecord>> {
        let rows = sqlx::query(
            "SELECT id, name, token_hash, role, expires_at, created_at, last_used_at, revoked_at, created_by FROM api_tokens ORDER BY created_at, id",
        )
        .fetch_all(&self.read)
        .await?;
        rows.iter().map(api_token).collect()
    }

    pub async fn touch_api_token(&self, id: &str, now: Timestamp) -> Result<()> {
        sqlx::query("UPDATE api_tokens SET last_used_at = $1 WHERE id = $2")
            .bind(now.0)
            .bind(id)
            .execute(&self.write)
            .await?;
        Ok(())
    }

    pub async fn revoke_api_token(&self, id: &str, now: Timestamp) -> Result<()> {
        let res = sqlx::query(
            "UPDATE api_tokens SET revoked_at = $1 WHERE id = $2 AND revoked_at IS NULL",
        )
        .bind(now.0)
        .bind(id)
        .execute(&self.write)
        .await?;
        touched(&res)
    }
}

/// Revokes the API tokens a user made (offboarding).
async fn revoke_tokens_of(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    user_id: &str,
    at: Timestamp,
) -> Result<()> {
    sqlx::query(
        "UPDATE api_tokens SET revoked_at = $1 WHERE created_by = $2 AND revoked_at IS NULL",
    )
    .bind(at.0)
    .bind(user_id)
    .execute(&mut **tx)
    .await?;
    Ok(())
}
