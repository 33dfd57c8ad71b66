//! `/posture`: the report in the console — the organisation's standing per framework, the
//! remediations worth doing first, every section with its items, the devices' scores and
//! the accepted exceptions — printable as it is (the stylesheet's print rules drop the
//! navigation and the forms), with CSV, JSON and PDF downloads. People who manage posture
//! answer manual items and accept or end exceptions here; every change goes to the posture
//! service, which validates, limits to the caller's scope and audits.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use steward_core::{Action, Timestamp};
use steward_proto::posture::{Item, NewException, Report, Section, Standing};

use super::report::Framework;
use super::service;
use crate::auth::{ConsoleUser, ManagePosture};
use crate::console::format::{relative, utc};
use crate::console::{Chrome, FormFields, refused, render};
use crate::state::AppState;
use crate::web::csrf::CsrfForm;
use crate::web::routes::{Access, Routes};

pub(super) const PAGE: &str = "/posture";

pub fn routes() -> Routes {
    Routes::new()
        .get(PAGE, Access::Requires(Action::ViewDevices), page)
        .get(
            "/posture/report.pdf",
            Access::Requires(Action::ViewDevices),
            pdf,
        )
        .get(
            "/posture/report.html",
            Access::Requires(Action::ViewDevices),
            html,
        )
        .post(
            "/posture/exceptions",
            Access::Requires(Action::ManagePosture),
            add_exception,
        )
        .post(
            "/posture/exceptions/{id}/revoke",
            Access::Requires(Action::ManagePosture),
            revoke_exception,
        )
}

#[derive(Debug, Deserialize)]
pub struct PageQuery {
    framework: Option<String>,
    done: Option<String>,
}

/// `73 %`, or `–` when nothing was judged.
pub fn percent(ratio: Option<f64>) -> String {
    ratio.map_or_else(|| "–".to_owned(), |r| format!("{:.0} %", r * 100.0))
}

/// The badge class of a status.
pub fn badge(status: &str) -> &'static str {
    match status {
        "pass" => "ok",
        "fail" => "critical",
        "excepted" => "warning",
        _ => "pending",
    }
}

pub fn status_label(status: &str) -> String {
    match status {
        "not_applicable" => "not applicable".into(),
        other => other.into(),
    }
}

pub struct FrameworkLink {
    pub id: &'static str,
    pub title: &'static str,
    pub current: bool,
}

#[derive(Template)]
#[template(path = "posture.html")]
struct PosturePage {
    chrome: Chrome,
    report: Report,
    frameworks: Vec<FrameworkLink>,
    generated: String,
    can_manage: bool,
    done: Option<String>,
    /// Today, as the date inputs' minimum.
    today: String,
    /// A year from now: the latest an exception may run.
    year_from_now: String,
    check_ids: Vec<(String, String)>,
}

impl PosturePage {
    fn percent(&self, ratio: &Option<f64>) -> String {
        percent(*ratio)
    }

    fn badge(&self, status: &str) -> &'static str {
        badge(status)
    }

    fn label(&self, status: &str) -> String {
        status_label(status)
    }

    fn when(&self, at: &Option<Timestamp>) -> String {
        at.map(|t| relative(t, self.report.generated_at))
            .unwrap_or_default()
    }

    fn exact(&self, at: &Timestamp) -> String {
        utc(*at)
    }

    fn coverage(&self, item: &Item) -> String {
        item.coverage
            .map(|c| format!("{}/{} ({})", c.covered, c.judged, percent(c.ratio)))
            .unwrap_or_default()
    }

    fn standing_line(&self, s: &Standing) -> String {
        format!(
            "{} pass, {} fail, {} excepted, {} unknown",
            s.score.pass, s.score.fail, s.score.excepted, s.score.unknown
        )
    }

    fn section_line(&self, s: &Section) -> String {
        format!(
            "{} — {} pass, {} fail",
            percent(s.score.ratio),
            s.score.pass,
            s.score.fail
        )
    }
}

/// The report the query asks for, over the user's devices; a refusal is the error page.
async fn report_for(
    state: &AppState,
    user: &ConsoleUser,
    q: &PageQuery,
) -> Result<(Framework, Report), Response> {
    let framework = q
        .framework
        .as_deref()
        .and_then(Framework::parse)
        .unwrap_or_default();
    let caller = user.caller(state);
    service::report(state, caller.scope(), framework, caller.now)
        .await
        .map(|r| (framework, r))
        .map_err(|e| refused(&user.0, e, "Security posture", PAGE))
}

