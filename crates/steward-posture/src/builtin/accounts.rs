//! Accounts: who has uid 0, who administers, whether the person at the keyboard does,
//! accounts left unused, accounts without a password. Read from /etc/passwd, /etc/group,
//! /etc/shadow (root only), the login records and logind's session files.

use super::clock::{DAY, days_between};
use super::{
    Verdict, command, count, fail, file, list, listed, needed_file, not_applicable, pass, unknown,
};
use crate::eval::Outcome;
use crate::host::Host;

/// Groups whose members may become root with sudo: Debian and Ubuntu's, Fedora and RHEL's,
/// and Ubuntu's before 12.04.
const ADMIN_GROUPS: &[&str] = &["sudo", "wheel", "admin"];
/// More administrators than this fails: a small business needs one or two, and a spare.
const MAX_ADMINS: usize = 3;
/// An account with no login for this long is dormant.
const DORMANT_DAYS: i64 = 45;

struct User {
    name: String,
    password: String,
    uid: u32,
    gid: u32,
    shell: String,
}

fn users(host: &dyn Host) -> Result<Vec<User>, Outcome> {
    Ok(needed_file(host, "/etc/passwd")?
        .lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split(':').collect();
            Some(User {
                name: (*f.first()?).to_owned(),
                password: (*f.get(1)?).to_owned(),
                uid: f.get(2)?.parse().ok()?,
                gid: f.get(3)?.parse().ok()?,
                shell: (*f.get(6)?).to_owned(),
            })
        })
        .collect())
}

/// `(group, gid, members)` from /etc/group.
fn groups(host: &dyn Host) -> Result<Vec<(String, u32, Vec<String>)>, Outcome> {
    Ok(needed_file(host, "/etc/group")?
        .lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split(':').collect();
            let members = f.get(3)?.split(',').filter(|m| !m.is_empty());
            Some((
                (*f.first()?).to_owned(),
                f.get(2)?.parse().ok()?,
                members.map(str::to_owned).collect(),
            ))
        })
        .collect())
}

/// A line of /etc/shadow; days count from 1970-01-01.
struct Shadow {
    name: String,
    password: String,
    changed: Option<i64>,
    expires: Option<i64>,
}

fn shadow(host: &dyn Host) -> Result<Vec<Shadow>, Outcome> {
    Ok(needed_file(host, "/etc/shadow")?
        .lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split(':').collect();
            let day = |i: usize| f.get(i).and_then(|d| d.parse().ok());
            Some(Shadow {
                name: (*f.first()?).to_owned(),
                password: (*f.get(1)?).to_owned(),
                changed: day(2),
                expires: day(7),
            })
        })
        .collect())
}

pub(crate) fn only_root_has_uid_0(host: &dyn Host) -> Verdict {
    let zero: Vec<String> = users(host)?
        .into_iter()
        .filter(|u| u.uid == 0)
        .map(|u| u.name)
        .collect();
    let others: Vec<String> = zero.iter().filter(|n| *n != "root").cloned().collect();
    let evidence = format!("uid 0: {}", listed(&zero));
    if others.is_empty() {
        pass(&evidence, "root is the only account with uid 0")
    } else {
        fail(
            &evidence,
            format!(
                "{} also has uid 0: root's powers under another name",
                others.join(", ")
            ),
        )
    }
}

/// Who can act as root, by what grants it: the administrator groups (sudo's, and
/// polkit's for the desktop), and whoever else sudoers gives every command. Each entry is
/// a label (`sudo`, `sudoers %devops`, `sudoers`) and its accounts, root left out.
fn administrators(host: &dyn Host) -> Result<Vec<(String, Vec<String>)>, Outcome> {
    let users = users(host)?;
    let groups = groups(host)?;
    let members_of = |group: &str| -> Option<Vec<String>> {
        let (_, gid, listed) = groups.iter().find(|(name, _, _)| name == group)?;
        let mut members = listed.clone();
        members.extend(
            users
                .iter()
                .filter(|u| u.gid == *gid)
                .map(|u| u.name.clone()),
        );
        Some(members)
    };
    let mut found: Vec<(String, Vec<String>)> = ADMIN_GROUPS
        .iter()
        .filter_map(|group| Some(((*group).to_owned(), members_of(group)?)))
        .collect();
    if let Some(grants) = super::sudoers::full_grants(host)? {
        for group in grants
            .groups
            .iter()
            .filter(|g| !ADMIN_GROUPS.contains(&g.as_str()))
        {
            found.push((
                format!("sudoers %{group}"),
                members_of(group).unwrap_or_default(),
            ));
        }
        let named: Vec<String> = grants.users.into_iter().filter(|u| u != "root").collect();
        if !named.is_empty() {
            found.push(("sudoers".to_owned(), named));
        }
    }
    for (_, members) in &mut found {
        members.retain(|m| m != "root");
        members.sort();
        members.dedup();
    }
    Ok(found)
}

