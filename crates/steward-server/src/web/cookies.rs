//! Cookies, read and written with the `cookie` crate rather than by hand: the session, the
//! pending second sign-in step and the known-device token. Every one is `HttpOnly` (no script
//! reads it); `Secure` is added for browsers on HTTPS (here when the configuration says so,
//! and by `net::origin::edge` for every cookie of an HTTPS answer).

use axum::http::header::COOKIE;
use axum::http::request::Parts;
pub use cookie::SameSite;

/// The value of the request's cookie `name`, if it sent one.
pub fn get(parts: &Parts, name: &str) -> Option<String> {
    parts
        .headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(cookie::Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == name)
        .map(|c| c.value().to_string())
}

/// A `Set-Cookie` value: `value` for `max_age_secs` (0 forgets it) on `path`.
pub fn set(
    name: &str,
    value: &str,
    path: &str,
    same_site: SameSite,
    max_age_secs: i64,
    secure: bool,
) -> String {
    let mut c = cookie::Cookie::build((name.to_string(), value.to_string()))
        .path(path.to_string())
        .http_only(true)
        .same_site(same_site)
        .max_age(cookie::time::Duration::seconds(max_age_secs));
    if secure {
        c = c.secure(true);
    }
    c.build().to_string()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    #[test]
    fn cookies_are_read_and_written() {
        let request = axum::http::Request::builder()
            .header("cookie", "a=1; steward_session=abc")
            .header("cookie", "b=2")
            .body(())
            .unwrap();
        let (parts, ()) = request.into_parts();
        assert_eq!(
            super::get(&parts, "steward_session").as_deref(),
            Some("abc")
        );
        assert_eq!(super::get(&parts, "b").as_deref(), Some("2"));
        assert_eq!(super::get(&parts, "c"), None);
        let set = super::set("s", "v", "/login", super::SameSite::Strict, 60, true);
        for part in [
            "s=v",
            "HttpOnly",
            "SameSite=Strict",
            "Path=/login",
            "Max-Age=60",
            "Secure",
        ] {
            assert!(set.contains(part), "{set} lacks {part}");
        }
    }
}
