//! Tallies the posture report is built from: verdicts counted per check, device, section,
//! framework or organisation, the pass ratio, coverage across devices, and the order in
//! which to fix failures. Pure arithmetic; what counts as excepted or overdue is decided
//! before a verdict reaches here.

use crate::{Severity, State};

/// One result as the report counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    Fail,
    NotApplicable,
    Unknown,
    /// A failure under an accepted exception that has not expired: shown apart from
    /// failures, but never counted as a pass.
    Excepted,
}

impl Verdict {
    /// The verdict for a check's state, given whether an accepted, unexpired exception
    /// covers it. An exception changes only a failure: a pass stays a pass, and what
    /// could not be read stays unknown.
    pub fn from_state(state: State, excepted: bool) -> Verdict {
        match state {
            State::Pass => Verdict::Pass,
            State::Fail if excepted => Verdict::Excepted,
            State::Fail => Verdict::Fail,
            State::NotApplicable => Verdict::NotApplicable,
            State::Unknown => Verdict::Unknown,
        }
    }
}

/// Verdicts counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Tally {
    pub pass: u32,
    pub fail: u32,
    pub not_applicable: u32,
    pub unknown: u32,
    pub excepted: u32,
}

impl Tally {
    pub fn add(&mut self, verdict: Verdict) {
        let count = match verdict {
            Verdict::Pass => &mut self.pass,
            Verdict::Fail => &mut self.fail,
            Verdict::NotApplicable => &mut self.not_applicable,
            Verdict::Unknown => &mut self.unknown,
            Verdict::Excepted => &mut self.excepted,
        };
        *count = count.saturating_add(1);
    }

    /// Adds another tally's counts (a device's into its section's, say).
    pub fn merge(&mut self, other: &Tally) {
        self.pass = self.pass.saturating_add(other.pass);
        self.fail = self.fail.saturating_add(other.fail);
        self.not_applicable = self.not_applicable.saturating_add(other.not_applicable);
        self.unknown = self.unknown.saturating_add(other.unknown);
        self.excepted = self.excepted.saturating_add(other.excepted);
    }

    /// The share of judged results that pass: pass / (pass + fail + excepted). Not
    /// applicable and unknown results are left out (nothing was judged); an excepted
    /// failure stays in the denominator, so accepting a risk never raises the score.
    /// `None` when nothing was judged, which a report shows as such, not as 0 % or 100 %.
    pub fn ratio(&self) -> Option<f64> {
        let judged = u64::from(self.pass) + u64::from(self.fail) + u64::from(self.excepted);
        (judged > 0).then(|| f64::from(self.pass) / judged as f64)
    }
}

/// The share of devices judged that are covered (for "is it on 98 % of our devices?"):
/// covered / judged, `None` when no device was judged. A covered count above the judged
/// one is a caller's mistake and counts as 1.0, never more.
pub fn coverage(devices_covered: u32, devices_judged: u32) -> Option<f64> {
    (devices_judged > 0)
        .then(|| f64::from(devices_covered.min(devices_judged)) / f64::from(devices_judged))
}

/// Severity's weight in [`remediation_rank`]: each step up is worth three of the one
/// below, so one critical failure ranks with three high, nine medium or 27 low ones.
fn severity_weight(severity: Severity) -> u32 {
    match severity {
        Severity::Low => 1,
        Severity::Medium => 3,
        Severity::High => 9,
        Severity::Critical => 27,
    }
}