pub(crate) fn administrators_listed(host: &dyn Host) -> Verdict {
    let admins = administrators(host)?;
    let evidence = admins
        .iter()
        .map(|(group, members)| format!("{group}: {}", listed(members)))
        .collect::<Vec<_>>()
        .join("; ");
    let mut everyone: Vec<&String> = admins.iter().flat_map(|(_, m)| m).collect();
    everyone.sort();
    everyone.dedup();
    let evidence = if evidence.is_empty() {
        "no sudo, wheel or admin group, and no sudoers rule giving every command".to_owned()
    } else {
        evidence
    };
    if everyone.iter().any(|m| *m == "ALL") {
        return fail(&evidence, "sudoers gives every user every command");
    }
    if everyone.len() <= MAX_ADMINS {
        pass(
            &evidence,
            format!(
                "{} can administer this machine (at most {MAX_ADMINS})",
                count(everyone.len(), "account")
            ),
        )
    } else {
        fail(
            &evidence,
            format!(
                "{} can administer this machine, more than {MAX_ADMINS}",
                count(everyone.len(), "account")
            ),
        )
    }
}

/// logind's record of a session: `KEY=value` lines.
fn session_field<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
        .filter(|v| !v.is_empty())
}

pub(crate) fn daily_user_not_administrator(host: &dyn Host) -> Verdict {
    let dir = "/run/systemd/sessions";
    let Some(sessions) = list(host, dir)? else {
        return Err(unknown(
            "",
            format!("{dir} is not there: logind is not running"),
        ));
    };
    let mut local = Vec::new();
    for id in sessions.iter().filter(|n| !n.ends_with(".ref")) {
        let Some(text) = file(host, &format!("{dir}/{id}"))? else {
            continue;
        };
        let remote = session_field(&text, "REMOTE") == Some("1");
        // "user", or systemd 256's "user-early"; not greeters, lock screens or managers.
        let class = session_field(&text, "CLASS").unwrap_or("user");
        let seat = session_field(&text, "SEAT");
        let tty = session_field(&text, "TTY").unwrap_or("");
        if !remote
            && class.starts_with("user")
            && (seat.is_some() || tty.starts_with("tty"))
            && let Some(user) = session_field(&text, "USER")
        {
            local.push(format!("{user} ({})", seat.unwrap_or(tty)));
        }
    }
    if local.is_empty() {
        return Err(not_applicable(
            &format!(
                "{}, none at a seat or console",
                count(sessions.len(), "session")
            ),
            "nobody is signed in at this machine's screen or console",
        ));
    }
    local.sort();
    local.dedup();
    let admins = administrators(host)?;
    let mut offenders = Vec::new();
    for session in &local {
        let user = session.split(' ').next().unwrap_or("");
        for (group, members) in &admins {
            if members.iter().any(|m| m == user || m == "ALL") {
                offenders.push(format!("{user} is an administrator ({group})"));
            }
        }
    }
    let evidence = format!("signed in locally: {}", local.join(", "));
    if offenders.is_empty() {
        pass(
            &evidence,
            "the person using this machine works without administrator rights",
        )
    } else {
        fail(
            &format!("{evidence}; {}", offenders.join(", ")),
            "the everyday account can administer the machine",
        )
    }
}

/// Users with a session now, from logind's records (none without logind).
fn signed_in(host: &dyn Host) -> Result<Vec<String>, Outcome> {
    let dir = "/run/systemd/sessions";
    let mut users = Vec::new();
    for id in list(host, dir)?.unwrap_or_default() {
        if id.ends_with(".ref") {
            continue;
        }
        if let Some(text) = file(host, &format!("{dir}/{id}"))?
            && let Some(user) = session_field(&text, "USER")
        {
            users.push(user.to_owned());
        }
    }
    Ok(users)
}

