//! The agent protocol's endpoints (`/agent/v1`). Every route but enrollment takes an
//! [`AgentIdentity`], and every query is keyed by that identity's device id: an agent can
//! reach its own device's data and nothing else.

use std::time::Duration;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use steward_core::{DeviceName, JobKind, JobState};
use steward_proto::agent::{
    CredentialRequest, CredentialResponse, EnrollRequest, EnrollResponse, JobAssignment, JobUpdate,
    ReportAck, ReportBatch,
};
use steward_proto::api::ApiError;
use steward_store::{JobUpdateOutcome, NewDevice};

use crate::auth::AgentIdentity;
use crate::error::{ApiJson, ApiQuery, AppError, AppResult};
use crate::net::ClientAddr;
use crate::secrets::{new_id, random_token, token_hash};
use crate::state::AppState;
use crate::web::routes::{Access, Routes};
use utoipa_axum::routes;

/// `small`: the body limit of anonymous and small requests; `uploads`: of the requests
/// that carry an authenticated agent's inventory or job output. Enrollment is public (the
/// enrollment token is the credential); the rest takes a device's own credential.
pub fn routes(small: usize, uploads: usize) -> Routes {
    use crate::net::body_limit::limit_documented;
    let anonymous_or_small = Routes::new()
        .api(Access::Public, routes!(enroll))
        .api(Access::Device, routes!(next_job))
        .api(Access::Device, routes!(rotate_credential))
        .api(Access::Device, routes!(repository_access))
        .map_routers(|api| limit_documented(api, small), |pages| pages);
    let agent_uploads = Routes::new()
        .api(Access::Device, routes!(reports))
        .api(Access::Device, routes!(update_job))
        .map_routers(|api| limit_documented(api, uploads), |pages| pages);
    anonymous_or_small.merge(agent_uploads)
}

/// Enroll a device with a one-time enrollment token.
#[utoipa::path(post, path = "/agent/v1/enroll", tag = "agent", request_body = EnrollRequest,
    responses((status = 200, body = EnrollResponse), (status = 401, body = ApiError), (status = 400, body = ApiError)))]
pub async fn enroll(
    State(state): State<AppState>,
    ApiJson(req): ApiJson<EnrollRequest>,
) -> AppResult<Json<EnrollResponse>> {
    let name = DeviceName::parse(&req.hostname)
        .map_err(|e| AppError::bad_request(format!("hostname: {e}")))?;
    let device_id = new_id();
    let credential = format!("{device_id}.{}", random_token(""));
    let new = NewDevice {
        id: device_id.clone(),
        name: name.to_string(),
        credential_hash: token_hash(&credential),
        checkin_interval_secs: state.config.checkin_interval_secs as i64,
    };
    match state
        .store
        .enroll_device(&token_hash(req.token.trim()), &new, state.now())
        .await?
    {
        Ok(device) => {
            tracing::info!(device = %device.name, id = %device.id, "device enrolled");
            // The device is enrolled either way; without a key it can run no script (it
            // refuses every one, saying no key is pinned) until it enrolls again.
            let script_key = match crate::scripts::signing::public_key(&state).await {
                Ok(key) => Some(key),
                Err(e) => {
                    tracing::error!(error = %e, device = %device.id,
                        "enrolled without a script signing key to pin");
                    None
                }
            };
            Ok(Json(EnrollResponse {
                device_id,
                credential,
                checkin_interval_secs: state.config.checkin_interval_secs,
                script_key,
            }))
        }
        Err(problem) => {
            tracing::warn!(%problem, "enrollment refused");
            Err(AppError::unauthorized(problem.to_string()))
        }
    }
}

/// Deliver queued reports, oldest first.
#[utoipa::path(post, path = "/agent/v1/reports", tag = "agent", request_body = ReportBatch,
    security(("device_credential" = [])),
    responses((status = 200, body = ReportAck), (status = 401, body = ApiError), (status = 400, body = ApiError),
        (status = 413, body = ApiError), (status = 429, body = ApiError, description = "too many deliveries from this device; see Retry-After"),
        (status = 503, body = ApiError, description = "the database is busy; see Retry-After")))]
pub async fn reports(
    State(state): State<AppState>,
    agent: AgentIdentity,
    headers: axum::http::HeaderMap,
    body: axum::body::Body,
) -> AppResult<Json<ReportAck>> {
    let json = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if !json {
        return Err(AppError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "bad_request",
            "expected a JSON body (Content-Type: application/json)",
        ));
    }
    // The rate is checked before the body is read: a device over its rate costs the server
    // an authentication, not a read of the body. Without a declared length the delivery
    // is charged as the largest one.
    let declared = headers
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(state.config.max_body_bytes as u64);
    state
        .report_rate
        .take(&agent.device.device_id, declared, state.now())?;
    let body = axum::body::to_bytes(body, state.config.max_body_bytes)
        .await
        .map_err(|_| {
            AppError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload_too_large",
                format!(
                    "the reports are larger than the server accepts ({} bytes)",
                    state.config.max_body_bytes
                ),
            )
        })?;
    // Parsed by `ingest` in the blocking pool, not here on an async worker.
    let started = std::time::Instant::now();
    let ack = crate::ingest::receive(&state, agent.device, body).await?;
    state.telemetry.checkin_stored(started.elapsed());
    Ok(Json(ack))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct WaitQuery {
    /// Seconds to wait for a job (long-poll); 0 answers at once.
    wait: Option<u64>,
}

/// Take the next job for this device, waiting up to `wait` seconds for one.
#[utoipa::path(get, path = "/agent/v1/jobs/next", tag = "agent", params(WaitQuery),
    security(("device_credential" = [])),
    responses((status = 200, body = JobAssignment), (status = 204, description = "no job arrived in time"), (status = 401, body = ApiError)))]
