//! The posture service: the report for a caller's scope, manual answers and exceptions
//! (who may, audit), and the daily score history. The API, the console and the CLI call
//! these; none of them decides anything itself.

use std::collections::HashMap;

use steward_core::alerting::CheckStatus;
use steward_core::backup::verdict::{self, BackupFacts};
use steward_core::checks::Target;
use steward_core::posture::PostureState;
use steward_core::posture::exception::{BadException, check_new};
use steward_core::{Action, Scope, Timestamp};
use steward_proto::posture::{self as wire, NewException, SaveAnswer};
use steward_store::{
    AttachmentChange, NewPostureException, PostureAnswerWrite, PostureExceptionRecord,
    PostureScoreWrite, StoreError,
};

use super::catalog::{
    self, BACKUP_RECENT, INVENTORY_REPORTING, PATCHES_WITHIN_14_DAYS, RESTORE_PROVEN,
};
use super::report::{self, Answered, CheckMeta, Device, ExceptionRow, Framework, Inputs, Stored};
use crate::service::{Caller, Denied, DomainError, Refusal};
use crate::state::AppState;

/// A device silent for longer than this fails `inventory-reporting`.
const SILENT_AFTER_MS: i64 = 7 * 86_400_000;
/// An attached file's largest size.
pub const MAX_ATTACHMENT_BYTES: usize = 2 * 1024 * 1024;
/// A note's longest length, in characters.
const MAX_NOTE_CHARS: usize = 4_000;

