//! The maintenance page: windows, one-off or weekly (UTC), over devices (all, a group, a
//! device, a tag) or a whole check; while one is open what it covers pages nobody. Anyone
//! who sees devices sees them; those who may define checks add and delete them.

use askama::Template;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Deserialize;
use steward_core::alerting::window::Window;
use steward_core::{Action, Timestamp};
use steward_proto::monitoring::{CreateWindow, WindowInfo};

use super::parse::{clock, duration, format_clock, format_duration, format_utc_minute, utc_minute};
use super::targets::{self, Choices};
use super::{Tab, about_the_form, tabs};
use crate::auth::{ConsoleUser, ManageMonitoring, Principal};
use crate::console::format::sentence;
use crate::console::format::utc;
use crate::console::{Chrome, FormFields, refused, render};
use crate::error::AppResult;
use crate::monitoring::{checks, windows};
use crate::service::Caller;
use crate::state::AppState;
use crate::web::csrf::CsrfForm;

const PAGE: &str = "/maintenance";
const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];

pub struct WindowRow {
    pub id: String,
    pub name: String,
    pub target: String,
    pub schedule: String,
    pub open: bool,
    pub comment: String,
    pub created_by: String,
    pub declared: bool,
}

/// The form as typed.
#[derive(Debug, Clone)]
pub struct WindowForm {
    pub name: String,
    pub target: String,
    pub tag: String,
    /// `once` or `weekly`.
    pub schedule: String,
    /// `datetime-local` values, UTC.
    pub start: String,
    pub end: String,
    /// Weekly: the days ticked (0 = Monday), the time it opens, how long it lasts.
    pub days: Vec<u8>,
    pub at: String,
    pub length: String,
    pub comment: String,
}

impl WindowForm {
    /// A new window: from now for two hours (or weekly, Sundays 22:00 for two hours).
    fn new(now: Timestamp) -> Self {
        let now = Timestamp(now.0 - now.0.rem_euclid(60_000));
        Self {
            name: String::new(),
            target: "all".into(),
            tag: String::new(),
            schedule: "once".into(),
            start: format_utc_minute(now),
            end: format_utc_minute(now.plus_millis(2 * 3_600_000)),
            days: vec![6],
            at: "22:00".into(),
            length: "2h".into(),
            comment: String::new(),
        }
    }

    fn read(fields: &FormFields) -> Self {
        Self {
            name: fields.get("name").to_string(),
            target: fields.get("target").to_string(),
            tag: fields.get("tag").to_string(),
            schedule: fields.get("schedule").to_string(),
            start: fields.get("start").to_string(),
            end: fields.get("end").to_string(),
            days: fields
                .all("day")
                .iter()
                .filter_map(|d| d.parse().ok())
                .filter(|d| *d < 7)
                .collect(),
            at: fields.get("at").to_string(),
            length: fields.get("length").to_string(),
            comment: fields.get("comment").to_string(),
        }
    }

    /// The request the service takes; an error names the field.
    fn to_request(&self) -> Result<CreateWindow, String> {
        let schedule = match self.schedule.as_str() {
            "once" => Window::Once {
                start: utc_minute("starts", &self.start)?,
                end: utc_minute("ends", &self.end)?,
            },
            "weekly" => Window::Weekly {
                days: self.days.clone(),
                start_minute: clock("opens at", &self.at)?,
                minutes: duration("lasts", &self.length)?
                    .map(|s| u32::try_from(s.div_ceil(60)).unwrap_or(u32::MAX))
                    .ok_or("lasts: how long it stays open (say 2h)")?,
            },
            _ => return Err("schedule: once or weekly".into()),
        };
        Ok(CreateWindow {
            name: self.name.clone(),
            target: targets::value(&self.target, &self.tag),
            schedule,
            comment: self.comment.trim().to_string(),
        })
    }

    /// Whether day `d` is ticked (for the template).
    pub fn has_day(&self, d: &usize) -> bool {
        self.days.iter().any(|x| usize::from(*x) == *d)
    }
}

/// A schedule in words: "2026-05-01 22:00 UTC → 2026-05-02 02:00 UTC", "Sat, Sun at
/// 22:00 UTC for 2h".
fn describe(schedule: &Window) -> String {
    match schedule {
        Window::Once { start, end } => format!("{} → {}", utc(*start), utc(*end)),
        Window::Weekly {
            days,
            start_minute,
            minutes,
        } => {
            let days: Vec<&str> = days
                .iter()
                .filter_map(|d| DAYS.get(usize::from(*d)).copied())
                .collect();
            format!(
                "{} at {} UTC for {}",
                days.join(", "),
                format_clock(*start_minute),
                format_duration(u64::from(*minutes) * 60)
            )
        }
    }
}