/// A shell one can sign in with (not nologin, false, or the sync/halt/shutdown accounts').
fn login_shell(shell: &str) -> bool {
    let name = shell.rsplit('/').next().unwrap_or(shell);
    !matches!(name, "nologin" | "false" | "sync" | "halt" | "shutdown")
}

/// A password field one can sign in with: not locked (`!`, `*`) and not empty.
fn usable(password: &str) -> bool {
    !password.is_empty() && !password.starts_with('!') && !password.starts_with('*')
}

/// The names `lastlog2 -b N` or `lastlog -b N` reports (no login within N days).
fn not_recently_logged_in(host: &dyn Host) -> Result<(Vec<String>, String), Outcome> {
    for run in [
        format!("lastlog2 -b {DORMANT_DAYS}"),
        format!("lastlog -b {DORMANT_DAYS}"),
    ] {
        match command(host, &run)? {
            Some(out) if out.status == 0 => {
                let names = out
                    .stdout
                    .lines()
                    .filter_map(|l| l.split_whitespace().next())
                    // The header, whether or not this version prints one.
                    .filter(|name| *name != "Username")
                    .map(str::to_owned)
                    .collect();
                return Ok((names, run));
            }
            Some(out) => {
                return Err(unknown(
                    out.stdout.trim(),
                    format!("`{run}` failed (exit status {})", out.status),
                ));
            }
            None => {}
        }
    }
    Err(unknown("", "neither lastlog2 nor lastlog is installed"))
}

pub(crate) fn no_dormant_accounts(host: &dyn Host) -> Verdict {
    let shadow = shadow(host)?;
    let today = host.now().div_euclid(DAY);
    // Accounts someone could sign in with: not locked, not expired; root is needed
    // whatever its use, and a password set within the window is an account in use (or new).
    let candidates: Vec<String> = users(host)?
        .into_iter()
        .filter(|u| u.uid != 0 && login_shell(&u.shell))
        .filter(|u| {
            shadow.iter().any(|entry| {
                entry.name == u.name
                    && usable(&entry.password)
                    && entry.expires.is_none_or(|day| day > today)
                    && entry
                        .changed
                        .is_none_or(|day| days_between(day * DAY, today * DAY) >= DORMANT_DAYS)
            })
        })
        .map(|u| u.name)
        .collect();
    if candidates.is_empty() {
        return pass(
            "no account other than root has a login shell and a usable password",
            "no account could be dormant",
        );
    }
    let (idle, source) = not_recently_logged_in(host)?;
    // Someone signed in right now is not dormant, whatever the login records say (a
    // desktop sign-in does not always write lastlog).
    let active = signed_in(host)?;
    let dormant: Vec<String> = candidates
        .iter()
        .filter(|c| idle.contains(c) && !active.contains(c))
        .cloned()
        .collect();
    let evidence = format!(
        "can sign in: {}; per `{source}`, idle: {}",
        candidates.join(", "),
        listed(&dormant)
    );
    if dormant.is_empty() {
        pass(
            &evidence,
            format!("every account that can sign in was used within {DORMANT_DAYS} days"),
        )
    } else {
        fail(
            &evidence,
            format!(
                "{} can sign in but has not for {DORMANT_DAYS} days",
                dormant.join(", ")
            ),
        )
    }
}

pub(crate) fn no_empty_passwords(host: &dyn Host) -> Verdict {
    let mut empty: Vec<String> = users(host)?
        .into_iter()
        .filter(|u| u.password.is_empty())
        .map(|u| format!("{} (passwd)", u.name))
        .collect();
    empty.extend(
        shadow(host)?
            .into_iter()
            .filter(|entry| entry.password.is_empty())
            .map(|entry| format!("{} (shadow)", entry.name)),
    );
    if empty.is_empty() {
        pass(
            "no empty password field in /etc/passwd or /etc/shadow",
            "every account has a password or is locked",
        )
    } else {
        fail(
            &empty.join(", "),
            "these accounts sign in with no password at all",
        )
    }
}
