//! How much one listing of pending updates may say: checked when the server parses a
//! report, before anything is stored (see `crate::limits`). The agent cuts its own listing to
//! [`MAX_PENDING_UPDATES`], security updates first, so an honest agent is never refused.

use super::PendingUpdate;
use crate::limits::{LimitError, check_text};

/// Most pending updates in one listing: a machine years behind lists a few thousand.
pub const MAX_PENDING_UPDATES: usize = 5_000;
/// Most advisory or CVE ids on one update.
pub const MAX_ADVISORIES: usize = 64;

/// Checks a listing: its size, every text field bounded and one line.
pub fn check_listing(
    manager: &str,
    pending: &[PendingUpdate],
    error: Option<&str>,
) -> Result<(), LimitError> {
    check_text("updates.manager", manager)?;
    if let Some(error) = error {
        check_text("updates.error", error)?;
    }
    if pending.len() > MAX_PENDING_UPDATES {
        return Err(LimitError::TooMany {
            what: "updates.pending",
            count: pending.len(),
            max: MAX_PENDING_UPDATES,
        });
    }
    for u in pending {
        check_text("updates.pending.package", &u.package)?;
        check_text("updates.pending.arch", &u.arch)?;
        check_text("updates.pending.installed", &u.installed)?;
        check_text("updates.pending.candidate", &u.candidate)?;
        check_text("updates.pending.source", &u.source)?;
        if u.advisories.len() > MAX_ADVISORIES {
            return Err(LimitError::TooMany {
                what: "updates.pending.advisories",
                count: u.advisories.len(),
                max: MAX_ADVISORIES,
            });
        }
        for a in &u.advisories {
            check_text("updates.pending.advisories", a)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn update(package: &str) -> PendingUpdate {
        PendingUpdate {
            package: package.into(),
            arch: "amd64".into(),
            installed: "1".into(),
            candidate: "2".into(),
            source: "Debian:12/stable".into(),
            security: false,
            advisories: vec![],
        }
    }

    #[test]
    fn a_listing_is_bounded_and_one_line_per_field() {
        assert!(check_listing("apt", &[update("openssl")], None).is_ok());
        let many = vec![update("a"); MAX_PENDING_UPDATES + 1];
        assert!(check_listing("apt", &many, None).is_err());
        assert!(check_listing("apt", &[update("bad\nname")], None).is_err());
        assert!(check_listing("apt", &[], Some(&"x".repeat(5_000))).is_err());
        let mut noisy = update("a");
        noisy.advisories = vec!["CVE-1".into(); MAX_ADVISORIES + 1];
        assert!(check_listing("apt", &[noisy], None).is_err());
    }
}
