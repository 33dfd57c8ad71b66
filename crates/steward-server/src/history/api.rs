//! Metrics history over the API: a device's series, and one series over a range.

use axum::Json;
use axum::extract::{Path, State};
use steward_core::history::Point;
use steward_proto::api::{ApiError, SeriesInfo, SeriesPoint, SeriesPoints, SeriesQuery};

use crate::auth::{Authorized, ViewDevices};
use crate::error::{ApiQuery, AppResult};
use crate::state::AppState;

/// The device's metric series: what `metric=` of `/series` takes for it.
#[utoipa::path(get, path = "/api/v1/devices/{id}/series/available", tag = "devices",
    params(("id" = String, Path, description = "device id")),
    security(("api_token" = []), ("session" = [])),
    responses((status = 200, body = Vec<SeriesInfo>), (status = 404, body = ApiError), (status = 401, body = ApiError)))]
pub async fn available(
    State(state): State<AppState>,
    who: Authorized<ViewDevices>,
    Path(id): Path<String>,
) -> AppResult<Json<Vec<SeriesInfo>>> {
    let names = super::available(&state, &who.caller(&state), &id).await?;
    Ok(Json(
        names
            .into_iter()
            .map(|n| SeriesInfo {
                unit: n.unit(),
                name: n.into(),
            })
            .collect(),
    ))
}

/// One metric series of the device over a range, with the average and maximum of each
/// bucket. A bad metric or range is a 400 naming the parameter.
#[utoipa::path(get, path = "/api/v1/devices/{id}/series", tag = "devices",
    params(("id" = String, Path, description = "device id"), SeriesQuery),
    security(("api_token" = []), ("session" = [])),
    responses((status = 200, body = SeriesPoints), (status = 400, body = ApiError), (status = 404, body = ApiError), (status = 401, body = ApiError)))]
pub async fn series(
    State(state): State<AppState>,
    who: Authorized<ViewDevices>,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<SeriesQuery>,
) -> AppResult<Json<SeriesPoints>> {
    let (from, to) = super::range(q.from, q.to, state.now())?;
    let caller = who.caller(&state);
    let (read, one) = super::series(&state, &caller, &id, q.metric.as_deref(), from, to).await?;
    Ok(Json(SeriesPoints {
        unit: one.name.unit(),
        metric: one.name.into(),
        resolution: read.resolution,
        step_ms: one.step_ms,
        from: read.from,
        to: read.to,
        points: one.points.iter().map(point).collect(),
    }))
}

fn point(p: &Point) -> SeriesPoint {
    SeriesPoint {
        at: p.at,
        avg: p.avg,
        max: p.max,
    }
}
