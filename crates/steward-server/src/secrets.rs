//! Making and checking secrets: random tokens, their hashes, passwords.
//!
//! Random tokens (sessions, API tokens, enrollment tokens, agent credentials) carry 256 bits
//! of entropy, so a fast SHA-256 hash is enough to store them: the database alone never lets
//! anyone present one. Passwords are people-chosen and get Argon2id.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// A new random token: 32 bytes, URL-safe base64, with a prefix saying what it is for
/// (`stw_api_`, `stw_enr_`, …) so a leaked one is recognisable.
pub fn random_token(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("{prefix}{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// A random identifier (UUID v4 text).
pub fn new_id() -> String {
    uuid::Uuid::new_v4().to_string()
}

/// Hex SHA-256 of a token, as stored.
pub fn token_hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Constant-time equality of two secrets or hashes.
pub fn secrets_equal(a: &str, b: &str) -> bool {
    a.len() == b.len() && bool::from(a.as_bytes().ct_eq(b.as_bytes()))
}

/// A readable one-time password: 20 characters from an alphabet without look-alikes
/// (about 110 bits).
pub fn random_password() -> String {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rng();
    let chars: String = (0..20)
        .map(|_| ALPHABET[(rng.next_u32() as usize) % ALPHABET.len()] as char)
        .collect();
    format!(
        "{}-{}-{}-{}",
        &chars[0..5],
        &chars[5..10],
        &chars[10..15],
        &chars[15..20]
    )
}

/// Argon2id cost settings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PasswordHashing {
    /// m = 64 MiB, t = 3, p = 1: above OWASP's minimum (19 MiB, t = 2), chosen so that one
    /// check takes 50–500 ms on a 2-core server (about 180 ms measured; `steward-bench login`).
    Production,
    /// Fast and weak, for tests only.
    TestOnlyCheap,
}

impl PasswordHashing {
    /// Memory in KiB, passes, lanes.
    fn cost(self) -> (u32, u32, u32) {
        match self {
            PasswordHashing::Production => (64 * 1024, 3, 1),
            PasswordHashing::TestOnlyCheap => (256, 1, 1),
        }
    }

    fn argon2(self) -> anyhow::Result<Argon2<'static>> {
        let (m, t, p) = self.cost();
        argon2id(m, t, p)
    }

    /// PHC string (`$argon2id$v=19$m=…`), salt included.
    pub fn hash(self, password: &str) -> anyhow::Result<String> {
        let mut salt = [0u8; 16];
        rand::rng().fill_bytes(&mut salt);
        let salt = SaltString::encode_b64(&salt).map_err(|e| anyhow::anyhow!("salt: {e}"))?;
        let hash = self
            .argon2()?
            .hash_password(password.as_bytes(), &salt)
            .map_err(|e| anyhow::anyhow!("hashing password: {e}"))?;
        Ok(hash.to_string())
    }
}

/// Argon2id with these costs. Parameters Argon2 refuses are an error, never replaced by the
/// library's defaults: a server must not quietly store passwords at another cost than the
/// one it was built for.
fn argon2id(m_kib: u32, t: u32, p: u32) -> anyhow::Result<Argon2<'static>> {
    let params = Params::new(m_kib, t, p, None).map_err(|e| {
        anyhow::anyhow!("invalid Argon2id parameters (m = {m_kib} KiB, t = {t}, p = {p}): {e}")
    })?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Checks a password against a stored PHC string; the parameters come from the string.
pub fn verify_password(password: &str, stored: &str) -> bool {
    match PasswordHash::new(stored) {
        Ok(parsed) => Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// A stored hash to verify against when the user does not exist, so that a login for an
/// unknown name costs the same time as one for a known name. Made once, when the server's
/// state is built: a failure stops the server at start, where an empty hash would make
/// unknown names answer faster than known ones (a way to find out which names exist).
pub fn dummy_hash(hashing: PasswordHashing) -> anyhow::Result<String> {
    hashing
        .hash("steward-dummy-password")
        .map_err(|e| e.context("making the sign-in dummy hash"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_verify_and_use_argon2id() {
        let h = PasswordHashing::TestOnlyCheap
            .hash("correct horse battery")
            .unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password("correct horse battery", &h));
        assert!(!verify_password("wrong", &h));
        assert!(!verify_password("x", "not a hash"));
    }

    #[test]
    fn parameters_argon2_refuses_are_an_error_not_a_default() {
        for (m, t, p) in [(0, 1, 1), (256, 0, 1), (256, 1, 0), (7, 1, 1)] {
            let err = argon2id(m, t, p).err().map(|e| e.to_string());
            assert!(
                err.as_deref()
                    .is_some_and(|e| e.contains("invalid Argon2id parameters")),
                "{m} {t} {p}: {err:?}"
            );
        }
        for hashing in [PasswordHashing::Production, PasswordHashing::TestOnlyCheap] {
            assert!(hashing.argon2().is_ok(), "{hashing:?}");
        }
        let dummy = dummy_hash(PasswordHashing::TestOnlyCheap).unwrap();
        assert!(
            dummy.starts_with("$argon2id$v=19$m=256,t=1,p=1$"),
            "{dummy}"
        );
        assert!(!verify_password("", &dummy));
    }

    #[test]
    fn tokens_are_unique_and_hash_stably() {
        let a = random_token("stw_api_");
        assert!(a.starts_with("stw_api_") && a.len() > 40);
        assert_ne!(a, random_token("stw_api_"));
        assert_eq!(token_hash(&a), token_hash(&a));
        assert!(secrets_equal(&token_hash(&a), &token_hash(&a)));
        assert!(!secrets_equal("abc", "abd"));
        assert_eq!(random_password().len(), 23);
    }
}
