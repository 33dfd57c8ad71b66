//! `/detections`: the detections in the console, the open ones first, and the detection
//! policies with a form to set one; `/detections/{id}`: everything known of one detection
//! and a button per decision. A "Run ransomware drill" button on the device page posts to
//! `/detections/drills`. Every change goes to the detection service, which checks the role
//! and the scope and audits; every form carries the session's CSRF token.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use steward_core::detection::DetectionPolicy;
use steward_core::detection::record::{Decision, Status};
use steward_core::{Action, Timestamp};
use steward_proto::detection::{
    DetectionDetail, DetectionPolicyIo, DetectionSummary, DrillOut, DrillRequest,
};

use super::service::{self, DetectionError};
use crate::auth::{ConsoleUser, ManageBackups, ManageDetectionPolicies, RespondToDetections};
use crate::console::format::{relative, utc};
use crate::console::{Chrome, FormFields, refused, render};
use crate::monitoring::manage::targets::{self, Choices};
use crate::state::AppState;
use crate::web::csrf::CsrfForm;
use crate::web::routes::{Access, Routes};

const PAGE: &str = "/detections";

pub fn routes() -> Routes {
    Routes::new()
        .get(PAGE, Access::Requires(Action::ViewDevices), page)
        .get(
            "/detections/{id}",
            Access::Requires(Action::ViewDevices),
            detail,
        )
        .post(
            "/detections/{id}/decision",
            Access::Requires(Action::RespondToDetections),
            decide,
        )
        .post(
            "/detections/{id}/restore",
            Access::Requires(Action::ManageBackups),
            restore,
        )
        .post(
            "/detections/policies",
            Access::Requires(Action::ManageDetectionPolicies),
            set_policy,
        )
        .post(
            "/detections/policies/delete",
            Access::Requires(Action::ManageDetectionPolicies),
            delete_policy,
        )
        .post(
            "/detections/drills",
            Access::Requires(Action::RespondToDetections),
            drill,
        )
}

#[derive(Debug, Deserialize)]
pub struct DoneQuery {
    done: Option<String>,
}

/// A policy as a row.
pub struct PolicyRow {
    pub target: String,
    pub covers: String,
    pub folders: String,
    pub canaries: bool,
    pub responses: String,
}

#[derive(Template)]
#[template(path = "detections.html")]
pub struct DetectionsPage {
    pub chrome: Chrome,
    pub detections: Vec<DetectionSummary>,
    pub open: usize,
    /// Detections people confirmed, and those they judged false alarms: the detector's
    /// record, shown rather than tuned away.
    pub confirmed: usize,
    pub false_alarms: usize,
    pub policies: Vec<PolicyRow>,
    pub drills: Vec<DrillOut>,
    /// The finished drills' trend, when there are any.
    pub trend: Option<super::trend::DrillTrend>,
    pub trend_width: u32,
    pub trend_height: u32,
    pub choices: Choices,
    pub all: String,
    pub no_tag: String,
    pub can_manage_policies: bool,
    pub done: Option<String>,
    pub now: Timestamp,
}

impl DetectionsPage {
    fn when(&self, t: &Timestamp) -> String {
        relative(*t, self.now)
    }
    fn actor(&self, label: &str) -> String {
        crate::console::format::actor(label)
    }
}

pub async fn page(
    State(state): State<AppState>,
    user: ConsoleUser,
    Query(q): Query<DoneQuery>,
) -> Response {
    let caller = user.caller(&state);
    let loaded = async {
        let detections = service::list(&state, &caller, None, None).await?;
        let policies = service::policies(&state, &caller).await?;
        let drills = service::drills(&state, &caller, None).await?;
        Ok::<_, DetectionError>((detections, policies, drills))
    }
    .await;
    let (detections, policies, mut drills) = match loaded {
        Ok(loaded) => loaded,
        Err(e) => return refused(&user.0, e, "Detections", "/"),
    };
    drills.truncate(20);
    let choices = Choices::load(&state, &caller).await.unwrap_or_default();
    let policies = policies
        .into_iter()
        .map(|p| PolicyRow {
            covers: choices.describe(&p.target),
            folders: p.policy.folders.join(", "),
            canaries: p.policy.canaries,
            responses: p.responses,
            target: p.target,
        })
        .collect();
    render(
        StatusCode::OK,
        &DetectionsPage {
            chrome: Chrome::new(&user.0, "detections"),
            open: detections
                .iter()
                .filter(|d| d.status == Status::Open)
                .count(),
            confirmed: detections
                .iter()
                .filter(|d| d.status == Status::Confirmed)
                .count(),
            false_alarms: detections
                .iter()
                .filter(|d| d.status == Status::FalseAlarm)
                .count(),
            detections,
            policies,
            trend: super::trend::DrillTrend::of(&drills, caller.now),
            trend_width: super::trend::WIDTH,
            trend_height: super::trend::HEIGHT,
            drills,
            choices,
            all: "all".into(),
            no_tag: String::new(),
            can_manage_policies: user.0.may(Action::ManageDetectionPolicies),
            done: q.done,
            now: caller.now,
        },
    )
}

/// A decision's button: its value and its words.
pub struct Button {
    pub decision: &'static str,
    pub label: &'static str,
    pub danger: bool,
}

#[derive(Template)]
#[template(path = "detection.html")]
pub struct DetectionPage {
    pub chrome: Chrome,
    pub d: DetectionDetail,
    pub buttons: Vec<Button>,
    /// Whether the caller may restore the files (when a backup holds them).
    pub can_restore: bool,
    pub done: Option<String>,
    pub now: Timestamp,
}

