//! `decide` with times passed in: retries, one announcement per channel, the schedule, and
//! the circumstances (maintenance, an unreachable parent) that keep notices back.

#![allow(clippy::unwrap_used)]

use steward_core::Timestamp;
use steward_core::alerting::window::Window;
use steward_core::alerting::{AlertRules, AlertState, CheckResult, CheckStatus};
use steward_store::{CheckRecord, CheckResultWrite, CheckStateRecord};

use super::catalog::{Catalog, CheckDef, Covered, MaintenanceWindow};
use super::decide::{Context, decide};
use super::spec::Spec;

fn check() -> CheckDef {
    CheckDef {
        record: CheckRecord {
            id: "config:shop".into(),
            name: "shop".into(),
            kind: "http".into(),
            target: String::new(),
            spec: "{}".into(),
            interval_ms: 30_000,
            rules: "{}".into(),
            runner: "server".into(),
            parent_id: None,
            runbook: "Restart it.".into(),
            source: "config".into(),
            enabled: true,
            created_at: Timestamp(0),
            updated_at: Timestamp(0),
        },
        spec: Spec::Probe {
            probe: steward_probes::Probe::Tcp(steward_probes::Tcp {
                host: "127.0.0.1".into(),
                port: 9,
            }),
            timeout_ms: 1_000,
        },
        rules: AlertRules {
            retries: 1,
            ..AlertRules::default()
        },
        target: None,
    }
}

fn catalog() -> Catalog {
    Catalog {
        channel_ids: vec!["hook".into(), "mail".into()],
        ..Catalog::default()
    }
}

fn stored(state: &str) -> CheckStateRecord {
    CheckStateRecord {
        check_id: "config:shop".into(),
        subject: String::new(),
        state: state.into(),
        status: "ok".into(),
        since: Timestamp(0),
        summary: String::new(),
        next_run_at: Timestamp(0),
    }
}

/// Decides a result of `status` at `at`, from `state`, under `catalog`, with the parent
/// standing at `parent`.
fn run(
    catalog: &Catalog,
    state: &str,
    status: CheckStatus,
    at: i64,
    parent: Option<CheckStatus>,
) -> CheckResultWrite {
    let previous = stored(state);
    decide(
        catalog,
        &check(),
        CheckResult {
            status,
            summary: format!("{status:?} at {at}"),
            at: Timestamp(at),
        },
        Context {
            subject: "",
            device: None,
            label: None,
            previous: Some(&previous),
            parent,
            next_run_at: Timestamp(at + 30_000),
        },
    )
    .write
}

fn fresh() -> String {
    serde_json::to_string(&AlertState::new(Timestamp(0))).unwrap()
}

#[test]
fn a_failure_is_confirmed_after_the_retries_and_announced_once_per_channel() {
    let catalog = catalog();
    let first = run(&catalog, &fresh(), CheckStatus::Critical, 30_010, None);
    assert!(first.transition.is_none(), "one failure is a retry");
    assert!(first.notices.is_empty());
    assert_eq!(first.status, "ok");

    let second = run(&catalog, &first.state, CheckStatus::Critical, 60_020, None);
    let (from, to, at) = second.transition.clone().unwrap();
    assert_eq!(
        (from.as_str(), to.as_str(), at),
        ("ok", "critical", Timestamp(60_020))
    );
    assert_eq!(second.status, "critical");
    assert_eq!(
        second.notices.len(),
        2,
        "one per channel: {:?}",
        second.notices
    );
    for (n, ch) in second.notices.iter().zip(["hook", "mail"]) {
        assert_eq!(n.channel_id, ch);
        assert_eq!(n.key, "transition:{history}");
        let payload: serde_json::Value = serde_json::from_str(&n.payload).unwrap();
        let alert = &payload["alerts"][0];
        assert_eq!(alert["event"], "problem");
        assert_eq!(alert["check"], "shop");
        assert_eq!(alert["status"], "critical");
        assert_eq!(alert["runbook"], "Restart it.");
        assert_eq!(alert["at"], 60_020);
    }

    let still = run(&catalog, &second.state, CheckStatus::Critical, 90_005, None);
    assert!(
        still.transition.is_none() && still.notices.is_empty(),
        "no second alert"
    );

    let recovered = run(&catalog, &still.state, CheckStatus::Ok, 120_003, None);
    assert_eq!(
        recovered
            .transition
            .as_ref()
            .map(|t| (t.0.as_str(), t.1.as_str())),
        Some(("critical", "ok"))
    );
    let payload: serde_json::Value = serde_json::from_str(&recovered.notices[0].payload).unwrap();
    let alert = &payload["alerts"][0];
    assert_eq!(
        (alert["event"].as_str(), alert["previous"].as_str()),
        (Some("recovery"), Some("critical"))
    );
}

#[test]
fn maintenance_keeps_the_history_but_pages_nobody() {
    let mut catalog = catalog();
    catalog.windows.push(MaintenanceWindow {
        name: "patch night".into(),
        covers: Covered::Check("config:shop".into()),
        schedule: Window::Once {
            start: Timestamp(0),
            end: Timestamp(100_000),
        },
    });
    let first = run(&catalog, &fresh(), CheckStatus::Critical, 30_000, None);
    let second = run(&catalog, &first.state, CheckStatus::Critical, 60_000, None);
    assert!(second.transition.is_some(), "the change is still history");
    assert!(second.notices.is_empty(), "but pages nobody in maintenance");
}

#[test]
fn a_parent_down_marks_the_child_unreachable_and_pages_nobody() {
    let catalog = catalog();
    let down = Some(CheckStatus::Critical);
    let first = run(&catalog, &fresh(), CheckStatus::Critical, 30_000, down);
    let second = run(&catalog, &first.state, CheckStatus::Critical, 60_000, down);
    assert!(second.notices.is_empty(), "{:?}", second.notices);
    // The parent up again, the child still down: now it pages.
    let third = run(&catalog, &second.state, CheckStatus::Critical, 90_000, None);
    let fourth = run(&catalog, &third.state, CheckStatus::Critical, 120_000, None);
    assert!(
        !third.notices.is_empty() || !fourth.notices.is_empty(),
        "a child still down once its parent is up is announced"
    );
}

#[test]
fn an_unreadable_state_starts_afresh() {
    let write = run(&catalog(), "not json", CheckStatus::Ok, 30_001, None);
    assert_eq!(write.status, "ok");
    let state: AlertState = serde_json::from_str(&write.state).unwrap();
    assert_eq!(state.status, CheckStatus::Ok);
}
