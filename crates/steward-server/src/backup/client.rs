//! Who is asking for a backup repository: an enrolled device with its own credential.
//!
//! restic and rustic carry the credentials of a `rest:https://user:password@host/…` URL as
//! HTTP Basic, so besides the agent protocol's bearer token the device credential is taken
//! as the Basic password, with the device id as the user name. Only the backup routes take
//! Basic; no answer asks for it (`WWW-Authenticate`), so a browser never offers it.

use axum::extract::FromRequestParts;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::auth::AgentIdentity;
use crate::error::AppError;
use crate::state::AppState;

/// An enrolled, non-revoked device, by its credential as a bearer token or as HTTP Basic.
#[derive(Debug, Clone)]
pub struct BackupClient(pub AgentIdentity);

impl FromRequestParts<AppState> for BackupClient {
    type Rejection = AppError;
    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, AppError> {
        let credential = match crate::auth::bearer(parts) {
            Some(token) => token.to_owned(),
            None => {
                let header = parts
                    .headers
                    .get(AUTHORIZATION)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default();
                basic_credential(header).map_err(AppError::unauthorized)?
            }
        };
        AgentIdentity::from_credential(parts, state, &credential)
            .await
            .map(Self)
    }
}

/// The device credential in an `Authorization: Basic …` value, whose user must be the
/// device id the credential starts with.
fn basic_credential(header: &str) -> Result<String, &'static str> {
    const MISSING: &str = "backup requests need the device credential: as the user and password \
        of the repository URL (https://DEVICE-ID:CREDENTIAL@…) or as a bearer token";
    let Some((scheme, encoded)) = header.split_once(' ') else {
        return Err(MISSING);
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Err(MISSING);
    }
    let decoded = STANDARD
        .decode(encoded.trim())
        .ok()
        .and_then(|bytes| String::from_utf8(bytes).ok())
        .ok_or("malformed Basic credentials")?;
    let (user, credential) = decoded
        .split_once(':')
        .ok_or("malformed Basic credentials")?;
    match credential.split_once('.') {
        Some((device_id, _)) if device_id == user => Ok(credential.to_owned()),
        _ => Err("the user name must be the device id and the password its credential"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(text: &str) -> String {
        format!("Basic {}", STANDARD.encode(text))
    }

    #[test]
    fn basic_credentials_are_the_device_id_and_its_credential() {
        assert_eq!(
            basic_credential(&basic("dev-1:dev-1.secret")),
            Ok("dev-1.secret".to_owned())
        );
        assert_eq!(
            basic_credential(&basic("dev-1:dev-1.secret:with:colons")),
            Ok("dev-1.secret:with:colons".to_owned()),
            "the password is everything after the first colon"
        );
        assert!(basic_credential(&basic("dev-2:dev-1.secret")).is_err());
        assert!(basic_credential(&basic("dev-1:secret")).is_err());
        assert!(basic_credential(&basic("no colon")).is_err());
        assert!(basic_credential("Basic !!!").is_err());
        assert!(basic_credential("Digest abc").is_err());
        assert!(basic_credential("").is_err());
    }
}
