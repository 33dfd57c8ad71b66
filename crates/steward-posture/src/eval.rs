//! Evaluating a check on a [`Host`]: four states, never a guess. What cannot be read is
//! unknown (never a pass, never a failure); what is absent by design (no SSH server) is not
//! applicable.

use crate::host::{Host, HostError};
use crate::pack::{Check, Decider, Expect, Source};

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
        Source::Command(command) => Ok(host.run(command)?.map(|o| o.stdout)),
    }
}

fn name(source: &Source) -> String {
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
    let rule = match &check.rule {
        Decider::Rule(rule) => rule,
        Decider::Builtin(name) => return crate::builtin::evaluate(name, host),
    };
    let text = match read(host, &rule.source) {
        Ok(Some(text)) => text,
        Ok(None) => {
            return outcome(
                State::Unknown,
                "",
                format!("{} could not be read: it is not there", name(&rule.source)),
            );
        }
        Err(e) => return outcome(State::Unknown, "", e.to_string()),
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
                    return outcome(
                        State::Unknown,
                        "",
                        format!("{} says nothing of {key}", name(&rule.source)),
                    );
                }
            }
        }
    };
    match &rule.expect {
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
            Err(_) => outcome(
                State::Unknown,
                &evidence,
                format!("{value:?} is not a number"),
            ),
        },
    }
}
