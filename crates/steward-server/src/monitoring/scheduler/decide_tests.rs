#![allow(clippy::unwrap_used)]

use steward_core::Timestamp;
use steward_core::alerting::{AlertRules, AlertState, CheckResult, CheckStatus, Circumstances};
use steward_store::{ChannelRecord, CheckRecord, CheckResultWrite, CheckStateRecord};

use super::{Evaluation, decide, first_run_offset_ms, next_run_at};

fn check(interval_ms: i64) -> CheckRecord {
    CheckRecord {
        id: "config:shop".into(),
        name: "shop".into(),
        kind: "http".into(),
        target: String::new(),
        spec: "{}".into(),
        interval_ms,
        rules: "{}".into(),
        runner: "server".into(),
        parent_id: None,
        runbook: "Restart it.".into(),
        source: "config".into(),
        enabled: true,
        created_at: Timestamp(0),
        updated_at: Timestamp(0),
    }
}

fn channel(id: &str) -> ChannelRecord {
    ChannelRecord {
        id: id.into(),
        name: id.into(),
        kind: "webhook".into(),
        settings: String::new(),
        source: "config".into(),
        created_at: Timestamp(0),
    }
}

fn due(state: &str, next_run_at: i64) -> CheckStateRecord {
    CheckStateRecord {
        check_id: "config:shop".into(),
        subject: String::new(),
        state: state.into(),
        status: "ok".into(),
        since: Timestamp(0),
        summary: String::new(),
        next_run_at: Timestamp(next_run_at),
    }
}

/// Runs `decide` for a result at `at`, due at `due_at`, from `state`.
fn run(
    state: &str,
    due_at: i64,
    status: CheckStatus,
    at: i64,
    circumstances: Circumstances,
) -> CheckResultWrite {
    let rules = AlertRules {
        retries: 1,
        ..AlertRules::default()
    };
    let result = CheckResult {
        status,
        summary: format!("{status:?} at {at}"),
        at: Timestamp(at),
    };
    decide(Evaluation {
        check: &check(30_000),
        rules: &rules,
        due: &due(state, due_at),
        result: &result,
        circumstances,
        channels: &[channel("hook"), channel("mail")],
    })
}

#[test]
fn a_failure_is_confirmed_after_the_retries_and_announced_once_per_channel() {
    let fresh = serde_json::to_string(&AlertState::new(Timestamp(0))).unwrap();
    let first = run(
        &fresh,
        30_000,
        CheckStatus::Critical,
        30_010,
        Circumstances::default(),
    );
    assert!(first.transition.is_none(), "one failure is a retry");
    assert!(first.notices.is_empty());
    assert_eq!(first.status, "ok");
    assert_eq!(first.next_run_at, Timestamp(60_000), "keeps its place");

    let second = run(
        &first.state,
        60_000,
        CheckStatus::Critical,
        60_020,
        Circumstances::default(),
    );
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
        assert_eq!(payload["event"], "problem");
        assert_eq!(payload["check"], "shop");
        assert_eq!(payload["status"], "critical");
        assert_eq!(payload["runbook"], "Restart it.");
        assert_eq!(payload["at"], 60_020);
    }

    let still = run(
        &second.state,
        90_000,
        CheckStatus::Critical,
        90_005,
        Circumstances::default(),
    );
    assert!(
        still.transition.is_none() && still.notices.is_empty(),
        "no second alert"
    );

    let recovered = run(
        &still.state,
        120_000,
        CheckStatus::Ok,
        120_003,
        Circumstances::default(),
    );
    assert_eq!(
        recovered
            .transition
            .as_ref()
            .map(|t| (t.0.as_str(), t.1.as_str())),
        Some(("critical", "ok"))
    );
    let payload: serde_json::Value = serde_json::from_str(&recovered.notices[0].payload).unwrap();
    assert_eq!(
        (payload["event"].as_str(), payload["previous"].as_str()),
        (Some("recovery"), Some("critical"))
    );
}

#[test]
fn circumstances_reach_the_alert_rules() {
    let fresh = serde_json::to_string(&AlertState::new(Timestamp(0))).unwrap();
    let quiet = Circumstances {
        in_maintenance: true,
        unreachable: false,
    };
    let first = run(&fresh, 30_000, CheckStatus::Critical, 30_000, quiet);
    let second = run(&first.state, 60_000, CheckStatus::Critical, 60_000, quiet);
    assert!(second.transition.is_some(), "the change is still history");
    assert!(second.notices.is_empty(), "but pages nobody in maintenance");
}

#[test]
fn an_unreadable_state_starts_afresh() {
    let write = run(
        "not json",
        30_000,
        CheckStatus::Ok,
        30_001,
        Circumstances::default(),
    );
    assert_eq!(write.status, "ok");
    let state: AlertState = serde_json::from_str(&write.state).unwrap();
    assert_eq!(state.status, CheckStatus::Ok);
}

#[test]
fn the_next_run_keeps_the_schedule_and_skips_what_was_missed() {
    // On time or a little late: one interval after it was due.
    assert_eq!(
        next_run_at(Timestamp(1_000), 30_000, Timestamp(1_000)),
        Timestamp(31_000)
    );
    assert_eq!(
        next_run_at(Timestamp(1_000), 30_000, Timestamp(29_000)),
        Timestamp(31_000)
    );
    // Late by more than an interval: the next slot still ahead, not a burst of catch-ups.
    assert_eq!(
        next_run_at(Timestamp(1_000), 30_000, Timestamp(31_000)),
        Timestamp(61_000)
    );
    assert_eq!(
        next_run_at(Timestamp(1_000), 30_000, Timestamp(95_000)),
        Timestamp(121_000)
    );
    // Never more often than once a second.
    assert_eq!(
        next_run_at(Timestamp(0), 10, Timestamp(0)),
        Timestamp(1_000)
    );
}

#[test]
fn first_runs_spread_over_the_interval_and_stay_put() {
    let interval = 30_000;
    let offsets: Vec<i64> = (0..3_000)
        .map(|i| first_run_offset_ms(&format!("config:check-{i}"), interval))
        .collect();
    assert!(offsets.iter().all(|o| (0..interval).contains(o)));
    assert_eq!(offsets[7], first_run_offset_ms("config:check-7", interval));
    // Thirty one-second slots each get a share near 100.
    let mut per_second = [0u32; 30];
    for o in &offsets {
        per_second[usize::try_from(o / 1_000).unwrap()] += 1;
    }
    assert!(
        per_second.iter().all(|n| (50..=150).contains(n)),
        "{per_second:?}"
    );
}
