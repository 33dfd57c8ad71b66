//! HTTP(S): one GET, judged by its status, a keyword in the body, a value in a JSON body
//! (a JSON Pointer, RFC 6901), its latency, and for https the server's certificate (trusted
//! for the name, and how soon it expires).

use std::time::Instant;

use serde::{Deserialize, Serialize};
use steward_core::alerting::CheckStatus;

use crate::judged::{Findings, Judged};
use crate::roots;
use crate::tls;

/// At most this much of a body is read when looking for a keyword or a JSON value.
const MAX_BODY_BYTES: usize = 1024 * 1024;
/// At most this long a keyword, a JSON Pointer or an expected value (as JSON).
const MAX_EXPECTATION_BYTES: usize = 1024;

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Http {
    pub url: String,
    /// The status expected; any 2xx or 3xx when not given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_status: Option<u16>,
    /// Text the body must contain.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keyword: Option<String>,
    /// Where in a JSON body to look (RFC 6901: "/status", "/checks/0/ok"); the value
    /// must exist, and equal `json_value` when that is given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json_pointer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub json_value: Option<serde_json::Value>,
    /// Slower than this (to the response's headers) is a warning…
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warn_ms: Option<u64>,
    /// …and slower than this is critical.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub critical_ms: Option<u64>,
    /// For https: a certificate expiring within this many days is a warning…
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_warn_days: Option<u32>,
    /// …and within this many days critical.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_critical_days: Option<u32>,
    /// For https: an extra CA to trust (PEM), for an internal CA.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_pem: Option<String>,
}

impl Http {
    pub(crate) fn check(&self) -> Result<(), String> {
        let url = reqwest::Url::parse(&self.url).map_err(|_| {
            if self.url.len() > 200 {
                "url is not a URL".to_string()
            } else {
                format!("url is not a URL: {:?}", self.url)
            }
        })?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(format!(
                "url must be http:// or https://, not {}://",
                url.scheme()
            ));
        }
        if url.host_str().is_none_or(str::is_empty) {
            return Err("url has no host".into());
        }
        if self.url.len() > 2048 {
            return Err("url is at most 2048 characters".into());
        }
        if let Some(code) = self.expect_status
            && !(100..=599).contains(&code)
        {
            return Err(format!("expect_status is 100 to 599, not {code}"));
        }
        if let Some(word) = &self.keyword
            && (word.is_empty() || !crate::plain_text(word, MAX_EXPECTATION_BYTES))
        {
            return Err(format!(
                "keyword is 1 to {MAX_EXPECTATION_BYTES} bytes of text without control characters"
            ));
        }
        match (&self.json_pointer, &self.json_value) {
            (None, Some(_)) => return Err("json_value needs json_pointer (where to look)".into()),
            (Some(pointer), _) if !pointer.is_empty() && !pointer.starts_with('/') => {
                return Err(format!(
                    "json_pointer is a JSON Pointer (RFC 6901) such as \"/status\", not {pointer:?}"
                ));
            }
            (Some(pointer), _) if !crate::plain_text(pointer, MAX_EXPECTATION_BYTES) => {
                return Err(format!(
                    "json_pointer is at most {MAX_EXPECTATION_BYTES} bytes of text"
                ));
            }
            _ => {}
        }
        if let Some(value) = &self.json_value
            && value.to_string().len() > MAX_EXPECTATION_BYTES
        {
            return Err(format!(
                "json_value is at most {MAX_EXPECTATION_BYTES} bytes as JSON"
            ));
        }
        for (field, ms) in [("warn_ms", self.warn_ms), ("critical_ms", self.critical_ms)] {
            if ms.is_some_and(|ms| ms == 0 || ms > 600_000) {
                return Err(format!("{field} is 1 to 600000 (milliseconds)"));
            }
        }
        if let (Some(w), Some(c)) = (self.warn_ms, self.critical_ms)
            && w > c
        {
            return Err(format!("warn_ms ({w}) must be at most critical_ms ({c})"));
        }
        tls::check_days(self.cert_warn_days, self.cert_critical_days, "cert_")?;
        let tls_settings = self.cert_warn_days.is_some()
            || self.cert_critical_days.is_some()
            || self.ca_pem.is_some();
        if tls_settings && url.scheme() != "https" {
            return Err(
                "cert_warn_days, cert_critical_days and ca_pem are for https:// URLs".into(),
            );
        }
        if let Some(pem) = &self.ca_pem {
            roots::parse_pem(pem)?;
        }
        Ok(())
    }
}

