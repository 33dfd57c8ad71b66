//! The signed run: what the server signs when it sends a script, and what an agent checks
//! before it runs one.
//!
//! The signature covers a [`RunOrder`] — which job, for which device, with which
//! interpreter, the SHA-256 of the content, the parameters, the timeout and an expiry — in
//! an encoding of its own ([`canonical_bytes`]), so that someone who can write to the
//! server's database (and so queue any job) still cannot make an agent run code the signing
//! key did not approve, run it on another device, or run it after the order has expired.
//! Ed25519 through `ring`, already in the tree for TLS.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::STANDARD as BASE64;
use ring::rand::SecureRandom;
use ring::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use serde::{Deserialize, Serialize};

use super::{Interpreter, is_param_name};
use crate::Timestamp;

/// The longest timeout an order may carry: a day.
pub const MAX_TIMEOUT_SECS: u64 = 24 * 60 * 60;

/// The first bytes of every signed order. A new layout gets a new tag, so bytes signed for
/// one layout never verify as another.
const CANONICAL_TAG: &[u8] = b"steward/run-order/v1\0";

/// One run of a script on one device, as the server signs it and the agent checks it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct RunOrder {
    /// The job that carries the order: the agent runs it only as that job.
    pub job_id: String,
    /// The device that may run it.
    pub device_id: String,
    pub interpreter: Interpreter,
    /// SHA-256 of the content, lowercase hex ([`content_hash`]).
    pub content_sha256: String,
    /// Parameter values, already bound ([`super::bind_params`]).
    pub params: BTreeMap<String, String>,
    pub timeout_secs: u64,
    /// No agent runs the order at or after this time.
    pub expires_at: Timestamp,
}

/// The SHA-256 of a script's content, lowercase hex.
pub fn content_hash(content: &str) -> String {
    hex::encode(ring::digest::digest(
        &ring::digest::SHA256,
        content.as_bytes(),
    ))
}

/// The bytes the signature covers: a version tag, then each field length-prefixed (u32,
/// big-endian) in a fixed order, the parameters as a count then name/value pairs in name
/// order, the numbers as fixed-width big-endian integers. Not JSON: two different orders
/// never share these bytes, whatever their fields hold.
pub fn canonical_bytes(order: &RunOrder) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    out.extend_from_slice(CANONICAL_TAG);
    put_field(&mut out, order.job_id.as_bytes());
    put_field(&mut out, order.device_id.as_bytes());
    put_field(&mut out, order.interpreter.as_str().as_bytes());
    put_field(&mut out, order.content_sha256.as_bytes());
    put_len(&mut out, order.params.len());
    for (name, value) in &order.params {
        put_field(&mut out, name.as_bytes());
        put_field(&mut out, value.as_bytes());
    }
    out.extend_from_slice(&order.timeout_secs.to_be_bytes());
    out.extend_from_slice(&order.expires_at.millis().to_be_bytes());
    out
}

fn put_field(out: &mut Vec<u8>, bytes: &[u8]) {
    put_len(out, bytes.len());
    out.extend_from_slice(bytes);
}

/// A length as u32. Nothing an order holds comes near 4 GiB (the server bounds every
/// field long before); a longer one saturates, and would be refused by [`RunOrder::check`]
/// on the agent anyway.
fn put_len(out: &mut Vec<u8>, len: usize) {
    let len = u32::try_from(len).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_be_bytes());
}

/// The signature of `order` by `key`, base64 (standard alphabet, padded).
pub fn sign(order: &RunOrder, key: &Ed25519KeyPair) -> String {
    BASE64.encode(key.sign(&canonical_bytes(order)).as_ref())
}

/// Why an agent does not run an order. Each says what was wrong, for the job's message.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    #[error("the pinned script key is not an Ed25519 public key (32 bytes)")]
    PinnedKey,
    #[error("the order is not signed")]
    Unsigned,
    #[error(
        "the signature does not verify against the pinned script key (signed with another \
         key, or the order was changed after signing)"
    )]
    BadSignature,
    #[error("the order is malformed: {0}")]
    Malformed(String),
    #[error("the order is for another device ({0})")]
    OtherDevice(String),
    #[error("the order expired at {at} (unix ms)", at = .0.millis())]
    Expired(Timestamp),
    #[error(
        "the script's content is not the content that was signed (its SHA-256 is {actual}, \
         the order names {signed})"
    )]
    ContentChanged { actual: String, signed: String },
}

