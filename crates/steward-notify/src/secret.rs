//! A secret setting (a token, a password, an HMAC key): kept as it is, stored as a plain
//! string inside the sealed channel settings, but never shown: its `Debug` is a mask, so a
//! channel logged by mistake does not leak it, and equality is constant-time.

use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

/// What a secret is shown as.
pub const MASK: &str = "********";

#[derive(Clone, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself, to use (never to show).
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self::new(value)
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self::new(value)
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Secret({MASK})")
    }
}

impl PartialEq for Secret {
    fn eq(&self, other: &Self) -> bool {
        self.0.as_bytes().ct_eq(other.0.as_bytes()).into()
    }
}

impl Eq for Secret {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_is_never_shown_but_kept_as_is() {
        let s = Secret::from("hunter2");
        assert_eq!(format!("{s:?}"), "Secret(********)");
        assert_eq!(s.expose(), "hunter2");
        assert_eq!(serde_json::to_string(&s).unwrap(), r#""hunter2""#);
        assert_eq!(s, Secret::from("hunter2".to_string()));
        assert_ne!(s, Secret::from("hunter3"));
    }
}