#[derive(Debug, thiserror::Error)]
pub enum PostureError {
    #[error("no manual item {0:?}; see the report's checklist for their ids")]
    NoItem(String),
    #[error("no check {0:?}; see the report for the checks' ids")]
    NoCheck(String),
    #[error("no exception {0:?}, or it was revoked already")]
    NoException(String),
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    BadException(#[from] BadException),
    #[error(transparent)]
    Denied(#[from] Denied),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl DomainError for PostureError {
    fn refusal(&self) -> Refusal {
        match self {
            PostureError::NoItem(_) | PostureError::NoCheck(_) | PostureError::NoException(_) => {
                Refusal::NotFound
            }
            PostureError::Invalid(_) | PostureError::BadException(_) => Refusal::Invalid,
            PostureError::Denied(d) => d.refusal(),
            PostureError::Store(e) => e.refusal(),
        }
    }
}

pub type Result<T> = std::result::Result<T, PostureError>;

/// The report over the devices `scope` sees.
pub async fn report(
    state: &AppState,
    scope: &Scope,
    framework: Framework,
    now: Timestamp,
) -> Result<wire::Report> {
    let memberships = state.store.device_memberships().await?;
    // When each device last checked in, for `inventory-reporting`: from the same read.
    let seen: HashMap<String, Option<Timestamp>> = memberships
        .iter()
        .map(|d| (d.device_id.clone(), d.last_seen_at))
        .collect();
    let devices: Vec<Device> = memberships
        .into_iter()
        .filter(|d| scope.allows(d.group_id.as_deref()))
        .map(|d| Device {
            id: d.device_id,
            name: d.name,
            groups: d.group_id.into_iter().collect(),
            tags: d.tags,
        })
        .collect();
    let mut results: Vec<Stored> = state
        .store
        .scoped(scope)
        .posture_results(None)
        .await?
        .into_iter()
        .filter_map(|r| {
            Some(Stored {
                state: PostureState::parse(&r.state)?,
                device_id: r.device_id,
                check_id: r.check_id,
                evidence: r.evidence,
                reason: r.reason,
                since: r.since,
                evaluated_at: r.evaluated_at,
            })
        })
        .collect();
    results.extend(server_results(state, &devices, &seen, now).await?);
    let mut checks: Vec<CheckMeta> = catalog::checks().to_vec();
    // Results of checks the server does not know (a user's own pack on the agent) are shown
    // under their id rather than dropped.
    let mut unknown: Vec<&str> = results
        .iter()
        .map(|r| r.check_id.as_str())
        .filter(|id| catalog::check(id).is_none())
        .collect();
    unknown.sort_unstable();
    unknown.dedup();
    checks.extend(unknown.into_iter().map(|id| CheckMeta {
        id: id.to_owned(),
        title: format!("{id} (a local check)"),
        section: steward_posture::Section::Security,
        severity: steward_posture::Severity::Medium,
        remediation: String::new(),
        cis: Vec::new(),
        cyber_essentials: None,
        kind: "check",
    }));
    let answers = answers(state).await?;
    let exceptions = exceptions(state, scope, now).await?;
    Ok(report::build(
        &Inputs {
            checks: &checks,
            manual: steward_posture::manual::items(),
            devices: &devices,
            results: &results,
            answers: &answers,
            exceptions: &exceptions,
            now,
        },
        framework,
    ))
}

/// The server's own checks for each device: a recent backup, a proven restore, a device
/// that reports, security updates installed within 14 days (the same facts the `Patching`
/// alert and the Updates page read).
async fn server_results(
    state: &AppState,
    devices: &[Device],
    seen: &HashMap<String, Option<Timestamp>>,
    now: Timestamp,
) -> Result<Vec<Stored>> {
    let backups: HashMap<String, BackupFacts> = crate::backup::alerts::facts(state).await?;
    let patching = crate::patching::alerts::facts(state).await?;
    let listed: HashMap<String, Timestamp> = state
        .store
        .update_statuses()
        .await?
        .into_iter()
        .filter(|s| !s.manager.is_empty())
        .map(|s| (s.device_id, s.listed_at))
        .collect();
    let mut out = Vec::with_capacity(devices.len() * 4);
    for d in devices {
        let facts = backups.get(&d.id);
        let mut push = |check: &str, (state, why): (PostureState, String)| {
            out.push(Stored {
                device_id: d.id.clone(),
                check_id: check.to_owned(),
                state,
                evidence: why.clone(),
                reason: why,
                since: now,
                evaluated_at: now,
            });
        };
        push(
            BACKUP_RECENT,
            from_check(
                facts.and_then(|f| verdict::backup(f, now)),
                "no backup policy covers this device and it has no backups",
            ),
        );
        push(
            RESTORE_PROVEN,
            from_check(
                facts.and_then(|f| verdict::drill(f, now)),
                "no restore of this device's backups has been proven",
            ),
        );
        let human = |at: Timestamp| steward_core::time::human_duration_ms(now.since(at));
        push(
            INVENTORY_REPORTING,
            match seen.get(&d.id).copied().flatten() {
                Some(at) if now.since(at) <= SILENT_AFTER_MS => {
                    (PostureState::Pass, format!("last report {} ago", human(at)))
                }
                Some(at) => (PostureState::Fail, format!("silent for {}", human(at))),
                None => (PostureState::Fail, "the agent never reported".to_owned()),
            },
        );
        push(
            PATCHES_WITHIN_14_DAYS,
            patches_within_14_days(listed.get(&d.id).copied(), patching.get(&d.id), now),
        );
    }
    Ok(out)
}

/// Unknown until the device has listed its updates; then failing when a security update
/// has waited more than 14 days since the listing first saw it.
fn patches_within_14_days(
    listed: Option<Timestamp>,
    facts: Option<&steward_core::patching::verdict::PatchFacts>,
    now: Timestamp,
) -> (PostureState, String) {
    let Some(listed) = listed else {
        return (
            PostureState::Unknown,
            "the agent has not listed this device's updates".to_owned(),
        );
    };
    let days = |t: Timestamp| now.since(t).max(0) / 86_400_000;
    match facts.and_then(|f| f.oldest_security.map(|t| (f.security_pending, days(t)))) {
        Some((n, age)) if age > steward_core::patching::verdict::SECURITY_DAYS_ALLOWED => (
            PostureState::Fail,
            format!("{n} security update(s) pending, the oldest for {age} days"),
        ),
        Some((n, age)) => (
            PostureState::Pass,
            format!(
                "{n} security update(s) pending, the oldest for {age} days (listed {} ago)",
                steward_core::time::human_duration_ms(now.since(listed))
            ),
        ),
        None => (
            PostureState::Pass,
            format!(
                "no security update pending (listed {} ago)",
                steward_core::time::human_duration_ms(now.since(listed))
            ),
        ),
    }
}

/// A monitoring verdict as a posture state: OK passes, any problem fails, none (nothing
/// to judge) fails with `none`.
fn from_check(verdict: Option<(CheckStatus, String)>, none: &str) -> (PostureState, String) {
    match verdict {
        Some((CheckStatus::Ok, why)) => (PostureState::Pass, why),
        Some((_, why)) => (PostureState::Fail, why),
        None => (PostureState::Fail, none.to_owned()),
    }
}

async fn answers(state: &AppState) -> Result<Vec<Answered>> {
    Ok(state
        .store
        .posture_answers()
        .await?
        .into_iter()
        .filter_map(|a| {
            Some(Answered {
                answer: steward_core::posture::manual::Answer::parse(&a.answer)?,
                item_id: a.item_id,
                owner: a.owner,
                note: a.note,
                review_by: a.review_by,
                answered_at: a.answered_at,
                attachment: a.attachment.map(|f| f.name),
            })
        })
        .collect())
}

pub(crate) fn exception_status(e: &PostureExceptionRecord, now: Timestamp) -> &'static str {
    if e.revoked_at.is_some() {
        "revoked"
    } else if now >= e.expires_at {
        "expired"
    } else {
        "active"
    }
}

/// The exceptions a caller with `scope` sees: those whose target is within it (every
/// exception for an administrator).
async fn exceptions(state: &AppState, scope: &Scope, now: Timestamp) -> Result<Vec<ExceptionRow>> {
    let groups: HashMap<String, Option<String>> = state
        .store
        .device_memberships()
        .await?
        .into_iter()
        .map(|d| (d.device_id, d.group_id))
        .collect();
    Ok(state
        .store
        .posture_exceptions()
        .await?
        .into_iter()
        .filter(|e| within(scope, &e.target, &groups))
        .map(|e| ExceptionRow {
            rule: report::exception_rule(
                &e.check_id,
                &e.target,
                e.expires_at,
                e.revoked_at.is_some(),
            ),
            wire: wire::Exception {
                status: exception_status(&e, now).into(),
                id: e.id,
                check_id: e.check_id,
                target: e.target,
                reason: e.reason,
                owner: e.owner,
                expires_at: e.expires_at,
                created_at: e.created_at,
                created_by: e.created_by,
            },
        })
        .collect())
}

/// Whether a target lies within `scope`: every device's scope holds all; a limited one
/// its own groups and their devices.
fn within(scope: &Scope, target: &str, groups: &HashMap<String, Option<String>>) -> bool {
    match (scope, Target::parse(target)) {
        (Scope::AllDevices, _) => true,
        (_, Ok(Target::Group(g))) => scope.allows(Some(&g)),
        (_, Ok(Target::Device(d))) => groups.get(&d).is_some_and(|g| scope.allows(g.as_deref())),
        _ => false,
    }
}

/// Answers a manual item (organisation-wide: it takes a caller who sees every device).
pub async fn save_answer(
    state: &AppState,
    caller: &Caller,
    item_id: &str,
    input: &SaveAnswer,
    mut attachment: AttachmentChange,
) -> Result<()> {
    caller.require(Action::ManagePosture)?;
    if caller.scope() != &Scope::AllDevices {
        return Err(PostureError::Invalid(
            "the checklist's manual items are the whole organisation's: answering them takes access to every device".into(),
        ));
    }
    let item = steward_posture::manual::item(item_id)
        .ok_or_else(|| PostureError::NoItem(item_id.into()))?;
    let owner = input.owner.trim();
    if owner.is_empty() || owner.chars().count() > 200 || owner.chars().any(char::is_control) {
        return Err(PostureError::Invalid(
            "owner: name who answers for this item (1 to 200 characters, one line)".into(),
        ));
    }
    if input.note.chars().count() > MAX_NOTE_CHARS {
        return Err(PostureError::Invalid(format!(
            "note: at most {MAX_NOTE_CHARS} characters"
        )));
    }
    if let AttachmentChange::Replace {
        name,
        media_type,
        bytes,
    } = &mut attachment
    {
        // The media type is the client's word, sent back when the file is downloaded: one
        // short line, whichever way (API, console form, CLI) the file came.
        *media_type = media_type
            .chars()
            .take(100)
            .filter(|c| !c.is_control())
            .collect();
        if bytes.len() > MAX_ATTACHMENT_BYTES {
            return Err(PostureError::Invalid(format!(
                "attachment: {} bytes, at most {MAX_ATTACHMENT_BYTES}",
                bytes.len()
            )));
        }
        if name.is_empty()
            || name.chars().count() > 200
            || name
                .chars()
                .any(|c| c.is_control() || c == '/' || c == '\\')
        {
            return Err(PostureError::Invalid(
                "attachment: a file name of 1 to 200 characters".into(),
            ));
        }
    }
    let review_by = input.review_by.unwrap_or(
        caller
            .now
            .plus_millis(i64::from(item.review_days) * 86_400_000),
    );
    if review_by <= caller.now {
        return Err(PostureError::Invalid(
            "review_by: a date in the future".into(),
        ));
    }
    state
        .store
        .save_posture_answer(&PostureAnswerWrite {
            item_id: item.id.into(),
            owner: owner.into(),
            answer: input.answer.as_str().into(),
            note: input.note.clone(),
            review_by,
            answered_at: caller.now,
            answered_by: caller.label(),
            attachment,
        })
        .await?;
    caller
        .audit(
            &state.store,
            "posture_answered",
            item.id,
            &format!("{} (owner {owner})", input.answer.as_str()),
        )
        .await;
    // A reminder of this item, if one is open, ends soon after.
    super::alerts::wake(state);
    Ok(())
}

/// Attaches a file to a manual item's answer (which must exist), replacing any earlier one.
pub async fn attach(
    state: &AppState,
    caller: &Caller,
    item_id: &str,
    name: String,
    media_type: String,
    bytes: Vec<u8>,
) -> Result<()> {
    caller.require(Action::ManagePosture)?;
    let current = state
        .store
        .posture_answers()
        .await?
        .into_iter()
        .find(|a| a.item_id == item_id)
        .ok_or_else(|| {
            PostureError::Invalid(format!(
                "answer {item_id:?} first: a file is evidence for an answer"
            ))
        })?;
    let answer = steward_core::posture::manual::Answer::parse(&current.answer)
        .ok_or_else(|| PostureError::Invalid("the stored answer is unreadable".into()))?;
    let input = SaveAnswer {
        answer,
        owner: current.owner,
        note: current.note,
        review_by: Some(current.review_by),
    };
    save_answer(
        state,
        caller,
        item_id,
        &input,
        AttachmentChange::Replace {
            name,
            media_type,
            bytes,
        },
    )
    .await
}

/// The file attached to a manual item's answer.
pub async fn attachment(
    state: &AppState,
    item_id: &str,
) -> Result<steward_store::PostureAttachment> {
    state
        .store
        .posture_attachment(item_id)
        .await?
        .ok_or_else(|| PostureError::NoItem(format!("{item_id} (no attached file)")))
}

/// Accepts a risk: a check failing on a device, group or tag (or all devices, for a caller
/// who sees them all), until a date.
pub async fn add_exception(
    state: &AppState,
    caller: &Caller,
    input: &NewException,
) -> Result<PostureExceptionRecord> {
    caller.require(Action::ManagePosture)?;
    if catalog::check(&input.check_id).is_none()
        && !steward_core::posture::report::is_check_id(&input.check_id)
    {
        return Err(PostureError::NoCheck(input.check_id.clone()));
    }
    let target =
        Target::parse(&input.target).map_err(|e| PostureError::Invalid(format!("target: {e}")))?;
    check_new(&input.reason, &input.owner, input.expires_at, caller.now)?;
    let groups: HashMap<String, Option<String>> = state
        .store
        .device_memberships()
        .await?
        .into_iter()
        .map(|d| (d.device_id, d.group_id))
        .collect();
    // Outside the caller's scope, a device or group is as absent as one that does not exist.
    if !within(caller.scope(), &target.as_string(), &groups) {
        return Err(PostureError::Invalid(match &target {
            Target::Device(id) => format!("target: no device {id:?}"),
            Target::Group(id) => format!("target: no group {id:?}"),
            _ => "target: all devices, or a tag, takes access to every device".into(),
        }));
    }
    if let Target::Device(id) = &target
        && !groups.contains_key(id)
    {
        return Err(PostureError::Invalid(format!("target: no device {id:?}")));
    }
    let record = state
        .store
        .add_posture_exception(&NewPostureException {
            check_id: input.check_id.clone(),
            target: target.as_string(),
            reason: input.reason.trim().into(),
            owner: input.owner.trim().into(),
            expires_at: input.expires_at,
            created_at: caller.now,
            created_by: caller.label(),
        })
        .await?;
    caller
        .audit(
            &state.store,
            "posture_exception_added",
            &record.check_id,
            &format!(
                "{} until {}: {}",
                record.target,
                crate::console::format::utc(record.expires_at),
                record.reason
            ),
        )
        .await;
    super::alerts::wake(state);
    Ok(record)
}

/// Ends an exception now; the failure it excused counts again.
pub async fn revoke_exception(state: &AppState, caller: &Caller, id: &str) -> Result<()> {
    caller.require(Action::ManagePosture)?;
    let scope = caller.scope().clone();
    let visible = exceptions(state, &scope, caller.now).await?;
    let Some(found) = visible.iter().find(|e| e.wire.id == id) else {
        return Err(PostureError::NoException(id.into()));
    };
    if !state
        .store
        .revoke_posture_exception(id, &caller.label(), caller.now)
        .await?
    {
        return Err(PostureError::NoException(id.into()));
    }
    caller
        .audit(
            &state.store,
            "posture_exception_revoked",
            &found.wire.check_id,
            &found.wire.target,
        )
        .await;
    super::alerts::wake(state);
    Ok(())
}

/// The unix day of `t`.
pub fn day_of(t: Timestamp) -> i64 {
    t.0.div_euclid(86_400_000)
}

/// Records today's scores (the organisation, each framework, each section, each device):
/// the dashboard's trend. Run hourly; the day's row is overwritten until the day ends.
pub async fn record_scores(state: &AppState) -> Result<()> {
    let now = state.now();
    let report = report(state, &Scope::AllDevices, Framework::Checklist, now).await?;
    let write = |scope: String, s: &wire::Score| PostureScoreWrite {
        scope,
        pass: i64::from(s.pass),
        fail: i64::from(s.fail),
        excepted: i64::from(s.excepted),
        unknown: i64::from(s.unknown),
        not_applicable: i64::from(s.not_applicable),
    };
    let mut scores = vec![write("organisation".into(), &report.organisation)];
    scores.extend(
        report
            .standings
            .iter()
            .map(|s| write(format!("framework:{}", s.framework), &s.score)),
    );
    scores.extend(
        report
            .sections
            .iter()
            .map(|s| write(format!("section:{}", s.id), &s.score)),
    );
    scores.extend(
        report
            .device_scores
            .iter()
            .map(|d| write(format!("device:{}", d.device_id), &d.score)),
    );
    state
        .store
        .record_posture_scores(day_of(now), &scores)
        .await?;
    Ok(())
}

/// The organisation's score by day, the oldest first, over the last `days`.
pub async fn trend(state: &AppState, days: i64) -> Result<Vec<wire::ScorePoint>> {
    let today = day_of(state.now());
    Ok(state
        .store
        .posture_score_history("organisation", today - days)
        .await?
        .into_iter()
        .map(|r| {
            let tally = steward_posture::Tally {
                pass: u32::try_from(r.pass).unwrap_or(0),
                fail: u32::try_from(r.fail).unwrap_or(0),
                excepted: u32::try_from(r.excepted).unwrap_or(0),
                unknown: u32::try_from(r.unknown).unwrap_or(0),
                not_applicable: u32::try_from(r.not_applicable).unwrap_or(0),
            };
            wire::ScorePoint {
                day: r.day,
                score: report::score(&tally),
            }
        })
        .collect())
}
