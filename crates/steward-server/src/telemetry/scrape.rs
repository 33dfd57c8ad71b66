//! `GET /metrics`: the text a Prometheus scrapes, for a [`Scraper`] only.

use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;

use super::access::Scraper;
use crate::state::AppState;
use crate::web::routes::Routes;

/// The queue depths are read from the database at most this often, however often (and
/// however many at once) scrapers ask.
const DEPTHS_AT_MOST_EVERY: Duration = Duration::from_secs(1);

/// A check due for longer than this is counted overdue: the scheduler's lateness target.
const OVERDUE_AFTER_MS: i64 = 1_000;

pub fn routes() -> Routes {
    Routes::new().scrape("/metrics", metrics)
}

/// Steward's own metrics in the Prometheus text format (version 0.0.4).
async fn metrics(_: Scraper, State(state): State<AppState>) -> impl IntoResponse {
    refresh_depths(&state).await;
    (
        [(
            header::CONTENT_TYPE,
            prometheus_client::encoding::prometheus_text::CONTENT_TYPE,
        )],
        state.telemetry.encode(),
    )
}

/// Reads the queue depths unless they were read within [`DEPTHS_AT_MOST_EVERY`]; concurrent
/// scrapes wait for one read. A failed read is logged and the last values are served.
async fn refresh_depths(state: &AppState) {
    let mut read_at = state.telemetry.depths_read_at.lock().await;
    if read_at.is_some_and(|at| at.elapsed() < DEPTHS_AT_MOST_EVERY) {
        return;
    }
    match state
        .store
        .queue_depths(state.now(), OVERDUE_AFTER_MS)
        .await
    {
        Ok(depths) => {
            state.telemetry.set_depths(&depths);
            *read_at = Some(Instant::now());
        }
        Err(e) => tracing::warn!(error = %e, "metrics: cannot read the queue depths"),
    }
}
