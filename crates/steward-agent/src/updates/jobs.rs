//! The job executors: `list_updates` (the pending updates, as JSON in the job's output)
//! and `install_updates` (params `{"packages": [...]}`: the install's log as output, one
//! line per package as the message, failed when any package failed). Fixed job kinds, no
//! script: they need no opt-in on the device.
//!
//! Registering them (and naming their `JobKind`s) is the binary's wiring:
//! `config.executors.register(ListUpdatesExecutor::new(manager.clone()))`.

use std::sync::Arc;

use serde::Deserialize;
use steward_proto::agent::JobAssignment;

use super::UpdateManager;
use crate::runner::jobs::{BoxFuture, JobContext, JobExecutor, JobOutcome};

/// The most of an install's log kept as the job's output (the server keeps 1 MiB).
pub const MAX_LOG_BYTES: usize = 256 * 1024;

/// Lists the pending updates.
pub struct ListUpdatesExecutor {
    manager: Arc<dyn UpdateManager>,
}

impl ListUpdatesExecutor {
    pub fn new(manager: Arc<dyn UpdateManager>) -> ListUpdatesExecutor {
        ListUpdatesExecutor { manager }
    }
}

impl JobExecutor for ListUpdatesExecutor {
    fn kind(&self) -> &str {
        "list_updates"
    }

    fn run(&self, _: JobContext, _: JobAssignment) -> BoxFuture<'_, JobOutcome> {
        let manager = self.manager.clone();
        Box::pin(async move {
            let listed = tokio::task::spawn_blocking(move || {
                let pending = manager.pending()?;
                let reboot = manager.reboot_required()?;
                anyhow::Ok((pending, reboot))
            })
            .await;
            match listed {
                Ok(Ok((pending, reboot))) => list_outcome(&pending, reboot),
                Ok(Err(e)) => JobOutcome::failed(format!("listing updates: {e:#}")),
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
    manager: Arc<dyn UpdateManager>,
}

impl InstallUpdatesExecutor {
    pub fn new(manager: Arc<dyn UpdateManager>) -> InstallUpdatesExecutor {
        InstallUpdatesExecutor { manager }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct InstallParams {
    packages: Vec<String>,
}

impl JobExecutor for InstallUpdatesExecutor {
    fn kind(&self) -> &str {
        "install_updates"
    }

    fn run(&self, _: JobContext, job: JobAssignment) -> BoxFuture<'_, JobOutcome> {
        let manager = self.manager.clone();
        Box::pin(async move {
            let params: InstallParams = match serde_json::from_value(job.params) {
                Ok(params) => params,
                Err(e) => return JobOutcome::failed(format!("params: {e}")),
            };
            let installed = tokio::task::spawn_blocking(move || {
                let mut log = CappedLog::default();
                let results = manager.install(&params.packages, &mut |line| log.push(line));
                (results, log.into_text())
            })
            .await;
            match installed {
                Ok((results, output)) => install_outcome(results, output),
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
        assert!(serde_json::from_value::<InstallParams>(serde_json::json!({})).is_err());
        assert!(
            serde_json::from_value::<InstallParams>(serde_json::json!({"packages":["a"],"x":1}))
                .is_err()
        );
    }
}