impl RunOrder {
    /// Whether the order's fields are usable as they stand: parameter names that can
    /// become environment variable names, values an environment can hold, a content hash
    /// that looks like one, a timeout within bounds.
    pub fn check(&self) -> Result<(), String> {
        if self.content_sha256.len() != 64
            || !self
                .content_sha256
                .bytes()
                .all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
        {
            return Err("content_sha256: 64 lowercase hex digits".into());
        }
        if !(1..=MAX_TIMEOUT_SECS).contains(&self.timeout_secs) {
            return Err(format!("timeout_secs: 1 to {MAX_TIMEOUT_SECS}"));
        }
        for (name, value) in &self.params {
            if !is_param_name(name) {
                return Err(format!("params: {name:?} is not a parameter name"));
            }
            if value.contains('\0') {
                return Err(format!("params: {name:?} holds a NUL character"));
            }
        }
        Ok(())
    }
}

/// What an agent checks before it runs `content` for `order`: the signature against its
/// pinned `public_key` (first, so a forged order is refused as such whatever it says), a
/// well-formed order, its own `device_id`, the expiry against `now`, and the content's
/// hash against the signed one.
pub fn verify(
    order: &RunOrder,
    signature: &str,
    public_key: &[u8],
    content: &str,
    device_id: &str,
    now: Timestamp,
) -> Result<(), Refused> {
    if public_key.len() != 32 {
        return Err(Refused::PinnedKey);
    }
    if signature.trim().is_empty() {
        return Err(Refused::Unsigned);
    }
    let signature = BASE64
        .decode(signature.trim())
        .map_err(|_| Refused::BadSignature)?;
    UnparsedPublicKey::new(&ED25519, public_key)
        .verify(&canonical_bytes(order), &signature)
        .map_err(|_| Refused::BadSignature)?;
    order.check().map_err(Refused::Malformed)?;
    if order.device_id != device_id {
        return Err(Refused::OtherDevice(order.device_id.clone()));
    }
    if now >= order.expires_at {
        return Err(Refused::Expired(order.expires_at));
    }
    let actual = content_hash(content);
    if actual != order.content_sha256 {
        return Err(Refused::ContentChanged {
            actual,
            signed: order.content_sha256.clone(),
        });
    }
    Ok(())
}

/// Why a signing key or a pinned public key cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("the random source failed while generating the script signing key")]
    Generate,
    #[error("the script signing key is not an Ed25519 PKCS#8 document: {0}")]
    Pkcs8(String),
    #[error("the script public key is base64 of 32 bytes")]
    PublicKey,
}

/// The server's script signing key.
#[derive(Debug)]
pub struct SigningKey(Ed25519KeyPair);

impl SigningKey {
    /// A new key, as PKCS#8 bytes to seal and keep. The randomness comes from `rng` (the
    /// server passes `ring::rand::SystemRandom`): the core makes none of its own.
    pub fn generate(rng: &dyn SecureRandom) -> Result<Vec<u8>, KeyError> {
        Ed25519KeyPair::generate_pkcs8(rng)
            .map(|doc| doc.as_ref().to_vec())
            .map_err(|_| KeyError::Generate)
    }

    /// The key kept as PKCS#8 bytes.
    pub fn from_pkcs8(pkcs8: &[u8]) -> Result<SigningKey, KeyError> {
        Ed25519KeyPair::from_pkcs8(pkcs8)
            .map(SigningKey)
            .map_err(|e| KeyError::Pkcs8(e.to_string()))
    }

    /// The public key agents pin (32 bytes; [`encode_public_key`] for its text form).
    pub fn public_key(&self) -> Vec<u8> {
        self.0.public_key().as_ref().to_vec()
    }

    pub fn key_pair(&self) -> &Ed25519KeyPair {
        &self.0
    }

    /// The signature of `order`: [`sign`] with this key.
    pub fn sign(&self, order: &RunOrder) -> String {
        sign(order, &self.0)
    }
}

/// A public key's text form, as the enrollment answer carries it and the agent's
/// `script_key` file holds it: base64 of the 32 bytes.
pub fn encode_public_key(public_key: &[u8]) -> String {
    BASE64.encode(public_key)
}