#[derive(Template)]
#[template(path = "maintenance.html")]
struct MaintenancePage {
    chrome: Chrome,
    tabs: Vec<Tab>,
    windows: Vec<WindowRow>,
    can_manage: bool,
    form: WindowForm,
    error: String,
    done: String,
    choices: Choices,
    days: [&'static str; 7],
}

#[derive(Debug, Default, Deserialize)]
pub struct PageQuery {
    done: Option<String>,
}

pub async fn page(
    State(state): State<AppState>,
    user: ConsoleUser,
    q: Result<Query<PageQuery>, QueryRejection>,
) -> Response {
    let done = match q.ok().and_then(|Query(q)| q.done).as_deref() {
        Some("created") => "Maintenance window added.",
        Some("deleted") => "Maintenance window deleted.",
        _ => "",
    };
    let caller = user.caller(&state);
    let form = WindowForm::new(caller.now);
    show(
        build(&state, &user.0, &caller, form, String::new(), done.into()).await,
        StatusCode::OK,
    )
}

fn show(page: AppResult<MaintenancePage>, status: StatusCode) -> Response {
    match page {
        Ok(p) => render(status, &p),
        Err(e) => e.into_response(),
    }
}

async fn build(
    state: &AppState,
    user: &Principal,
    caller: &Caller,
    form: WindowForm,
    error: String,
    done: String,
) -> AppResult<MaintenancePage> {
    let mut choices = Choices::load(state, caller).await?;
    choices.checks = checks::list(state, caller)
        .await?
        .into_iter()
        .map(|c| (format!("check:{}", c.id), c.name))
        .collect();
    choices.keep(&targets::value(&form.target, &form.tag));
    let listed: Vec<WindowInfo> = windows::list(state, caller).await?;
    Ok(MaintenancePage {
        chrome: Chrome::new(user, "monitoring"),
        tabs: tabs(user, PAGE),
        windows: listed
            .iter()
            .map(|w| WindowRow {
                id: w.id.clone(),
                name: w.name.clone(),
                target: choices.describe(&w.target),
                schedule: describe(&w.schedule),
                open: w.open,
                comment: w.comment.clone(),
                created_by: w.created_by.clone(),
                declared: w.source == crate::monitoring::FROM_CONFIG,
            })
            .collect(),
        can_manage: user.may(Action::ManageMonitoring),
        form,
        error,
        done,
        choices,
        days: DAYS,
    })
}

pub async fn create(
    State(state): State<AppState>,
    user: ConsoleUser<ManageMonitoring>,
    CsrfForm(fields): CsrfForm<FormFields>,
) -> Response {
    let form = WindowForm::read(&fields);
    let caller = user.caller(&state);
    let refusal = match form.to_request() {
        Err(message) => (StatusCode::BAD_REQUEST, message),
        Ok(request) => match windows::create(&state, &caller, &request).await {
            Ok(_) => return Redirect::to(&format!("{PAGE}?done=created")).into_response(),
            Err(e) => match about_the_form(&e) {
                Some(status) => (status, e.to_string()),
                None => return refused(&user.0, e, "Cannot add the window", PAGE),
            },
        },
    };
    let (status, message) = refusal;
    show(
        build(
            &state,
            &user.0,
            &caller,
            form,
            sentence(&message),
            String::new(),
        )
        .await,
        status,
    )
}

pub async fn delete(
    State(state): State<AppState>,
    user: ConsoleUser<ManageMonitoring>,
    Path(id): Path<String>,
    CsrfForm(_): CsrfForm<FormFields>,
) -> Response {
    match windows::delete(&state, &user.caller(&state), &id).await {
        Ok(()) => Redirect::to(&format!("{PAGE}?done=deleted")).into_response(),
        Err(e) => refused(&user.0, e, "Cannot delete the window", PAGE),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_weekly_window_reads_and_is_described() {
        let mut form = WindowForm::new(Timestamp(0));
        form.name = "backups".into();
        form.schedule = "weekly".into();
        form.days = vec![5, 6];
        form.at = "23:30".into();
        form.length = "90m".into();
        let request = form.to_request().unwrap();
        assert_eq!(
            request.schedule,
            Window::Weekly {
                days: vec![5, 6],
                start_minute: 23 * 60 + 30,
                minutes: 90
            }
        );
        assert_eq!(describe(&request.schedule), "Sat, Sun at 23:30 UTC for 90m");
        assert!(form.has_day(&6) && !form.has_day(&0));
        form.length = String::new();
        assert!(form.to_request().unwrap_err().starts_with("lasts:"));
    }

    #[test]
    fn a_one_off_window_is_in_utc() {
        let mut form = WindowForm::new(Timestamp(0));
        assert_eq!(form.start, "1970-01-01T00:00");
        assert_eq!(form.end, "1970-01-01T02:00");
        form.target = "tag".into();
        form.tag = "db".into();
        let request = form.to_request().unwrap();
        assert_eq!(request.target, "tag:db");
        assert_eq!(
            request.schedule,
            Window::Once {
                start: Timestamp(0),
                end: Timestamp(7_200_000)
            }
        );
        form.end = "soon".into();
        assert!(form.to_request().unwrap_err().starts_with("ends:"));
    }
}
