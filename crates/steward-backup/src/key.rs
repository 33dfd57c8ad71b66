//! The key file of a new repository, written by Steward rather than by rustic_core, for one
//! reason: its scrypt cost. rustic_core writes keys with scrypt's "recommended" N = 2^17,
//! r = 8, which needs 128 × r × N = 128 MiB of memory — every time the repository is opened,
//! by every backup worker and by the server. That was the backup worker's peak-memory floor
//! (a single 128 MiB allocation, whatever the size of the backup).
//!
//! Steward's repository passwords are 32 random bytes made by the server, never chosen by a
//! person, so the key derivation's cost protects nothing that the password's 256 bits do not
//! already; restic's own default (N = 2^14, r = 8, p = 1: 16 MiB) is used. The file is
//! restic's format exactly (`keys/<sha256 of the JSON>`, the master key sealed with
//! AES-256-CTR and Poly1305-AES under the scrypt-derived key), as rustic_core writes it, so
//! restic and rustic open it as they open their own.

use aes256ctr_poly1305aes::Aes256CtrPoly1305Aes;
use aes256ctr_poly1305aes::aead::AeadInPlace;
use rustic_core::repofile::{KeyFile, MasterKey};
use sha2::Digest;

use crate::repo::BackupError;
use crate::storage::{ObjectKind, ObjectName, ObjectRef, Storage};

/// scrypt's cost: N = 2^LOG_N, r, p. Memory to open is 128 × r × N bytes (16 MiB).
const LOG_N: u8 = 14;
const R: u32 = 8;
const P: u32 = 1;

fn failed(error: impl std::fmt::Display) -> BackupError {
    BackupError::Repository(format!("writing the repository's key: {error}"))
}

/// Writes a key file that opens `master` with `password` into `storage`.
pub(crate) fn write(
    storage: &dyn Storage,
    master: &MasterKey,
    password: &str,
) -> Result<(), BackupError> {
    let salt: [u8; 64] = rand::random();
    let params = scrypt::Params::new(LOG_N, R, P).map_err(failed)?;
    let mut derived = [0u8; 64];
    scrypt::scrypt(password.as_bytes(), &salt, &params, &mut derived).map_err(failed)?;
    let sealed = seal(&derived, &serde_json::to_vec(master).map_err(failed)?)?;
    let file = KeyFile {
        hostname: None,
        username: None,
        created: Some(rustic_core::jiff::Zoned::now()),
        kdf: "scrypt".to_owned(),
        n: 1 << LOG_N,
        r: R,
        p: P,
        data: sealed,
        salt: salt.to_vec(),
    };
    let json = serde_json::to_vec(&file).map_err(failed)?;
    let name = ObjectName::parse(&hex::encode(sha2::Sha256::digest(&json))).map_err(failed)?;
    storage
        .put(&ObjectRef::named(ObjectKind::Key, name), &[&json])
        .map_err(failed)
}

/// restic's encryption of a small file: a random 16-byte nonce, the AES-256-CTR ciphertext,
/// then the Poly1305-AES tag — the calls rustic_core makes, with the same crate.
fn seal(key: &[u8; 64], plain: &[u8]) -> Result<Vec<u8>, BackupError> {
    let nonce: [u8; 16] = rand::random();
    let cipher = Aes256CtrPoly1305Aes::new(aes256ctr_poly1305aes::Key::from_slice(key));
    let mut sealed = Vec::with_capacity(plain.len() + 32);
    sealed.extend_from_slice(&nonce);
    sealed.extend_from_slice(plain);
    let tag = cipher
        .encrypt_in_place_detached(
            aes256ctr_poly1305aes::Nonce::from_slice(&nonce),
            &[],
            &mut sealed[16..],
        )
        .map_err(failed)?;
    sealed.extend_from_slice(&tag);
    Ok(sealed)
}
