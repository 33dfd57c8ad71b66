//! Two-factor sign-in: TOTP secrets (RFC 6238, via totp-rs), sealed at rest with the
//! server's key, the enrolment QR code (SVG, via qrcode), and one-time recovery codes.
//!
//! A TOTP secret must be readable by the server to check codes, so it cannot be hashed like
//! a password: it is sealed with XChaCha20-Poly1305 under the installation's sealing key
//! (kept in a file beside the database, not in it), with the user id as associated data so
//! a sealed secret copied onto another user's row does not open. A database dump alone
//! therefore yields no second factor.

use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use rand::RngCore;
use totp_rs::{Algorithm, Secret, Totp};

use crate::secrets::token_hash;

/// The name shown in authenticator apps.
pub const ISSUER: &str = "Steward";
/// Recovery codes issued at a time.
pub const RECOVERY_CODES: usize = 10;
const SEALED_PREFIX: &str = "v1:";

/// The installation's key for sealing secrets at rest (32 random bytes).
#[derive(Clone)]
pub struct SealingKey([u8; 32]);

impl std::fmt::Debug for SealingKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SealingKey(…)")
    }
}

impl SealingKey {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        SealingKey(bytes)
    }

    /// A fresh random key.
    pub fn generate() -> Self {
        let mut k = [0u8; 32];
        rand::rng().fill_bytes(&mut k);
        SealingKey(k)
    }

    /// The key as stored in its file (hex).
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }

    pub fn from_hex(text: &str) -> anyhow::Result<Self> {
        let bytes = hex::decode(text.trim())
            .map_err(|_| anyhow::anyhow!("the sealing key is not hexadecimal"))?;
        let bytes: [u8; 32] = bytes
            .try_into()
            .map_err(|_| anyhow::anyhow!("the sealing key must be 32 bytes (64 hex digits)"))?;
        Ok(SealingKey(bytes))
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new(&self.0.into())
    }

    /// Seals `plain` for `context` (the user id): `v1:` + base64(nonce ‖ ciphertext).
    pub fn seal(&self, plain: &[u8], context: &str) -> anyhow::Result<String> {
        let mut nonce = [0u8; 24];
        rand::rng().fill_bytes(&mut nonce);
        let sealed = self
            .cipher()
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plain,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| anyhow::anyhow!("sealing failed"))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&sealed);
        Ok(format!("{SEALED_PREFIX}{}", STANDARD_NO_PAD.encode(out)))
    }

    /// Opens what [`seal`](Self::seal) made for the same context; an error if the key, the
    /// context or the text differ.
    pub fn open(&self, sealed: &str, context: &str) -> anyhow::Result<Vec<u8>> {
        let body = sealed
            .strip_prefix(SEALED_PREFIX)
            .ok_or_else(|| anyhow::anyhow!("unknown sealed format"))?;
        let raw = STANDARD_NO_PAD
            .decode(body)
            .map_err(|_| anyhow::anyhow!("sealed value is not base64"))?;
        anyhow::ensure!(raw.len() > 24, "sealed value too short");
        let (nonce, ciphertext) = raw.split_at(24);
        self.cipher()
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: context.as_bytes(),
                },
            )
            .map_err(|_| {
                anyhow::anyhow!(
                    "a sealed secret does not open with this server's key (was the key file replaced?)"
                )
            })
    }
}

/// A TOTP generator/checker for a raw secret: SHA-1, 6 digits, 30 s steps, one step of
/// clock skew either way — what every authenticator app supports.
fn totp(secret: &[u8], account: &str) -> anyhow::Result<Totp> {
    totp_rs::Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_skew(1)
        .with_step_duration(30)
        .with_secret(Secret::new(secret.to_vec().into_boxed_slice()))
        .with_issuer(Some(ISSUER))
        .with_account_name(account)
        .build()
        .map_err(|e| anyhow::anyhow!("TOTP settings: {e}"))
}

/// A new secret being enrolled: what the user's app needs, and what gets sealed.
pub struct NewTotp {
    pub secret: Vec<u8>,
    /// Base32, for typing into an app by hand.
    pub secret_text: String,
    /// `otpauth://totp/Steward:alice?secret=…&issuer=Steward`.
    pub url: String,
}

/// 160 random bits (RFC 4226's recommendation) for `account`.
pub fn new_totp(account: &str) -> anyhow::Result<NewTotp> {
    let mut secret = vec![0u8; 20];
    rand::rng().fill_bytes(&mut secret);
    describe(secret, account)
}

/// The text and otpauth URL of an existing secret.
pub fn describe(secret: Vec<u8>, account: &str) -> anyhow::Result<NewTotp> {
    let t = totp(&secret, account)?;
    Ok(NewTotp {
        secret_text: t.secret().to_base32(),
        url: t
            .to_url()
            .map_err(|e| anyhow::anyhow!("otpauth URL: {e}"))?,
        secret,
    })
}

/// The time step a code is valid for at `unix_secs` (within one step of skew), if any.
/// Whether that step was already used is the caller's question (replay).
pub fn matching_step(secret: &[u8], code: &str, unix_secs: u64) -> Option<i64> {
    let code: String = code.chars().filter(|c| !c.is_whitespace()).collect();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let t = totp(secret, "x").ok()?;
    t.check(&code, unix_secs).map(|s| s as i64)
}

