//! Who sent a request and how it reached us, decided once per request by [`edge`]:
//!
//! - the client's address: the TCP peer, unless the peer is a configured trusted proxy, in
//!   which case the proxy's `Forwarded` / `X-Forwarded-For` header names it (a header from
//!   anyone else is ignored — it would let a client pick the address it is throttled and
//!   audited under);
//! - whether the browser is on HTTPS (our own TLS, `secure_cookies`, or a trusted proxy's
//!   `X-Forwarded-Proto: https`), which makes every cookie `Secure`;
//! - whether the `Host` is one of our names: a page on another site whose name was rebound
//!   to our address (DNS rebinding against a loopback `steward up`) gets 421.
//!
//! Handlers take the address with the [`ClientAddr`] extractor, never `ConnectInfo`.

use std::net::{IpAddr, SocketAddr};

use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use ipnet::IpNet;

use crate::error::AppError;
use crate::state::AppState;

/// Answers whatever name it was reached by: load balancers and monitors probe it by address.
const HEALTH_PATH: &str = "/api/v1/health";

/// How a request reached us; in the request's extensions after [`edge`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestOrigin {
    /// The client: the TCP peer, or the address a trusted proxy forwarded for. From a proxy
    /// header the port is 0 (proxies rarely say it).
    pub client: SocketAddr,
    /// The browser speaks HTTPS to us or to our trusted proxy.
    pub https: bool,
}

/// The client's address (see [`RequestOrigin::client`]): for throttling and audit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientAddr(pub SocketAddr);

impl<S: Send + Sync> FromRequestParts<S> for RequestOrigin {
    type Rejection = AppError;
    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, AppError> {
        origin_of(parts)
            .ok_or_else(|| AppError::internal("request origin missing: edge layer not installed"))
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = AppError;
    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, AppError> {
        let origin = RequestOrigin::from_request_parts(parts, state).await?;
        Ok(ClientAddr(origin.client))
    }
}

/// The origin [`edge`] decided for this request.
pub fn origin_of(parts: &Parts) -> Option<RequestOrigin> {
    parts.extensions.get::<RequestOrigin>().copied()
}

/// The middleware every route runs behind: Host check, origin, and the headers every answer
/// carries (`nosniff`; `Secure` on cookies over HTTPS).
pub async fn edge(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let peer = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or(SocketAddr::from(([0, 0, 0, 0], 0)), |c| c.0);
    let config = &state.config;
    let origin = resolve(
        peer,
        request.headers(),
        &config.trusted_proxies,
        config.secure_cookies,
    );
    if request.uri().path() != HEALTH_PATH
        && let Err(refusal) = check_host(&request, &config.host_names)
    {
        return refusal.respond(request.uri().path());
    }
    request.extensions_mut().insert(origin);
    let mut response = next.run(request).await;
    let headers = response.headers_mut();
    headers
        .entry(header::X_CONTENT_TYPE_OPTIONS)
        .or_insert(HeaderValue::from_static("nosniff"));
    if origin.https {
        mark_cookies_secure(headers);
    }
    response
}

/// The rule for [`RequestOrigin`]. `served_https`: the connection itself is HTTPS (or the
/// configuration says browsers always arrive over HTTPS).
pub fn resolve(
    peer: SocketAddr,
    headers: &HeaderMap,
    trusted: &[IpNet],
    served_https: bool,
) -> RequestOrigin {
    let direct = RequestOrigin {
        client: peer,
        https: served_https,
    };
    if !is_trusted(peer.ip(), trusted) {
        return direct;
    }
    let forwarded = forwarded_chain(headers);
    // Walk back from the hop nearest to us; the first address not ours is the client. An
    // entry we cannot read ends the walk: we cannot tell who is behind it.
    let mut client = peer.ip();
    for hop in forwarded.iter().rev() {
        match hop {
            Some(ip) => {
                client = *ip;
                if !is_trusted(*ip, trusted) {
                    break;
                }
            }
            None => break,
        }
    }
    RequestOrigin {
        client: SocketAddr::new(client, if client == peer.ip() { peer.port() } else { 0 }),
        https: served_https || forwarded_https(headers),
    }
}

fn is_trusted(ip: IpAddr, trusted: &[IpNet]) -> bool {
    let ip = ip.to_canonical();
    trusted.iter().any(|net| net.contains(&ip))
}

/// The addresses in `X-Forwarded-For` or, without it, `Forwarded` (RFC 7239), oldest
/// first; `None` for an entry that is not an address (`unknown`, an obfuscated name, an
/// element without `for=`). `X-Forwarded-For` comes first because it is what nginx, HAProxy,
/// Caddy and Traefik add to by default, while they pass a client's own `Forwarded` header
/// through untouched: believing `Forwarded` first would let any client name its address.
fn forwarded_chain(headers: &HeaderMap) -> Vec<Option<IpAddr>> {
    let xff = header_values(headers, "x-forwarded-for");
    if !xff.is_empty() {
        return xff
            .iter()
            .flat_map(|v| v.split(','))
            .map(|node| parse_node(node.trim()))
            .collect();
    }
    header_values(headers, header::FORWARDED.as_str())
        .iter()
        .flat_map(|v| v.split(','))
        .map(|element| forwarded_param(element, "for").and_then(|node| parse_node(&node)))
        .collect()
}

/// The nearest proxy's word on the scheme: the last `X-Forwarded-Proto`, else the last
/// `proto=` of `Forwarded` (the same order as the addresses).
fn forwarded_https(headers: &HeaderMap) -> bool {
    let xfp = header_values(headers, "x-forwarded-proto");
    let proto = if xfp.is_empty() {
        header_values(headers, header::FORWARDED.as_str())
            .iter()
            .flat_map(|v| v.split(','))
            .filter_map(|element| forwarded_param(element, "proto"))
            .next_back()
    } else {
        xfp.iter()
            .flat_map(|v| v.split(','))
            .next_back()
            .map(|p| p.trim().to_string())
    };
    proto.is_some_and(|p| p.eq_ignore_ascii_case("https"))
}

fn header_values<'a>(headers: &'a HeaderMap, name: &str) -> Vec<&'a str> {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect()
}