pub(crate) async fn look(p: &Http, shared: &reqwest::Client) -> Judged {
    let Ok(url) = reqwest::Url::parse(&p.url) else {
        return Judged::unknown(format!("not a URL: {}", p.url));
    };
    let certificate = if url.scheme() == "https" {
        match certificate(p, &url).await {
            Ok(judged) => Some(judged),
            Err(stop) => return stop,
        }
    } else {
        None
    };
    // An extra CA must be trusted by the request too: a client of its own for this look,
    // built on rustls with the same roots as the inspection.
    let own_client;
    let client = match &p.ca_pem {
        None => shared,
        Some(pem) => match client_trusting(pem) {
            Ok(c) => {
                own_client = c;
                &own_client
            }
            Err(e) => return Judged::unknown(e),
        },
    };

    let started = Instant::now();
    let response = match client.get(url).send().await {
        Ok(r) => r,
        Err(e) => return Judged::critical(describe(&e)),
    };
    let ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
    let code = response.status().as_u16();
    let mut findings = Findings::new(Judged::ok(format!("HTTP {code} in {ms} ms")));
    let status_ok = match p.expect_status {
        Some(expected) => code == expected,
        None => (200..400).contains(&code),
    };
    if !status_ok {
        findings.add(Judged::critical(match p.expect_status {
            Some(expected) => format!("expected {expected}"),
            None => "not 2xx or 3xx".to_string(),
        }));
    }
    if let Some(slow) = latency(ms, p.warn_ms, p.critical_ms) {
        findings.add(slow);
    }
    if status_ok && (p.keyword.is_some() || p.json_pointer.is_some()) {
        let body = read_capped(response).await;
        if let Some(word) = &p.keyword
            && !String::from_utf8_lossy(&body).contains(word.as_str())
        {
            findings.add(Judged::critical(format!("without {word:?}")));
        }
        if let Some(pointer) = &p.json_pointer {
            let found = json_finding(&body, pointer, p.json_value.as_ref());
            if found.status != CheckStatus::Ok {
                findings.add(found);
            }
        }
    }
    // The certificate's expiry is said whenever it is watched ("…, certificate for shop
    // expires in 40 days"); other findings only when they are a problem.
    let watched = p.cert_warn_days.is_some() || p.cert_critical_days.is_some();
    if let Some(certificate) = certificate
        && (watched || certificate.status != CheckStatus::Ok)
    {
        findings.add(certificate);
    }
    findings.done()
}

/// The https certificate's verdict: `Err` when it stops the look (no handshake, an
/// untrusted certificate: the request would fail the same way), otherwise its expiry as
/// judged against the probe's thresholds.
async fn certificate(p: &Http, url: &reqwest::Url) -> Result<Judged, Judged> {
    // An IPv6 address is written in brackets in a URL, and without them as a server name.
    let Some(host) = url
        .host_str()
        .map(|h| h.trim_start_matches('[').trim_end_matches(']'))
    else {
        return Err(Judged::unknown("url has no host"));
    };
    let port = url.port_or_known_default().unwrap_or(443);
    let seen = tls::inspect(host, port, host, p.ca_pem.as_deref()).await?;
    tls::judge(host, seen, p.cert_warn_days, p.cert_critical_days)
}

/// A client like the shared one that also trusts `ca_pem`.
fn client_trusting(ca_pem: &str) -> Result<reqwest::Client, String> {
    let provider = rustls::crypto::CryptoProvider::get_default()
        .cloned()
        .ok_or("no TLS crypto provider is installed in this process")?;
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("cannot configure TLS: {e}"))?
        .with_root_certificates(roots::trusted(Some(ca_pem))?)
        .with_no_client_auth();
    crate::client_builder()
        .tls_backend_preconfigured(config)
        .build()
        .map_err(|e| format!("cannot build an HTTP client: {e}"))
}