pub async fn next_job(
    State(state): State<AppState>,
    agent: AgentIdentity,
    ApiQuery(q): ApiQuery<WaitQuery>,
) -> AppResult<Response> {
    let wait = Duration::from_secs(q.wait.unwrap_or(0).min(state.config.max_job_wait_secs));
    match crate::dispatch::next_job(&state, &agent.device.device_id, wait).await? {
        Some(job) => Ok(Json(JobAssignment {
            id: job.id,
            kind: job.kind.into(),
            params: job.params,
        })
        .into_response()),
        None => Ok(StatusCode::NO_CONTENT.into_response()),
    }
}

/// Report progress or the result of one of this device's jobs.
#[utoipa::path(post, path = "/agent/v1/jobs/{id}", tag = "agent", request_body = JobUpdate,
    params(("id" = String, Path, description = "job id")),
    security(("device_credential" = [])),
    responses((status = 204), (status = 404, body = ApiError), (status = 409, body = ApiError), (status = 401, body = ApiError)))]
pub async fn update_job(
    State(state): State<AppState>,
    agent: AgentIdentity,
    Path(id): Path<String>,
    ApiJson(update): ApiJson<JobUpdate>,
) -> AppResult<StatusCode> {
    if matches!(
        update.state,
        JobState::Queued | JobState::Dispatched | JobState::Expired
    ) {
        return Err(AppError::bad_request(
            "an agent reports a job as running, succeeded, failed or unsupported",
        ));
    }
    // Bound what an agent may store: output beyond 1 MiB is cut.
    let output = truncate(&update.output, 1 << 20);
    let message = truncate(&update.message, 4096);
    match state
        .store
        .update_job(
            &agent.device.device_id,
            &id,
            update.state,
            message,
            output,
            state.now(),
        )
        .await?
    {
        JobUpdateOutcome::Updated(job) => {
            if job.state.is_final() {
                crate::backup::job_finished(&state, &job).await;
                if job.kind == steward_core::JobKind::InstallUpdates {
                    crate::patching::alerts::wake(&state);
                }
                if job.kind == steward_core::JobKind::RansomwareDrill {
                    crate::detection::drills::job_finished(&state, &job).await;
                }
                if job.kind == steward_core::JobKind::DetectionResponse {
                    crate::detection::steps::response_job_finished(&state, &job).await;
                }
            }
            Ok(StatusCode::NO_CONTENT)
        }
        JobUpdateOutcome::NotFound => Err(AppError::not_found("job")),
        JobUpdateOutcome::InvalidTransition { current } => Err(AppError::conflict(format!(
            "the job is already {}",
            current.as_str()
        ))),
    }
}

/// The repository and password of a backup or restore job this device's agent is running
/// (the password is never stored with the job).
#[utoipa::path(get, path = "/agent/v1/jobs/{id}/repository", tag = "agent",
    params(("id" = String, Path, description = "job id")),
    security(("device_credential" = [])),
    responses((status = 200, body = steward_proto::backup::RepositoryAccess), (status = 404, body = ApiError), (status = 401, body = ApiError)))]
pub async fn repository_access(
    State(state): State<AppState>,
    agent: AgentIdentity,
    Path(id): Path<String>,
) -> AppResult<Json<steward_proto::backup::RepositoryAccess>> {
    Ok(Json(
        crate::backup::repository_access(&state, &agent.device.device_id, &id).await?,
    ))
}

/// Issue a new credential for this device (shown once), for the `rotate_credential` job it
/// is running — one per job, so a stolen credential cannot mint others on its own. The
/// current one keeps working until the first request made with the new one.
#[utoipa::path(post, path = "/agent/v1/credential", tag = "agent", request_body = CredentialRequest,
    security(("device_credential" = [])),
    responses((status = 200, body = CredentialResponse), (status = 401, body = ApiError), (status = 409, body = ApiError)))]
pub async fn rotate_credential(
    State(state): State<AppState>,
    ClientAddr(peer): ClientAddr,
    agent: AgentIdentity,
    ApiJson(req): ApiJson<CredentialRequest>,
) -> AppResult<Response> {
    let device_id = &agent.device.device_id;
    let asked = state.store.job(&req.job_id).await?.is_some_and(|job| {
        job.device_id == *device_id
            && job.kind == JobKind::RotateCredential
            && matches!(job.state, JobState::Dispatched | JobState::Running)
    });
    let refused = || {
        AppError::conflict(
            "no credential rotation is under way for this device (or this one already issued its credential)",
        )
    };
    if !asked {
        return Err(refused());
    }
    let credential = format!("{device_id}.{}", random_token(""));
    state
        .store
        .set_pending_credential(device_id, &token_hash(&credential), &req.job_id)
        .await
        .map_err(|e| match e {
            steward_store::StoreError::NotFound => refused(),
            other => other.into(),
        })?;
    tracing::info!(device = %device_id, "new device credential issued");
    crate::audit::record(
        &state.store,
        state.now(),
        &format!("device:{device_id}"),
        "credential_issued",
        device_id,
        &format!(
            "for job {}; pending until the agent first uses it",
            req.job_id
        ),
        &peer.ip().to_string(),
    )
    .await;
    // A secret in the body: no cache may keep it.
    Ok((
        [(axum::http::header::CACHE_CONTROL, "no-store")],
        Json(CredentialResponse { credential }),
    )
        .into_response())
}

fn truncate(s: &str, max: usize) -> &str {
    if s.len() <= max {
        return s;
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}
