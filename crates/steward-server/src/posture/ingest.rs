//! An agent report's `posture` section into the store: the device's current results are
//! replaced (a state that did not change keeps the time it began), and a check that began
//! failing wakes the posture alerts. Called after the report's own commit: a failure here is
//! logged, and the next evaluation (a few hours on) says it all again.

use steward_core::Timestamp;
use steward_core::posture::PostureReport;
use steward_store::PostureResultWrite;

use crate::state::AppState;

pub async fn record(state: &AppState, device_id: &str, report: PostureReport, now: Timestamp) {
    // The agent's clock may run ahead; the server never records an evaluation in its future.
    let at = Timestamp(report.evaluated_at.0.min(now.0));
    let results: Vec<PostureResultWrite> = report
        .results
        .into_iter()
        .map(|r| PostureResultWrite {
            check_id: r.check,
            state: r.state.as_str().into(),
            evidence: r.evidence,
            reason: r.reason,
        })
        .collect();
    match state.store.record_posture(device_id, at, &results).await {
        Ok(transitions) => {
            crate::detection::server_side::posture_transitions(state, device_id, &transitions, at)
                .await;
            let failing = transitions.iter().filter(|t| t.to == "fail").count();
            tracing::info!(device = %device_id, results = results.len(),
                changed = transitions.len(), newly_failing = failing, "posture recorded");
            if failing > 0
                || transitions
                    .iter()
                    .any(|t| t.from.as_deref() == Some("fail"))
            {
                super::alerts::wake(state);
            }
        }
        Err(e) => tracing::warn!(device = %device_id, error = %e,
            "posture: could not record a device's results; its next evaluation will"),
    }
}
