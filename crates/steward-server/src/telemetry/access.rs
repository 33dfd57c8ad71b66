//! Who may read `/metrics`: a scraper, never a person's session or API token.
//!
//! Two guards, configured with `metrics_token` (or `metrics_token_file`) and
//! `metrics_allow`; each one configured must pass:
//! - **addresses**: the client (after trusted proxies, see `net::origin`) must be in one of
//!   the `metrics_allow` networks;
//! - **token**: the request must carry `Authorization: Bearer <metrics_token>`, compared in
//!   constant time.
//!
//! With neither configured, only loopback clients may read it: metrics say how busy the
//! server is and which routes exist, which is nobody else's business by default, and a
//! Prometheus on the same machine needs no setup. With a token alone, any address holding
//! the token may.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use ipnet::IpNet;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::error::AppError;
use crate::state::AppState;

/// The bearer token that opens `/metrics`. Kept as its SHA-256 so that comparison takes
/// the same time whatever the length of what is presented; never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct MetricsToken([u8; 32]);

impl MetricsToken {
    /// Refuses tokens too short to resist guessing (a scraper presents it on every scrape,
    /// and nothing throttles wrong ones).
    pub fn new(token: &str) -> Result<Self, String> {
        if token.chars().count() < 16 {
            return Err("metrics_token must be at least 16 characters".into());
        }
        if token.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("metrics_token must not contain spaces or control characters".into());
        }
        Ok(Self(Sha256::digest(token.as_bytes()).into()))
    }

    fn matches(&self, presented: &str) -> bool {
        let presented: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        bool::from(self.0.ct_eq(&presented))
    }
}

impl std::fmt::Debug for MetricsToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MetricsToken(redacted)")
    }
}

/// The configured guards of `/metrics`; see the module documentation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MetricsAccess {
    pub token: Option<MetricsToken>,
    /// Networks whose clients may read; empty means "any" when a token is set and
    /// "loopback only" when not.
    pub allow: Vec<IpNet>,
}

/// The loopback networks, the default audience.
fn loopback() -> [IpNet; 2] {
    [
        IpNet::V4(ipnet::Ipv4Net::new_assert(std::net::Ipv4Addr::LOCALHOST, 8)),
        IpNet::V6(ipnet::Ipv6Net::new_assert(
            std::net::Ipv6Addr::LOCALHOST,
            128,
        )),
    ]
}

/// Why a request may not read the metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The client's address is not in the allowed networks (403).
    Address,
    /// The token is missing or wrong (401).
    Token,
}

impl MetricsAccess {
    /// Whether a client at `client` presenting `bearer` may read the metrics.
    pub fn decide(&self, client: std::net::IpAddr, bearer: Option<&str>) -> Result<(), Refused> {
        let client = client.to_canonical();
        let allowed = match (&self.token, self.allow.is_empty()) {
            (_, false) => self.allow.iter().any(|net| net.contains(&client)),
            (Some(_), true) => true,
            (None, true) => loopback().iter().any(|net| net.contains(&client)),
        };
        if !allowed {
            return Err(Refused::Address);
        }
        match &self.token {
            None => Ok(()),
            Some(token) if bearer.is_some_and(|b| token.matches(b)) => Ok(()),
            Some(_) => Err(Refused::Token),
        }
    }
}

/// A request allowed to read the metrics (the extractor of `GET /metrics`).
#[derive(Debug, Clone, Copy)]
pub struct Scraper;

impl FromRequestParts<AppState> for Scraper {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let origin = crate::net::origin::origin_of(parts).ok_or_else(|| {
            AppError::internal("request origin missing: edge layer not installed").into_response()
        })?;
        let bearer = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim);
        match state.config.metrics.decide(origin.client.ip(), bearer) {
            Ok(()) => Ok(Scraper),
            Err(Refused::Address) => Err(AppError::forbidden(
                "this address may not read the metrics (see metrics_allow)",
            )
            .into_response()),
            Err(Refused::Token) => {
                let mut response =
                    AppError::unauthorized("the metrics need the bearer token (metrics_token)")
                        .into_response();
                response.headers_mut().insert(
                    header::WWW_AUTHENTICATE,
                    HeaderValue::from_static("Bearer realm=\"metrics\""),
                );
                Err(response)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    fn ip(s: &str) -> std::net::IpAddr {
        s.parse().unwrap()
    }

    fn token(s: &str) -> MetricsToken {
        MetricsToken::new(s).unwrap()
    }

    #[test]
    fn nothing_configured_means_loopback_only() {
        let open = MetricsAccess::default();
        assert_eq!(open.decide(ip("127.0.0.1"), None), Ok(()));
        assert_eq!(open.decide(ip("127.8.9.10"), None), Ok(()));
        assert_eq!(open.decide(ip("::1"), None), Ok(()));
        assert_eq!(open.decide(ip("::ffff:127.0.0.1"), None), Ok(()));
        assert_eq!(open.decide(ip("10.0.0.1"), None), Err(Refused::Address));
        assert_eq!(open.decide(ip("::2"), None), Err(Refused::Address));
    }

    #[test]
    fn a_token_alone_opens_every_address_to_its_holder() {
        let access = MetricsAccess {
            token: Some(token("0123456789abcdef-scrape")),
            allow: Vec::new(),
        };
        assert_eq!(
            access.decide(ip("203.0.113.9"), Some("0123456789abcdef-scrape")),
            Ok(())
        );
        assert_eq!(access.decide(ip("127.0.0.1"), None), Err(Refused::Token));
        assert_eq!(
            access.decide(ip("127.0.0.1"), Some("0123456789abcdef-scrapE")),
            Err(Refused::Token)
        );
        assert_eq!(
            access.decide(ip("127.0.0.1"), Some("0123456789abcdef-scrape-and-more")),
            Err(Refused::Token)
        );
    }

    #[test]
    fn listed_networks_replace_loopback_and_both_guards_must_pass() {
        let listed = MetricsAccess {
            token: None,
            allow: vec!["10.1.0.0/16".parse().unwrap()],
        };
        assert_eq!(listed.decide(ip("10.1.200.3"), None), Ok(()));
        assert_eq!(listed.decide(ip("127.0.0.1"), None), Err(Refused::Address));
        let both = MetricsAccess {
            token: Some(token("0123456789abcdef-scrape")),
            ..listed
        };
        assert_eq!(both.decide(ip("10.1.200.3"), None), Err(Refused::Token));
        assert_eq!(
            both.decide(ip("10.2.0.1"), Some("0123456789abcdef-scrape")),
            Err(Refused::Address)
        );
        assert_eq!(
            both.decide(ip("10.1.0.1"), Some("0123456789abcdef-scrape")),
            Ok(())
        );
    }

    #[test]
    fn weak_tokens_are_refused_and_none_is_ever_printed() {
        assert!(MetricsToken::new("short").is_err());
        assert!(MetricsToken::new("0123456789abcdef with space").is_err());
        let t = token("0123456789abcdef-secret");
        assert!(!format!("{t:?}").contains("secret"));
        let access = MetricsAccess {
            token: Some(t),
            allow: Vec::new(),
        };
        assert!(!format!("{access:?}").contains("secret"));
    }
}
