//! What every answer passes through: the request id, the route guard, security headers and
//! request tracing. Applied once to the whole application in [`crate::router`].

use std::sync::atomic::{AtomicU64, Ordering};

use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderName, HeaderValue, header};
use axum::middleware::Next;
use axum::response::Response;
use tower_http::request_id::{MakeRequestId, RequestId};

/// What console pages may load and who may frame them: only Steward's own script and
/// stylesheet (inline `style` attributes draw the bars), and no framing (a framed console
/// could be clicked on by another site).
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
                   img-src 'self' data:; connect-src 'self'; form-action 'self'; \
                   frame-ancestors 'none'; base-uri 'none'";

/// Security headers on every answer: no MIME sniffing, no framing, no referrer beyond the
/// origin; pages (HTML) also get the content security policy; and nothing is cached unless
/// the handler said otherwise (static assets are immutable; everything else is live state,
/// often with a CSRF token or a secret shown once).
fn add_security_headers(response: &mut Response) {
    let headers = response.headers_mut();
    let is_html = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if is_html {
        headers.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CSP),
        );
    }
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("same-origin"),
    );
    headers
        .entry(header::CACHE_CONTROL)
        .or_insert(HeaderValue::from_static("no-store"));
}

/// The header carrying the request id (set on the answer; a client's own is replaced, so
/// that log lines cannot be made to collide with another request's).
pub static REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Request ids: this process's start (seconds) and a counter — unique within a log, cheap,
/// and not guessable in any way that matters (they are not secrets).
#[derive(Clone)]
pub struct Ids {
    prefix: u64,
    next: std::sync::Arc<AtomicU64>,
}

impl Default for Ids {
    fn default() -> Self {
        let prefix = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        Self {
            prefix,
            next: std::sync::Arc::default(),
        }
    }
}

impl MakeRequestId for Ids {
    fn make_request_id<B>(&mut self, _: &axum::http::Request<B>) -> Option<RequestId> {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let id = format!("{:x}-{n:x}", self.prefix);
        HeaderValue::from_str(&id).ok().map(RequestId::new)
    }
}

/// What [`around_route`] needs: the route table's decisions, and where request latencies
/// are counted.
#[derive(Clone)]
pub struct Around {
    pub decided: super::routes::Decided,
    pub telemetry: std::sync::Arc<crate::telemetry::Telemetry>,
}

/// What runs around every routed request, in one middleware (each layer costs a boxed future
/// on the hottest path, the agents' check-ins): the route guard (`web::routes::guard`), then
/// the handler, then the security headers, then the request's latency in the metrics and one
/// log line — at debug level (method, matched route, status, latency, request id), a warning
/// for server errors. The route is the matched template (`/devices/{id}`), never the raw
/// path, which can carry names and tokens (and would make the metrics' labels unbounded).
/// (Slowness alone is not warned of: the agents' job long-poll is slow by design.)
pub async fn around_route(
    axum::extract::State(Around { decided, telemetry }): axum::extract::State<Around>,
    request: Request,
    next: Next,
) -> Response {
    let started = std::time::Instant::now();
    let method = request.method().clone();
    let route = request.extensions().get::<MatchedPath>().cloned();
    let id = request.headers().get(&REQUEST_ID).cloned();
    let mut response = match super::routes::refusal(&decided, &method, route.as_ref()) {
        Some(refused) => refused,
        None => next.run(request).await,
    };
    add_security_headers(&mut response);
    let status = response.status();
    telemetry.request_answered(
        route.as_ref().map(MatchedPath::as_str),
        &method,
        status,
        started.elapsed(),
    );
    let log = |level_is_warn: bool| {
        let route = route.as_ref().map_or("(no route)", MatchedPath::as_str);
        let id = id.as_ref().and_then(|v| v.to_str().ok()).unwrap_or("");
        let latency_ms = started.elapsed().as_millis() as u64;
        if level_is_warn {
            tracing::warn!(request_id = %id, %method, %route, status = status.as_u16(), latency_ms, "request");
        } else {
            tracing::debug!(request_id = %id, %method, %route, status = status.as_u16(), latency_ms, "request");
        }
    };
    if status.is_server_error() {
        log(true);
    } else if tracing::enabled!(tracing::Level::DEBUG) {
        log(false);
    }
    response
}
