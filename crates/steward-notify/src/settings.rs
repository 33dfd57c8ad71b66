//! Checking a channel's settings, and showing them without their secrets.

/// A setting that is wrong, by name, and why. The reason never repeats a secret (nor a
/// whole URL, which may carry one).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct InvalidSetting {
    pub field: &'static str,
    pub reason: String,
}

pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> InvalidSetting {
    InvalidSetting {
        field,
        reason: reason.into(),
    }
}

/// The longest URL a channel takes.
const MAX_URL_BYTES: usize = 2048;

/// `url` as an absolute http(s) URL with a host and no credentials in it (those go in the
/// channel's own secret settings, where they are masked).
pub(crate) fn http_url(field: &'static str, url: &str) -> Result<reqwest::Url, InvalidSetting> {
    if url.len() > MAX_URL_BYTES {
        return Err(invalid(field, "longer than 2048 bytes"));
    }
    let parsed =
        reqwest::Url::parse(url).map_err(|e| invalid(field, format!("not a URL ({e})")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(invalid(
            field,
            format!("must be http:// or https://, not {}://", parsed.scheme()),
        ));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(invalid(field, "has no host"));
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(invalid(
            field,
            "must not carry a user name or password (user:password@host)",
        ));
    }
    Ok(parsed)
}

/// A URL whose path or query is the secret (a Slack or Teams webhook, an ntfy topic),
/// shown as its origin only: "https://hooks.slack.com/…".
pub(crate) fn url_origin(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(u) => format!("{}/…", u.origin().ascii_serialization()),
        Err(_) => crate::secret::MASK.to_string(),
    }
}

/// The parts of a URL that is a secret which may turn up in an error: the whole, its path
/// and its query.
pub(crate) fn url_secrets(url: &str) -> Vec<String> {
    let mut out = vec![url.to_string()];
    if let Ok(u) = reqwest::Url::parse(url) {
        out.push(u.path().to_string());
        out.extend(u.query().map(str::to_string));
    }
    out
}

/// A URL shown with its path but without its query (which may hold a token).
pub(crate) fn url_without_query(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(mut u) => {
            let had_query = u.query().is_some();
            u.set_query(None);
            u.set_fragment(None);
            let _ = u.set_password(None);
            let _ = u.set_username("");
            if had_query {
                format!("{u}?…")
            } else {
                u.to_string()
            }
        }
        Err(_) => crate::secret::MASK.to_string(),
    }
}

/// A setting as the console shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shown {
    pub field: &'static str,
    pub value: String,
}

pub(crate) fn shown(field: &'static str, value: impl Into<String>) -> Shown {
    Shown {
        field,
        value: value.into(),
    }
}

/// A secret setting: masked when set, absent when not.
pub(crate) fn shown_secret(field: &'static str, set: bool, out: &mut Vec<Shown>) {
    if set {
        out.push(shown(field, crate::secret::MASK));
    }
}