/// How urgently a failing check should be fixed; higher first. The formula is
/// `weight × devices_failing × (2 if auto_fail else 1)`, where weight is 1, 3, 9 or 27
/// for low, medium, high and critical: risk grows with severity and with how many
/// devices fail, and a failure that alone fails a Cyber Essentials assessment counts
/// double. No failing device ranks 0. Saturates rather than wraps.
pub fn remediation_rank(severity: Severity, devices_failing: u32, auto_fail: bool) -> u32 {
    let doubled = if auto_fail { 2 } else { 1 };
    severity_weight(severity)
        .saturating_mul(devices_failing)
        .saturating_mul(doubled)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tally(verdicts: &[Verdict]) -> Tally {
        let mut tally = Tally::default();
        for verdict in verdicts {
            tally.add(*verdict);
        }
        tally
    }

    #[test]
    fn add_counts_each_verdict_in_its_own_place() {
        let counted = tally(&[
            Verdict::Pass,
            Verdict::Pass,
            Verdict::Fail,
            Verdict::NotApplicable,
            Verdict::Unknown,
            Verdict::Unknown,
            Verdict::Excepted,
        ]);
        assert_eq!(
            counted,
            Tally {
                pass: 2,
                fail: 1,
                not_applicable: 1,
                unknown: 2,
                excepted: 1,
            }
        );
    }

    #[test]
    fn merge_adds_every_count() {
        let mut section = tally(&[Verdict::Pass, Verdict::Fail]);
        section.merge(&tally(&[
            Verdict::Pass,
            Verdict::Excepted,
            Verdict::Unknown,
        ]));
        section.merge(&Tally::default());
        assert_eq!(
            section,
            Tally {
                pass: 2,
                fail: 1,
                not_applicable: 0,
                unknown: 1,
                excepted: 1,
            }
        );
        let mut full = Tally {
            pass: u32::MAX,
            ..Tally::default()
        };
        full.merge(&tally(&[Verdict::Pass]));
        assert_eq!(full.pass, u32::MAX, "saturates, never wraps");
    }

    #[test]
    fn ratio_counts_excepted_as_judged_but_not_passing() {
        assert_eq!(Tally::default().ratio(), None, "nothing judged");
        assert_eq!(
            tally(&[Verdict::NotApplicable, Verdict::Unknown]).ratio(),
            None,
            "not applicable and unknown judge nothing"
        );
        assert_eq!(tally(&[Verdict::Pass, Verdict::Unknown]).ratio(), Some(1.0));
        assert_eq!(tally(&[Verdict::Pass, Verdict::Fail]).ratio(), Some(0.5));
        assert_eq!(
            tally(&[Verdict::Pass, Verdict::Excepted]).ratio(),
            Some(0.5),
            "an exception does not raise the score"
        );
        assert_eq!(tally(&[Verdict::Fail]).ratio(), Some(0.0));
    }

    #[test]
    fn an_exception_changes_only_a_failure() {
        assert_eq!(Verdict::from_state(State::Fail, true), Verdict::Excepted);
        assert_eq!(Verdict::from_state(State::Fail, false), Verdict::Fail);
        assert_eq!(Verdict::from_state(State::Pass, true), Verdict::Pass);
        assert_eq!(Verdict::from_state(State::Unknown, true), Verdict::Unknown);
        assert_eq!(
            Verdict::from_state(State::NotApplicable, true),
            Verdict::NotApplicable
        );
    }

    #[test]
    fn coverage_is_the_share_of_judged_devices() {
        assert_eq!(coverage(0, 0), None);
        assert_eq!(coverage(49, 50), Some(0.98));
        assert_eq!(coverage(0, 3), Some(0.0));
        assert_eq!(coverage(5, 5), Some(1.0));
        assert_eq!(coverage(7, 5), Some(1.0), "never above 100 %");
    }

    #[test]
    fn remediation_rank_weighs_severity_devices_and_auto_fail() {
        assert_eq!(remediation_rank(Severity::Low, 1, false), 1);
        assert_eq!(remediation_rank(Severity::Medium, 1, false), 3);
        assert_eq!(remediation_rank(Severity::High, 1, false), 9);
        assert_eq!(remediation_rank(Severity::Critical, 1, false), 27);
        assert_eq!(remediation_rank(Severity::High, 4, false), 36);
        assert_eq!(remediation_rank(Severity::High, 4, true), 72);
        assert_eq!(remediation_rank(Severity::Critical, 0, true), 0);
        // One critical device outranks two high ones; ten medium outrank one critical.
        assert!(
            remediation_rank(Severity::Critical, 1, false)
                > remediation_rank(Severity::High, 2, false)
        );
        assert!(
            remediation_rank(Severity::Medium, 10, false)
                > remediation_rank(Severity::Critical, 1, false)
        );
        assert_eq!(
            remediation_rank(Severity::Critical, u32::MAX, true),
            u32::MAX
        );
    }
}
