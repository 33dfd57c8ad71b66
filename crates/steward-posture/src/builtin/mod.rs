//! Built-in evaluators: checks whose answer needs more than one file or one command's key
//! (the block devices under the root filesystem, the live firewall ruleset, accounts across
//! passwd, shadow and the login records). A pack names one with
//! `rule = { builtin = "NAME" }`; each reads the machine only through the [`Host`], so each
//! is proven on recorded fixtures like the declarative rules.
//!
//! An evaluator returns `Result<Outcome, Outcome>`: the error side is an early answer (an
//! input that cannot be read is unknown), so `?` keeps each evaluator a straight line.

use crate::eval::{Outcome, State, outcome};
use crate::host::{CommandOutput, Host};

mod accounts;
mod blockdev;
mod clock;
mod desktop;
mod dpkg_version;
mod encryption;
mod eol;
mod files;
mod firewall;
mod hardware;
mod kernel;
mod listening;
mod malware;
mod pam;
mod sudoers;
mod updates;

pub(crate) type Verdict = Result<Outcome, Outcome>;
type Evaluator = fn(&dyn Host) -> Verdict;

/// Every built-in evaluator, by the name a pack gives it.
const EVALUATORS: &[(&str, Evaluator)] = &[
    ("root-filesystem-encrypted", encryption::root),
    ("home-filesystem-encrypted", encryption::home),
    ("swap-encrypted", encryption::swap),
    (
        "firewall-default-deny-inbound",
        firewall::default_deny_inbound,
    ),
    ("security-updates-none-pending", updates::none_pending),
    ("security-updates-within-14-days", updates::within_14_days),
    ("automatic-security-updates", updates::automatic),
    ("os-supported", eol::os_supported),
    ("kernel-newest-running", kernel::newest_running),
    (
        "ssh-listens-beyond-loopback",
        listening::ssh_beyond_loopback,
    ),
    ("rdp-vnc-not-exposed", listening::rdp_vnc_not_exposed),
    ("smb-rpc-not-exposed", listening::smb_rpc_not_exposed),
    ("only-root-has-uid-0", accounts::only_root_has_uid_0),
    ("administrators-listed", accounts::administrators_listed),
    (
        "daily-user-not-administrator",
        accounts::daily_user_not_administrator,
    ),
    ("no-dormant-accounts", accounts::no_dormant_accounts),
    (
        "no-accounts-with-empty-password",
        accounts::no_empty_passwords,
    ),
    ("password-minimum-length", pam::password_minimum_length),
    ("account-lockout", pam::account_lockout),
    ("shadow-file-permissions", files::shadow_permissions),
    ("passwd-file-permissions", files::passwd_permissions),
    ("anti-malware-present", malware::present),
    ("anti-malware-running", malware::running),
    ("anti-malware-signatures-fresh", malware::signatures_fresh),
    ("removable-media-autorun-off", desktop::autorun_off),
    ("screen-lock-on-desktops", desktop::screen_lock),
    ("disk-health-smart", hardware::disk_health),
    ("hardware-age-bios", hardware::bios_age),
    ("disk-not-nearly-full", hardware::disk_not_nearly_full),
];

/// The evaluator named `name`, if there is one.
pub(crate) fn find(name: &str) -> Option<Evaluator> {
    EVALUATORS
        .iter()
        .find(|(known, _)| *known == name)
        .map(|(_, evaluator)| *evaluator)
}

/// Runs the evaluator `name` on `host` (a pack is refused when it names none, so the
/// unknown answer is for a caller that built a check by hand).
pub(crate) fn evaluate(name: &str, host: &dyn Host) -> Outcome {
    match find(name) {
        Some(evaluator) => evaluator(host).unwrap_or_else(|early| early),
        None => unknown("", format!("there is no builtin evaluator {name:?}")),
    }
}

pub(crate) fn pass(evidence: &str, reason: impl Into<String>) -> Verdict {
    Ok(outcome(State::Pass, evidence, reason.into()))
}

pub(crate) fn fail(evidence: &str, reason: impl Into<String>) -> Verdict {
    Ok(outcome(State::Fail, evidence, reason.into()))
}

pub(crate) fn not_applicable(evidence: &str, reason: impl Into<String>) -> Outcome {
    outcome(State::NotApplicable, evidence, reason.into())
}

pub(crate) fn unknown(evidence: &str, reason: impl Into<String>) -> Outcome {
    outcome(State::Unknown, evidence, reason.into())
}

/// A file's text, `None` when absent; unreadable is an unknown answer.
pub(crate) fn file(host: &dyn Host, path: &str) -> Result<Option<String>, Outcome> {
    host.read(path).map_err(|e| unknown("", e.to_string()))
}

/// A file the check cannot do without: absent is an unknown answer too.
pub(crate) fn needed_file(host: &dyn Host, path: &str) -> Result<String, Outcome> {
    file(host, path)?.ok_or_else(|| unknown("", format!("{path} is not there")))
}

/// A command's answer, `None` when the program is not installed.
pub(crate) fn command(host: &dyn Host, run: &str) -> Result<Option<CommandOutput>, Outcome> {
    host.run(run).map_err(|e| unknown("", e.to_string()))
}

/// A command the check cannot do without: not installed, or failing, is unknown.
pub(crate) fn needed_command(host: &dyn Host, run: &str) -> Result<String, Outcome> {
    match command(host, run)? {
        Some(out) if out.status == 0 => Ok(out.stdout),
        Some(out) => Err(unknown(
            out.stdout.trim(),
            format!("`{run}` failed (exit status {})", out.status),
        )),
        None => Err(unknown(
            "",
            format!(
                "`{}` is not installed",
                run.split_whitespace().next().unwrap_or(run)
            ),
        )),
    }
}

/// A directory's names, sorted; `None` when absent.
pub(crate) fn list(host: &dyn Host, dir: &str) -> Result<Option<Vec<String>>, Outcome> {
    let mut names = host.list(dir).map_err(|e| unknown("", e.to_string()))?;
    if let Some(names) = names.as_mut() {
        names.sort();
    }
    Ok(names)
}

/// Lines of a configuration file without comments (`#`) and blank lines, trimmed.
pub(crate) fn config_lines(text: &str) -> impl Iterator<Item = &str> {
    text.lines()
        .map(|line| line.split('#').next().unwrap_or("").trim())
        .filter(|line| !line.is_empty())
}

/// "1 account", "3 accounts", "2 advisories".
pub(crate) fn count(n: usize, noun: &str) -> String {
    match (n, noun.strip_suffix('y')) {
        (1, _) => format!("1 {noun}"),
        (_, Some(stem)) => format!("{n} {stem}ies"),
        (_, None) => format!("{n} {noun}s"),
    }
}

/// `items` joined with ", ", or "none".
pub(crate) fn listed(items: &[String]) -> String {
    if items.is_empty() {
        "none".to_owned()
    } else {
        items.join(", ")
    }
}
