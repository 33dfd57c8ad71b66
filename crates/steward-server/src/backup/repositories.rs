//! Each device's repository: created when its first backup is queued, with a password the
//! server generates and keeps sealed with the installation's sealing key, so that the server
//! can forget, prune, check and restore to another device without asking anyone.

use std::sync::Arc;

use steward_backup::storage::{ObjectRef, Storage};
use steward_store::BackupRepositoryRecord;

use super::service::{BackupError, Result};
use crate::secrets::random_token;
use crate::state::AppState;

/// The sealing context of a device's repository password: a password sealed for one
/// device does not open as another's.
fn sealing_context(device_id: &str) -> String {
    format!("backup-repository:{device_id}")
}

/// The device's repository storage and password, creating both on first use. Two servers
/// (or two requests) racing here end with one password: the store keeps the first, and
/// whoever lost uses it.
pub async fn ensure(state: &AppState, device_id: &str) -> Result<(Arc<dyn Storage>, String)> {
    let storage = super::storage_for(state, device_id)?;
    let stored = match state.store.backup_repository(device_id).await? {
        Some(stored) => stored,
        None => {
            // 32 random bytes, base64: restic accepts any text as a password.
            let password = random_token("");
            let record = BackupRepositoryRecord {
                device_id: device_id.to_owned(),
                storage: storage.kind().into(),
                location: storage.location(),
                password_sealed: state
                    .config
                    .sealing_key
                    .seal(password.as_bytes(), &sealing_context(device_id))
                    .map_err(|e| BackupError::Sealing(e.to_string()))?,
                created_at: state.now(),
            };
            state.store.create_backup_repository(&record).await?
        }
    };
    let password = open_password(state, &stored)?;
    // The repository itself is made once its password is stored, so a crash between the two
    // leaves a password and no repository (made next time), never the reverse.
    let (for_init, secret) = (storage.clone(), password.clone());
    tokio::task::spawn_blocking(move || init_unless_present(for_init, &secret))
        .await
        .map_err(|e| BackupError::Repository(format!("creating the repository: {e}")))??;
    Ok((storage, password))
}

/// The password of the device's repository, if it has one.
pub async fn password(state: &AppState, device_id: &str) -> Result<Option<String>> {
    match state.store.backup_repository(device_id).await? {
        Some(stored) => Ok(Some(open_password(state, &stored)?)),
        None => Ok(None),
    }
}

fn open_password(state: &AppState, stored: &BackupRepositoryRecord) -> Result<String> {
    let plain = state
        .config
        .sealing_key
        .open(&stored.password_sealed, &sealing_context(&stored.device_id))
        .map_err(|e| {
            BackupError::Sealing(format!(
                "the repository password of {}: {e}",
                stored.device_id
            ))
        })?;
    String::from_utf8(plain)
        .map_err(|_| BackupError::Sealing("the repository password is not text".into()))
}

/// One repository is made at a time in this server: two requests making the same one at once
/// would each write a key file for a master key of its own, and only one config; the
/// other's key would open with the same password and fail to open the config, and restic
/// may try it first. Inits are rare and cost one key derivation (16 MiB, milliseconds).
static INIT: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn init_unless_present(storage: Arc<dyn Storage>, password: &str) -> Result<()> {
    if storage.size(&ObjectRef::config())?.is_some() {
        return Ok(());
    }
    let _one_at_a_time = INIT.lock().unwrap_or_else(|e| e.into_inner());
    if storage.size(&ObjectRef::config())?.is_some() {
        return Ok(());
    }
    storage.create()?;
    match steward_backup::repo::init(storage.clone(), password) {
        Ok(()) => Ok(()),
        // Another request made it meanwhile.
        Err(_) if storage.size(&ObjectRef::config())?.is_some() => Ok(()),
        Err(e) => Err(BackupError::Repository(e.to_string())),
    }
}
