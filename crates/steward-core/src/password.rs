//! The password rule, as NIST SP 800-63B and OWASP ASVS put it: at least 12 characters, no
//! composition rules, not a known common password, not the username.

use std::collections::HashSet;
use std::sync::OnceLock;

pub const MIN_CHARS: usize = 12;
/// Argon2 hashes any length, but a megabyte "password" is an attack on the server's time.
pub const MAX_CHARS: usize = 256;

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum PasswordProblem {
    #[error("a password needs at least {MIN_CHARS} characters; a few words make a good one")]
    TooShort,
    #[error("a password may have at most {MAX_CHARS} characters")]
    TooLong,
    #[error("this password is on the list of commonly used passwords; choose another")]
    Common,
    #[error("the password must not be the username")]
    SameAsUsername,
}

/// The shipped list, lower-cased.
fn common() -> &'static HashSet<String> {
    static LIST: OnceLock<HashSet<String>> = OnceLock::new();
    LIST.get_or_init(|| {
        include_str!("../data/common-passwords.txt")
            .lines()
            .filter(|l| !l.starts_with('#') && !l.is_empty())
            .map(str::to_lowercase)
            .collect()
    })
}

/// Checks a new password for `username`.
pub fn check(password: &str, username: &str) -> Result<(), PasswordProblem> {
    let chars = password.chars().count();
    if chars < MIN_CHARS {
        return Err(PasswordProblem::TooShort);
    }
    if chars > MAX_CHARS {
        return Err(PasswordProblem::TooLong);
    }
    let lower = password.to_lowercase();
    if lower == username.to_lowercase() {
        return Err(PasswordProblem::SameAsUsername);
    }
    if common().contains(&lower) {
        return Err(PasswordProblem::Common);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn length_commonness_and_username_are_checked() {
        assert_eq!(check("short", "john"), Err(PasswordProblem::TooShort));
        assert_eq!(
            check("ÄÖÜäöüßéèêëï", "john"),
            Ok(()),
            "characters, not bytes"
        );
        assert_eq!(check("qwerty123456", "john"), Err(PasswordProblem::Common));
        assert_eq!(check("QWERTY123456", "john"), Err(PasswordProblem::Common));
        assert_eq!(
            check("john.smith.1980", "John.Smith.1980"),
            Err(PasswordProblem::SameAsUsername)
        );
        assert_eq!(
            check(&"x".repeat(300), "john"),
            Err(PasswordProblem::TooLong)
        );
        assert_eq!(check("correct horse battery staple", "john"), Ok(()));
        assert!(common().len() > 200);
    }
}
