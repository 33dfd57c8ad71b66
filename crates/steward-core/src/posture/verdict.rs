//! When a device's posture raises an alert (the `posture` device check, judged by the
//! server through monitoring's pipeline). What a device failed at its first evaluation is its
//! baseline: it is in the report, to be worked through, and paging for all of it at once
//! would teach people to ignore the page. A check that starts failing after that — a
//! regression: a firewall switched off, an account added to sudo — is what the alert is for.
//! The device's alert is open while any regression stands, and critical when one of them is
//! a critical check or fails a framework on its own (a blocker).

use crate::Timestamp;
use crate::alerting::CheckStatus;
use crate::time::human_duration_ms;

/// A check failing on the device since after its first evaluation, not excused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Regression {
    pub check_id: String,
    pub title: String,
    pub since: Timestamp,
    /// A critical check, or a framework blocker (a Cyber Essentials auto-fail).
    pub critical: bool,
}

/// What the server knows of a device's posture.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PostureFacts {
    pub regressions: Vec<Regression>,
}

/// Regressions named in an alert's line; the rest are counted.
const NAMED: usize = 3;

/// The `posture` check.
pub fn verdict(facts: &PostureFacts, now: Timestamp) -> (CheckStatus, String) {
    let mut regressions: Vec<&Regression> = facts.regressions.iter().collect();
    if regressions.is_empty() {
        return (
            CheckStatus::Ok,
            "no check has started failing since the first evaluation".into(),
        );
    }
    // Critical first, then the newest.
    regressions.sort_by_key(|r| (!r.critical, std::cmp::Reverse(r.since)));
    let status = if regressions[0].critical {
        CheckStatus::Critical
    } else {
        CheckStatus::Warning
    };
    let named: Vec<String> = regressions
        .iter()
        .take(NAMED)
        .map(|r| {
            format!(
                "{} ({}, {} ago)",
                r.title,
                r.check_id,
                human_duration_ms(now.since(r.since))
            )
        })
        .collect();
    let more = regressions.len().saturating_sub(NAMED);
    let tail = if more > 0 {
        format!(" and {more} more")
    } else {
        String::new()
    };
    let noun = if regressions.len() == 1 {
        "check has"
    } else {
        "checks have"
    };
    (
        status,
        format!(
            "{} {noun} started failing: {}{tail}",
            regressions.len(),
            named.join("; ")
        ),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn regression(id: &str, since: i64, critical: bool) -> Regression {
        Regression {
            check_id: id.into(),
            title: format!("title of {id}"),
            since: Timestamp(since),
            critical,
        }
    }

    #[test]
    fn no_regression_is_ok_a_regression_warns_a_critical_one_is_critical() {
        let now = Timestamp(10_000_000);
        assert_eq!(verdict(&PostureFacts::default(), now).0, CheckStatus::Ok);
        let one = PostureFacts {
            regressions: vec![regression("ssh-max-auth-tries", 1_000, false)],
        };
        let (status, line) = verdict(&one, now);
        assert_eq!(status, CheckStatus::Warning);
        assert!(
            line.starts_with("1 check has started failing: title of ssh-max-auth-tries"),
            "{line}"
        );
        let many = PostureFacts {
            regressions: vec![
                regression("a", 1, false),
                regression("b", 2, false),
                regression("c", 3, true),
                regression("d", 4, false),
                regression("e", 5, false),
            ],
        };
        let (status, line) = verdict(&many, now);
        assert_eq!(status, CheckStatus::Critical);
        assert!(
            line.starts_with("5 checks have started failing: title of c"),
            "{line}"
        );
        assert!(line.ends_with("and 2 more"), "{line}");
    }
}
