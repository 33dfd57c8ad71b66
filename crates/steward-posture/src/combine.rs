//! `any_of` and `all_of`: several rules' outcomes made into one check's outcome. Each
//! rule's evidence and reason is labelled with what it read, so a report says which of
//! the alternatives held, or which requirement did not.

use crate::eval::{Outcome, State, name, outcome};
use crate::pack::Rule;

/// What is said of a required file or program that is absent.
const NOT_THERE: &str = "could not be read: it is not there";
/// What is said of an alternative that is absent.
const NOT_ON_THIS_MACHINE: &str = "is not on this machine";

/// A rule alone whose file or program is absent: unknown, never a pass or a failure.
pub(crate) fn not_there(rule: &Rule) -> Outcome {
    outcome(
        State::Unknown,
        "",
        format!("{} {NOT_THERE}", name(&rule.source)),
    )
}

/// One rule's outcome, or `None` when what it reads is absent.
type Judged<'a> = (&'a Rule, Option<Outcome>);

/// Each reading's evidence once (two rules on `sshd -T`'s same line show it once).
fn labelled_evidence<'a>(judged: impl Iterator<Item = &'a Judged<'a>>) -> String {
    let mut seen_before: Vec<String> = Vec::new();
    for (rule, seen) in judged {
        let Some(seen) = seen.as_ref().filter(|o| !o.evidence.is_empty()) else {
            continue;
        };
        let labelled = format!("{}: {}", name(&rule.source), seen.evidence);
        if !seen_before.contains(&labelled) {
            seen_before.push(labelled);
        }
    }
    seen_before.join("; ")
}

fn labelled_reasons<'a>(judged: impl Iterator<Item = &'a Judged<'a>>, absent: &str) -> String {
    judged
        .map(|(rule, seen)| match seen {
            Some(seen) => format!("{}: {}", name(&rule.source), seen.reason),
            None => format!("{} {absent}", name(&rule.source)),
        })
        .collect::<Vec<_>>()
        .join("; ")
}

fn seen_as((_, seen): &Judged, state: State) -> bool {
    seen.as_ref().is_some_and(|o| o.state == state)
}

/// Passes when one rule passes. An absent file or program is an alternative that does not
/// hold (no SELinux on this machine); an unreadable one leaves the answer unknown unless
/// another passes.
pub(crate) fn any_of(rules: &[Rule], judge: impl Fn(&Rule) -> Option<Outcome>) -> Outcome {
    let judged: Vec<Judged> = rules.iter().map(|rule| (rule, judge(rule))).collect();
    if let Some(passed) = judged.iter().find(|j| seen_as(j, State::Pass)) {
        let one = std::slice::from_ref(passed);
        return outcome(
            State::Pass,
            &labelled_evidence(one.iter()),
            labelled_reasons(one.iter(), NOT_ON_THIS_MACHINE),
        );
    }
    let state = if judged.iter().any(|j| seen_as(j, State::Unknown)) {
        State::Unknown
    } else {
        State::Fail
    };
    outcome(
        state,
        &labelled_evidence(judged.iter()),
        labelled_reasons(judged.iter(), NOT_ON_THIS_MACHINE),
    )
}

/// Passes when every rule passes; fails on the first that fails. An absent file or program
/// leaves the answer unknown, as it does for a rule alone.
pub(crate) fn all_of(rules: &[Rule], judge: impl Fn(&Rule) -> Option<Outcome>) -> Outcome {
    let judged: Vec<Judged> = rules.iter().map(|rule| (rule, judge(rule))).collect();
    if let Some(failed) = judged.iter().find(|j| seen_as(j, State::Fail)) {
        let one = std::slice::from_ref(failed);
        return outcome(
            State::Fail,
            &labelled_evidence(one.iter()),
            labelled_reasons(one.iter(), NOT_THERE),
        );
    }
    let undecided: Vec<&Judged> = judged.iter().filter(|j| !seen_as(j, State::Pass)).collect();
    if !undecided.is_empty() {
        return outcome(
            State::Unknown,
            &labelled_evidence(judged.iter()),
            labelled_reasons(undecided.into_iter(), NOT_THERE),
        );
    }
    // The evidence shows every value; the reason need not repeat them one by one.
    outcome(
        State::Pass,
        &labelled_evidence(judged.iter()),
        format!("all {} requirements hold", judged.len()),
    )
}
