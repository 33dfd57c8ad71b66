//! Posture alerts through monitoring's pipeline: the `posture` device check is judged here,
//! from each device's results, its baseline and the active exceptions, by monitoring's own
//! sweep ([`crate::monitoring::devices::sweep_checks`]) — so a regression pages through the
//! same routes, maintenance windows and outbox as every other check. Judged every few
//! minutes and soon after a device's results change ([`wake`]). The same task records the
//! day's scores for the dashboard's trend every hour.

use std::collections::HashMap;
use std::time::Duration;

use steward_core::checks::{DeviceCheck, Membership};
use steward_core::posture::verdict::{PostureFacts, Regression};
use steward_core::{Scope, Timestamp};
use steward_store::StoreError;

use super::catalog;
use crate::state::AppState;

const SWEEP_EVERY: Duration = Duration::from_secs(300);
const SCORES_EVERY: Duration = Duration::from_secs(3600);
/// After results change, the scores are recorded again at most this often.
const SCORES_AFTER_CHANGE: Duration = Duration::from_secs(60);
/// After a wake-up, how long to gather the evaluations arriving meanwhile.
const GATHER: Duration = Duration::from_secs(2);

/// Starts the judgement and the score history; runs until the task is aborted. The day's
/// scores are recorded every hour, and after results change (at most once a minute), so
/// the dashboard's trend follows the fleet.
pub fn spawn(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        // Not at start: nothing has been reported yet; the first results wake the task.
        let mut scores =
            tokio::time::interval_at(tokio::time::Instant::now() + SCORES_EVERY, SCORES_EVERY);
        scores.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut recorded: Option<tokio::time::Instant> = None;
        loop {
            let record = tokio::select! {
                () = tokio::time::sleep(SWEEP_EVERY) => {
                    judge(&state).await;
                    false
                }
                () = state.posture_alerts.notified() => {
                    tokio::time::sleep(GATHER).await;
                    judge(&state).await;
                    recorded.is_none_or(|at| at.elapsed() >= SCORES_AFTER_CHANGE)
                }
                _ = scores.tick() => true,
            };
            if record {
                recorded = Some(tokio::time::Instant::now());
                if let Err(e) = super::service::record_scores(&state).await {
                    tracing::warn!(error = %e, "posture: recording the day's scores failed");
                }
            }
        }
    })
}

/// A device's results changed, or an exception did: judge soon.
pub fn wake(state: &AppState) {
    state.posture_alerts.notify_one();
}

/// Judges every device's `posture` check, and the organisation's `posture_reviews`, now.
pub async fn judge(state: &AppState) {
    let result = async {
        let now = state.now();
        let posture = facts(state, now).await?;
        crate::monitoring::devices::sweep_checks(
            state,
            |c| matches!(c, DeviceCheck::Posture),
            &crate::monitoring::devices::SweptFacts {
                posture,
                ..Default::default()
            },
        )
        .await?;
        let reviews = reviews(state, now).await?;
        crate::monitoring::organisation::judge(
            state,
            |c| matches!(c, DeviceCheck::PostureReviews),
            &reviews,
        )
        .await
    }
    .await;
    if let Err(e) = result {
        tracing::warn!(error = %e, "posture: judging posture alerts failed");
    }
}

/// Each answered manual item's review standing, one alert subject per item: overdue items
/// warn, naming their owner; the others are OK (so a re-answered item's reminder ends).
/// Unanswered items have nobody to remind; the report counts them as failing.
pub async fn reviews(
    state: &AppState,
    now: Timestamp,
) -> Result<Vec<crate::monitoring::organisation::SubjectResult>, StoreError> {
    use steward_core::posture::manual;
    Ok(state
        .store
        .posture_answers()
        .await?
        .into_iter()
        .filter_map(|a| {
            let item = steward_posture::manual::item(&a.item_id)?;
            let (status, summary) = manual::review_verdict(item.title, &a.owner, a.review_by, now);
            Some(crate::monitoring::organisation::SubjectResult {
                subject: manual::subject(item.id),
                label: item.title.to_string(),
                status,
                summary,
            })
        })
        .collect())
}

/// Each evaluated device's regressions: checks failing now that began failing after the
/// device's first evaluation, not excused by an active exception.
pub async fn facts(
    state: &AppState,
    now: Timestamp,
) -> Result<HashMap<String, PostureFacts>, StoreError> {
    let baselines: HashMap<String, Timestamp> = state
        .store
        .posture_devices()
        .await?
        .into_iter()
        .map(|d| (d.device_id, d.first_evaluated_at))
        .collect();
    let devices: HashMap<String, steward_store::DeviceMembership> = state
        .store
        .device_memberships()
        .await?
        .into_iter()
        .map(|d| (d.device_id.clone(), d))
        .collect();
    let exceptions: Vec<steward_core::posture::exception::Exception> = state
        .store
        .posture_exceptions()
        .await?
        .into_iter()
        .map(|e| {
            super::report::exception_rule(
                &e.check_id,
                &e.target,
                e.expires_at,
                e.revoked_at.is_some(),
            )
        })
        .collect();
    let mut facts: HashMap<String, PostureFacts> = baselines
        .keys()
        .map(|id| (id.clone(), PostureFacts::default()))
        .collect();
    for r in state
        .store
        .scoped(&Scope::AllDevices)
        .posture_results(None)
        .await?
    {
        let (Some(baseline), Some(device)) =
            (baselines.get(&r.device_id), devices.get(&r.device_id))
        else {
            continue;
        };
        if r.state != "fail" || r.since <= *baseline {
            continue;
        }
        let groups: Vec<String> = device.group_id.iter().cloned().collect();
        let membership = Membership {
            device_id: &device.device_id,
            groups: &groups,
            tags: &device.tags,
        };
        if exceptions
            .iter()
            .any(|e| e.applies(&r.check_id, &membership, now))
        {
            continue;
        }
        let meta = catalog::check(&r.check_id);
        let critical = meta.is_some_and(|m| {
            m.severity == steward_posture::Severity::Critical
                || m.cyber_essentials
                    .as_deref()
                    .and_then(steward_posture::frameworks::requirement)
                    .is_some_and(|req| req.auto_fail)
        });
        facts
            .entry(r.device_id.clone())
            .or_default()
            .regressions
            .push(Regression {
                title: meta.map_or_else(|| r.check_id.clone(), |m| m.title.clone()),
                check_id: r.check_id,
                since: r.since,
                critical,
            });
    }
    Ok(facts)
}
