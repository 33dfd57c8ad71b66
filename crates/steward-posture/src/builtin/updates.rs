//! Security updates: whether any are pending, how long the oldest has waited, and whether
//! they install themselves. apt and dnf are read; another package manager is unknown.
//!
//! What apt has waiting is read without apt's solver (a simulated upgrade costs seconds of
//! CPU over every known package): an installed package (`/var/lib/dpkg/status`) is waiting
//! when the security suite's Packages lists carry a newer version of it, by dpkg's version
//! order. That also counts a security fix a later point release has superseded, which a
//! simulation credits to the point release rather than to the security suite.
//!
//! How old a pending update is: dnf's advisories carry their issue date, which is the age.
//! apt records no such date, but every pending update is named by the security suite's
//! lists, and an update cannot be newer than the lists that name it: their Release `Date:`
//! is a lower bound on its age. When that bound reaches 14 days the check fails; below it
//! the age is unknown, never guessed. The same date says how fresh apt's view is: "nothing
//! waiting" from lists more than a week old, or from sources without a security suite, is
//! unknown.

use std::collections::HashMap;

use super::clock::{self, days_between};
use super::dpkg_version;
use super::{
    Verdict, command, config_lines, count, fail, file, list, needed_command, needed_file, pass,
    unknown,
};
use crate::eval::Outcome;
use crate::host::Host;

const DPKG_STATUS: &str = "/var/lib/dpkg/status";
/// apt's own helper decompresses any of the formats it stores lists in (lz4, gz, xz).
const APT_CAT_FILE: &str = "/usr/lib/apt/apt-helper cat-file";
const DNF_LIST: &str = "dnf -C updateinfo list --security";
const DNF_INFO: &str = "dnf -C updateinfo info --security";
const APT_LISTS: &str = "/var/lib/apt/lists";
/// Where a security-suite Packages list's name ends, plain or compressed.
const PACKAGES_SUFFIXES: &[&str] = &["_Packages", "_Packages.lz4", "_Packages.gz", "_Packages.xz"];
/// What the apt evidence names as its source.
const APT_SOURCE: &str = "the security suite's Packages lists against /var/lib/dpkg/status";
/// The most a security update may wait (Cyber Essentials: 14 days).
const MAX_DAYS: i64 = 14;
/// apt's lists older than this cannot vouch that nothing is waiting (apt-daily refreshes
/// them daily; a week allows for a machine that was off).
const STALE_LIST_DAYS: i64 = 7;

/// The package managers read here.
enum Manager {
    /// The installed packages a security suite has a newer version of:
    /// `name installed→candidate`.
    Apt(Vec<String>),
    Dnf,
}

/// The fields of one dpkg stanza read here; the others, and continuation lines, are skipped.
#[derive(Default)]
struct Stanza<'a> {
    package: &'a str,
    version: &'a str,
    architecture: &'a str,
    status: &'a str,
}

/// Calls `visit` with each stanza of a dpkg status or Packages file, line by line, so a
/// list of tens of thousands of packages is never held as parsed records.
fn each_stanza<'a>(text: &'a str, mut visit: impl FnMut(&Stanza<'a>)) {
    let mut stanza = Stanza::default();
    for line in text.lines() {
        if line.trim().is_empty() {
            if !stanza.package.is_empty() {
                visit(&stanza);
            }
            stanza = Stanza::default();
            continue;
        }
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        match key {
            "Package" => stanza.package = value,
            "Version" => stanza.version = value,
            "Architecture" => stanza.architecture = value,
            "Status" => stanza.status = value,
            _ => {}
        }
    }
    if !stanza.package.is_empty() {
        visit(&stanza);
    }
}

/// An installed package's architecture and version.
struct Installed {
    architecture: String,
    version: String,
}

/// The installed packages by name. Only "install ok installed": a held package (`hold ok
/// installed`) is one apt's upgrade keeps back, so it was never counted as waiting.
fn installed_packages(status: &str) -> HashMap<String, Vec<Installed>> {
    let mut installed: HashMap<String, Vec<Installed>> = HashMap::new();
    each_stanza(status, |stanza| {
        if stanza.status == "install ok installed" && !stanza.version.is_empty() {
            installed
                .entry(stanza.package.to_owned())
                .or_default()
                .push(Installed {
                    architecture: stanza.architecture.to_owned(),
                    version: stanza.version.to_owned(),
                });
        }
    });
    installed
}

