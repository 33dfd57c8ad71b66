//! The console's stylesheet and script, embedded in the binary. Their URLs carry a hash of
//! their content, so browsers may cache them for a year and still fetch a changed file at
//! once (after an upgrade, or during development).

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

const CSS: &str = include_str!("../../static/app.css");
const JS: &str = include_str!("../../static/app.js");

static CSS_PATH: LazyLock<String> = LazyLock::new(|| versioned("app", "css", CSS));
static JS_PATH: LazyLock<String> = LazyLock::new(|| versioned("app", "js", JS));

/// `/static/app-<hash>.css`.
pub fn css_path() -> &'static str {
    CSS_PATH.as_str()
}

/// `/static/app-<hash>.js`.
pub fn js_path() -> &'static str {
    JS_PATH.as_str()
}

/// 64-bit FNV-1a: not for security, only to tell one version of a file from another.
fn fnv1a(data: &str) -> u64 {
    data.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn versioned(stem: &str, ext: &str, content: &str) -> String {
    format!("/static/{stem}-{:012x}.{ext}", fnv1a(content) >> 16)
}

pub async fn serve(Path(file): Path<String>) -> Response {
    let requested = format!("/static/{file}");
    let (body, kind) = if requested == css_path() {
        (CSS, "text/css; charset=utf-8")
    } else if requested == js_path() {
        (JS, "text/javascript; charset=utf-8")
    } else {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    };
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        ],
        body,
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn asset_urls_change_with_their_content() {
        assert!(css_path().starts_with("/static/app-") && css_path().ends_with(".css"));
        assert!(js_path().ends_with(".js"));
        assert_ne!(
            versioned("app", "css", "a{}"),
            versioned("app", "css", "b{}")
        );
        assert_eq!(
            versioned("app", "css", "a{}"),
            versioned("app", "css", "a{}")
        );
    }
}
