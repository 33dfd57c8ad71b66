//! Evaluating a check on a [`Host`]: four states, never a guess. What cannot be read is
//! unknown (never a pass, never a failure); what is absent by design (no SSH server) is not
//! applicable.

use crate::combine;
use crate::host::{Host, HostError};
use crate::pack::{Check, Decider, Expect, Rule, Source};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Pass,
    Fail,
    NotApplicable,
    Unknown,
}

/// A check's result: its state, what was seen, and why it is in that state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    pub state: State,
    /// What was read (`permitrootlogin yes`), cut to a few hundred characters.
    pub evidence: String,
    pub reason: String,
}

/// Evidence kept per result.
const MAX_EVIDENCE: usize = 300;

pub(crate) fn outcome(state: State, evidence: &str, reason: String) -> Outcome {
    Outcome {
        state,
        evidence: evidence.chars().take(MAX_EVIDENCE).collect(),
        reason,
    }
}

/// The text `source` gives: `Ok(None)` when the file or program is absent.
fn read(host: &dyn Host, source: &Source) -> Result<Option<String>, HostError> {
    match source {
        Source::File(path) => host.read(path),
        Source::Command(command) => match host.run(command)? {
            // A command that failed and printed nothing said nothing: that is unknown, not
            // an empty value to compare (`timedatectl` in a container without systemd).
            Some(out) if out.status != 0 && out.stdout.trim().is_empty() => {
                Err(HostError::Unreadable(format!(
                    "`{command}` failed (exit status {}) and printed nothing",
                    out.status
                )))
            }
            Some(out) => Ok(Some(out.stdout)),
            None => Ok(None),
        },
    }
}

pub(crate) fn name(source: &Source) -> String {
    match source {
        Source::File(path) => path.clone(),
        Source::Command(command) => format!("`{command}`"),
    }
}

/// Evaluates `check` on `host`.
pub fn evaluate(check: &Check, host: &dyn Host) -> Outcome {
    if let Some(applies) = &check.applies_if {
        match read(host, applies) {
            Ok(Some(_)) => {}
            Ok(None) => {
                return outcome(
                    State::NotApplicable,
                    "",
                    format!("{} is not on this machine", name(applies)),
                );
            }
            Err(e) => return outcome(State::Unknown, "", e.to_string()),
        }
    }
    match &check.rule {
        Decider::Rule(rule) => judge(rule, host).unwrap_or_else(|| combine::not_there(rule)),
        Decider::AnyOf(rules) => combine::any_of(rules, |rule| judge(rule, host)),
        Decider::AllOf(rules) => combine::all_of(rules, |rule| judge(rule, host)),
        Decider::Builtin(name) => crate::builtin::evaluate(name, host),
    }
}

/// One rule's outcome on `host`; `None` when its file or program is absent, which alone is
/// unknown but among `any_of`'s alternatives is "not this one".
pub(crate) fn judge(rule: &Rule, host: &dyn Host) -> Option<Outcome> {
    let text = match read(host, &rule.source) {
        Ok(Some(text)) => text,
        Ok(None) => return None,
        Err(e) => return Some(outcome(State::Unknown, "", e.to_string())),
    };
    let (value, evidence) = match &rule.key {
        None => (text.trim().to_owned(), text.trim().to_owned()),
        Some(key) => {
            let line = text.lines().map(str::trim).find(|line| {
                line.split_whitespace()
                    .next()
                    .is_some_and(|k| k.eq_ignore_ascii_case(key))
            });
            match line {
                Some(line) => (
                    line.split_whitespace()
                        .skip(1)
                        .collect::<Vec<_>>()
                        .join(" "),
                    line.to_owned(),
                ),
                None => {
                    return Some(outcome(
                        State::Unknown,
                        "",
                        format!("{} says nothing of {key}", name(&rule.source)),
                    ));
                }
            }
        }
    };
    Some(match &rule.expect {
        Expect::OneOf(allowed) => {
            if allowed.iter().any(|a| a.eq_ignore_ascii_case(&value)) {
                outcome(State::Pass, &evidence, format!("{value} is allowed"))
            } else {
                outcome(
                    State::Fail,
                    &evidence,
                    format!("{value:?} is not one of {}", allowed.join(", ")),
                )
            }
        }
        Expect::AtMost(max) => match value.parse::<i64>() {
            Ok(n) if n <= *max => outcome(State::Pass, &evidence, format!("{n} ≤ {max}")),
            Ok(n) => outcome(State::Fail, &evidence, format!("{n} is more than {max}")),
            Err(_) => not_a_number(&value, &evidence),
        },
        Expect::AtLeast(min) => match value.parse::<i64>() {
            Ok(n) if n >= *min => outcome(State::Pass, &evidence, format!("{n} ≥ {min}")),
            Ok(n) => outcome(State::Fail, &evidence, format!("{n} is less than {min}")),
            Err(_) => not_a_number(&value, &evidence),
        },
    })
}

fn not_a_number(value: &str, evidence: &str) -> Outcome {
    outcome(
        State::Unknown,
        evidence,
        format!("{value:?} is not a number"),
    )
}