/// A security-suite version supersedes an installed package of the same architecture, or
/// when either is architecture-independent (a package may move to or from `all`).
fn same_architecture(a: &str, b: &str) -> bool {
    a == b || a == "all" || b == "all"
}

/// The newest security version of each installed package that has one newer than it,
/// keyed by `(name, installed architecture)` so the same package in several lists (main,
/// contrib; two architectures) counts once, valued `(installed, candidate)`.
type Pending = HashMap<(String, String), (String, String)>;

fn note_newer_versions(
    packages: &str,
    installed: &HashMap<String, Vec<Installed>>,
    pending: &mut Pending,
) {
    each_stanza(packages, |candidate| {
        let Some(versions) = installed.get(candidate.package) else {
            return;
        };
        for have in versions {
            if !same_architecture(&have.architecture, candidate.architecture)
                || dpkg_version::compare(candidate.version, &have.version).is_le()
            {
                continue;
            }
            let key = (candidate.package.to_owned(), have.architecture.clone());
            let newest = pending
                .entry(key)
                .or_insert_with(|| (have.version.clone(), candidate.version.to_owned()));
            if dpkg_version::compare(candidate.version, &newest.1).is_gt() {
                newest.1 = candidate.version.to_owned();
            }
        }
    });
}

/// The security suite's Packages lists in apt's lists directory.
fn security_package_lists(host: &dyn Host) -> Result<Vec<String>, Outcome> {
    Ok(list(host, APT_LISTS)?
        .unwrap_or_default()
        .into_iter()
        .filter(|name| name.contains("security"))
        .filter(|name| PACKAGES_SUFFIXES.iter().any(|s| name.ends_with(s)))
        .collect())
}

/// A Packages list's text: a plain one is read; a compressed one through apt's helper.
fn package_list_text(host: &dyn Host, name: &str) -> Result<String, Outcome> {
    let path = format!("{APT_LISTS}/{name}");
    if name.ends_with("_Packages") {
        needed_file(host, &path)
    } else {
        needed_command(host, &format!("{APT_CAT_FILE} {path}"))
    }
}

/// The installed packages a security suite has a newer version of, as
/// `name installed→candidate`, sorted by name. No solver: what the lists name newer is
/// what apt's upgrade would install from them.
fn apt_security(host: &dyn Host, status: &str) -> Result<Vec<String>, Outcome> {
    let installed = installed_packages(status);
    let mut pending = Pending::new();
    for name in security_package_lists(host)? {
        note_newer_versions(&package_list_text(host, &name)?, &installed, &mut pending);
    }
    let mut pending: Vec<_> = pending.into_iter().collect();
    pending.sort();
    Ok(pending
        .into_iter()
        .map(|((name, _), (have, candidate))| format!("{name} {have}→{candidate}"))
        .collect())
}

fn manager(host: &dyn Host) -> Result<Manager, Outcome> {
    if let Some(status) = file(host, DPKG_STATUS)? {
        return Ok(Manager::Apt(apt_security(host, &status)?));
    }
    match command(host, "dnf --version")? {
        Some(_) => Ok(Manager::Dnf),
        None => Err(unknown(
            "",
            "neither dpkg nor dnf is installed: no package manager Steward reads",
        )),
    }
}