/// The 32 bytes of a public key's text form.
pub fn decode_public_key(text: &str) -> Result<Vec<u8>, KeyError> {
    match BASE64.decode(text.trim()) {
        Ok(bytes) if bytes.len() == 32 => Ok(bytes),
        _ => Err(KeyError::PublicKey),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONTENT: &str = "echo \"hello $STEWARD_PARAM_NAME\"\n";
    const NOW: Timestamp = Timestamp::from_secs(1_800_000_000);

    fn key(seed: u8) -> Ed25519KeyPair {
        Ed25519KeyPair::from_seed_unchecked(&[seed; 32]).expect("a 32-byte seed")
    }

    fn order() -> RunOrder {
        RunOrder {
            job_id: "job-1".into(),
            device_id: "dev-1".into(),
            interpreter: Interpreter::Sh,
            content_sha256: content_hash(CONTENT),
            params: [("name".to_string(), "world".to_string())].into(),
            timeout_secs: 60,
            expires_at: NOW.plus_millis(60_000),
        }
    }

    fn check(order: &RunOrder, signature: &str, content: &str) -> Result<(), Refused> {
        verify(
            order,
            signature,
            key(1).public_key().as_ref(),
            content,
            "dev-1",
            NOW,
        )
    }

    #[test]
    fn a_signed_order_verifies() {
        let signature = sign(&order(), &key(1));
        assert_eq!(check(&order(), &signature, CONTENT), Ok(()));
    }

    #[test]
    fn content_hash_is_sha256_hex() {
        assert_eq!(
            content_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn an_unsigned_order_is_refused() {
        assert_eq!(check(&order(), "", CONTENT), Err(Refused::Unsigned));
        assert_eq!(
            check(&order(), "not base64!", CONTENT),
            Err(Refused::BadSignature)
        );
    }

    #[test]
    fn another_keys_signature_is_refused() {
        let signature = sign(&order(), &key(2));
        assert_eq!(
            check(&order(), &signature, CONTENT),
            Err(Refused::BadSignature)
        );
    }

    #[test]
    fn an_order_changed_after_signing_is_refused() {
        let signature = sign(&order(), &key(1));
        let mut changed = order();
        changed.params.insert("name".into(), "$(reboot)".into());
        assert_eq!(
            check(&changed, &signature, CONTENT),
            Err(Refused::BadSignature)
        );
        let mut longer = order();
        longer.timeout_secs = 600;
        assert_eq!(
            check(&longer, &signature, CONTENT),
            Err(Refused::BadSignature)
        );
    }

    #[test]
    fn content_changed_after_signing_is_refused() {
        let signature = sign(&order(), &key(1));
        let refused = check(&order(), &signature, "reboot\n");
        assert!(
            matches!(refused, Err(Refused::ContentChanged { .. })),
            "{refused:?}"
        );
    }

    #[test]
    fn another_devices_order_is_refused() {
        let mut other = order();
        other.device_id = "dev-2".into();
        let signature = sign(&other, &key(1));
        assert_eq!(
            check(&other, &signature, CONTENT),
            Err(Refused::OtherDevice("dev-2".into()))
        );
    }

    #[test]
    fn an_expired_order_is_refused() {
        let mut old = order();
        old.expires_at = NOW;
        let signature = sign(&old, &key(1));
        assert_eq!(check(&old, &signature, CONTENT), Err(Refused::Expired(NOW)));
    }

    #[test]
    fn a_malformed_but_signed_order_is_refused() {
        let mut odd = order();
        odd.params.insert("PATH".into(), "/tmp".into());
        let signature = sign(&odd, &key(1));
        assert!(matches!(
            check(&odd, &signature, CONTENT),
            Err(Refused::Malformed(reason)) if reason.contains("PATH")
        ));
        let mut endless = order();
        endless.timeout_secs = 0;
        let signature = sign(&endless, &key(1));
        assert!(matches!(
            check(&endless, &signature, CONTENT),
            Err(Refused::Malformed(_))
        ));
    }

    #[test]
    fn a_pinned_key_of_the_wrong_size_is_refused() {
        let signature = sign(&order(), &key(1));
        assert_eq!(
            verify(&order(), &signature, &[0; 31], CONTENT, "dev-1", NOW),
            Err(Refused::PinnedKey)
        );
    }

    #[test]
    fn field_boundaries_are_part_of_the_bytes() {
        // Moving a character from one field to the next changes the bytes.
        let mut a = order();
        a.job_id = "ab".into();
        a.device_id = "c".into();
        let mut b = order();
        b.job_id = "a".into();
        b.device_id = "bc".into();
        assert_ne!(canonical_bytes(&a), canonical_bytes(&b));
        // So does moving text between a parameter's name and value.
        let mut c = order();
        c.params = [("a".to_string(), "bc".to_string())].into();
        let mut d = order();
        d.params = [("ab".to_string(), "c".to_string())].into();
        assert_ne!(canonical_bytes(&c), canonical_bytes(&d));
        assert!(canonical_bytes(&a).starts_with(CANONICAL_TAG));
    }

    #[test]
    fn generated_keys_round_trip_through_pkcs8_and_text() {
        let pkcs8 = SigningKey::generate(&ring::rand::SystemRandom::new()).unwrap();
        let key = SigningKey::from_pkcs8(&pkcs8).unwrap();
        let text = encode_public_key(&key.public_key());
        let pinned = decode_public_key(&text).unwrap();
        let signature = key.sign(&order());
        assert_eq!(
            verify(&order(), &signature, &pinned, CONTENT, "dev-1", NOW),
            Ok(())
        );
        assert!(SigningKey::from_pkcs8(b"not a key").is_err());
        assert_eq!(decode_public_key("AAAA"), Err(KeyError::PublicKey));
    }
}
