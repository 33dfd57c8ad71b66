//! The dashboard's "Security posture" card: the organisation's pass ratio today, each
//! framework's, the blockers, and the trend of the last 30 days as a small line — from the
//! daily score history, so the dashboard never builds the whole report.

use steward_core::Scope;

use super::service;
use crate::error::AppResult;
use crate::state::AppState;

/// Days the trend covers.
const TREND_DAYS: i64 = 30;
/// The sparkline's size, in SVG units.
const WIDTH: f64 = 240.0;
const HEIGHT: f64 = 40.0;

pub struct PostureCard {
    /// `73 %`.
    pub organisation: String,
    /// (framework title, `61 %`, blockers).
    pub frameworks: Vec<(String, String, usize)>,
    /// The trend's polyline points (`x,y x,y …`); empty with fewer than two days.
    pub trend_points: String,
    /// `61 % → 73 % over 30 days`.
    pub trend_line: String,
}

/// The card; `None` when no device has reported its posture yet (or the caller sees only
/// some devices: the history is the organisation's).
pub async fn card(state: &AppState, scope: &Scope) -> AppResult<Option<PostureCard>> {
    if scope != &Scope::AllDevices {
        return Ok(None);
    }
    let points = service::trend(state, TREND_DAYS).await?;
    let Some(today) = points.last() else {
        return Ok(None);
    };
    let today_day = today.day;
    let mut frameworks = Vec::new();
    for (id, title) in [
        ("checklist", "Checklist"),
        ("cis-ig1", "CIS IG1"),
        ("cyber-essentials", "Cyber Essentials"),
    ] {
        let scope = format!("framework:{id}");
        let latest = state
            .store
            .posture_score_history(&scope, today_day)
            .await?
            .into_iter()
            .last();
        if let Some(row) = latest {
            let ratio = {
                let judged = row.pass + row.fail + row.excepted;
                (judged > 0).then(|| row.pass as f64 / judged as f64)
            };
            frameworks.push((
                title.to_owned(),
                super::console::percent(ratio),
                usize::try_from(row.fail).unwrap_or(0),
            ));
        }
    }
    let ratios: Vec<(i64, f64)> = points
        .iter()
        .filter_map(|p| p.score.ratio.map(|r| (p.day, r)))
        .collect();
    let trend_points = if ratios.len() >= 2 {
        let first = ratios[0].0;
        let span = (today_day - first).max(1) as f64;
        ratios
            .iter()
            .map(|(day, r)| {
                let x = (day - first) as f64 / span * WIDTH;
                let y = HEIGHT - r * HEIGHT;
                format!("{x:.1},{y:.1}")
            })
            .collect::<Vec<_>>()
            .join(" ")
    } else {
        String::new()
    };
    let trend_line = match (ratios.first(), ratios.last()) {
        (Some(a), Some(b)) if ratios.len() >= 2 => format!(
            "{} → {} over {} days",
            super::console::percent(Some(a.1)),
            super::console::percent(Some(b.1)),
            b.0 - a.0
        ),
        _ => "the trend starts today".into(),
    };
    Ok(Some(PostureCard {
        organisation: super::console::percent(today.score.ratio),
        frameworks,
        trend_points,
        trend_line,
    }))
}