/// dnf's pending security advisories, one line each (`FEDORA-2025-… Important/Sec. pkg`
/// from dnf 4; `… security Important pkg date` from dnf 5).
fn dnf_security(listing: &str) -> Vec<String> {
    listing
        .lines()
        .filter(|line| {
            line.split_whitespace()
                .any(|w| w.ends_with("/Sec.") || w == "security")
        })
        .map(|line| line.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect()
}

fn summary(pending: &[String]) -> String {
    let shown: Vec<&str> = pending.iter().take(10).map(String::as_str).collect();
    let more = pending.len().saturating_sub(shown.len());
    if more > 0 {
        format!("{} … and {more} more", shown.join("; "))
    } else {
        shown.join("; ")
    }
}

/// apt sees only the updates its lists name: with none waiting, the lists must be recent
/// (and include a security suite) for "none" to mean none.
fn apt_none_waiting(host: &dyn Host) -> Verdict {
    let Some((list_name, date)) = apt_lists_date(host)? else {
        return Err(unknown(
            &format!("{APT_SOURCE}: no security update; no security suite in {APT_LISTS}"),
            "apt's sources include no security suite, so security updates cannot be seen",
        ));
    };
    let days = days_between(date, host.now());
    let evidence =
        format!("{APT_SOURCE}: no security update; {list_name} is dated {days} days ago");
    if days > STALE_LIST_DAYS {
        return Err(unknown(
            &evidence,
            format!(
                "apt's lists were last refreshed {days} days ago, so newer updates cannot be seen"
            ),
        ));
    }
    pass(&evidence, "no security update is waiting")
}

pub(crate) fn none_pending(host: &dyn Host) -> Verdict {
    let (pending, source) = match manager(host)? {
        Manager::Apt(pending) if pending.is_empty() => return apt_none_waiting(host),
        Manager::Apt(pending) => (pending, APT_SOURCE),
        Manager::Dnf => (dnf_security(&needed_command(host, DNF_LIST)?), DNF_LIST),
    };
    if pending.is_empty() {
        pass(
            &format!("`{source}`: no security update"),
            "no security update is waiting",
        )
    } else {
        fail(
            &summary(&pending),
            format!("{} waiting", count(pending.len(), "security update")),
        )
    }
}

/// The newest `Date:` of the apt security suites' Release files.
fn apt_lists_date(host: &dyn Host) -> Result<Option<(String, i64)>, Outcome> {
    let mut newest: Option<(String, i64)> = None;
    for name in list(host, APT_LISTS)?.unwrap_or_default() {
        if !(name.contains("security") && name.ends_with("Release")) {
            continue;
        }
        let Some(text) = file(host, &format!("{APT_LISTS}/{name}"))? else {
            continue;
        };
        let date = text
            .lines()
            .find_map(|l| l.strip_prefix("Date:"))
            .and_then(clock::rfc2822);
        if let Some(date) = date
            && newest.as_ref().is_none_or(|(_, d)| date > *d)
        {
            newest = Some((name, date));
        }
    }
    Ok(newest)
}

fn apt_age(host: &dyn Host, pending: &[String]) -> Verdict {
    let Some((list_name, date)) = apt_lists_date(host)? else {
        return Err(unknown(
            &summary(pending),
            "security updates are waiting, and no security suite's Release file dates them",
        ));
    };
    let days = days_between(date, host.now());
    // The date first: the package list may be cut.
    let evidence = format!("{list_name} is dated {days} days ago; {}", summary(pending));
    if days >= MAX_DAYS {
        return fail(
            &evidence,
            format!(
                "{} waited at least {days} days: the lists naming them are that old",
                count(pending.len(), "security update")
            ),
        );
    }
    Err(unknown(
        &evidence,
        "security updates are waiting; apt does not record when they were published, so their age is not known",
    ))
}

/// A waiting advisory as `dnf updateinfo info` shows it. dnf 5 prints when it was issued;
/// dnf 4 only when it was last updated, which is never earlier than its issue, so it gives
/// a lower bound on the age.
#[derive(Debug, PartialEq, Eq)]
struct Advisory {
    id: String,
    issued: Option<i64>,
    updated: Option<i64>,
}

impl Advisory {
    /// The date its age is counted from, and whether that age is exact or a lower bound.
    fn dated(&self) -> Option<(i64, bool)> {
        self.issued
            .map(|d| (d, true))
            .or(self.updated.map(|d| (d, false)))
    }
}

fn dnf_advisories(info: &str) -> Vec<Advisory> {
    let mut found: Vec<Advisory> = Vec::new();
    for line in info.lines() {
        let Some((key, value)) = line.split_once(':') else {
            continue;
        };
        let (key, value) = (key.trim(), value.trim());
        match (key, found.last_mut()) {
            // dnf 4 heads an advisory with "Update ID", dnf 5 with "Name".
            ("Update ID" | "Name", _) => found.push(Advisory {
                id: value.to_owned(),
                issued: None,
                updated: None,
            }),
            ("Issued", Some(advisory)) => advisory.issued = clock::ymd(value),
            ("Updated", Some(advisory)) => advisory.updated = clock::ymd(value),
            _ => {}
        }
    }
    found
}

fn dnf_age(host: &dyn Host) -> Verdict {
    let advisories = dnf_advisories(&needed_command(host, DNF_INFO)?);
    if advisories.is_empty() {
        return pass(
            &format!("`{DNF_INFO}`: no advisory"),
            "no security update is waiting",
        );
    }
    let waiting = count(advisories.len(), "advisory");
    let Some((oldest, (date, exact))) = advisories
        .iter()
        .filter_map(|a| Some((a, a.dated()?)))
        .min_by_key(|(_, (date, _))| *date)
    else {
        return Err(unknown(
            &waiting,
            "dnf gives no date for the waiting advisories",
        ));
    };
    let days = days_between(date, host.now());
    let how = if exact { "issued" } else { "last updated" };
    let evidence = format!(
        "{waiting} waiting; the oldest, {}, was {how} {days} days ago",
        oldest.id
    );
    if days >= MAX_DAYS {
        return fail(
            &evidence,
            format!("a security update has waited at least {days} days, more than {MAX_DAYS}"),
        );
    }
    if advisories.iter().all(|a| a.issued.is_some()) {
        pass(
            &evidence,
            format!("the oldest waiting security update is {days} days old"),
        )
    } else {
        Err(unknown(
            &evidence,
            "dnf shows only when the advisories were last updated, not when they were issued, so their age is not known",
        ))
    }
}

pub(crate) fn within_14_days(host: &dyn Host) -> Verdict {
    match manager(host)? {
        Manager::Apt(pending) if pending.is_empty() => apt_none_waiting(host),
        Manager::Apt(pending) => apt_age(host, &pending),
        Manager::Dnf => dnf_age(host),
    }
}

/// `systemctl is-enabled UNIT` says "enabled".
fn enabled(host: &dyn Host, unit: &str) -> Result<bool, Outcome> {
    let run = format!("systemctl is-enabled {unit}");
    Ok(command(host, &run)?.is_some_and(|out| out.stdout.trim() == "enabled"))
}

/// The last `APT::Periodic::Unattended-Upgrade "N";` across apt.conf.d (later files win).
fn apt_periodic(host: &dyn Host) -> Result<Option<String>, Outcome> {
    let dir = "/etc/apt/apt.conf.d";
    let mut last = None;
    for name in list(host, dir)?.unwrap_or_default() {
        let Some(text) = file(host, &format!("{dir}/{name}"))? else {
            continue;
        };
        for line in config_lines(&text).filter(|l| !l.starts_with("//")) {
            if line.starts_with("APT::Periodic::Unattended-Upgrade ") {
                last = Some(format!("{name}: {}", line.trim_end_matches(';')));
            }
        }
    }
    Ok(last)
}

fn apt_automatic(host: &dyn Host) -> Verdict {
    let installed = host
        .stat("/usr/bin/unattended-upgrade")
        .map_err(|e| unknown("", e.to_string()))?
        .is_some();
    let periodic = apt_periodic(host)?;
    let timer = enabled(host, "apt-daily-upgrade.timer")?;
    let on = periodic
        .as_deref()
        .and_then(|l| l.split('"').nth(1))
        .is_some_and(|v| v.parse::<u32>().is_ok_and(|n| n > 0));
    let evidence = format!(
        "unattended-upgrades {}; {}; apt-daily-upgrade.timer {}",
        if installed {
            "installed"
        } else {
            "not installed"
        },
        periodic
            .as_deref()
            .unwrap_or("APT::Periodic::Unattended-Upgrade not set"),
        if timer { "enabled" } else { "not enabled" },
    );
    if installed && on && timer {
        pass(
            &evidence,
            "unattended-upgrades installs security updates daily",
        )
    } else {
        fail(
            &evidence,
            "security updates are not installed automatically",
        )
    }
}

fn dnf_automatic(host: &dyn Host) -> Verdict {
    if enabled(host, "dnf-automatic-install.timer")? {
        return pass(
            "dnf-automatic-install.timer enabled",
            "dnf-automatic installs updates on a timer",
        );
    }
    let timer = ["dnf-automatic.timer", "dnf5-automatic.timer"]
        .into_iter()
        .map(|unit| enabled(host, unit).map(|on| on.then_some(unit)))
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .flatten()
        .next();
    let conf = file(host, "/etc/dnf/automatic.conf")?.unwrap_or_default();
    let apply = config_lines(&conf)
        .find(|l| l.replace(' ', "").starts_with("apply_updates="))
        .map(str::to_owned);
    let applies = apply
        .as_deref()
        .and_then(|l| l.split('=').nth(1))
        .is_some_and(|v| matches!(v.trim(), "yes" | "true" | "1" | "on"));
    let evidence = format!(
        "{}; /etc/dnf/automatic.conf: {}",
        timer.map_or("no dnf-automatic timer enabled".into(), |t| format!(
            "{t} enabled"
        )),
        apply
            .as_deref()
            .unwrap_or("apply_updates not set (default no)")
    );
    if timer.is_some() && applies {
        pass(&evidence, "dnf-automatic installs updates on a timer")
    } else {
        fail(
            &evidence,
            "security updates are not installed automatically",
        )
    }
}

pub(crate) fn automatic(host: &dyn Host) -> Verdict {
    if list(host, "/etc/apt/apt.conf.d")?.is_some() {
        apt_automatic(host)
    } else if list(host, "/etc/dnf")?.is_some() {
        dnf_automatic(host)
    } else {
        Err(unknown("", "neither apt nor dnf is configured here"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUS: &str = "Package: openssl\nStatus: install ok installed\nArchitecture: amd64\nVersion: 3.0.11-1~deb12u1\nDescription: toolkit\n continued: not a field\n\nPackage: tzdata\nStatus: install ok installed\nArchitecture: all\nVersion: 2025b-0+deb12u1\n\nPackage: libc6\nStatus: deinstall ok config-files\nArchitecture: amd64\nVersion: 2.36-9\n\nPackage: zlib1g\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1:1.2.13.dfsg-1\n";

    #[test]
    fn an_installed_package_with_a_newer_security_version_is_pending() {
        let installed = installed_packages(STATUS);
        assert!(!installed.contains_key("libc6"), "only installed packages");
        let mut pending = Pending::new();
        let lists = "Package: openssl\nVersion: 3.0.11-1~deb12u2\nArchitecture: amd64\n\nPackage: openssl\nVersion: 3.0.11-1~deb12u3\nArchitecture: i386\n\nPackage: libc6\nVersion: 2.36-9+deb12u4\nArchitecture: amd64\n\nPackage: tzdata\nVersion: 2025b-0+deb12u1\nArchitecture: all\n\nPackage: zlib1g\nVersion: 1.2.13.dfsg-1+deb12u1\nArchitecture: amd64";
        note_newer_versions(lists, &installed, &mut pending);
        note_newer_versions(
            "Package: openssl\nVersion: 3.0.11-1~deb12u10\nArchitecture: amd64\n",
            &installed,
            &mut pending,
        );
        let pending: Vec<_> = pending.into_iter().collect();
        assert_eq!(
            pending,
            [(
                ("openssl".to_owned(), "amd64".to_owned()),
                (
                    "3.0.11-1~deb12u1".to_owned(),
                    "3.0.11-1~deb12u10".to_owned()
                )
            )]
        );
    }

    #[test]
    fn reads_security_advisories_from_dnf() {
        let dnf4 = "FEDORA-2025-1 Important/Sec. openssl-3.2.4-1.fc41.x86_64\nFEDORA-2025-2 bugfix  vim-9.1-1.fc41.x86_64\n";
        assert_eq!(dnf_security(dnf4).len(), 1);
        let dnf4 =
            "  Update ID: FEDORA-2025-1\n       Type: security\n    Updated: 2025-11-01 12:00:00\n";
        let dnf5 = "Name        : FEDORA-2025-2\nType        : security\nIssued      : 2025-10-01 00:00:00\n";
        let advisories = dnf_advisories(&format!("{dnf4}{dnf5}"));
        assert_eq!(advisories.len(), 2);
        assert_eq!(
            advisories[0].dated(),
            clock::ymd("2025-11-01").map(|d| (d, false))
        );
        assert_eq!(
            advisories[1].dated(),
            clock::ymd("2025-10-01").map(|d| (d, true))
        );
    }
}
