//! How a manual checklist item stands: what a person answered, and whether the answer is
//! still fresh. An item nobody has answered, answered "no" or "partly", or past its
//! review-by date counts as failing — a checklist nobody re-reads is the problem this
//! capability exists to solve.

use crate::Timestamp;
use crate::alerting::CheckStatus;
use crate::posture::PostureState;
use crate::time::human_duration_ms;

/// A person's answer to an item.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    serde::Serialize,
    serde::Deserialize,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::VariantArray,
)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Answer {
    Yes,
    Partly,
    No,
    NotApplicable,
}

impl Answer {
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    pub fn parse(s: &str) -> Option<Answer> {
        s.parse().ok()
    }
}

/// An item's state and why: `answer` with its review-by date, `None` when unanswered.
pub fn standing(answer: Option<(Answer, Timestamp)>, now: Timestamp) -> (PostureState, String) {
    let Some((answer, review_by)) = answer else {
        return (PostureState::Fail, "not answered yet".into());
    };
    if now >= review_by {
        return (
            PostureState::Fail,
            format!(
                "the answer is overdue for review by {}",
                human_duration_ms(now.since(review_by))
            ),
        );
    }
    match answer {
        Answer::Yes => (PostureState::Pass, "confirmed".into()),
        Answer::NotApplicable => (PostureState::NotApplicable, "confirmed not to apply".into()),
        Answer::Partly => (PostureState::Fail, "only partly in place".into()),
        Answer::No => (PostureState::Fail, "not in place".into()),
    }
}

/// Whether an answered item is past its review-by date: its owner is reminded.
pub fn overdue(review_by: Timestamp, now: Timestamp) -> bool {
    now >= review_by
}

/// What starts the alert subject of an item's review reminder (`manual:router-firmware`).
/// Device ids never start so, and the alert lists show these subjects to every scope, as
/// they show network monitors: a manual item belongs to the organisation, not to a device.
pub const SUBJECT_PREFIX: &str = "manual:";

/// The alert subject of an item's review reminder.
pub fn subject(item_id: &str) -> String {
    format!("{SUBJECT_PREFIX}{item_id}")
}

/// The item an alert subject names, if it names one.
pub fn item_of_subject(subject: &str) -> Option<&str> {
    subject.strip_prefix(SUBJECT_PREFIX)
}

/// The `posture_reviews` check for one answered item: a warning from its review-by date
/// on, naming the item and its owner, so the reminder reaches the person who can act.
pub fn review_verdict(
    title: &str,
    owner: &str,
    review_by: Timestamp,
    now: Timestamp,
) -> (CheckStatus, String) {
    if overdue(review_by, now) {
        (
            CheckStatus::Warning,
            format!(
                "{title}: {owner}'s answer was due for review {} ago; review it and answer again",
                human_duration_ms(now.since(review_by))
            ),
        )
    } else {
        (
            CheckStatus::Ok,
            format!(
                "{title}: reviewed by {owner}, next review in {}",
                human_duration_ms(review_by.since(now))
            ),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000;

    #[test]
    fn only_a_fresh_yes_passes() {
        let now = Timestamp(100 * DAY);
        let later = Timestamp(200 * DAY);
        assert_eq!(standing(None, now).0, PostureState::Fail);
        assert_eq!(
            standing(Some((Answer::Yes, later)), now).0,
            PostureState::Pass
        );
        assert_eq!(
            standing(Some((Answer::No, later)), now).0,
            PostureState::Fail
        );
        assert_eq!(
            standing(Some((Answer::Partly, later)), now).0,
            PostureState::Fail
        );
        assert_eq!(
            standing(Some((Answer::NotApplicable, later)), now).0,
            PostureState::NotApplicable
        );
        let (state, why) = standing(Some((Answer::Yes, Timestamp(90 * DAY))), now);
        assert_eq!(state, PostureState::Fail);
        assert!(why.contains("overdue"), "{why}");
        assert!(overdue(now, now));
        assert!(!overdue(later, now));
    }

    #[test]
    fn an_overdue_review_warns_naming_the_item_and_its_owner() {
        let now = Timestamp(100 * DAY);
        let (status, line) = review_verdict("Router firmware", "Sam", Timestamp(97 * DAY), now);
        assert_eq!(status, CheckStatus::Warning);
        assert!(
            line.contains("Router firmware") && line.contains("Sam"),
            "{line}"
        );
        assert!(line.contains("3 d ago"), "{line}");
        let (status, line) = review_verdict("Router firmware", "Sam", Timestamp(130 * DAY), now);
        assert_eq!(status, CheckStatus::Ok, "{line}");
        assert_eq!(subject("router-firmware"), "manual:router-firmware");
        assert_eq!(
            item_of_subject("manual:router-firmware"),
            Some("router-firmware")
        );
        assert_eq!(item_of_subject("0b1e…"), None);
    }

    #[test]
    fn answers_round_trip_through_their_names() {
        for a in <Answer as strum::VariantArray>::VARIANTS {
            assert_eq!(Answer::parse(a.as_str()), Some(*a));
        }
    }
}
