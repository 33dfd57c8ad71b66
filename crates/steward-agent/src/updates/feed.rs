//! The device's latest listing of pending updates, shared by the agent's 6-hourly listing
//! loop and the `list_updates`/`install_updates` jobs: whoever lists leaves the result here,
//! and the next check-in takes it into a report (`updates` section).

use std::sync::{Arc, Mutex, PoisonError};

use steward_proto::agent::UpdatesReport;

use super::UpdateManager;

/// Most updates one listing reports (the server refuses a longer list).
pub const MAX_REPORTED: usize = steward_core::patching::MAX_PENDING_UPDATES;

/// The package manager and the latest listing not yet reported.
pub struct UpdatesFeed {
    manager: Arc<dyn UpdateManager>,
    ready: Mutex<Option<UpdatesReport>>,
}

impl UpdatesFeed {
    pub fn new(manager: Arc<dyn UpdateManager>) -> Arc<UpdatesFeed> {
        Arc::new(UpdatesFeed {
            manager,
            ready: Mutex::new(None),
        })
    }

    pub fn manager(&self) -> &Arc<dyn UpdateManager> {
        &self.manager
    }

    /// Lists now (blocking: it runs the package manager), keeps the listing for the next
    /// report and answers it. A failed listing is reported too, with its reason, so the
    /// server can show why a device's list is old.
    pub fn list(&self) -> UpdatesReport {
        let listed = self.manager.pending().and_then(|pending| {
            let reboot = self.manager.reboot_required()?;
            Ok((pending, reboot))
        });
        let mut report = UpdatesReport {
            manager: self.manager.name().to_owned(),
            listed_at: crate::runner::now(),
            pending: Vec::new(),
            reboot_required: false,
            error: None,
        };
        match listed {
            Ok((mut pending, reboot)) => {
                if pending.len() > MAX_REPORTED {
                    tracing::warn!(
                        pending = pending.len(),
                        "more pending updates than a report carries; the rest is not reported"
                    );
                    // Security updates first, so a cut never hides them.
                    pending.sort_by_key(|u| !u.security);
                    pending.truncate(MAX_REPORTED);
                }
                report.pending = pending;
                report.reboot_required = reboot;
            }
            // One bounded line: the server refuses a longer or multi-line text.
            Err(e) => {
                report.error = Some(
                    format!("{e:#}")
                        .chars()
                        .map(|c| if c.is_control() { ' ' } else { c })
                        .take(1000)
                        .collect(),
                )
            }
        }
        *self.ready.lock().unwrap_or_else(PoisonError::into_inner) = Some(report.clone());
        report
    }

    /// The listing not yet reported, if any.
    pub fn take(&self) -> Option<UpdatesReport> {
        self.ready
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }
}
