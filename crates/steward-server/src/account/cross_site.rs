//! Login CSRF: another site must not be able to sign a visitor's browser in to an account of
//! the attacker's choosing (whatever they then do in the console is seen by the attacker).
//! Browsers say where a form post comes from (`Origin`, `Sec-Fetch-Site`); a post to the
//! sign-in forms from anywhere but this site is refused. Requests without those headers
//! (curl, scripts, old browsers) are not from a browser tricked by a page, and pass.

use axum::http::header::{HOST, ORIGIN};
use axum::http::request::Parts;

/// Whether the request says it comes from another site.
pub fn refused(parts: &Parts) -> bool {
    let header = |name: &str| {
        parts
            .headers
            .get(name)
            .map(|v| v.to_str().unwrap_or("invalid").trim().to_ascii_lowercase())
    };
    if header("sec-fetch-site").as_deref() == Some("cross-site") {
        return true;
    }
    let Some(origin) = header(ORIGIN.as_str()) else {
        return false;
    };
    let host = header(HOST.as_str()).or_else(|| {
        parts
            .uri
            .authority()
            .map(|a| a.as_str().to_ascii_lowercase())
    });
    match (origin_authority(&origin), host) {
        (Some((scheme, authority)), Some(host)) => {
            without_default_port(scheme, &authority) != without_default_port(scheme, &host)
        }
        // `Origin: null` (sandboxed frames, some redirects) or no Host to compare with.
        _ => true,
    }
}

/// `https://example.com:8443` → (`https`, `example.com:8443`).
fn origin_authority(origin: &str) -> Option<(&str, String)> {
    let (scheme, rest) = origin.split_once("://")?;
    Some((scheme, rest.trim_end_matches('/').to_string()))
}

fn without_default_port<'a>(scheme: &str, authority: &'a str) -> &'a str {
    let default = match scheme {
        "https" => ":443",
        _ => ":80",
    };
    authority.strip_suffix(default).unwrap_or(authority)
}

#[cfg(test)]
mod tests {
    use super::refused;
    use axum::http::Request;

    fn parts(headers: &[(&str, &str)]) -> axum::http::request::Parts {
        let mut req = Request::post("/login");
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        req.body(()).unwrap().into_parts().0
    }

    #[test]
    fn only_posts_from_this_site_or_without_browser_headers_pass() {
        let host = ("host", "steward.example:8443");
        assert!(!refused(&parts(&[host])), "curl sends neither header");
        assert!(!refused(&parts(&[
            host,
            ("origin", "https://steward.example:8443")
        ])));
        assert!(!refused(&parts(&[
            ("host", "steward.example"),
            ("origin", "https://steward.example"),
            ("sec-fetch-site", "same-origin")
        ])));
        assert!(!refused(&parts(&[
            ("host", "127.0.0.1"),
            ("origin", "http://127.0.0.1:80")
        ])));
        assert!(refused(&parts(&[host, ("origin", "https://evil.example")])));
        assert!(refused(&parts(&[
            host,
            ("origin", "https://steward.example:9000")
        ])));
        assert!(refused(&parts(&[host, ("origin", "null")])));
        assert!(refused(&parts(&[host, ("sec-fetch-site", "cross-site")])));
        assert!(
            !refused(&parts(&[host, ("sec-fetch-site", "none")])),
            "typed or bookmarked"
        );
    }
}
