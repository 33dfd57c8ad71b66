//! The job executors: `list_updates` (lists now; the listing goes into the next report and,
//! as JSON, into the job's output) and `install_updates` (params [`InstallUpdatesParams`]:
//! the install's log as output, sent as it grows, one line per package as the message,
//! failed when any package failed; then lists again so the server sees what is left).
//! Fixed job kinds, no script: they need no opt-in on the device.
//!
//! Registering them is the binary's wiring:
//! `config.executors.register(ListUpdatesExecutor::new(feed.clone()))`.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use steward_proto::agent::{InstallUpdatesParams, JobAssignment};

use super::UpdatesFeed;
use crate::runner::jobs::{BoxFuture, JobContext, JobExecutor, JobOutcome};

/// The most of an install's log kept as the job's output (the server keeps 1 MiB).
pub const MAX_LOG_BYTES: usize = 256 * 1024;
/// How often a running install's log is sent to the server.
const PROGRESS_EVERY: Duration = Duration::from_secs(2);

/// Lists the pending updates.
pub struct ListUpdatesExecutor {
    feed: Arc<UpdatesFeed>,
}

impl ListUpdatesExecutor {
    pub fn new(feed: Arc<UpdatesFeed>) -> ListUpdatesExecutor {
        ListUpdatesExecutor { feed }
    }
}

impl JobExecutor for ListUpdatesExecutor {
    fn kind(&self) -> &str {
        steward_core::JobKind::ListUpdates.as_str()
    }

    fn run(&self, _: JobContext, _: JobAssignment) -> BoxFuture<'_, JobOutcome> {
        let feed = self.feed.clone();
        Box::pin(async move {
            match tokio::task::spawn_blocking(move || feed.list()).await {
                Ok(report) => match report.error {
                    Some(e) => JobOutcome::failed(format!("listing updates: {e}")),
                    None => list_outcome(&report.pending, report.reboot_required),
                },
                Err(e) => JobOutcome::failed(format!("listing updates: {e}")),
            }
        })
    }
}

fn list_outcome(pending: &[steward_core::patching::PendingUpdate], reboot: bool) -> JobOutcome {
    let security = pending.iter().filter(|p| p.security).count();
    let mut message = format!("{} pending, {security} security", pending.len());
    if reboot {
        message.push_str("; reboot required");
    }
    match serde_json::to_string(pending) {
        Ok(output) => JobOutcome::Succeeded { message, output },
        Err(e) => JobOutcome::failed(format!("listing updates: {e}")),
    }
}

/// Installs the packages a job names.
pub struct InstallUpdatesExecutor {
    feed: Arc<UpdatesFeed>,
}

impl InstallUpdatesExecutor {
    pub fn new(feed: Arc<UpdatesFeed>) -> InstallUpdatesExecutor {
        InstallUpdatesExecutor { feed }
    }
}

impl JobExecutor for InstallUpdatesExecutor {
    fn kind(&self) -> &str {
        steward_core::JobKind::InstallUpdates.as_str()
    }

    fn run(&self, ctx: JobContext, job: JobAssignment) -> BoxFuture<'_, JobOutcome> {
        let feed = self.feed.clone();
        Box::pin(async move {
            let params: InstallUpdatesParams = match serde_json::from_value(job.params) {
                Ok(params) => params,
                Err(e) => return JobOutcome::failed(format!("params: {e}")),
            };
            let log = Arc::new(Mutex::new(CappedLog::default()));
            let writer = log.clone();
            let mut install = tokio::task::spawn_blocking(move || {
                let mut log = |line: &str| {
                    writer
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push(line)
                };
                let results = feed.manager().install(&params.packages, &mut log);
                // What is left pending goes to the server with the next report.
                let listed = feed.list();
                // Only after an install that went through: a machine half-upgraded is
                // better left up for a person to look at.
                let all_installed = results
                    .as_ref()
                    .is_ok_and(|r| r.iter().all(|p| !p.failed()));
                if params.reboot && listed.reboot_required && all_installed {
                    match feed.manager().schedule_reboot() {
                        Ok(()) => {
                            log("steward: the machine asks for a reboot; rebooting in a minute")
                        }
                        Err(e) => log(&format!(
                            "steward: the reboot could not be scheduled: {e:#}"
                        )),
                    }
                }
                results
            });
            let mut ticker = tokio::time::interval(PROGRESS_EVERY);
            ticker.tick().await;
            let mut sent = 0usize;
            let results = loop {
                tokio::select! {
                    done = &mut install => break done,
                    _ = ticker.tick() => {
                        let text = log.lock().unwrap_or_else(PoisonError::into_inner).text.clone();
                        if text.len() != sent {
                            sent = text.len();
                            ctx.progress("installing", &text).await;
                        }
                    }
                }
            };
            // The packages changed: the inventory's software list is collected again.
            ctx.refresh_inventory_soon().await;
            let output = std::mem::take(&mut *log.lock().unwrap_or_else(PoisonError::into_inner))
                .into_text();
            match results {
                Ok(results) => install_outcome(results, output),
                Err(e) => JobOutcome::failed(format!("installing updates: {e}")),
            }
        })
    }
}

