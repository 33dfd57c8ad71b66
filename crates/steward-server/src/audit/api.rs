//! The audit log over the API: a page of entries, and the whole log as CSV.

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use steward_proto::api::{ApiError, AuditEntry, AuditQuery, Page};

use crate::api::views::paging;
use crate::auth::{Authorized, ViewAudit};
use crate::error::{ApiQuery, AppError, AppResult};
use crate::state::AppState;

/// The audit log, newest first.
#[utoipa::path(get, path = "/api/v1/audit", tag = "access", params(AuditQuery),
    security(("api_token" = []), ("session" = [])),
    responses((status = 200, body = Page<AuditEntry>), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn audit(
    State(state): State<AppState>,
    who: Authorized<ViewAudit>,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> AppResult<Json<Page<AuditEntry>>> {
    let (page, per_page, offset) = paging(q.page, q.per_page, 100, 1000);
    let (records, total) = super::page(
        &state,
        &who.caller(&state),
        q.action.as_deref(),
        q.actor.as_deref(),
        offset,
        u64::from(per_page),
    )
    .await?;
    let items: Vec<AuditEntry> = records
        .into_iter()
        .map(|r| AuditEntry {
            seq: r.seq,
            at: r.facts.at,
            actor: r.facts.actor,
            action: r.facts.action,
            target: r.facts.target,
            detail: r.facts.detail,
            source: r.facts.source,
            hash: r.hash,
        })
        .collect();
    Ok(Json(Page {
        items,
        total,
        page,
        per_page,
    }))
}

/// The whole audit log as CSV, oldest first (`?action=` filters).
#[utoipa::path(get, path = "/api/v1/audit.csv", tag = "access", params(AuditQuery),
    security(("api_token" = []), ("session" = [])),
    responses((status = 200, content_type = "text/csv", body = String), (status = 401, body = ApiError), (status = 403, body = ApiError)))]
pub async fn audit_csv(
    State(state): State<AppState>,
    _who: Authorized<ViewAudit>,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> AppResult<Response> {
    let mut out = Vec::new();
    crate::audit::export_csv(&state.store, q.action.as_deref(), &mut out)
        .await
        .map_err(AppError::internal)?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"steward-audit.csv\"",
            ),
        ],
        out,
    )
        .into_response())
}
