//! The one error type handlers return: JSON with a stable code and a message for people.
//! Anything unexpected is logged and answered with a generic 500 that leaks nothing.

use axum::Json;
use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use steward_proto::api::ApiError;

use crate::service::{DomainError, Refusal};

#[derive(Debug)]
pub struct AppError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Sent as `Retry-After` (seconds) with 429 and 503 answers.
    pub retry_after_secs: Option<u64>,
}

pub type AppResult<T> = Result<T, AppError>;

impl AppError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            retry_after_secs: None,
        }
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", message)
    }
    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
        )
    }
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", message)
    }
    pub fn unavailable(message: impl Into<String>) -> Self {
        Self::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", message)
    }
    /// 429: the client is going too fast; it may try again after `secs`.
    pub fn too_many_requests(message: impl Into<String>, secs: u64) -> Self {
        Self {
            retry_after_secs: Some(secs),
            ..Self::new(StatusCode::TOO_MANY_REQUESTS, "too_many_requests", message)
        }
    }
    /// 503 with `Retry-After`: the database is busy (its writer held, its pool exhausted);
    /// the request did nothing and may simply be sent again.
    pub fn busy() -> Self {
        Self {
            retry_after_secs: Some(2),
            ..Self::unavailable("the server is busy; try again in a few seconds")
        }
    }
    pub fn internal(err: impl std::fmt::Display) -> Self {
        tracing::error!(error = %err, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
            "the server failed to handle this request; the details are in its log",
        )
    }
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let body = ApiError {
            error: self.code.to_string(),
            message: self.message,
        };
        let mut response = (self.status, Json(body)).into_response();
        if let Some(secs) = self.retry_after_secs {
            response
                .headers_mut()
                .insert(axum::http::header::RETRY_AFTER, secs.into());
        }
        response
    }
}

/// The one place a service's refusal becomes an HTTP answer (the console shows the same
/// status and message in its layout). An internal failure — a database error, say — is
/// logged with its details and answered with a generic 500 that leaks nothing.
impl<E: DomainError> From<E> for AppError {
    fn from(e: E) -> Self {
        let message = e.to_string();
        match e.refusal() {
            Refusal::Invalid => AppError::bad_request(message),
            Refusal::NotFound => AppError::new(StatusCode::NOT_FOUND, "not_found", message),
            Refusal::Forbidden => AppError::forbidden(message),
            Refusal::StepUpRequired => {
                AppError::new(StatusCode::FORBIDDEN, "step_up_required", message)
            }
            Refusal::Conflict => AppError::conflict(message),
            Refusal::Busy => {
                tracing::warn!("database busy: answering 503 with Retry-After");
                AppError::busy()
            }
            Refusal::Unavailable => {
                tracing::error!(error = %message, "database unavailable");
                AppError::unavailable("the database is unavailable; try again shortly")
            }
            Refusal::Internal => AppError::internal(message),
        }
    }
}

impl From<JsonRejection> for AppError {
    fn from(r: JsonRejection) -> Self {
        let status = match r {
            JsonRejection::MissingJsonContentType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            // The body did not arrive within the listener's body timeout.
            JsonRejection::BytesRejection(_) if caused_by_timeout(&r) => {
                StatusCode::REQUEST_TIMEOUT
            }
            JsonRejection::BytesRejection(_) => StatusCode::PAYLOAD_TOO_LARGE,
            _ => StatusCode::BAD_REQUEST,
        };
        AppError::new(
            status,
            "bad_request",
            format!("invalid JSON body: {}", r.body_text()),
        )
    }
}

pub(crate) fn caused_by_timeout(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause = Some(error);
    while let Some(e) = cause {
        if e.is::<tower_http::timeout::TimeoutError>() {
            return true;
        }
        cause = e.source();
    }
    false
}

impl From<QueryRejection> for AppError {
    fn from(r: QueryRejection) -> Self {
        AppError::bad_request(format!("invalid query string: {}", r.body_text()))
    }
}

/// A JSON body whose rejection is an [`AppError`] (JSON, not axum's plain text).
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiJson<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> axum::extract::FromRequest<S> for ApiJson<T> {
    type Rejection = AppError;
    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, AppError> {
        let Json(v) = Json::<T>::from_request(req, state).await?;
        Ok(ApiJson(v))
    }
}

/// A query string whose rejection is an [`AppError`].
#[derive(Debug, Clone, Copy, Default)]
pub struct ApiQuery<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> axum::extract::FromRequestParts<S>
    for ApiQuery<T>
{
    type Rejection = AppError;
    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, AppError> {
        // NUL is never meaningful in a parameter, and PostgreSQL cannot store or compare it:
        // refuse it here, the same on both databases (the store maps what slips past to 400).
        let raw = parts.uri.query().unwrap_or_default();
        if raw.contains('\0') || raw.to_ascii_lowercase().contains("%00") {
            return Err(AppError::bad_request(
                "invalid query string: parameters may not contain NUL characters",
            ));
        }
        let axum::extract::Query(v) =
            axum::extract::Query::<T>::from_request_parts(parts, state).await?;
        Ok(ApiQuery(v))
    }
}

/// No route: JSON for API and agent clients, a page for people.
pub async fn not_found(uri: axum::http::Uri) -> Response {
    let path = uri.path();
    if path.starts_with("/api/") || path.starts_with("/agent/") || path.starts_with("/backup/") {
        return AppError::not_found("page").into_response();
    }
    crate::console::not_found_page()
}
