//! The `patching` device check: how a device's patching stands, from what the server knows
//! (its pending updates and its latest install). Critical when the latest install failed
//! (until an install succeeds or the device lists again with nothing of it left pending);
//! critical when a security update has been pending longer than Cyber Essentials allows
//! (14 days), warning from 7; otherwise OK. A device whose listing fails says so as a
//! warning: its list is old.

use crate::Timestamp;
use crate::alerting::CheckStatus;

/// Days a security update may stay pending (Cyber Essentials: high and critical updates
/// within 14 days of release).
pub const SECURITY_DAYS_ALLOWED: i64 = 14;
/// Days from which a pending security update is worth a warning.
pub const SECURITY_DAYS_WARNING: i64 = 7;
const DAY_MS: i64 = 86_400_000;

/// What is known of one device's patching.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PatchFacts {
    /// When the oldest pending security update was first seen.
    pub oldest_security: Option<Timestamp>,
    /// How many security updates are pending.
    pub security_pending: u32,
    /// The latest install that failed after the latest one that succeeded: when, and why.
    pub install_failed: Option<(Timestamp, String)>,
    /// Why the latest listing failed, when it did.
    pub listing_error: Option<String>,
}

/// The check's result for a device.
pub fn verdict(facts: &PatchFacts, now: Timestamp) -> (CheckStatus, String) {
    if let Some((at, why)) = &facts.install_failed {
        return (
            CheckStatus::Critical,
            format!("the install of {} failed: {why}", crate::time::date(*at)),
        );
    }
    if let Some(first) = facts.oldest_security {
        let days = now.since(first) / DAY_MS;
        let what = format!(
            "{} security update{} pending, the oldest for {days} day{}",
            facts.security_pending,
            if facts.security_pending == 1 { "" } else { "s" },
            if days == 1 { "" } else { "s" },
        );
        if days > SECURITY_DAYS_ALLOWED {
            return (
                CheckStatus::Critical,
                format!("{what} (at most {SECURITY_DAYS_ALLOWED} allowed)"),
            );
        }
        if days >= SECURITY_DAYS_WARNING {
            return (CheckStatus::Warning, what);
        }
    }
    if let Some(why) = &facts.listing_error {
        return (
            CheckStatus::Warning,
            format!("listing updates failed: {why}"),
        );
    }
    (CheckStatus::Ok, "patched within policy".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: Timestamp = Timestamp(1_800_000_000_000);

    fn pending_for(days: i64) -> PatchFacts {
        PatchFacts {
            oldest_security: Some(NOW.plus_millis(-days * DAY_MS)),
            security_pending: 2,
            ..PatchFacts::default()
        }
    }

    #[test]
    fn security_updates_past_fourteen_days_are_critical() {
        assert_eq!(verdict(&PatchFacts::default(), NOW).0, CheckStatus::Ok);
        assert_eq!(verdict(&pending_for(3), NOW).0, CheckStatus::Ok);
        assert_eq!(verdict(&pending_for(7), NOW).0, CheckStatus::Warning);
        assert_eq!(verdict(&pending_for(14), NOW).0, CheckStatus::Warning);
        let (status, summary) = verdict(&pending_for(15), NOW);
        assert_eq!(status, CheckStatus::Critical);
        assert!(
            summary.contains("2 security updates pending, the oldest for 15 days"),
            "{summary}"
        );
    }

    #[test]
    fn a_failed_install_is_critical_and_named() {
        let facts = PatchFacts {
            install_failed: Some((NOW, "openssl failed: preinst".into())),
            ..PatchFacts::default()
        };
        let (status, summary) = verdict(&facts, NOW);
        assert_eq!(status, CheckStatus::Critical);
        assert!(summary.contains("openssl failed"), "{summary}");
    }

    #[test]
    fn a_failing_listing_warns() {
        let facts = PatchFacts {
            listing_error: Some("apt-get exited 100".into()),
            ..PatchFacts::default()
        };
        assert_eq!(verdict(&facts, NOW).0, CheckStatus::Warning);
    }
}
