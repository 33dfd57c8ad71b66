//! The loops that run every few hours beside the check-ins: posture evaluations and the
//! listing of pending updates, each leaving its result for the next check-in.

use super::*;

impl Agent {
    /// Evaluates the posture checks at start and every `config.every`, in a worker process
    /// when one is configured (its memory goes back to the system when it exits) or else in
    /// the blocking pool (they run commands and read files), leaving the results for the
    /// next check-in. Never returns while enabled; pends for ever when posture is off.
    pub(super) async fn posture_loop(&self, config: Option<crate::posture::PostureConfig>) {
        let Some(config) = config.filter(|c| !c.every.is_zero()) else {
            return std::future::pending().await;
        };
        let mut ticker = tokio::time::interval(config.every.max(MIN_INTERVAL));
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            let pack_dir = config.pack_dir.clone();
            let started = Instant::now();
            let evaluated = match &config.worker {
                Some(worker) => {
                    crate::posture::evaluate_in_worker(worker, pack_dir.as_deref()).await
                }
                None => tokio::task::spawn_blocking(move || {
                    crate::posture::evaluate_this_machine(pack_dir.as_deref())
                })
                .await
                .map_err(anyhow::Error::from),
            };
            match evaluated {
                Ok(report) => {
                    tracing::info!(
                        checks = report.results.len(),
                        took_ms = started.elapsed().as_millis() as u64,
                        "posture evaluated"
                    );
                    *self
                        .posture_ready
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner) = Some(report);
                }
                Err(e) => tracing::error!(error = %e, "posture evaluation failed"),
            }
        }
    }

    /// Lists pending updates at start and every `config.every` (the package manager runs
    /// on the blocking pool), leaving the listing for the next check-in. Pends for ever
    /// when listing is off.
    pub(super) async fn updates_loop(&self, config: Option<UpdatesConfig>) {
        let Some(config) = config.filter(|c| !c.every.is_zero()) else {
            return std::future::pending().await;
        };
        let mut ticker = tokio::time::interval(config.every.max(MIN_INTERVAL));
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            let feed = config.feed.clone();
            match tokio::task::spawn_blocking(move || feed.list()).await {
                Ok(report) => match &report.error {
                    None => tracing::info!(
                        pending = report.pending.len(),
                        security = report.pending.iter().filter(|u| u.security).count(),
                        "updates listed"
                    ),
                    Some(e) => tracing::warn!(error = %e, "listing updates failed"),
                },
                Err(e) => tracing::error!(error = %e, "the updates listing crashed"),
            }
        }
    }
}