/// The code for `unix_secs`, as an authenticator app would show it (for tests).
pub fn code_at(secret: &[u8], unix_secs: u64) -> anyhow::Result<String> {
    Ok(totp(secret, "x")?.generate(unix_secs).to_string())
}

/// Decodes a base32 secret as shown to the user.
pub fn secret_from_text(text: &str) -> anyhow::Result<Vec<u8>> {
    Secret::try_from_base32(text.trim().to_ascii_uppercase())
        .map(|s| s.as_bytes().to_vec())
        .map_err(|_| anyhow::anyhow!("not a base32 secret"))
}

/// An SVG QR code of the otpauth URL, for the enrolment page.
pub fn qr_svg(url: &str) -> anyhow::Result<String> {
    let code = qrcode::QrCode::with_error_correction_level(url.as_bytes(), qrcode::EcLevel::M)
        .map_err(|e| anyhow::anyhow!("QR code: {e}"))?;
    Ok(code
        .render::<qrcode::render::svg::Color>()
        .min_dimensions(200, 200)
        .quiet_zone(true)
        .build())
}

/// Fresh recovery codes (`xxxx-xxxx-xxxx-xxxx`, 80 bits each) and their stored hashes.
pub fn new_recovery_codes() -> (Vec<String>, Vec<String>) {
    const ALPHABET: &[u8] = b"abcdefghjkmnpqrstuvwxyz23456789"; // 31 letters, no look-alikes
    let mut rng = rand::rng();
    let codes: Vec<String> = (0..RECOVERY_CODES)
        .map(|_| {
            let chars: Vec<char> = (0..16)
                .map(|_| ALPHABET[(rng.next_u32() as usize) % ALPHABET.len()] as char)
                .collect();
            chars
                .chunks(4)
                .map(|c| c.iter().collect::<String>())
                .collect::<Vec<_>>()
                .join("-")
        })
        .collect();
    let hashes = codes.iter().map(|c| recovery_code_hash(c)).collect();
    (codes, hashes)
}

/// The stored form of a recovery code; spaces, dashes and case do not matter.
pub fn recovery_code_hash(code: &str) -> String {
    let normal: String = code
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect();
    token_hash(&format!("recovery:{normal}"))
}

/// Whether what was typed looks like a TOTP code (six digits) rather than a recovery code.
pub fn looks_like_totp(input: &str) -> bool {
    let digits: String = input.chars().filter(|c| !c.is_whitespace()).collect();
    digits.len() == 6 && digits.bytes().all(|b| b.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_secrets_open_only_with_the_same_key_and_user() {
        let key = SealingKey::generate();
        let sealed = key.seal(b"secret bytes", "user-1").unwrap();
        assert!(!sealed.contains("secret"));
        assert_eq!(key.open(&sealed, "user-1").unwrap(), b"secret bytes");
        assert!(key.open(&sealed, "user-2").is_err(), "bound to the user");
        assert!(SealingKey::generate().open(&sealed, "user-1").is_err());
        assert_ne!(
            sealed,
            key.seal(b"secret bytes", "user-1").unwrap(),
            "fresh nonce"
        );
        let again = SealingKey::from_hex(&key.to_hex()).unwrap();
        assert_eq!(again.open(&sealed, "user-1").unwrap(), b"secret bytes");
        assert!(SealingKey::from_hex("abcd").is_err());
        assert!(!format!("{key:?}").contains(&key.to_hex()));
    }

    #[test]
    fn codes_match_their_step_with_one_step_of_skew() {
        let t = new_totp("alice").unwrap();
        assert!(
            t.url.starts_with("otpauth://totp/Steward:alice?"),
            "{}",
            t.url
        );
        assert_eq!(secret_from_text(&t.secret_text).unwrap(), t.secret);
        let now = 1_800_000_000u64;
        let code = code_at(&t.secret, now).unwrap();
        assert_eq!(
            matching_step(&t.secret, &code, now),
            Some((now / 30) as i64)
        );
        assert_eq!(
            matching_step(&t.secret, &code, now + 30),
            Some((now / 30) as i64)
        );
        assert_eq!(matching_step(&t.secret, &code, now + 90), None);
        assert_eq!(matching_step(&t.secret, "12345", now), None);
        assert_eq!(matching_step(&t.secret, "abcdef", now), None);
        let spaced = format!("{} {}", &code[..3], &code[3..]);
        assert!(matching_step(&t.secret, &spaced, now).is_some());
        assert!(looks_like_totp(&spaced) && !looks_like_totp("abcd-efgh-jkmn-pqrs"));
    }

    #[test]
    fn recovery_codes_are_distinct_and_forgiving_to_type() {
        let (codes, hashes) = new_recovery_codes();
        assert_eq!(codes.len(), RECOVERY_CODES);
        let mut unique = hashes.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), RECOVERY_CODES);
        assert_eq!(codes[0].len(), 19);
        assert_eq!(
            recovery_code_hash(&codes[0].to_uppercase().replace('-', " ")),
            hashes[0]
        );
    }

    #[test]
    fn qr_code_is_svg() {
        let svg = qr_svg("otpauth://totp/Steward:alice?secret=ABC&issuer=Steward").unwrap();
        assert!(svg.contains("<svg") && svg.contains("</svg>"));
    }
}
