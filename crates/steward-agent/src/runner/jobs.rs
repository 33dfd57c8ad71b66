//! Jobs as a registry of executors.
//!
//! Each job kind the agent runs is a [`JobExecutor`] registered in [`JobExecutors`] before
//! the agent starts ([`super::AgentConfig::executors`]); the kinds registered are exactly
//! the kinds the agent advertises at check-in, so the server never hands it another. A job
//! of a kind with no executor (a newer server's kind, or one this build left out) is
//! answered `unsupported` without running anything.
//!
//! The trait is public so that an executor with heavy dependencies (a backup engine, a
//! patch manager) can live in a crate of its own that depends on `steward-agent`, and the
//! binary that wants it registers it at start-up:
//!
//! ```ignore
//! let mut config = AgentConfig::new(state_dir);
//! config.executors.register(steward_backup::BackupExecutor::new());
//! ```
//!
//! Such an executor sees only [`JobContext`] (the job's id, the agent's state directory) and
//! the job itself; the built-in ones additionally reach the agent's queue and client.
//!
//! Jobs run concurrently: at most [`super::AgentConfig::max_concurrent_jobs`] at once (the
//! agent asks the server for no more work while that many are held), and at most
//! [`JobExecutor::max_concurrent`] of one kind (1 unless the executor says otherwise), so an
//! hour-long backup never holds up an inventory refresh or a patch, while two runs of the
//! same kind never trample each other.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::path::Path;
use std::pin::Pin;
use std::sync::Arc;

use steward_core::JobState;
use steward_proto::agent::{JobAssignment, JobUpdate};

use super::Agent;

/// What [`JobExecutor::run`] returns: a boxed future borrowing the executor.
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Runs one kind of job.
pub trait JobExecutor: Send + Sync + 'static {
    /// The job kind, as the server names it (`collect_inventory`): lowercase letters,
    /// digits and `_` (the server refuses other advertised names).
    fn kind(&self) -> &str;

    /// How many jobs of this kind may run at once on this agent. One by default: most jobs
    /// act on the whole machine (a backup, a patch run), and a second one of the same kind
    /// waits for the first.
    fn max_concurrent(&self) -> usize {
        1
    }

    /// Runs `job`. The runner reports the job `running` before this starts and the
    /// outcome after it ends; a panic is reported as a failure.
    fn run(&self, ctx: JobContext, job: JobAssignment) -> BoxFuture<'_, JobOutcome>;
}

/// What a job came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JobOutcome {
    Succeeded {
        message: String,
        output: String,
    },
    Failed {
        message: String,
        output: String,
    },
    /// The executor cannot do this here (a missing tool, another platform).
    Unsupported {
        message: String,
    },
}

impl JobOutcome {
    pub fn succeeded(message: impl Into<String>) -> JobOutcome {
        JobOutcome::Succeeded {
            message: message.into(),
            output: String::new(),
        }
    }

    pub fn failed(message: impl Into<String>) -> JobOutcome {
        JobOutcome::Failed {
            message: message.into(),
            output: String::new(),
        }
    }

    pub fn unsupported(message: impl Into<String>) -> JobOutcome {
        JobOutcome::Unsupported {
            message: message.into(),
        }
    }

    /// Success with the message, or failure with the error and its causes.
    pub fn from_result(result: anyhow::Result<String>) -> JobOutcome {
        match result {
            Ok(message) => JobOutcome::succeeded(message),
            Err(e) => JobOutcome::failed(format!("{e:#}")),
        }
    }

    pub(super) fn into_update(self) -> JobUpdate {
        let (state, message, output) = match self {
            JobOutcome::Succeeded { message, output } => (JobState::Succeeded, message, output),
            JobOutcome::Failed { message, output } => (JobState::Failed, message, output),
            JobOutcome::Unsupported { message } => (JobState::Unsupported, message, String::new()),
        };
        JobUpdate {
            state,
            message,
            output,
        }
    }
}

/// What an executor may use besides the job itself.
#[derive(Clone)]
pub struct JobContext {
    pub(super) job_id: String,
    pub(super) agent: Arc<Agent>,
}

impl JobContext {
    /// The job's id (as in the server's job history).
    pub fn job_id(&self) -> &str {
        &self.job_id
    }

    /// The agent's state directory: the only place an executor should keep files.
    pub fn state_dir(&self) -> &Path {
        &self.agent.state_dir
    }