impl DetectionPage {
    fn when(&self, t: &Timestamp) -> String {
        relative(*t, self.now)
    }
    fn exact(&self, t: &Timestamp) -> String {
        utc(*t)
    }
    fn op(&self, f: &steward_core::detection::FileTouch) -> &'static str {
        f.op.into()
    }
    fn actor(&self, label: &str) -> String {
        crate::console::format::actor(label)
    }
}

/// The decisions that apply to a detection as it stands.
fn buttons(d: &DetectionDetail) -> Vec<Button> {
    let s = &d.summary;
    let mut buttons = Vec::new();
    if matches!(s.status, Status::Open | Status::Released) {
        buttons.push(Button {
            decision: Decision::Confirm.as_str(),
            label: if s.stopped {
                "Confirm: kill the process"
            } else {
                "Confirm the attack"
            },
            danger: true,
        });
        // Only a stopped tree has anything to release.
        if s.status == Status::Open && d.process.is_some() && s.stopped {
            buttons.push(Button {
                decision: Decision::Release.as_str(),
                label: "Release the process",
                danger: false,
            });
        }
        buttons.push(Button {
            decision: Decision::FalseAlarm.as_str(),
            label: "Mark a false alarm",
            danger: false,
        });
    }
    buttons.push(if s.isolated {
        Button {
            decision: Decision::LiftIsolation.as_str(),
            label: "Lift the isolation",
            danger: false,
        }
    } else {
        Button {
            decision: Decision::Isolate.as_str(),
            label: "Isolate the device",
            danger: true,
        }
    });
    buttons
}

pub async fn detail(
    State(state): State<AppState>,
    user: ConsoleUser,
    Path(id): Path<String>,
    Query(q): Query<DoneQuery>,
) -> Response {
    let caller = user.caller(&state);
    match service::get(&state, &caller, &id).await {
        Ok(d) => render(
            StatusCode::OK,
            &DetectionPage {
                chrome: Chrome::new(&user.0, "detections"),
                buttons: if user.0.may(Action::RespondToDetections) {
                    buttons(&d)
                } else {
                    Vec::new()
                },
                can_restore: user.0.may(Action::ManageBackups)
                    && d.last_backup_snapshot.is_some()
                    && !d.files.is_empty(),
                d,
                done: q.done,
                now: caller.now,
            },
        ),
        Err(e) => refused(&user.0, e, "Detection", PAGE),
    }
}

pub async fn decide(
    State(state): State<AppState>,
    user: ConsoleUser<RespondToDetections>,
    Path(id): Path<String>,
    CsrfForm(fields): CsrfForm<FormFields>,
) -> Response {
    let back = format!("/detections/{}", urlencoding(&id));
    let Some(decision) = Decision::parse(fields.get("decision")) else {
        return refused(
            &user.0,
            DetectionError::Invalid("choose a decision".into()),
            "Decide",
            &back,
        );
    };
    match service::decide(&state, &user.caller(&state), &id, decision).await {
        Ok(_) => Redirect::to(&format!("{back}?done={}", decision.as_str())).into_response(),
        Err(e) => refused(&user.0, e, "Decide", &back),
    }
}

pub async fn restore(
    State(state): State<AppState>,
    user: ConsoleUser<ManageBackups>,
    Path(id): Path<String>,
    CsrfForm(_): CsrfForm<FormFields>,
) -> Response {
    let back = format!("/detections/{}", urlencoding(&id));
    match service::restore_files(&state, &user.caller(&state), &id).await {
        Ok(_) => Redirect::to(&format!("{back}?done=restore")).into_response(),
        Err(e) => refused(&user.0, e, "Restore the files", &back),
    }
}

/// An id in a path: ids are UUIDs, but a forged one must not break the URL.
fn urlencoding(id: &str) -> String {
    id.chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect()
}

pub async fn set_policy(
    State(state): State<AppState>,
    user: ConsoleUser<ManageDetectionPolicies>,
    CsrfForm(fields): CsrfForm<FormFields>,
) -> Response {
    let input = DetectionPolicyIo {
        target: targets::value(fields.get("target"), fields.get("tag")),
        policy: DetectionPolicy {
            folders: fields
                .get("folders")
                .split([',', '\n', ' '])
                .map(str::trim)
                .filter(|f| !f.is_empty())
                .map(str::to_owned)
                .collect(),
            canaries: fields.get("canaries") == "on",
            auto_stop: fields.get("auto_stop") == "on",
            auto_isolate: fields.get("auto_isolate") == "on",
        },
    };
    match service::set_policy(&state, &user.caller(&state), input).await {
        Ok(_) => Redirect::to(&format!("{PAGE}?done=policy")).into_response(),
        Err(e) => refused(&user.0, e, "Set a detection policy", PAGE),
    }
}

pub async fn delete_policy(
    State(state): State<AppState>,
    user: ConsoleUser<ManageDetectionPolicies>,
    CsrfForm(fields): CsrfForm<FormFields>,
) -> Response {
    match service::delete_policy(&state, &user.caller(&state), fields.get("target")).await {
        Ok(()) => Redirect::to(&format!("{PAGE}?done=deleted")).into_response(),
        Err(e) => refused(&user.0, e, "Delete a detection policy", PAGE),
    }
}

pub async fn drill(
    State(state): State<AppState>,
    user: ConsoleUser<RespondToDetections>,
    CsrfForm(fields): CsrfForm<FormFields>,
) -> Response {
    let device = fields.get("device");
    let back = format!("/devices/{}", urlencoding(device));
    match service::queue_drill(
        &state,
        &user.caller(&state),
        device,
        DrillRequest::default(),
    )
    .await
    {
        Ok(_) => Redirect::to(&format!("{back}?done=drill")).into_response(),
        Err(e) => refused(&user.0, e, "Run a ransomware drill", &back),
    }
}
