//! Request bodies are bounded per group of routes: a few tens of KB for every form, login and
//! API call, the large limit only where an authenticated agent uploads (reports, job
//! output). A body that says it is too large (`Content-Length`) is refused before a byte of
//! it is read; one that does not say (chunked) is cut off at the limit as it streams in
//! (`DefaultBodyLimit`, which axum's `Json`, `Form` and `RawForm` honour). Either way: 413.

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;

use super::origin::Refusal;

/// `router` with request bodies limited to `max` bytes.
pub fn limit<S: Clone + Send + Sync + 'static>(router: Router<S>, max: usize) -> Router<S> {
    router
        .layer(axum::middleware::from_fn_with_state(max, refuse_declared))
        .layer(DefaultBodyLimit::max(max))
}

/// `router` (API routes with their OpenAPI documentation) with request bodies limited to
/// `max` bytes.
pub fn limit_documented<S: Clone + Send + Sync + 'static>(
    router: utoipa_axum::router::OpenApiRouter<S>,
    max: usize,
) -> utoipa_axum::router::OpenApiRouter<S> {
    router
        .layer(axum::middleware::from_fn_with_state(max, refuse_declared))
        .layer(DefaultBodyLimit::max(max))
}

/// Refuses a request whose declared body is over `max`, without reading it.
async fn refuse_declared(State(max): State<usize>, request: Request, next: Next) -> Response {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|len| len > max as u64) {
        return Refusal {
            status: StatusCode::PAYLOAD_TOO_LARGE,
            title: "Request too large",
            message: format!("the request body is larger than this address accepts ({max} bytes)"),
        }
        .respond(request.uri().path());
    }
    next.run(request).await
}
