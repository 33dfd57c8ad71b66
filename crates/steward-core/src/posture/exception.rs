//! Accepted risks: a check that fails on a device (or a group, a tag, every device) and that
//! a named person has decided to live with, for a reason, until a date. An exception never
//! hides the failure — the result is shown as "excepted" — and it lapses by itself at its
//! expiry, so the risk comes back to be decided again.

use crate::Timestamp;
use crate::checks::{Membership, Target};

/// The longest an exception may run: a year, so every accepted risk is looked at again.
pub const MAX_EXCEPTION_MS: i64 = 366 * 86_400_000;
/// A reason or an owner, in characters.
pub const MAX_EXCEPTION_TEXT: usize = 1_000;

/// An exception as the service reads it back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exception {
    pub check_id: String,
    pub target: Target,
    pub expires_at: Timestamp,
    pub revoked: bool,
}

impl Exception {
    /// Whether it excuses `check_id` failing on `device` at `now`.
    pub fn applies(&self, check_id: &str, device: &Membership<'_>, now: Timestamp) -> bool {
        !self.revoked
            && now < self.expires_at
            && self.check_id == check_id
            && self.target.covers(device)
    }
}

/// Why a new exception is refused; the message names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BadException {
    #[error(
        "reason: say why the risk is accepted (1 to {MAX_EXCEPTION_TEXT} characters, one line)"
    )]
    Reason,
    #[error("owner: name who accepts the risk (1 to {MAX_EXCEPTION_TEXT} characters, one line)")]
    Owner,
    #[error("expires_at: an exception must end in the future, at most a year from now")]
    Expiry,
}

/// Refuses an exception without a reason, an owner, or a sensible end.
pub fn check_new(
    reason: &str,
    owner: &str,
    expires_at: Timestamp,
    now: Timestamp,
) -> Result<(), BadException> {
    let line_ok = |s: &str| {
        let s = s.trim();
        !s.is_empty() && s.chars().count() <= MAX_EXCEPTION_TEXT && !s.chars().any(char::is_control)
    };
    if !line_ok(reason) {
        return Err(BadException::Reason);
    }
    if !line_ok(owner) {
        return Err(BadException::Owner);
    }
    if expires_at <= now || expires_at.0 - now.0 > MAX_EXCEPTION_MS {
        return Err(BadException::Expiry);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000;

    fn member<'a>(id: &'a str, groups: &'a [String]) -> Membership<'a> {
        Membership {
            device_id: id,
            groups,
            tags: &[],
        }
    }

    #[test]
    fn an_exception_excuses_its_check_on_its_devices_until_it_expires() {
        let office = vec!["office".to_string()];
        let e = Exception {
            check_id: "anti-malware-present".into(),
            target: Target::Group("office".into()),
            expires_at: Timestamp(10 * DAY),
            revoked: false,
        };
        let inside = member("pc-1", &office);
        let outside = member("pc-2", &[]);
        assert!(e.applies("anti-malware-present", &inside, Timestamp(DAY)));
        assert!(!e.applies("anti-malware-present", &outside, Timestamp(DAY)));
        assert!(!e.applies("ssh-max-auth-tries", &inside, Timestamp(DAY)));
        // It comes back at its expiry, not a moment later.
        assert!(!e.applies("anti-malware-present", &inside, Timestamp(10 * DAY)));
        let revoked = Exception { revoked: true, ..e };
        assert!(!revoked.applies("anti-malware-present", &inside, Timestamp(DAY)));
    }

    #[test]
    fn an_exception_needs_a_reason_an_owner_and_an_end_within_a_year() {
        let now = Timestamp(100 * DAY);
        let soon = Timestamp(130 * DAY);
        assert!(check_new("legacy till", "Ann (owner)", soon, now).is_ok());
        assert_eq!(check_new(" ", "Ann", soon, now), Err(BadException::Reason));
        assert_eq!(
            check_new("a\nb", "Ann", soon, now),
            Err(BadException::Reason)
        );
        assert_eq!(check_new("why", "", soon, now), Err(BadException::Owner));
        assert_eq!(check_new("why", "Ann", now, now), Err(BadException::Expiry));
        assert_eq!(
            check_new("why", "Ann", Timestamp(now.0 + MAX_EXCEPTION_MS + 1), now),
            Err(BadException::Expiry)
        );
    }
}