/// `key=value` from one `Forwarded` element (`for=1.2.3.4;proto=https`), unquoted.
fn forwarded_param(element: &str, key: &str) -> Option<String> {
    element.split(';').find_map(|pair| {
        let (k, v) = pair.trim().split_once('=')?;
        k.trim()
            .eq_ignore_ascii_case(key)
            .then(|| v.trim().trim_matches('"').to_string())
    })
}

/// An address as proxies write it: `1.2.3.4`, `1.2.3.4:5678`, `2001:db8::1`,
/// `[2001:db8::1]:5678`.
fn parse_node(node: &str) -> Option<IpAddr> {
    if let Ok(ip) = node.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    node.parse::<SocketAddr>()
        .ok()
        .map(|a| a.ip().to_canonical())
}

/// Appends `Secure` to every cookie that lacks it.
fn mark_cookies_secure(headers: &mut HeaderMap) {
    let cookies: Vec<HeaderValue> = headers
        .get_all(header::SET_COOKIE)
        .iter()
        .cloned()
        .collect();
    if cookies.is_empty() {
        return;
    }
    headers.remove(header::SET_COOKIE);
    for cookie in cookies {
        let text = String::from_utf8_lossy(cookie.as_bytes());
        let already = text
            .split(';')
            .any(|attr| attr.trim().eq_ignore_ascii_case("secure"));
        let value = if already {
            cookie
        } else {
            HeaderValue::from_str(&format!("{text}; Secure")).unwrap_or(cookie)
        };
        headers.append(header::SET_COOKIE, value);
    }
}

/// A request the edge refuses before any handler runs.
pub struct Refusal {
    pub status: StatusCode,
    pub title: &'static str,
    pub message: String,
}

impl Refusal {
    /// JSON for API and agent clients, a page for people.
    pub fn respond(self, path: &str) -> Response {
        if path.starts_with("/api/") || path.starts_with("/agent/") {
            use axum::response::IntoResponse;
            let code = match self.status {
                StatusCode::PAYLOAD_TOO_LARGE => "payload_too_large",
                StatusCode::MISDIRECTED_REQUEST => "misdirected_request",
                _ => "bad_request",
            };
            return AppError::new(self.status, code, self.message).into_response();
        }
        crate::console::refused_page(self.status, self.title, &self.message)
    }
}

/// The request's host name must be an IP address (a page reaching us by address is on our
/// own origin, so rebinding is not possible) or one of `names` (`*.example.com` matches one
/// label).
fn check_host(request: &Request, names: &[String]) -> Result<(), Refusal> {
    let host = request
        .uri()
        .authority()
        .map(|a| a.as_str().to_string())
        .or_else(|| {
            request
                .headers()
                .get(header::HOST)
                .and_then(|h| h.to_str().ok())
                .map(str::to_string)
        });
    let Some(host) = host else {
        return Err(Refusal {
            status: StatusCode::BAD_REQUEST,
            title: "Host missing",
            message: "the request has no Host header".to_string(),
        });
    };
    if host_allowed(&host, names) {
        return Ok(());
    }
    let shown: String = host
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(100)
        .collect();
    tracing::debug!(host = %shown, "request for a name this server does not answer to");
    Err(Refusal {
        status: StatusCode::MISDIRECTED_REQUEST,
        title: "Wrong server name",
        message: format!(
            "This server does not answer to the name {shown:?}. If that name is this server's, \
             add it to public_names in the server's configuration."
        ),
    })
}

/// See [`check_host`]. `host` is a Host header value (name or address, optional port).
pub fn host_allowed(host: &str, names: &[String]) -> bool {
    let name = host_name(host);
    if name.is_empty() {
        return false;
    }
    if name
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
        .is_ok()
    {
        return true;
    }
    let name = name.trim_end_matches('.').to_ascii_lowercase();
    names.iter().any(|allowed| {
        let allowed = allowed.trim_end_matches('.').to_ascii_lowercase();
        match allowed.strip_prefix("*.") {
            Some(parent) => name
                .split_once('.')
                .is_some_and(|(label, rest)| !label.is_empty() && rest == parent),
            None => name == allowed,
        }
    })
}

