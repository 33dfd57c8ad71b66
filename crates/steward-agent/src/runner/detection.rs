//! Detection in the runner: the engine's thread started with the agent, a report sent the
//! moment a detection waits, and failed logins read every minute.

use super::*;

/// How often the device's login log is read for failed logins.
#[cfg(target_os = "linux")]
const LOGINS_EVERY: Duration = Duration::from_secs(60);

/// Ransomware detection: the feed the engine and the agent share, and the device the
/// engine's thread takes when the agent starts (a sensor, canaries, responses).
#[cfg(target_os = "linux")]
#[derive(Clone)]
pub struct DetectionConfig {
    pub feed: Arc<crate::detection::DetectionFeed>,
    pub device: Arc<Mutex<Option<Box<dyn crate::detection::Device>>>>,
}

#[cfg(target_os = "linux")]
impl std::fmt::Debug for DetectionConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DetectionConfig").finish_non_exhaustive()
    }
}

/// Stops the detection engine's thread when dropped (the agent stopping).
#[cfg(target_os = "linux")]
pub(super) struct EngineGuard(Arc<std::sync::atomic::AtomicBool>);

#[cfg(target_os = "linux")]
impl Drop for EngineGuard {
    fn drop(&mut self) {
        self.0.store(true, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Starts the detection engine on a thread of its own, with the device the configuration
/// holds (taken: a second start of the same configuration has none and starts nothing).
#[cfg(target_os = "linux")]
pub(super) fn start_engine(config: &DetectionConfig) -> Option<EngineGuard> {
    let device = config
        .device
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take()?;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let feed = config.feed.clone();
    let flag = stop.clone();
    let started = std::thread::Builder::new()
        .name("detection".into())
        .spawn(move || crate::detection::engine::run(feed, device, flag));
    match started {
        Ok(_) => Some(EngineGuard(stop)),
        Err(e) => {
            tracing::error!(error = %e, "the detection engine could not start");
            None
        }
    }
}

/// Stands in for the detection feed where there is no detection (not Linux).
#[cfg(not(target_os = "linux"))]
pub(super) struct DetectionFeedStub;

impl Agent {
    /// Sends a report the moment the detection engine has a record for the server (an
    /// attack is not left waiting for the next check-in). Pends for ever without detection.
    #[cfg(target_os = "linux")]
    pub(super) async fn detection_loop(&self) {
        let Some(feed) = self.detection.clone() else {
            return std::future::pending().await;
        };
        let mut health = Health::new("detections");
        loop {
            feed.ready.notified().await;
            let detections = feed.take();
            if detections.is_empty() {
                continue;
            }
            let mut core = self.core.lock().await;
            let sections = Sections {
                detections,
                ..Sections::default()
            };
            if let Err(e) = core.queue(None, None, sections, None) {
                tracing::error!(error = format!("{e:#}"), "queueing a detection failed");
                continue;
            }
            if let Err(e) = self.flush(&mut core, &mut health).await {
                tracing::error!(error = format!("{e:#}"), "sending a detection failed");
            }
        }
    }

    #[cfg(not(target_os = "linux"))]
    pub(super) async fn detection_loop(&self) {
        std::future::pending().await
    }

    /// Every minute, counts the failed logins the device logged since (the journal or the
    /// auth log, read on the blocking pool); a source past the threshold becomes a detection,
    /// sent at once. Pends for ever without detection.
    #[cfg(target_os = "linux")]
    pub(super) async fn logins_loop(&self) {
        let Some(feed) = self.detection.clone() else {
            return std::future::pending().await;
        };
        let watch = Arc::new(Mutex::new(crate::detection::logins::LoginWatch::default()));
        let mut ticker = tokio::time::interval(LOGINS_EVERY);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            let watch = watch.clone();
            let found = tokio::task::spawn_blocking(move || {
                watch
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .poll(now())
            })
            .await
            .unwrap_or_default();
            for detected in found {
                tracing::warn!(summary = %detected.summary, "detection");
                feed.push(detected);
            }
        }
    }

    #[cfg(not(target_os = "linux"))]
    pub(super) async fn logins_loop(&self) {
        std::future::pending().await
    }

    #[cfg(target_os = "linux")]
    pub(super) fn take_detections(&self) -> Vec<steward_core::detection::Detected> {
        self.detection
            .as_ref()
            .map(|f| f.take())
            .unwrap_or_default()
    }

    #[cfg(not(target_os = "linux"))]
    pub(super) fn take_detections(&self) -> Vec<steward_core::detection::Detected> {
        Vec::new()
    }
}
