//! Local accounts from `/etc/passwd`, with administrator rights worked out from `/etc/group`.
//!
//! Only local files are read: accounts from LDAP, SSSD or other NSS sources are not listed.
//! Both files are parsed by hand: colon-separated lines, simpler than any crate for them, and
//! reading them directly (not through `getpwent(3)`) needs no `unsafe` and no NSS modules.

use std::collections::HashSet;

use std::path::Path;

use steward_core::Account;

use super::{read_optional, read_text};

/// Groups whose members may become root (through sudo, su or polkit), depending on the
/// distribution: `sudo` on Debian and Ubuntu, `wheel` on Red Hat, SUSE and Arch, `admin` on
/// old Ubuntu releases.
const ADMIN_GROUPS: &[&str] = &["sudo", "wheel", "admin"];

/// Every account in `/etc/passwd`. The file is required; a missing `/etc/group` only means no
/// one is an administrator through a group.
pub fn collect() -> anyhow::Result<Vec<Account>> {
    let passwd = read_text(Path::new("/etc/passwd"))?;
    let group = read_optional("/etc/group")?.unwrap_or_default();
    Ok(parse_accounts(&passwd, &group))
}

/// Accounts from the text of a passwd file, with `is_admin` from the text of a group file.
///
/// An account is an administrator when its uid is 0, or when it belongs to an administrators
/// group, either listed among the group's members or having it as primary group. It can log in
/// when it has a shell that is not `nologin` or `false`.
pub fn parse_accounts(passwd: &str, group: &str) -> Vec<Account> {
    let admin = AdminGroups::parse(group);
    passwd
        .lines()
        .filter_map(|line| {
            // NIS compatibility entries (`+`, `-user`) are not accounts.
            if line.is_empty() || line.starts_with(['#', '+', '-']) {
                return None;
            }
            // name:password:uid:gid:gecos:home:shell
            let mut fields = line.split(':');
            let name = fields.next()?.trim();
            let _password = fields.next()?;
            let uid: u32 = fields.next()?.trim().parse().ok()?;
            let gid: u32 = fields.next()?.trim().parse().ok()?;
            let _gecos = fields.next()?;
            let home = fields.next()?.trim();
            let shell = fields.next().unwrap_or_default().trim();
            if name.is_empty() {
                return None;
            }
            Some(Account {
                name: name.to_owned(),
                uid,
                gid,
                home: home.to_owned(),
                shell: shell.to_owned(),
                is_admin: uid == 0 || admin.gids.contains(&gid) || admin.members.contains(name),
                can_login: shell_allows_login(shell),
            })
        })
        .collect()
}

/// Whether a login shell lets the account log in interactively. An empty shell field means
/// `/bin/sh` (passwd(5)), so such an account can log in.
pub fn shell_allows_login(shell: &str) -> bool {
    !(shell.ends_with("nologin") || shell.ends_with("false"))
}

/// The administrators groups found in a group file: their gids and their listed members.
struct AdminGroups<'a> {
    gids: HashSet<u32>,
    members: HashSet<&'a str>,
}

impl<'a> AdminGroups<'a> {
    fn parse(group: &'a str) -> Self {
        let mut gids = HashSet::new();
        let mut members = HashSet::new();
        for line in group.lines() {
            // name:password:gid:member,member
            let mut fields = line.split(':');
            let Some(name) = fields.next() else { continue };
            if !ADMIN_GROUPS.contains(&name.trim()) {
                continue;
            }
            let _password = fields.next();
            if let Some(gid) = fields.next().and_then(|gid| gid.trim().parse().ok()) {
                gids.insert(gid);
            }
            if let Some(list) = fields.next() {
                members.extend(list.split(',').map(str::trim).filter(|m| !m.is_empty()));
            }
        }
        AdminGroups { gids, members }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "\
root:x:0:0:root:/root:/bin/bash
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
bin:x:2:2:bin:/bin:/usr/sbin/nologin
sync:x:4:65534:sync:/bin:/bin/sync
www-data:x:33:33:www-data:/var/www:/usr/sbin/nologin
systemd-network:x:998:998:systemd Network Management:/:/bin/false
alice:x:1000:1000:Alice Example,,,:/home/alice:/bin/bash
bob:x:1001:27:Bob:/home/bob:/bin/zsh
carol:x:1002:1002::/home/carol:
toor:x:0:0:second root:/root:/bin/sh
# a comment
+@netgroup::::::
broken:x:notanumber:1::/:/bin/sh
";

    const GROUP: &str = "\
root:x:0:
adm:x:4:syslog,alice
sudo:x:27:alice,dave
wheel:x:10:carol
users:x:100:alice,bob,carol
alice:x:1000:
carol:x:1002:
";

    fn find<'a>(accounts: &'a [Account], name: &str) -> &'a Account {
        accounts.iter().find(|a| a.name == name).unwrap()
    }

    #[test]
    fn parses_every_valid_line() {
        let accounts = parse_accounts(PASSWD, GROUP);
        let names: Vec<&str> = accounts.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "root",
                "daemon",
                "bin",
                "sync",
                "www-data",
                "systemd-network",
                "alice",
                "bob",
                "carol",
                "toor"
            ]
        );
        let alice = find(&accounts, "alice");
        assert_eq!(
            alice,
            &Account {
                name: "alice".into(),
                uid: 1000,
                gid: 1000,
                home: "/home/alice".into(),
                shell: "/bin/bash".into(),
                is_admin: true,
                can_login: true,
            }
        );
    }

    #[test]
    fn admins_are_uid_0_members_and_primary_group_holders() {
        let accounts = parse_accounts(PASSWD, GROUP);
        let admins: Vec<&str> = accounts
            .iter()
            .filter(|a| a.is_admin)
            .map(|a| a.name.as_str())
            .collect();
        // alice: listed in sudo; bob: primary gid 27 (sudo); carol: listed in wheel;
        // root and toor: uid 0. `adm` is not an administrators group.
        assert_eq!(admins, ["root", "alice", "bob", "carol", "toor"]);
    }

    #[test]
    fn login_shells() {
        let accounts = parse_accounts(PASSWD, GROUP);
        assert!(find(&accounts, "root").can_login);
        assert!(find(&accounts, "sync").can_login);
        assert!(!find(&accounts, "daemon").can_login);
        assert!(!find(&accounts, "systemd-network").can_login);
        // An empty shell field means /bin/sh.
        assert!(find(&accounts, "carol").can_login);
    }

    #[test]
    fn without_group_file_only_uid_0_is_admin() {
        let accounts = parse_accounts(PASSWD, "");
        let admins: Vec<&str> = accounts
            .iter()
            .filter(|a| a.is_admin)
            .map(|a| a.name.as_str())
            .collect();
        assert_eq!(admins, ["root", "toor"]);
    }
}
