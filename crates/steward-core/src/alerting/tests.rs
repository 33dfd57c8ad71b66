use super::*;
use strum::VariantArray;

const MIN: i64 = 60_000;

fn at(minutes: i64) -> Timestamp {
    Timestamp(minutes * MIN)
}

fn result(status: CheckStatus, minute: i64) -> CheckResult {
    CheckResult {
        status,
        summary: format!("{} at {minute}", status.as_str()),
        at: at(minute),
    }
}

/// Feeds `statuses` one a minute from minute 1; returns the final state and every notice
/// with the minute it was given.
fn run(
    rules: &AlertRules,
    statuses: &[CheckStatus],
    now: impl Fn(i64) -> Circumstances,
) -> (AlertState, Vec<(i64, Notice)>) {
    let mut state = AlertState::new(at(0));
    let mut notices = Vec::new();
    for (i, s) in statuses.iter().enumerate() {
        let minute = i as i64 + 1;
        let outcome = observe(&state, &result(*s, minute), rules, now(minute));
        state = outcome.state;
        notices.extend(outcome.notices.into_iter().map(|n| (minute, n)));
    }
    (state, notices)
}

fn quiet(_: i64) -> Circumstances {
    Circumstances::default()
}

use CheckStatus::{Critical, Ok as Fine, Unknown, Warning};

#[test]
fn statuses_round_trip_through_their_strings() {
    for (status, text) in [
        (Fine, "ok"),
        (Warning, "warning"),
        (Critical, "critical"),
        (Unknown, "unknown"),
    ] {
        assert_eq!(status.as_str(), text);
        assert_eq!(CheckStatus::parse(text), Some(status));
    }
    assert_eq!(CheckStatus::VARIANTS.len(), 4);
}

#[test]
fn a_problem_is_confirmed_after_the_retries_and_announced_once() {
    let rules = AlertRules {
        retries: 2,
        ..AlertRules::default()
    };
    let (state, notices) = run(
        &rules,
        &[Fine, Critical, Critical, Critical, Critical],
        quiet,
    );
    assert_eq!(state.status, Critical);
    assert_eq!(state.since, at(4), "confirmed at the third failure");
    assert_eq!(
        notices,
        vec![(
            4,
            Notice::Problem {
                status: Critical,
                since: at(4)
            }
        )]
    );
}

#[test]
fn a_failure_shorter_than_the_retries_is_forgotten() {
    let rules = AlertRules {
        retries: 2,
        ..AlertRules::default()
    };
    let (state, notices) = run(&rules, &[Critical, Critical, Fine, Critical, Fine], quiet);
    assert_eq!(state.status, Fine);
    assert!(notices.is_empty(), "{notices:?}");
}

#[test]
fn a_sustained_condition_is_confirmed_only_once_it_has_lasted_the_window() {
    // "CPU above 90 % for 10 minutes", one result a minute, no retries.
    let rules = AlertRules {
        retries: 0,
        confirm_after_ms: Some(10 * MIN),
        ..AlertRules::default()
    };
    // Nine minutes high, one normal, then high again: the window starts over.
    let mut statuses = vec![Critical; 9];
    statuses.push(Fine);
    statuses.extend(vec![Critical; 10]);
    let (state, notices) = run(&rules, &statuses, quiet);
    assert_eq!(state.status, Fine, "ten results high span nine minutes");
    assert!(notices.is_empty(), "{notices:?}");
    statuses.push(Critical);
    let (state, notices) = run(&rules, &statuses, quiet);
    assert_eq!(state.status, Critical);
    assert_eq!(
        state.since,
        at(21),
        "high from minute 11 to 21: ten minutes"
    );
    assert_eq!(
        notices,
        vec![(
            21,
            Notice::Problem {
                status: Critical,
                since: at(21)
            }
        )]
    );
}

#[test]
fn recovery_is_at_once_and_names_what_it_recovered_from() {
    let rules = AlertRules {
        retries: 0,
        ..AlertRules::default()
    };
    let (state, notices) = run(&rules, &[Warning, Critical, Fine], quiet);
    assert_eq!(state.status, Fine);
    assert_eq!(
        notices,
        vec![
            (
                1,
                Notice::Problem {
                    status: Warning,
                    since: at(1)
                }
            ),
            (
                2,
                Notice::Problem {
                    status: Critical,
                    since: at(2)
                }
            ),
            (3, Notice::Recovery { was: Critical }),
        ]
    );
}

#[test]
fn unknown_is_a_problem_never_ok() {
    let (state, notices) = run(&AlertRules::immediate(), &[Unknown], quiet);
    assert_eq!(state.status, Unknown);
    assert_eq!(notices.len(), 1);
}

#[test]
fn transitions_are_history() {
    let rules = AlertRules::immediate();
    let state = AlertState::new(at(0));
    let first = observe(&state, &result(Critical, 1), &rules, quiet(1));
    assert_eq!(
        first.transition,
        Some(Transition {
            from: Fine,
            to: Critical,
            at: at(1),
            summary: "critical at 1".into()
        })
    );
    let same = observe(&first.state, &result(Critical, 2), &rules, quiet(2));
    assert_eq!(same.transition, None, "no change, no history line");
}

