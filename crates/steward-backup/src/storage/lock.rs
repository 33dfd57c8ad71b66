//! A bucket's Object Lock rule, read with one signed `GET /BUCKET?object-lock` (opendal has
//! no call for it; reqsign, which opendal signs with, signs this one too).
//!
//! What it means for backups: with Object Lock on and a default retention, every object the
//! server writes is locked for that long — a delete only hides it behind a delete marker
//! and the version stays, in compliance mode even against the bucket's owner. Without a
//! default retention, Object Lock locks nothing Steward writes.

use std::time::Duration;

use reqsign_aws_v4::{RequestSigner, StaticCredentialProvider};
use reqsign_core::{Context, Signer};
use serde::Deserialize;

use super::{S3Config, StorageError};

/// What a bucket's Object Lock does to the objects written into it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum ObjectLock {
    /// Every new object is locked: `mode` is `COMPLIANCE` (no one can shorten it) or
    /// `GOVERNANCE` (a user with a bypass permission can), for `days`.
    Locked { mode: String, days: u32 },
    /// Object Lock is on but has no default retention: new objects are not locked.
    NoDefaultRetention,
    /// The bucket has no Object Lock.
    Off,
}

impl ObjectLock {
    /// For people: `compliance, 30 days`.
    pub fn describe(&self) -> String {
        match self {
            Self::Locked { mode, days } => format!(
                "{}, {days} day{}",
                mode.to_lowercase(),
                if *days == 1 { "" } else { "s" }
            ),
            Self::NoDefaultRetention => {
                "on, but without a default retention: nothing is locked".into()
            }
            Self::Off => "off".into(),
        }
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Configuration {
    object_lock_enabled: Option<String>,
    rule: Option<Rule>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Rule {
    default_retention: Option<Retention>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Retention {
    mode: Option<String>,
    days: Option<u32>,
    years: Option<u32>,
}

/// An answer this long is not an Object Lock configuration.
const MAX_ANSWER_BYTES: usize = 64 * 1024;

pub(super) async fn read(
    client: &reqwest::Client,
    config: &S3Config,
) -> Result<ObjectLock, StorageError> {
    let url = format!(
        "{}/{}?object-lock",
        config.endpoint.trim_end_matches('/'),
        config.bucket
    );
    let failed =
        |what: String| StorageError::Io(format!("reading the bucket's Object Lock: {what}"));
    let (mut parts, ()) = http::Request::get(&url)
        .body(())
        .map_err(|e| failed(e.to_string()))?
        .into_parts();
    let signer = Signer::new(
        Context::new(),
        StaticCredentialProvider::new(&config.access_key_id, &config.secret_access_key),
        RequestSigner::new("s3", &config.region),
    );
    signer
        .sign(&mut parts, None)
        .await
        .map_err(|e| failed(format!("signing: {e}")))?;
    let answer = client
        .get(parts.uri.to_string())
        .headers(parts.headers)
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .map_err(|e| failed(e.to_string()))?;
    let status = answer.status();
    let mut answer = answer;
    let mut body = Vec::new();
    while let Some(chunk) = answer.chunk().await.map_err(|e| failed(e.to_string()))? {
        if body.len() + chunk.len() > MAX_ANSWER_BYTES {
            return Err(failed(format!(
                "an answer longer than {MAX_ANSWER_BYTES} bytes"
            )));
        }
        body.extend_from_slice(&chunk);
    }
    let text = String::from_utf8_lossy(&body);
    if status.as_u16() == 404 && text.contains("ObjectLockConfigurationNotFound") {
        return Ok(ObjectLock::Off);
    }
    if !status.is_success() {
        let code = text
            .split("<Code>")
            .nth(1)
            .and_then(|rest| rest.split("</Code>").next())
            .unwrap_or("no error code");
        return Err(failed(format!("the bucket answered {status} ({code})")));
    }
    parse(&text).map_err(failed)
}

fn parse(xml: &str) -> Result<ObjectLock, String> {
    let configuration: Configuration = quick_xml::de::from_str(xml)
        .map_err(|e| format!("not an Object Lock configuration: {e}"))?;
    if configuration.object_lock_enabled.as_deref() != Some("Enabled") {
        return Ok(ObjectLock::Off);
    }
    let Some(retention) = configuration.rule.and_then(|r| r.default_retention) else {
        return Ok(ObjectLock::NoDefaultRetention);
    };
    let days = retention
        .days
        .or(retention.years.map(|y| y.saturating_mul(365)))
        .unwrap_or(0);
    match retention.mode {
        Some(mode) if days > 0 => Ok(ObjectLock::Locked { mode, days }),
        _ => Ok(ObjectLock::NoDefaultRetention),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_default_retention_locks_new_objects() {
        let xml = r#"<?xml version="1.0" encoding="UTF-8"?>
<ObjectLockConfiguration xmlns="http://s3.amazonaws.com/doc/2006-03-01/">
  <ObjectLockEnabled>Enabled</ObjectLockEnabled>
  <Rule><DefaultRetention><Mode>COMPLIANCE</Mode><Days>30</Days></DefaultRetention></Rule>
</ObjectLockConfiguration>"#;
        assert_eq!(
            parse(xml),
            Ok(ObjectLock::Locked {
                mode: "COMPLIANCE".into(),
                days: 30
            })
        );
        let years = xml.replace("<Days>30</Days>", "<Years>1</Years>");
        assert_eq!(
            parse(&years),
            Ok(ObjectLock::Locked {
                mode: "COMPLIANCE".into(),
                days: 365
            })
        );
    }

    #[test]
    fn object_lock_without_a_rule_locks_nothing() {
        let xml = "<ObjectLockConfiguration><ObjectLockEnabled>Enabled</ObjectLockEnabled></ObjectLockConfiguration>";
        assert_eq!(parse(xml), Ok(ObjectLock::NoDefaultRetention));
        assert_eq!(parse("<ObjectLockConfiguration/>"), Ok(ObjectLock::Off));
        assert!(parse("<html>a proxy's error page").is_err());
    }
}
