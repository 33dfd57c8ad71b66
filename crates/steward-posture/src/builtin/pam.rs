//! Password length and account lockout, as the PAM stack enforces them: a setting in
//! pwquality.conf or faillock.conf counts only when its module is in the stack.

use super::{Verdict, config_lines, fail, file, list, pass, unknown};
use crate::eval::Outcome;
use crate::host::Host;

/// The shortest password length accepted (Cyber Essentials allows 8 with MFA; 12 without).
const MIN_LENGTH: i64 = 12;
/// The most failed attempts before an account locks.
const MAX_DENY: i64 = 10;

/// The stack file shared by every service: Debian and Ubuntu's, else Fedora and RHEL's.
fn stack(host: &dyn Host, debian: &str) -> Result<(String, String), Outcome> {
    for path in [
        format!("/etc/pam.d/{debian}"),
        "/etc/pam.d/system-auth".to_owned(),
    ] {
        if let Some(text) = file(host, &path)? {
            return Ok((path, text));
        }
    }
    Err(unknown(
        "",
        format!("neither /etc/pam.d/{debian} nor /etc/pam.d/system-auth is there"),
    ))
}

/// The stack's lines of `kind` (`password`, `auth`) naming `module`.
fn module_line<'a>(text: &'a str, kind: &str, module: &str) -> Option<&'a str> {
    config_lines(text).find(|l| {
        let mut words = l.split_whitespace();
        words.next().map(|k| k.trim_start_matches('-')) == Some(kind) && l.contains(module)
    })
}

/// `name=N` among a PAM line's arguments.
fn argument(line: &str, name: &str) -> Option<i64> {
    line.split_whitespace()
        .find_map(|w| w.strip_prefix(name)?.strip_prefix('=')?.parse().ok())
}

/// The last `name = N` in a config file, then in its `.d` directory's `*.conf` files
/// (read after it, in name order, so they override it).
fn configured(host: &dyn Host, main: &str, name: &str) -> Result<Option<(String, i64)>, Outcome> {
    let mut paths = vec![main.to_owned()];
    let dir = format!("{main}.d");
    for entry in list(host, &dir)?.unwrap_or_default() {
        if entry.ends_with(".conf") {
            paths.push(format!("{dir}/{entry}"));
        }
    }
    let mut found = None;
    for path in paths {
        let Some(text) = file(host, &path)? else {
            continue;
        };
        for line in config_lines(&text) {
            if let Some((key, value)) = line.split_once('=')
                && key.trim() == name
                && let Ok(n) = value.trim().parse()
            {
                found = Some((format!("{path}: {}", line.trim()), n));
            }
        }
    }
    Ok(found)
}

pub(crate) fn password_minimum_length(host: &dyn Host) -> Verdict {
    let (path, text) = stack(host, "common-password")?;
    if let Some(line) = module_line(&text, "password", "pam_passwdqc") {
        return Err(unknown(
            line,
            "pam_passwdqc's length rules are not read by Steward",
        ));
    }
    // (module, its built-in minimum, where its setting may also live)
    let modules = [
        ("pam_pwquality.so", 8, Some("/etc/security/pwquality.conf")),
        ("pam_cracklib.so", 9, None),
        ("pam_unix.so", 6, None),
    ];
    for (module, default, conf) in modules {
        let Some(line) = module_line(&text, "password", module) else {
            continue;
        };
        let (said, length) = match (argument(line, "minlen"), conf) {
            (Some(n), _) => (format!("{path}: {line}"), n),
            (None, Some(conf)) => match configured(host, conf, "minlen")? {
                Some(found) => found,
                None => (
                    format!("{path}: {line}; minlen not set (default {default})"),
                    default,
                ),
            },
            (None, None) => (
                format!("{path}: {line}; minlen not set (default {default})"),
                default,
            ),
        };
        return if length >= MIN_LENGTH {
            pass(
                &said,
                format!("passwords need at least {length} characters"),
            )
        } else {
            fail(
                &said,
                format!("passwords of {length} characters are accepted; {MIN_LENGTH} are needed"),
            )
        };
    }
    Err(unknown(
        &path,
        "no password module Steward reads (pwquality, cracklib, unix) is in the stack",
    ))
}

pub(crate) fn account_lockout(host: &dyn Host) -> Verdict {
    let (path, text) = stack(host, "common-auth")?;
    let found = ["pam_faillock.so", "pam_tally2.so"]
        .into_iter()
        .find_map(|m| module_line(&text, "auth", m).map(|l| (m, l)));
    let Some((module, line)) = found else {
        return fail(
            &format!("{path}: no pam_faillock or pam_tally2 line"),
            "failed sign-ins never lock an account",
        );
    };
    // Any of the module's auth lines may carry deny=.
    let on_line = config_lines(&text)
        .filter(|l| l.contains(module))
        .find_map(|l| argument(l, "deny").map(|n| (format!("{path}: {l}"), n)));
    let (said, deny) = match on_line {
        Some(found) => found,
        None if module == "pam_faillock.so" => {
            configured(host, "/etc/security/faillock.conf", "deny")?
                .unwrap_or((format!("{path}: {line}; deny not set (default 3)"), 3))
        }
        None => (format!("{path}: {line}; deny not set (no lockout)"), 0),
    };
    if (1..=MAX_DENY).contains(&deny) {
        pass(
            &said,
            format!("an account locks after {deny} failed sign-ins"),
        )
    } else if deny == 0 {
        fail(&said, "deny = 0: failed sign-ins never lock an account")
    } else {
        fail(
            &said,
            format!("an account locks only after {deny} failed sign-ins, more than {MAX_DENY}"),
        )
    }
}