#[test]
fn a_flapping_check_is_announced_as_flapping_not_as_every_change() {
    let rules = AlertRules {
        retries: 0,
        ..AlertRules::default()
    };
    // Ten stable results, then up and down every minute.
    let mut statuses = vec![Fine; 10];
    for i in 0..20 {
        statuses.push(if i % 2 == 0 { Critical } else { Fine });
    }
    let (state, notices) = run(&rules, &statuses, quiet);
    assert!(state.flapping);
    let problems = notices
        .iter()
        .filter(|(_, n)| matches!(n, Notice::Problem { .. }))
        .count();
    let recoveries = notices
        .iter()
        .filter(|(_, n)| matches!(n, Notice::Recovery { .. }))
        .count();
    assert!(
        notices.iter().any(|(_, n)| *n == Notice::FlappingStarted),
        "{notices:?}"
    );
    // Before damping set in, a few changes were announced; after, none.
    let started = notices
        .iter()
        .find(|(_, n)| *n == Notice::FlappingStarted)
        .map(|(m, _)| *m)
        .unwrap_or_default();
    assert!(
        notices
            .iter()
            .all(|(m, n)| *m <= started || matches!(n, Notice::FlappingStarted)),
        "{notices:?}"
    );
    assert!(problems + recoveries < 10, "{notices:?}");
    // It settles: once stable again, flapping stops and the truth is announced.
    let mut state = state;
    let mut after = Vec::new();
    for minute in 31..60 {
        let outcome = observe(&state, &result(Critical, minute), &rules, quiet(minute));
        state = outcome.state;
        after.extend(outcome.notices);
    }
    assert!(!state.flapping);
    assert_eq!(after.first(), Some(&Notice::FlappingStopped), "{after:?}");
    assert!(
        after.contains(&Notice::Problem {
            status: Critical,
            since: state.since
        }) || state.announced == Critical,
        "{after:?}"
    );
    assert_eq!(state.announced, Critical);
}

#[test]
fn a_maintenance_window_holds_back_notices_and_hands_on_what_is_still_true() {
    let rules = AlertRules {
        retries: 0,
        ..AlertRules::default()
    };
    let window = |minute: i64| Circumstances {
        in_maintenance: (2..=4).contains(&minute),
        unreachable: false,
    };
    // Down and up inside the window: nobody is told.
    let (state, notices) = run(&rules, &[Fine, Critical, Critical, Fine, Fine], window);
    assert_eq!(state.status, Fine);
    assert!(notices.is_empty(), "{notices:?}");
    // Down inside the window and still down after: told when it ends.
    let (state, notices) = run(
        &rules,
        &[Fine, Critical, Critical, Critical, Critical],
        window,
    );
    assert_eq!(state.status, Critical);
    assert_eq!(
        notices,
        vec![(
            5,
            Notice::Problem {
                status: Critical,
                since: at(2)
            }
        )]
    );
}

#[test]
fn an_unreachable_check_pages_nobody() {
    let rules = AlertRules::immediate();
    let parent_down = |minute: i64| Circumstances {
        in_maintenance: false,
        unreachable: !reachable(Some(if minute < 4 { Critical } else { Fine })),
    };
    let (_, notices) = run(&rules, &[Critical, Critical, Critical], parent_down);
    assert!(notices.is_empty(), "{notices:?}");
    assert!(reachable(None) && reachable(Some(Warning)));
    assert!(!reachable(Some(Critical)));
}

#[test]
fn reminders_until_acknowledged_and_the_next_problem_is_announced_again() {
    let rules = AlertRules {
        retries: 0,
        renotify_every_ms: Some(60 * MIN),
        ..AlertRules::default()
    };
    let (state, _) = run(&rules, &[Critical], quiet);
    let (state, early) = remind(&state, &rules, quiet(30), at(30));
    assert!(early.is_empty(), "not yet");
    let (state, due) = remind(&state, &rules, quiet(61), at(61));
    assert_eq!(
        due,
        vec![Notice::Reminder {
            status: Critical,
            since: at(1)
        }]
    );
    let (state, again) = remind(&state, &rules, quiet(90), at(90));
    assert!(
        again.is_empty(),
        "an hour from the last reminder, not the first notice"
    );
    let state = acknowledge(
        &state,
        Acknowledgement {
            by: "user:alice".into(),
            comment: "replacing the disk".into(),
            at: at(91),
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let (state, silenced) = remind(&state, &rules, quiet(200), at(200));
    assert!(silenced.is_empty());
    // Recovery clears the acknowledgement; a new problem pages again.
    let recovered = observe(&state, &result(Fine, 201), &rules, quiet(201));
    assert_eq!(recovered.notices, vec![Notice::Recovery { was: Critical }]);
    assert_eq!(recovered.state.acknowledged, None);
    let again = observe(&recovered.state, &result(Critical, 202), &rules, quiet(202));
    assert_eq!(again.notices.len(), 1);
    let nothing = Acknowledgement {
        by: "user:alice".into(),
        comment: String::new(),
        at: at(201),
    };
    assert_eq!(
        acknowledge(&recovered.state, nothing),
        Err(AckRefused::NothingWrong)
    );
}

#[test]
fn a_lifted_suppression_is_caught_up_by_a_tick_without_a_new_result() {
    let rules = AlertRules::immediate();
    let (state, notices) = run(&rules, &[Critical], |_| Circumstances {
        in_maintenance: true,
        unreachable: false,
    });
    assert!(notices.is_empty());
    let (state, held) = remind(
        &state,
        &rules,
        Circumstances {
            in_maintenance: true,
            unreachable: false,
        },
        at(2),
    );
    assert!(held.is_empty());
    let (_, caught_up) = remind(&state, &rules, quiet(3), at(3));
    assert_eq!(
        caught_up,
        vec![Notice::Problem {
            status: Critical,
            since: at(1)
        }]
    );
}
