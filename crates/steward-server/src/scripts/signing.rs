//! The installation's script signing key: an Ed25519 key made on first use, kept in the
//! settings table sealed with the installation's sealing key (a database dump alone signs
//! nothing), its public half handed to every agent at enrollment to pin.

use steward_core::scripts::{RunOrder, SigningKey, encode_public_key};

use crate::state::AppState;

/// Where the sealed key is kept.
const SETTING: &str = "scripts.signing_key";
/// The sealing context: a value sealed for another purpose does not open as this key.
const SEALING_CONTEXT: &str = "script-signing-key";

/// Why the key cannot be had.
#[derive(Debug, thiserror::Error)]
#[error("the script signing key: {0}")]
pub struct KeyUnavailable(String);

/// The signing key, made and stored on first use. Two servers making one at once end with
/// the one stored first.
pub async fn key(state: &AppState) -> Result<SigningKey, KeyUnavailable> {
    let stored = match state
        .store
        .setting(SETTING)
        .await
        .map_err(|e| KeyUnavailable(e.to_string()))?
    {
        Some(sealed) => sealed,
        None => {
            let pkcs8 = SigningKey::generate(&ring::rand::SystemRandom::new())
                .map_err(|e| KeyUnavailable(e.to_string()))?;
            let sealed = state
                .config
                .sealing_key
                .seal(&pkcs8, SEALING_CONTEXT)
                .map_err(|e| KeyUnavailable(e.to_string()))?;
            state
                .store
                .setting_or_insert(SETTING, &sealed, state.now())
                .await
                .map_err(|e| KeyUnavailable(e.to_string()))?
        }
    };
    let pkcs8 = state
        .config
        .sealing_key
        .open(&stored, SEALING_CONTEXT)
        .map_err(|e| {
            KeyUnavailable(format!(
                "cannot be opened with this installation's sealing key ({e}); was the database \
                 moved without its sealing key file?"
            ))
        })?;
    SigningKey::from_pkcs8(&pkcs8).map_err(|e| KeyUnavailable(e.to_string()))
}

/// The public key's text form, as enrollment answers carry it.
pub async fn public_key(state: &AppState) -> Result<String, KeyUnavailable> {
    Ok(encode_public_key(&key(state).await?.public_key()))
}

/// Signs `order` with the installation's key.
pub fn sign(key: &SigningKey, order: &RunOrder) -> String {
    key.sign(order)
}
