//! The rule for enrollment tokens: a token enrolls while it has uses left and has not expired.

use crate::time::Timestamp;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenProblem {
    #[error("this enrollment token is not known to the server: check it was copied whole")]
    Unknown,
    #[error(
        "this enrollment token has expired: create a new one with `steward admin enroll-token create`"
    )]
    Expired,
    #[error(
        "this enrollment token has been used up: create a new one with `steward admin enroll-token create`"
    )]
    UsedUp,
}

/// Whether a token with `uses_left` uses that expires at `expires_at` may enroll at `now`.
pub fn check_token(
    uses_left: i64,
    expires_at: Timestamp,
    now: Timestamp,
) -> Result<(), TokenProblem> {
    if now >= expires_at {
        Err(TokenProblem::Expired)
    } else if uses_left <= 0 {
        Err(TokenProblem::UsedUp)
    } else {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expired_and_used_up_tokens_are_refused() {
        let t = Timestamp(1000);
        assert_eq!(check_token(1, Timestamp(1001), t), Ok(()));
        assert_eq!(
            check_token(1, Timestamp(1000), t),
            Err(TokenProblem::Expired)
        );
        assert_eq!(
            check_token(0, Timestamp(2000), t),
            Err(TokenProblem::UsedUp)
        );
    }
}
