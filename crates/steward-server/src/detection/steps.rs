//! What the device did after a detection, added to its response steps: the outcome of each
//! `detection_response` job (a person's kill, continue, isolate, lift) and a drill's end (its
//! simulated attack killed). The steps say whether the process tree is still stopped and
//! the device still isolated, which decide the buttons a person is offered next.

use steward_core::JobState;
use steward_core::detection::alert::left_by;
use steward_core::detection::{ResponseAction, ResponseStep};
use steward_proto::detection::DetectionResponseParams;
use steward_store::{JobRecord, StoreError};

use crate::state::AppState;

/// Longest message kept from a job (the agent's are a line).
const MAX_MESSAGE: usize = 300;

/// A `detection_response` job finished: its outcome becomes the detection's next step.
pub async fn response_job_finished(state: &AppState, job: &JobRecord) {
    let Ok(params) = serde_json::from_value::<DetectionResponseParams>(job.params.clone()) else {
        tracing::warn!(job = %job.id, "detection: a response job's parameters do not read");
        return;
    };
    let step = ResponseStep {
        action: params.action,
        at: state.now(),
        ok: job.state == JobState::Succeeded,
        message: job.message.chars().take(MAX_MESSAGE).collect(),
        job: Some(job.id.clone()),
    };
    if let Err(e) = add(state, &job.device_id, &params.detection, step).await {
        tracing::warn!(job = %job.id, error = %e, "detection: could not record a response's step");
    }
}

/// A drill's attack was ended by the drill itself (its process group killed): said on the
/// drill's detection, so no one is offered to kill or release a process that is gone.
pub async fn drill_ended(
    state: &AppState,
    device_id: &str,
    local_id: &str,
    job_id: &str,
) -> Result<(), StoreError> {
    let step = ResponseStep {
        action: ResponseAction::Kill,
        at: state.now(),
        ok: true,
        message: "the drill ended its simulated attack".into(),
        job: Some(job_id.to_owned()),
    };
    add(state, device_id, local_id, step).await
}

async fn add(
    state: &AppState,
    device_id: &str,
    local_id: &str,
    step: ResponseStep,
) -> Result<(), StoreError> {
    let id = state
        .store
        .detection_id_of(device_id, local_id)
        .await?
        .ok_or(StoreError::NotFound)?;
    let mut steps = state
        .store
        .detection(&id)
        .await?
        .ok_or(StoreError::NotFound)?
        .responses;
    steps.push(step.clone());
    let (stopped, isolated) = left_by(&steps);
    state
        .store
        .add_detection_step(&id, &step, stopped, isolated)
        .await
}