fn install_outcome(
    results: anyhow::Result<Vec<steward_core::patching::PackageResult>>,
    output: String,
) -> JobOutcome {
    let results = match results {
        Ok(results) => results,
        Err(e) => {
            return JobOutcome::Failed {
                message: format!("installing updates: {e:#}"),
                output,
            };
        }
    };
    let message = results
        .iter()
        .map(|r| r.summary())
        .collect::<Vec<_>>()
        .join("; ");
    if results.iter().any(|r| r.failed()) {
        JobOutcome::Failed { message, output }
    } else {
        JobOutcome::Succeeded { message, output }
    }
}

/// The log kept for the job: every line until [`MAX_LOG_BYTES`], then a mark that it was
/// cut.
#[derive(Default)]
struct CappedLog {
    text: String,
    cut: bool,
}

impl CappedLog {
    fn push(&mut self, line: &str) {
        if self.text.len() + line.len() + 1 > MAX_LOG_BYTES {
            self.cut = true;
            return;
        }
        self.text.push_str(line);
        self.text.push('\n');
    }

    fn into_text(mut self) -> String {
        if self.cut {
            self.text.push_str("… (log cut)\n");
        }
        self.text
    }
}

#[cfg(test)]
mod tests {
    use steward_core::patching::{PackageOutcome, PackageResult, PendingUpdate};

    use super::*;

    fn result(package: &str, outcome: PackageOutcome) -> PackageResult {
        PackageResult {
            package: package.into(),
            from: "1.0".into(),
            to: Some("1.1".into()),
            outcome,
        }
    }

    #[test]
    fn an_install_fails_when_any_package_failed() {
        let ok = install_outcome(
            Ok(vec![result("a", PackageOutcome::Installed)]),
            "log".into(),
        );
        assert_eq!(
            ok,
            JobOutcome::Succeeded {
                message: "a 1.0 → 1.1 installed".into(),
                output: "log".into()
            }
        );
        let mixed = install_outcome(
            Ok(vec![
                result("a", PackageOutcome::Installed),
                result(
                    "b",
                    PackageOutcome::Failed {
                        why: "preinst".into(),
                    },
                ),
            ]),
            String::new(),
        );
        let JobOutcome::Failed { message, .. } = mixed else {
            panic!("{mixed:?}")
        };
        assert_eq!(message, "a 1.0 → 1.1 installed; b 1.0 failed: preinst");
        let refused = install_outcome(Err(anyhow::anyhow!("packages: none given")), String::new());
        assert!(
            matches!(refused, JobOutcome::Failed { message, .. } if message.contains("none given"))
        );
    }

    #[test]
    fn the_list_travels_as_json_with_a_count() {
        let pending = vec![PendingUpdate {
            package: "openssl".into(),
            arch: "amd64".into(),
            installed: "1".into(),
            candidate: "2".into(),
            source: "Debian-Security:12/stable-security".into(),
            security: true,
            advisories: vec![],
        }];
        let JobOutcome::Succeeded { message, output } = list_outcome(&pending, true) else {
            panic!()
        };
        assert_eq!(message, "1 pending, 1 security; reboot required");
        let back: Vec<PendingUpdate> = serde_json::from_str(&output).unwrap();
        assert_eq!(back, pending);
    }

    #[test]
    fn the_log_is_capped_and_marked() {
        let mut log = CappedLog::default();
        let line = "x".repeat(1000);
        for _ in 0..1000 {
            log.push(&line);
        }
        let text = log.into_text();
        assert!(text.len() <= MAX_LOG_BYTES + 20);
        assert!(text.ends_with("… (log cut)\n"));
    }

    #[test]
    fn params_must_name_packages() {
        assert!(serde_json::from_value::<InstallUpdatesParams>(serde_json::json!({})).is_err());
        assert!(
            serde_json::from_value::<InstallUpdatesParams>(
                serde_json::json!({"packages":["a"],"x":1})
            )
            .is_err()
        );
    }
}
