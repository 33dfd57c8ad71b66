//! Metrics history: a device's series listed and read back at the resolution a range needs,
//! for the API (`api`), the device page's charts (`console`, drawn by `chart`) and the
//! checks ([`recent_values`]); and the background task that rolls samples up and prunes
//! them (`rollups`). Retention and roll-up rules are `steward_core::history`'s.

pub mod api;
pub mod chart;
pub mod console;
pub mod rollups;

use steward_core::history::{
    self, History, MAX_POINTS, Point, Resolution, SeriesName, SeriesNameError, bucket_start,
    downsample, merge,
};
use steward_core::{Action, Scope, Timestamp};
use steward_store::{SeriesCatalog, Store, StoreError};
use utoipa_axum::routes;

use crate::devices::{DeviceError, OpenDevice};
use crate::service::{Caller, Denied, DomainError, Refusal};
use crate::state::AppState;
use crate::web::routes::{Access, Routes};

/// The longest range one request may read.
pub const MAX_RANGE_MS: i64 = 400 * history::keeping::DAY_MS;
/// The range read when none is given.
pub const DEFAULT_RANGE_MS: i64 = history::keeping::DAY_MS;

/// Why a history read was refused.
#[derive(Debug, thiserror::Error)]
pub enum HistoryError {
    #[error(
        "metric: required; GET /api/v1/devices/{{id}}/series/available lists the device's series"
    )]
    NoMetric,
    #[error("metric: {0}")]
    BadMetric(#[from] SeriesNameError),
    #[error("{0}")]
    BadRange(&'static str),
    #[error(transparent)]
    Device(#[from] DeviceError),
    #[error(transparent)]
    Denied(#[from] Denied),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl DomainError for HistoryError {
    fn refusal(&self) -> Refusal {
        match self {
            HistoryError::NoMetric | HistoryError::BadMetric(_) | HistoryError::BadRange(_) => {
                Refusal::Invalid
            }
            HistoryError::Device(e) => e.refusal(),
            HistoryError::Denied(d) => d.refusal(),
            HistoryError::Store(e) => e.refusal(),
        }
    }
}

pub type Result<T> = std::result::Result<T, HistoryError>;

/// One series read over a range.
#[derive(Debug, Clone, PartialEq)]
pub struct SeriesRead {
    pub name: SeriesName,
    /// The points' bucket width (for full resolution, about the check-in interval).
    pub step_ms: i64,
    /// Oldest first; a point per bucket that had samples.
    pub points: Vec<Point>,
}

/// Several series of one device read over one range.
#[derive(Debug, Clone, PartialEq)]
pub struct RangeRead {
    pub from: Timestamp,
    pub to: Timestamp,
    pub resolution: Resolution,
    pub series: Vec<SeriesRead>,
}

/// A range from the API's `from` and `to` (milliseconds since 1970), `to` defaulting to
/// now and `from` to a day before `to`.
pub fn range(from: Option<i64>, to: Option<i64>, now: Timestamp) -> Result<(Timestamp, Timestamp)> {
    let to = to.unwrap_or(now.0);
    let from = from.unwrap_or(to.saturating_sub(DEFAULT_RANGE_MS));
    if from < 0 || to < 0 {
        return Err(HistoryError::BadRange(
            "from, to: milliseconds since 1970-01-01 UTC, not negative",
        ));
    }
    if from >= to {
        return Err(HistoryError::BadRange("from: must be before to"));
    }
    if to - from > MAX_RANGE_MS {
        return Err(HistoryError::BadRange("from: a range is at most 400 days"));
    }
    Ok((Timestamp(from), Timestamp(to)))
}

/// The device's series (empty before its first sample), in the order they first appeared.
pub async fn available(state: &AppState, caller: &Caller, id: &str) -> Result<Vec<SeriesName>> {
    let device = crate::devices::open(state, caller, id).await?;
    Ok(device
        .metric_catalog()
        .await?
        .map(|c| c.names().to_vec())
        .unwrap_or_default())
}

/// One series of the device over `[from, to)`, at most [`MAX_POINTS`] points. A series the
/// device never reported reads as no points (it may still come: a disk not yet added).
pub async fn series(
    state: &AppState,
    caller: &Caller,
    id: &str,
    metric: Option<&str>,
    from: Timestamp,
    to: Timestamp,
) -> Result<(RangeRead, SeriesRead)> {
    let name = SeriesName::parse(metric.ok_or(HistoryError::NoMetric)?)?;
    let device = crate::devices::open(state, caller, id).await?;
    let catalog = device.metric_catalog().await?;
    let mut read = read(
        &device,
        catalog.as_ref(),
        std::slice::from_ref(&name),
        (from, to),
        state.now(),
        &state.config.metrics_history,
        MAX_POINTS,
    )
    .await?;
    let one = read.series.pop().unwrap_or(SeriesRead {
        name,
        step_ms: read.resolution.width_ms(),
        points: Vec::new(),
    });
    Ok((read, one))
}

/// Reads `names` over `[from, to)` at the resolution the range needs when it is `now`,
/// with at most `max_points` points each. Roll-ups cover the buckets before the device's
/// watermark; the samples after it (the last few minutes, or samples that arrived late)
/// are rolled up here, the same way.
pub(crate) async fn read(
    device: &OpenDevice<'_>,
    catalog: Option<&SeriesCatalog>,
    names: &[SeriesName],
    (from, to): (Timestamp, Timestamp),
    now: Timestamp,
    keep: &History,
    max_points: usize,
) -> Result<RangeRead> {
    let resolution = keep.resolution_for(from, to, now);
    let width = resolution.width_ms();
    let Some(catalog) = catalog else {
        return Ok(RangeRead {
            from,
            to,
            resolution,
            series: names
                .iter()
                .map(|name| SeriesRead {
                    name: name.clone(),
                    step_ms: width,
                    points: Vec::new(),
                })
                .collect(),
        });
    };
    let points = match resolution {
        Resolution::Raw => {
            device
                .metric_points(catalog, names, Resolution::Raw, from, to)
                .await?
        }
        rolled => {
            // Buckets wholly before the watermark are in the table; the watermark's own
            // bucket (an hour may be half rolled) and what follows come from the samples,
            // which are kept from the watermark's hour on.
            let rolled_before = bucket_start(catalog.rolled_until, width);
            let mut points = device
                .metric_points(
                    catalog,
                    names,
                    rolled,
                    bucket_start(from, width),
                    to.min(rolled_before),
                )
                .await?;
            if to > rolled_before {
                let tail = device
                    .metric_points(catalog, names, Resolution::Raw, from.max(rolled_before), to)
                    .await?;
                for (kept, recent) in points.iter_mut().zip(tail) {
                    kept.extend(merge(&recent, width));
                }
            }
            points
        }
    };
    let series = names
        .iter()
        .zip(points)
        .map(|(name, points)| {
            let (step_ms, points) = downsample(&points, from, to, width, max_points);
            SeriesRead {
                name: name.clone(),
                step_ms,
                points,
            }
        })
        .collect();
    Ok(RangeRead {
        from,
        to,
        resolution,
        series,
    })
}

/// A device's samples of one series taken in `[since, now]`, oldest first, at full
/// resolution: what a check judges ("CPU above 90 % for 10 minutes", "disk / above 90 %").
/// Empty when the device has no such series or no history. Reads as the system, for any
/// device; `since` should be within the full-resolution retention (48 h by default).
pub async fn recent_values(
    store: &Store,
    device_id: &str,
    series: &SeriesName,
    since: Timestamp,
    now: Timestamp,
) -> std::result::Result<Vec<(Timestamp, f64)>, StoreError> {
    let view = store.scoped(&Scope::AllDevices);
    let Some(catalog) = view.metric_catalog(device_id).await? else {
        return Ok(Vec::new());
    };
    let mut points = view
        .metric_points(
            device_id,
            &catalog,
            std::slice::from_ref(series),
            Resolution::Raw,
            since,
            now.plus_millis(1),
        )
        .await?;
    Ok(points
        .pop()
        .unwrap_or_default()
        .into_iter()
        .map(|p| (p.at, p.avg))
        .collect())
}

/// The capability's routes (the charts are part of the device page, `devices::console`).
pub fn routes() -> Routes {
    Routes::new()
        .api(
            Access::Requires(Action::ViewDevices),
            routes!(api::available),
        )
        .api(Access::Requires(Action::ViewDevices), routes!(api::series))
}
