//! Who sudo lets run any command as root, from /etc/sudoers and /etc/sudoers.d (readable
//! by root only): a user, a `%group`, or `ALL`, on a rule whose commands include `ALL`.
//! Aliases are named as written, not expanded.

use super::{file, list};
use crate::eval::Outcome;
use crate::host::Host;

/// The principals given every command, and the lines that gave it.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Grants {
    /// Users (and unexpanded aliases) named on such a rule.
    pub users: Vec<String>,
    /// Groups named as `%group`.
    pub groups: Vec<String>,
    pub lines: Vec<String>,
}

/// Lines that are not rules: settings, aliases, includes.
const NOT_RULES: &[&str] = &[
    "Defaults",
    "User_Alias",
    "Runas_Alias",
    "Host_Alias",
    "Cmnd_Alias",
    "@include",
    "@includedir",
];

/// Whether a rule's commands (`ALL=(ALL:ALL) NOPASSWD: ALL`) include every command.
fn grants_all(spec: &str) -> bool {
    let Some((_, after)) = spec.split_once('=') else {
        return false;
    };
    let mut commands = after.trim();
    if commands.starts_with('(') {
        commands = commands.split_once(')').map_or("", |(_, rest)| rest.trim());
    }
    // Tags (NOPASSWD:, SETENV:) come before the commands.
    while let Some((tag, rest)) = commands.split_once(':') {
        if tag
            .trim()
            .chars()
            .all(|c| c.is_ascii_uppercase() || c == '_')
            && !tag.trim().is_empty()
        {
            commands = rest.trim();
        } else {
            break;
        }
    }
    commands.split(',').any(|c| c.trim() == "ALL")
}

/// Reads one sudoers file's rules into `grants`.
fn read_rules(path: &str, text: &str, grants: &mut Grants) {
    // A backslash at the end of a line continues it.
    let joined = text.replace("\\\n", " ");
    for line in joined.lines().map(str::trim) {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some((who, spec)) = line.split_once(char::is_whitespace) else {
            continue;
        };
        if NOT_RULES.iter().any(|n| who.starts_with(n)) || !grants_all(spec) {
            continue;
        }
        for principal in who.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            match principal.strip_prefix('%') {
                Some(group) => grants.groups.push(group.to_owned()),
                None => grants.users.push(principal.to_owned()),
            }
        }
        grants.lines.push(format!("{path}: {line}"));
    }
}

/// Everyone sudo gives every command; `None` when sudo is not installed.
pub(crate) fn full_grants(host: &dyn Host) -> Result<Option<Grants>, Outcome> {
    let Some(main) = file(host, "/etc/sudoers")? else {
        return Ok(None);
    };
    let mut grants = Grants::default();
    read_rules("/etc/sudoers", &main, &mut grants);
    let dir = "/etc/sudoers.d";
    // sudo skips names with a dot or ending in `~` (editor and package leftovers).
    for name in list(host, dir)?.unwrap_or_default() {
        if name.contains('.') || name.ends_with('~') {
            continue;
        }
        let path = format!("{dir}/{name}");
        if let Some(text) = file(host, &path)? {
            read_rules(&path, &text, &mut grants);
        }
    }
    grants.users.sort();
    grants.users.dedup();
    grants.groups.sort();
    grants.groups.dedup();
    Ok(Some(grants))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_who_may_run_everything() {
        let text = "Defaults env_reset\n# comment\nroot\tALL=(ALL:ALL) ALL\n%sudo\tALL=(ALL:ALL) ALL\ndeploy ALL=(ALL) NOPASSWD: ALL\nbackup ALL=(root) NOPASSWD: /usr/bin/rsync\nalice,bob ALL = \\\n  (ALL) ALL\n@includedir /etc/sudoers.d\n";
        let mut grants = Grants::default();
        read_rules("/etc/sudoers", text, &mut grants);
        assert_eq!(grants.users, ["root", "deploy", "alice", "bob"]);
        assert_eq!(grants.groups, ["sudo"]);
        assert_eq!(grants.lines.len(), 4);
    }
}
