//! The `detection_response` job: a person's decision on a detection, carried out. Kill or
//! continue the process tree the detection stopped (only processes that are still the ones
//! stopped), isolate the device (everything but the Steward server cut off), or lift the
//! isolation. Stopping is never a job: it is automatic, at the moment of detection.

use std::net::SocketAddr;
use std::path::Path;

use steward_core::detection::{ResponseAction, ResponseStep};
use steward_proto::agent::JobAssignment;
use steward_proto::detection::DetectionResponseParams;

use super::respond::{self, Nft};
use crate::runner::jobs::{BoxFuture, JobContext, JobExecutor, JobOutcome};

/// Runs `detection_response` jobs.
#[derive(Debug, Clone, Default)]
pub struct DetectionResponseExecutor {
    nft: Nft,
    /// The server's addresses, when given (tests); otherwise resolved from the agent's
    /// state (its server URL) at each isolation.
    servers: Option<Vec<SocketAddr>>,
}

impl DetectionResponseExecutor {
    pub fn new() -> DetectionResponseExecutor {
        DetectionResponseExecutor::default()
    }

    /// `nft` run another way (inside a network namespace, in tests).
    pub fn with_nft(mut self, nft: Nft) -> DetectionResponseExecutor {
        self.nft = nft;
        self
    }

    /// The addresses isolation lets through, rather than the server URL's.
    pub fn with_servers(mut self, servers: Vec<SocketAddr>) -> DetectionResponseExecutor {
        self.servers = Some(servers);
        self
    }

    /// Carries out the job with `params` for the agent whose state directory is `dir`.
    pub async fn execute(&self, dir: &Path, params: &serde_json::Value) -> JobOutcome {
        let params: DetectionResponseParams = match serde_json::from_value(params.clone()) {
            Ok(p) => p,
            Err(e) => return JobOutcome::failed(format!("the job's parameters: {e}")),
        };
        let servers = match (params.action, &self.servers) {
            (ResponseAction::Isolate, Some(servers)) => servers.clone(),
            (ResponseAction::Isolate, None) => {
                let url = match crate::state::AgentState::load(dir) {
                    Ok(state) => state.server_url,
                    Err(e) => {
                        return JobOutcome::failed(format!(
                            "not isolated: the server's address is unknown ({e:#})"
                        ));
                    }
                };
                // Resolving may wait on DNS: off the runtime's thread.
                let resolved = tokio::task::spawn_blocking(move || respond::server_addrs(&url))
                    .await
                    .map_err(|e| e.to_string())
                    .and_then(|r| r);
                match resolved {
                    Ok(servers) => servers,
                    Err(e) => {
                        return JobOutcome::failed(format!(
                            "not isolated: the server's address is needed to keep reaching it: {e}"
                        ));
                    }
                }
            }
            _ => vec![],
        };
        let nft = self.nft.clone();
        let run = tokio::task::spawn_blocking(move || respond_to(&params, &nft, &servers)).await;
        match run {
            Ok(Ok(step)) => outcome(step),
            Ok(Err(refusal)) => JobOutcome::failed(refusal),
            Err(e) => JobOutcome::failed(format!("the response did not finish: {e}")),
        }
    }
}

/// The step `params` asks for, or why it is not a job.
fn respond_to(
    params: &DetectionResponseParams,
    nft: &Nft,
    servers: &[SocketAddr],
) -> Result<ResponseStep, String> {
    match params.action {
        ResponseAction::Kill | ResponseAction::Continue if params.pids.is_empty() => Err(format!(
            "detection {}: no processes named to {}",
            params.detection,
            params.action.as_str()
        )),
        ResponseAction::Kill => Ok(respond::kill(&params.pids)),
        ResponseAction::Continue => Ok(respond::resume(&params.pids)),
        ResponseAction::Isolate => Ok(nft.isolate(servers)),
        ResponseAction::Lift => Ok(nft.lift()),
        ResponseAction::Stop => Err(
            "stopping is automatic when a detection is made, never a job; kill or continue \
             the stopped processes instead"
                .into(),
        ),
    }
}

fn outcome(step: ResponseStep) -> JobOutcome {
    if step.ok {
        JobOutcome::succeeded(step.message)
    } else {
        JobOutcome::failed(step.message)
    }
}

impl JobExecutor for DetectionResponseExecutor {
    fn kind(&self) -> &str {
        steward_core::JobKind::DetectionResponse.as_str()
    }

    fn run(&self, ctx: JobContext, job: JobAssignment) -> BoxFuture<'_, JobOutcome> {
        Box::pin(async move { self.execute(ctx.state_dir(), &job.params).await })
    }
}