/// The name part of a Host value: `[::1]:8080` → `[::1]`, `example.com:443` → `example.com`.
fn host_name(host: &str) -> &str {
    let host = host.trim();
    if host.starts_with('[') {
        return host.find(']').map_or(host, |end| &host[..=end]);
    }
    match host.rsplit_once(':') {
        Some((name, port)) if port.chars().all(|c| c.is_ascii_digit()) => name,
        _ => host,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nets(list: &[&str]) -> Vec<IpNet> {
        list.iter().map(|s| s.parse().unwrap()).collect()
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    #[test]
    fn a_clients_own_forwarded_header_does_not_beat_the_proxys_x_forwarded_for() {
        // nginx appends the peer to X-Forwarded-For and passes the client's Forwarded on.
        let proxy: SocketAddr = "10.0.0.5:40000".parse().unwrap();
        let trusted = nets(&["10.0.0.0/24"]);
        let h = headers(&[
            ("forwarded", "for=192.0.2.200"),
            ("x-forwarded-for", "198.51.100.7"),
        ]);
        assert_eq!(
            resolve(proxy, &h, &trusted, false).client.ip(),
            "198.51.100.7".parse::<IpAddr>().unwrap()
        );
        // An element without for= is unreadable: the walk stops at the proxy, it does not
        // skip to an older (forgeable) entry.
        let h = headers(&[("forwarded", "for=192.0.2.200, proto=https")]);
        assert_eq!(resolve(proxy, &h, &trusted, false).client, proxy);
    }

    #[test]
    fn proxy_headers_count_only_from_trusted_peers() {
        let proxy: SocketAddr = "10.0.0.5:40000".parse().unwrap();
        let trusted = nets(&["10.0.0.0/24"]);
        let h = headers(&[
            ("x-forwarded-for", "203.0.113.9, 198.51.100.7"),
            ("x-forwarded-proto", "https"),
        ]);
        // From anyone else the header is the client's own claim: ignored.
        let stranger: SocketAddr = "192.0.2.1:5000".parse().unwrap();
        assert_eq!(
            resolve(stranger, &h, &trusted, false),
            RequestOrigin {
                client: stranger,
                https: false
            }
        );
        // From the proxy: the nearest untrusted hop (the leftmost entry is the client's
        // own, forgeable claim).
        let o = resolve(proxy, &h, &trusted, false);
        assert_eq!(o.client, "198.51.100.7:0".parse().unwrap());
        assert!(o.https);
        // A chain of trusted proxies is walked through.
        let h = headers(&[("x-forwarded-for", "203.0.113.9, 10.0.0.7")]);
        assert_eq!(
            resolve(proxy, &h, &trusted, false).client.ip(),
            "203.0.113.9".parse::<IpAddr>().unwrap()
        );
        // No header: the proxy itself.
        assert_eq!(
            resolve(proxy, &HeaderMap::new(), &trusted, false).client,
            proxy
        );
    }

    #[test]
    fn forwarded_header_is_understood() {
        let proxy: SocketAddr = "127.0.0.1:1".parse().unwrap();
        let trusted = nets(&["127.0.0.1/32"]);
        let h = headers(&[(
            "forwarded",
            "for=192.0.2.60;proto=http, for=\"[2001:db8::17]:4711\";proto=https",
        )]);
        let o = resolve(proxy, &h, &trusted, false);
        assert_eq!(o.client.ip(), "2001:db8::17".parse::<IpAddr>().unwrap());
        assert!(o.https);
        let h = headers(&[("forwarded", "for=unknown")]);
        assert_eq!(resolve(proxy, &h, &trusted, false).client, proxy);
    }

    #[test]
    fn host_must_be_an_address_or_one_of_our_names() {
        let names = vec!["localhost".to_string(), "*.corp.example".to_string()];
        for ok in [
            "127.0.0.1:8080",
            "[::1]:8080",
            "[::1]",
            "192.0.2.4",
            "localhost:8080",
            "LOCALHOST.",
            "steward.corp.example:443",
        ] {
            assert!(host_allowed(ok, &names), "{ok}");
        }
        for bad in [
            "evil.example:8080",
            "corp.example",
            "a.b.corp.example",
            "localhost.evil.example",
            "",
            ":8080",
        ] {
            assert!(!host_allowed(bad, &names), "{bad}");
        }
    }

    #[test]
    fn cookies_become_secure_once() {
        let mut h = headers(&[
            ("set-cookie", "a=1; Path=/; HttpOnly"),
            ("set-cookie", "b=2; Path=/; Secure"),
        ]);
        mark_cookies_secure(&mut h);
        let all: Vec<_> = h.get_all("set-cookie").iter().collect();
        assert_eq!(all[0], "a=1; Path=/; HttpOnly; Secure");
        assert_eq!(all[1], "b=2; Path=/; Secure");
    }
}
