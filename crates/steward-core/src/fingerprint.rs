//! The identity of a server's TLS certificate as agents pin it: the SHA-256 of the leaf
//! certificate's DER encoding, written `sha256:<64 hex digits>`. The server prints it at
//! start; `steward agent enroll` records it (or checks the one given with `--pin`) and from
//! then on the agent talks only to a server presenting that certificate.

use sha2::{Digest, Sha256};

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct CertFingerprint([u8; 32]);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "a certificate fingerprint is sha256: followed by 64 hex digits (as `steward server` prints it), not {0:?}"
)]
pub struct InvalidFingerprint(String);

impl CertFingerprint {
    /// The fingerprint of a DER-encoded certificate.
    pub fn of_der(der: &[u8]) -> CertFingerprint {
        CertFingerprint(Sha256::digest(der).into())
    }

    /// Reads `sha256:<hex>`. The prefix may be left out, and the hex may be upper case or
    /// colon-separated, as `openssl x509 -fingerprint -sha256` prints it.
    pub fn parse(text: &str) -> Result<CertFingerprint, InvalidFingerprint> {
        let trimmed = text.trim();
        let hex_part = match trimmed.split_once(':') {
            Some((prefix, rest)) if prefix.eq_ignore_ascii_case("sha256") => rest,
            _ => trimmed,
        };
        let digits: String = hex_part.chars().filter(|c| *c != ':').collect();
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(&digits, &mut bytes)
            .map_err(|_| InvalidFingerprint(text.chars().take(120).collect()))?;
        Ok(CertFingerprint(bytes))
    }

    /// Equality in constant time: how long a comparison takes says nothing about how many
    /// leading bytes matched.
    pub fn matches(&self, other: &CertFingerprint) -> bool {
        self.0
            .iter()
            .zip(other.0.iter())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
    }
}

impl std::fmt::Display for CertFingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "sha256:{}", hex::encode(self.0))
    }
}

impl std::fmt::Debug for CertFingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(self, f)
    }
}

impl std::str::FromStr for CertFingerprint {
    type Err = InvalidFingerprint;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        CertFingerprint::parse(s)
    }
}

impl serde::Serialize for CertFingerprint {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for CertFingerprint {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        CertFingerprint::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prints_and_parses_every_common_spelling() {
        let fp = CertFingerprint::of_der(b"certificate");
        let text = fp.to_string();
        assert!(
            text.starts_with("sha256:") && text.len() == 7 + 64,
            "{text}"
        );
        assert_eq!(CertFingerprint::parse(&text), Ok(fp));
        assert_eq!(CertFingerprint::parse(&text[7..]), Ok(fp));
        assert_eq!(CertFingerprint::parse(&text.to_uppercase()), Ok(fp));
        let openssl: Vec<String> = text.as_bytes()[7..]
            .chunks(2)
            .map(|c| String::from_utf8_lossy(c).to_uppercase())
            .collect();
        assert_eq!(
            CertFingerprint::parse(&format!("SHA256:{}", openssl.join(":"))),
            Ok(fp)
        );
        let json = serde_json::to_string(&fp).unwrap();
        assert_eq!(serde_json::from_str::<CertFingerprint>(&json).unwrap(), fp);
    }

    #[test]
    fn rejects_what_is_not_a_sha256() {
        for bad in ["", "sha256:", "sha256:abc", "md5:00", &"zz".repeat(32)] {
            let err = CertFingerprint::parse(bad).unwrap_err().to_string();
            assert!(err.contains("64 hex digits"), "{err}");
        }
        assert!(serde_json::from_str::<CertFingerprint>("\"nope\"").is_err());
    }

    #[test]
    fn matches_only_itself() {
        let a = CertFingerprint::of_der(b"a");
        let b = CertFingerprint::of_der(b"b");
        assert!(a.matches(&a));
        assert!(!a.matches(&b));
    }
}
