//! Console forms carry the session's CSRF token; [`CsrfForm`] checks it before the handler
//! runs, so no form handler can forget to. (API changes made with a session cookie carry it in
//! a header, checked by the `Authorized` extractor.)

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use crate::auth::Principal;
use crate::state::AppState;

/// The name of the form field that carries the token.
pub const FIELD: &str = "csrf";

/// A urlencoded form whose `csrf` field matched the signed-in user's session. Take it after
/// a `ConsoleUser` (which leaves the principal in the request for it).
#[derive(Debug, Clone)]
pub struct CsrfForm<T>(pub T);

impl<T: DeserializeOwned> FromRequest<AppState> for CsrfForm<T> {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Response> {
        let principal = req.extensions().get::<Principal>().cloned();
        let body = Bytes::from_request(req, state)
            .await
            .map_err(IntoResponse::into_response)?;
        let fields: Vec<(String, String)> = serde_urlencoded::from_bytes(&body).unwrap_or_default();
        let sent = fields
            .iter()
            .find(|(k, _)| k == FIELD)
            .map_or("", |(_, v)| v.as_str());
        let Some(principal) = principal else {
            // A handler took the form without a signed-in user first: a programming error,
            // refused rather than served unchecked.
            tracing::error!("a console form was read without a signed-in user");
            return Err(StatusCode::FORBIDDEN.into_response());
        };
        if !crate::console::csrf_ok(&principal, sent) {
            return Err(crate::console::csrf_rejected(&principal));
        }
        serde_urlencoded::from_bytes(&body)
            .map(CsrfForm)
            .map_err(|e| {
                crate::console::error_page(
                    &principal,
                    StatusCode::BAD_REQUEST,
                    "Request refused",
                    &format!("The form could not be read: {e}"),
                )
            })
    }
}
