//! The job kinds every agent runs. They reach into the agent itself (its queue, collector
//! and client), which executors from other crates cannot.

use steward_core::JobKind;
use steward_proto::agent::JobAssignment;

use super::jobs::{BoxFuture, JobContext, JobExecutor, JobOutcome};
use crate::client::Health;

/// `collect_inventory`: collect now, queue, deliver at once.
pub(super) struct CollectInventory;

impl JobExecutor for CollectInventory {
    fn kind(&self) -> &str {
        JobKind::CollectInventory.as_str()
    }

    fn run(&self, ctx: JobContext, _job: JobAssignment) -> BoxFuture<'_, JobOutcome> {
        Box::pin(async move {
            let mut health = Health::new("jobs");
            JobOutcome::from_result(ctx.agent.collect_inventory_now(&mut health).await)
        })
    }
}

/// `rotate_credential`: get a new credential, store it, use it.
pub(super) struct RotateCredential;

impl JobExecutor for RotateCredential {
    fn kind(&self) -> &str {
        JobKind::RotateCredential.as_str()
    }

    fn run(&self, ctx: JobContext, _job: JobAssignment) -> BoxFuture<'_, JobOutcome> {
        Box::pin(async move {
            let mut health = Health::new("jobs");
            JobOutcome::from_result(ctx.agent.rotate_credential(&ctx.job_id, &mut health).await)
        })
    }
}