/// Slower than a threshold: how much.
fn latency(ms: u64, warn_ms: Option<u64>, critical_ms: Option<u64>) -> Option<Judged> {
    if let Some(limit) = critical_ms
        && ms > limit
    {
        return Some(Judged::critical(format!("slower than {limit} ms")));
    }
    if let Some(limit) = warn_ms
        && ms > limit
    {
        return Some(Judged::new(
            CheckStatus::Warning,
            format!("slower than {limit} ms"),
        ));
    }
    None
}

/// The value at `pointer` in a JSON body, against what is expected.
fn json_finding(body: &[u8], pointer: &str, expected: Option<&serde_json::Value>) -> Judged {
    let Ok(document) = serde_json::from_slice::<serde_json::Value>(body) else {
        return Judged::critical("body is not JSON");
    };
    let Some(found) = document.pointer(pointer) else {
        return Judged::critical(format!("no {pointer} in the JSON"));
    };
    match expected {
        Some(expected) if !same_json(found, expected) => Judged::critical(format!(
            "{pointer} is {}, not {expected}",
            shorten(&found.to_string())
        )),
        _ => Judged::ok(format!("{pointer} is {}", shorten(&found.to_string()))),
    }
}

/// Equal JSON values, numbers by value (1 and 1.0 are the same: a config file's `1` may be
/// read as either).
fn same_json(a: &serde_json::Value, b: &serde_json::Value) -> bool {
    match (a, b) {
        (serde_json::Value::Number(x), serde_json::Value::Number(y)) => {
            x == y || x.as_f64().is_some_and(|x| y.as_f64() == Some(x))
        }
        _ => a == b,
    }
}

/// At most 80 characters of a value for a summary.
fn shorten(text: &str) -> String {
    match text.char_indices().nth(80) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

async fn read_capped(mut response: reqwest::Response) -> Vec<u8> {
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = response.chunk().await {
        body.extend_from_slice(&chunk);
        if body.len() >= MAX_BODY_BYTES {
            body.truncate(MAX_BODY_BYTES);
            break;
        }
    }
    body
}

/// A request error as a person reads it (the innermost cause, which names what failed).
fn describe(e: &reqwest::Error) -> String {
    let mut cause: &dyn std::error::Error = e;
    while let Some(next) = cause.source() {
        cause = next;
    }
    if e.is_connect() {
        format!("cannot connect: {cause}")
    } else if e.is_timeout() {
        "timed out".to_string()
    } else {
        cause.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_values_are_found_by_pointer_and_compared() {
        let body = br#"{"status":"ok","checks":[{"ok":true}],"load":1.0}"#;
        let found = |p: &str, v: Option<serde_json::Value>| json_finding(body, p, v.as_ref());
        assert_eq!(found("/status", Some("ok".into())).status, CheckStatus::Ok);
        assert_eq!(
            found("/checks/0/ok", Some(true.into())).status,
            CheckStatus::Ok
        );
        assert_eq!(found("/load", Some(1.into())).status, CheckStatus::Ok);
        let wrong = found("/status", Some("down".into()));
        assert_eq!(wrong.status, CheckStatus::Critical);
        assert_eq!(wrong.summary, r#"/status is "ok", not "down""#);
        assert_eq!(found("/missing", None).summary, "no /missing in the JSON");
        assert_eq!(
            json_finding(b"<html>", "/status", None).summary,
            "body is not JSON"
        );
    }

    #[test]
    fn latency_over_a_threshold_is_a_warning_or_critical() {
        assert_eq!(latency(100, Some(200), Some(500)), None);
        assert_eq!(
            latency(300, Some(200), Some(500)).map(|j| j.status),
            Some(CheckStatus::Warning)
        );
        assert_eq!(
            latency(600, Some(200), Some(500)).map(|j| j.summary),
            Some("slower than 500 ms".into())
        );
    }
}