/// A rendering offered as a download.
fn download(media_type: &'static str, file_name: &'static str, body: Vec<u8>) -> Response {
    (
        [
            (header::CONTENT_TYPE, media_type.to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{file_name}\""),
            ),
        ],
        body,
    )
        .into_response()
}

fn date(t: Timestamp) -> String {
    crate::console::format::date(t)
}

pub async fn page(
    State(state): State<AppState>,
    user: ConsoleUser,
    Query(q): Query<PageQuery>,
) -> Response {
    let (framework, report) = match report_for(&state, &user, &q).await {
        Ok(found) => found,
        Err(refusal) => return refusal,
    };
    let caller = user.caller(&state);
    let frameworks = Framework::ALL
        .into_iter()
        .map(|f| FrameworkLink {
            id: f.id(),
            title: match f {
                Framework::Checklist => "Checklist",
                Framework::CisIg1 => "CIS Controls IG1",
                Framework::CyberEssentials => "Cyber Essentials",
            },
            current: f == framework,
        })
        .collect();
    let check_ids = super::catalog::checks()
        .iter()
        .map(|c| (c.id.clone(), c.title.clone()))
        .collect();
    let page = PosturePage {
        chrome: Chrome::new(&user.0, "posture"),
        generated: utc(report.generated_at),
        frameworks,
        can_manage: user.0.may(Action::ManagePosture),
        done: q.done,
        today: date(caller.now),
        year_from_now: date(caller.now.plus_millis(365 * 86_400_000)),
        check_ids,
        report,
    };
    render(StatusCode::OK, &page)
}

/// The report as a PDF, written here (no browser involved), off the async workers.
pub async fn pdf(
    State(state): State<AppState>,
    user: ConsoleUser,
    Query(q): Query<PageQuery>,
) -> Response {
    let report = match report_for(&state, &user, &q).await {
        Ok((_, report)) => report,
        Err(refusal) => return refusal,
    };
    match tokio::task::spawn_blocking(move || super::report::pdf::render(&report)).await {
        Ok(Ok(bytes)) => download("application/pdf", "posture-report.pdf", bytes),
        Ok(Err(e)) => crate::error::AppError::internal(e).into_response(),
        Err(e) => crate::error::AppError::internal(e).into_response(),
    }
}

/// The print-ready report as one self-contained file, downloaded (its inline style is not
/// the console's to serve as a page).
pub async fn html(
    State(state): State<AppState>,
    user: ConsoleUser,
    Query(q): Query<PageQuery>,
) -> Response {
    let report = match report_for(&state, &user, &q).await {
        Ok((_, report)) => report,
        Err(refusal) => return refusal,
    };
    match super::report::html::render(&report) {
        Ok(page) => download(
            "text/html; charset=utf-8",
            "posture-report.html",
            page.into_bytes(),
        ),
        Err(e) => crate::error::AppError::internal(e).into_response(),
    }
}

pub(super) fn back(done: &str, anchor: &str) -> Response {
    Redirect::to(&format!("{PAGE}?done={done}#{anchor}")).into_response()
}

pub async fn add_exception(
    State(state): State<AppState>,
    user: ConsoleUser<ManagePosture>,
    CsrfForm(fields): CsrfForm<FormFields>,
) -> Response {
    let Some(expires_at) = steward_core::time::end_of_day(fields.get("expires")) else {
        return refused(
            &user.0,
            service::PostureError::Invalid("expires: a date, YYYY-MM-DD".into()),
            "Accept a risk",
            PAGE,
        );
    };
    let input = NewException {
        check_id: fields.get("check_id").to_owned(),
        target: fields.get("target").trim().to_owned(),
        reason: fields.get("reason").to_owned(),
        owner: fields.get("owner").to_owned(),
        expires_at,
    };
    match service::add_exception(&state, &user.caller(&state), &input).await {
        Ok(_) => back("excepted", "exceptions"),
        Err(e) => refused(&user.0, e, "Accept a risk", PAGE),
    }
}

pub async fn revoke_exception(
    State(state): State<AppState>,
    user: ConsoleUser<ManagePosture>,
    Path(id): Path<String>,
    CsrfForm(_): CsrfForm<FormFields>,
) -> Response {
    match service::revoke_exception(&state, &user.caller(&state), &id).await {
        Ok(()) => back("revoked", "exceptions"),
        Err(e) => refused(&user.0, e, "End an exception", PAGE),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentages_round_and_nothing_is_a_dash() {
        assert_eq!(percent(Some(0.734)), "73 %");
        assert_eq!(percent(None), "–");
    }
}