    /// The agent's client, for executors of this crate that talk to the server mid-job.
    pub(crate) fn client(&self) -> &crate::client::Client {
        &self.agent.client
    }

    /// Collects the inventory at the next check-in rather than at its usual time: a job
    /// that changed the machine (an install) has the server see the change within a minute.
    pub async fn refresh_inventory_soon(&self) {
        self.agent.core.lock().await.inventory_at = None;
    }

    /// Tells the server how the job is going (still `running`, with the output so far), so
    /// a person watching a long job sees its log grow. Best effort: a progress note that
    /// does not arrive is superseded by the next one or by the result.
    pub async fn progress(&self, message: &str, output: &str) {
        let update = JobUpdate {
            state: JobState::Running,
            message: message.to_owned(),
            output: output.to_owned(),
        };
        if let Err(e) = self.agent.client.update_job(&self.job_id, &update).await {
            tracing::debug!(job = %self.job_id, error = %e, "could not report the job's progress");
        }
    }
}

/// The executors an agent runs, by kind.
#[derive(Clone, Default)]
pub struct JobExecutors {
    by_kind: BTreeMap<String, Arc<dyn JobExecutor>>,
}

impl JobExecutors {
    /// No executors: the agent advertises no job kinds and runs none.
    pub fn empty() -> JobExecutors {
        JobExecutors::default()
    }

    /// The kinds every agent runs: `collect_inventory` and `rotate_credential`, and on
    /// Linux `detection_response` (a person's kill, continue, isolate or lift).
    pub fn with_builtins() -> JobExecutors {
        let mut executors = JobExecutors::empty();
        executors
            .register(super::builtin::CollectInventory)
            .register(super::builtin::RotateCredential);
        #[cfg(target_os = "linux")]
        executors.register(crate::detection::executor::DetectionResponseExecutor::new());
        executors
    }

    /// Adds `executor`, replacing any registered for the same kind.
    pub fn register(&mut self, executor: impl JobExecutor) -> &mut JobExecutors {
        self.by_kind
            .insert(executor.kind().to_string(), Arc::new(executor));
        self
    }

    /// Removes the executor for `kind`, if any: the agent stops advertising it.
    pub fn remove(&mut self, kind: &str) -> &mut JobExecutors {
        self.by_kind.remove(kind);
        self
    }

    /// The kinds registered, in order: what the agent advertises.
    pub fn kinds(&self) -> Vec<String> {
        self.by_kind.keys().cloned().collect()
    }

    pub(super) fn get(&self, kind: &str) -> Option<Arc<dyn JobExecutor>> {
        self.by_kind.get(kind).cloned()
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = (&String, &Arc<dyn JobExecutor>)> {
        self.by_kind.iter()
    }
}

impl fmt::Debug for JobExecutors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.by_kind.keys()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Named(&'static str);

    impl JobExecutor for Named {
        fn kind(&self) -> &str {
            self.0
        }
        fn run(&self, _: JobContext, _: JobAssignment) -> BoxFuture<'_, JobOutcome> {
            Box::pin(async { JobOutcome::succeeded(self.0) })
        }
    }

    #[test]
    fn the_registry_is_what_the_agent_advertises() {
        let mut executors = JobExecutors::with_builtins();
        #[cfg(target_os = "linux")]
        {
            assert_eq!(
                executors.kinds(),
                [
                    "collect_inventory",
                    "detection_response",
                    "rotate_credential"
                ]
            );
            executors.remove("detection_response");
        }
        assert_eq!(
            executors.kinds(),
            ["collect_inventory", "rotate_credential"]
        );
        executors
            .register(Named("backup"))
            .remove("collect_inventory");
        assert_eq!(executors.kinds(), ["backup", "rotate_credential"]);
        // An unknown kind, as a newer server might send, has no executor.
        assert!(executors.get("defragment_the_moon").is_none());
        assert!(JobExecutors::empty().kinds().is_empty());
    }

    #[test]
    fn outcomes_become_updates() {
        let failed = JobOutcome::from_result(Err(anyhow::anyhow!("disk full")));
        assert_eq!(failed.into_update().state, JobState::Failed);
        let update = JobOutcome::unsupported("no tape drive").into_update();
        assert_eq!(update.state, JobState::Unsupported);
        assert_eq!(update.message, "no tape drive");
    }
}
