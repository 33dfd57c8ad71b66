//! The `run_script` job: refuse unless the device allows scripts, a key is pinned and the
//! order verifies; then run the content and report its exit code and output.

use std::path::{Path, PathBuf};
use std::time::Duration;

use steward_core::Timestamp;
use steward_core::scripts::verify;
use steward_proto::agent::{JobAssignment, RunScriptParams};

use super::policy::{ScriptPolicy, pinned_script_key};
use super::process::{self, Ending, RunSpec};
use crate::runner::jobs::{BoxFuture, JobContext, JobExecutor, JobOutcome};

/// At most this much output is kept per run.
pub const OUTPUT_CAP_BYTES: usize = 64 * 1024;
/// Between SIGTERM and SIGKILL when a run times out.
pub const KILL_GRACE: Duration = Duration::from_secs(5);

/// Runs `run_script` jobs. Reads the device's policy and pinned key from the agent's state
/// directory at every job, so a change an administrator makes on the device (turning
/// scripts off) holds from the next job without a restart.
#[derive(Debug, Clone)]
pub struct RunScriptExecutor {
    kill_grace: Duration,
    output_cap: usize,
}

impl Default for RunScriptExecutor {
    fn default() -> Self {
        RunScriptExecutor::new()
    }
}

impl RunScriptExecutor {
    pub fn new() -> RunScriptExecutor {
        RunScriptExecutor {
            kill_grace: KILL_GRACE,
            output_cap: OUTPUT_CAP_BYTES,
        }
    }

    /// A shorter wait between SIGTERM and SIGKILL (tests).
    pub fn with_kill_grace(mut self, grace: Duration) -> RunScriptExecutor {
        self.kill_grace = grace;
        self
    }

    /// Runs the job `job_id` with `params` on the device `device_id` whose state directory
    /// is `dir`, at `now`. The checks come first, in this order, and any one refusing means
    /// nothing is written and nothing runs: the device allows scripts, a key is pinned, the
    /// parameters parse, the order is for this job, and [`verify`] accepts it.
    pub async fn execute(
        &self,
        dir: &Path,
        device_id: &str,
        job_id: &str,
        params: &serde_json::Value,
        now: Timestamp,
    ) -> JobOutcome {
        let policy = match ScriptPolicy::load(dir) {
            Ok(policy) => policy,
            Err(e) => return refused(format!("the device's script setting: {e:#}")),
        };
        if !policy.allow_scripts {
            return refused(format!(
                "this device does not allow scripts (allow_scripts is not true in {}; set it \
                 there, or enroll with --allow-scripts, to allow them)",
                ScriptPolicy::path(dir).display()
            ));
        }
        let key = match pinned_script_key(dir) {
            Ok(Some(key)) => key,
            Ok(None) => {
                return refused(
                    "no script signing key is pinned on this device (it is pinned at \
                     enrollment); enroll again to pin the server's key",
                );
            }
            Err(e) => return refused(format!("the pinned script key: {e:#}")),
        };
        let run: RunScriptParams = match serde_json::from_value(params.clone()) {
            Ok(run) => run,
            Err(e) => return refused(format!("the job's parameters: {e}")),
        };
        if run.order.job_id != job_id {
            return refused(format!(
                "the order was signed for job {:?}, not this job",
                run.order.job_id
            ));
        }
        if let Err(why) = verify(
            &run.order,
            &run.signature,
            &key,
            &run.content,
            device_id,
            now,
        ) {
            return refused(why.to_string());
        }

        let spec = RunSpec {
            interpreter: run.order.interpreter,
            content: &run.content,
            params: &run.order.params,
            job_id,
            timeout: Duration::from_secs(run.order.timeout_secs),
            kill_grace: self.kill_grace,
            output_cap: self.output_cap,
        };
        match process::run(dir, &spec).await {
            Ok(ran) => outcome(ran, run.order.timeout_secs),
            Err(e) => JobOutcome::failed(format!("the script could not run: {e:#}")),
        }
    }
}

fn refused(why: impl Into<String>) -> JobOutcome {
    JobOutcome::failed(format!("refused, nothing was run: {}", why.into()))
}

fn outcome(ran: process::Ran, timeout_secs: u64) -> JobOutcome {
    let (succeeded, message) = match ran.ending {
        Ending::TimedOut => (
            false,
            format!("timed out after {timeout_secs} s; the script and its processes were stopped"),
        ),
        Ending::Exited(status) => match (status.code(), exit_signal(&status)) {
            (Some(0), _) => (true, "exited with code 0".to_string()),
            (Some(code), _) => (false, format!("exited with code {code}")),
            (None, Some(signal)) => (false, format!("killed by signal {signal}")),
            (None, None) => (false, format!("ended: {status}")),
        },
    };
    if succeeded {
        JobOutcome::Succeeded {
            message,
            output: ran.output,
        }
    } else {
        JobOutcome::Failed {
            message,
            output: ran.output,
        }
    }
}

fn exit_signal(status: &std::process::ExitStatus) -> Option<i32> {
    std::os::unix::process::ExitStatusExt::signal(status)
}

impl JobExecutor for RunScriptExecutor {
    fn kind(&self) -> &str {
        steward_core::JobKind::RunScript.as_str()
    }

    fn run(&self, ctx: JobContext, job: JobAssignment) -> BoxFuture<'_, JobOutcome> {
        Box::pin(async move {
            let dir: PathBuf = ctx.state_dir().to_path_buf();
            let device_id = match crate::state::AgentState::load(&dir) {
                Ok(state) => state.device_id,
                Err(e) => return refused(format!("the agent's identity: {e:#}")),
            };
            self.execute(
                &dir,
                &device_id,
                ctx.job_id(),
                &job.params,
                crate::runner::now(),
            )
            .await
        })
    }
}
