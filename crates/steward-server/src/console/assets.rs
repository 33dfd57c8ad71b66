//! The console's stylesheet and script, embedded in the binary. Their URLs carry a version
//! so browsers may cache them for a year and still pick up a new release at once.

use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

const CSS: &str = include_str!("../../static/app.css");
const JS: &str = include_str!("../../static/app.js");

pub const CSS_PATH: &str = concat!("/static/app-", env!("CARGO_PKG_VERSION"), ".css");
pub const JS_PATH: &str = concat!("/static/app-", env!("CARGO_PKG_VERSION"), ".js");

pub async fn serve(Path(file): Path<String>) -> Response {
    let (body, kind) = if Some(file.as_str()) == CSS_PATH.strip_prefix("/static/") {
        (CSS, "text/css; charset=utf-8")
    } else if Some(file.as_str()) == JS_PATH.strip_prefix("/static/") {
        (JS, "text/javascript; charset=utf-8")
    } else {
        return (StatusCode::NOT_FOUND, "not found").into_response();
    };
    (
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
        ],
        body,
    )
        .into_response()
}
