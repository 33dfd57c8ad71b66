//! Whether a device's backups and restore drills are as they should be: the judgement
//! behind the `backup` and `drill` device checks, which raise alerts through monitoring.
//! Pure: the server gathers the facts, times are passed in.

use crate::Timestamp;
use crate::alerting::CheckStatus;
use crate::time::human_duration_ms;

/// How long past its period a backup may run before it is late: a backup that takes an
/// hour, or a laptop that wakes up a little after its time, is not yet a problem.
pub const BACKUP_GRACE_MS: i64 = 2 * 3_600_000;
/// How often a repository is proven by a restore drill by default: weekly.
pub const DRILL_EVERY_MS: i64 = 7 * 86_400_000;
/// How long past its week a drill may be before it is overdue.
pub const DRILL_GRACE_MS: i64 = 86_400_000;

/// What is known of a device's backups.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupFacts {
    /// The shortest period among the policies covering the device (a daily policy: 24 h):
    /// `None` when no policy covers it, so only backups made by hand are judged.
    pub expected_every_ms: Option<i64>,
    /// When the device's backups began to be expected (it was first covered, or its
    /// repository was made): a new device is not late before its first period has passed.
    pub expected_since: Timestamp,
    /// When the newest snapshot was received.
    pub last_success: Option<Timestamp>,
    /// The newest backup job that failed after the last success: when, and why.
    pub last_failure: Option<(Timestamp, String)>,
    /// The newest finished restore drill: when, whether it passed, and what it said.
    pub last_drill: Option<(Timestamp, bool, String)>,
    /// Whether the device has a repository at all (a drill needs one).
    pub has_repository: bool,
}

/// The `backup` check: critical when the newest backup failed, or none succeeded within
/// the policy's period and grace.
pub fn backup(facts: &BackupFacts, now: Timestamp) -> Option<(CheckStatus, String)> {
    if let Some((at, why)) = &facts.last_failure {
        return Some((
            CheckStatus::Critical,
            format!(
                "the backup {} ago failed: {why}",
                human_duration_ms(now.since(*at))
            ),
        ));
    }
    let every = facts.expected_every_ms;
    match (facts.last_success, every) {
        (None, None) => None,
        (Some(last), None) => Some((
            CheckStatus::Ok,
            format!("last backup {} ago", human_duration_ms(now.since(last))),
        )),
        (last, Some(every)) => {
            let since = last.unwrap_or(facts.expected_since);
            let waited = now.since(since);
            if waited <= every + BACKUP_GRACE_MS {
                return Some(match last {
                    Some(last) => (
                        CheckStatus::Ok,
                        format!("last backup {} ago", human_duration_ms(now.since(last))),
                    ),
                    None => (CheckStatus::Ok, "the first backup is not due yet".into()),
                });
            }
            Some((
                CheckStatus::Critical,
                match last {
                    Some(_) => format!(
                        "no successful backup for {} (expected every {})",
                        human_duration_ms(waited),
                        human_duration_ms(every)
                    ),
                    None => format!(
                        "never backed up (expected every {})",
                        human_duration_ms(every)
                    ),
                },
            ))
        }
    }
}

/// The `drill` check: critical when the newest restore drill failed, warning when none
/// passed within a week and a day.
pub fn drill(facts: &BackupFacts, now: Timestamp) -> Option<(CheckStatus, String)> {
    if !facts.has_repository || facts.last_success.is_none() {
        return None;
    }
    match &facts.last_drill {
        Some((at, false, why)) => Some((
            CheckStatus::Critical,
            format!(
                "the restore drill {} ago failed: {why}",
                human_duration_ms(now.since(*at))
            ),
        )),
        Some((at, true, _)) if now.since(*at) <= DRILL_EVERY_MS + DRILL_GRACE_MS => Some((
            CheckStatus::Ok,
            format!("restore proven {} ago", human_duration_ms(now.since(*at))),
        )),
        Some((at, true, _)) => Some((
            CheckStatus::Warning,
            format!("no restore drill for {}", human_duration_ms(now.since(*at))),
        )),
        None if now.since(facts.expected_since) > DRILL_EVERY_MS + DRILL_GRACE_MS => Some((
            CheckStatus::Warning,
            "these backups were never proven by a restore drill".into(),
        )),
        None => Some((
            CheckStatus::Ok,
            "the first restore drill is not due yet".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000;
    const DAY: i64 = 24 * HOUR;

    fn facts() -> BackupFacts {
        BackupFacts {
            expected_every_ms: Some(DAY),
            expected_since: Timestamp(0),
            last_success: None,
            last_failure: None,
            last_drill: None,
            has_repository: true,
        }
    }

    fn status(judged: Option<(CheckStatus, String)>) -> Option<CheckStatus> {
        judged.map(|(s, _)| s)
    }

    #[test]
    fn a_backup_is_late_after_its_period_and_grace() {
        let mut f = facts();
        assert_eq!(
            status(backup(&f, Timestamp(DAY))),
            Some(CheckStatus::Ok),
            "first one not due"
        );
        let never = backup(&f, Timestamp(DAY + BACKUP_GRACE_MS + 1));
        assert!(
            matches!(&never, Some((CheckStatus::Critical, s)) if s.contains("never backed up")),
            "{never:?}"
        );
        f.last_success = Some(Timestamp(10 * DAY));
        assert_eq!(
            status(backup(&f, Timestamp(11 * DAY + BACKUP_GRACE_MS))),
            Some(CheckStatus::Ok)
        );
        let late = backup(&f, Timestamp(11 * DAY + BACKUP_GRACE_MS + 1));
        assert!(
            matches!(&late, Some((CheckStatus::Critical, s)) if s.contains("no successful backup for 1 d 2 h")),
            "{late:?}"
        );
    }

    #[test]
    fn a_failed_backup_is_critical_and_no_policy_no_judgement() {
        let mut f = facts();
        f.last_success = Some(Timestamp(10 * DAY));
        f.last_failure = Some((
            Timestamp(10 * DAY + HOUR),
            "the server's backup storage is full".into(),
        ));
        let failed = backup(&f, Timestamp(10 * DAY + 2 * HOUR));
        assert!(
            matches!(&failed, Some((CheckStatus::Critical, s)) if s.contains("storage is full")),
            "{failed:?}"
        );
        let unmanaged = BackupFacts {
            expected_every_ms: None,
            last_success: None,
            last_failure: None,
            ..facts()
        };
        assert_eq!(
            backup(&unmanaged, Timestamp(100 * DAY)),
            None,
            "no policy, no backup: nothing to say"
        );
    }

    #[test]
    fn drills_fail_loudly_and_go_stale_quietly() {
        let mut f = facts();
        assert_eq!(
            drill(&f, Timestamp(30 * DAY)),
            None,
            "nothing backed up, nothing to prove"
        );
        f.last_success = Some(Timestamp(29 * DAY));
        assert_eq!(
            status(drill(&f, Timestamp(30 * DAY))),
            Some(CheckStatus::Warning),
            "never proven"
        );
        f.last_drill = Some((Timestamp(29 * DAY), true, "20 files".into()));
        assert_eq!(
            status(drill(&f, Timestamp(30 * DAY))),
            Some(CheckStatus::Ok)
        );
        assert_eq!(
            status(drill(&f, Timestamp(37 * DAY + 1))),
            Some(CheckStatus::Warning)
        );
        f.last_drill = Some((Timestamp(29 * DAY), false, "a pack is corrupt".into()));
        assert_eq!(
            status(drill(&f, Timestamp(30 * DAY))),
            Some(CheckStatus::Critical)
        );
    }
}
