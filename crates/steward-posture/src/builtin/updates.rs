//! Security updates: whether any are pending, how long the oldest has waited, and whether
//! they install themselves. apt and dnf are read; another package manager is unknown.
//!
//! How old a pending update is: dnf's advisories carry their issue date, which is the age.
//! apt records no such date, but every pending update is named by the security suite's
//! lists, and an update cannot be newer than the lists that name it: their Release `Date:`
//! is a lower bound on its age. When that bound reaches 14 days the check fails; below it
//! the age is unknown, never guessed. The same date says how fresh apt's view is: "nothing
//! waiting" from lists more than a week old, or from sources without a security suite, is
//! unknown.

use super::clock::{self, days_between};
use super::{
    Verdict, command, config_lines, count, fail, file, list, needed_command, pass, unknown,
};
use crate::eval::Outcome;
use crate::host::Host;

const APT_SIMULATE: &str = "apt-get -s dist-upgrade";
const DNF_LIST: &str = "dnf -C updateinfo list --security";
const DNF_INFO: &str = "dnf -C updateinfo info --security";
const APT_LISTS: &str = "/var/lib/apt/lists";
/// The most a security update may wait (Cyber Essentials: 14 days).
const MAX_DAYS: i64 = 14;
/// apt's lists older than this cannot vouch that nothing is waiting (apt-daily refreshes
/// them daily; a week allows for a machine that was off).
const STALE_LIST_DAYS: i64 = 7;

/// The package managers read here.
enum Manager {
    /// apt's simulated upgrade: the `Inst` lines whose origin is a security suite.
    Apt(Vec<String>),
    Dnf,
}

/// `Inst openssl [3.0.11-1~deb12u1] (3.0.11-1~deb12u2 Debian-Security:12/stable-security
/// [amd64])`: upgrades whose origin names a security suite, as `name version`.
fn apt_security(simulated: &str) -> Vec<String> {
    simulated
        .lines()
        .filter_map(|line| line.strip_prefix("Inst "))
        .filter_map(|rest| {
            let (name, origin) = rest.split_once('(')?;
            origin.to_ascii_lowercase().contains("security").then(|| {
                let name = name.split_whitespace().next().unwrap_or("");
                let version = origin.split_whitespace().next().unwrap_or("");
                format!("{name} {version}")
            })
        })
        .collect()
}

fn manager(host: &dyn Host) -> Result<Manager, Outcome> {
    match command(host, APT_SIMULATE)? {
        Some(out) if out.status == 0 => Ok(Manager::Apt(apt_security(&out.stdout))),
        Some(out) => Err(unknown(
            out.stdout.trim(),
            format!("`{APT_SIMULATE}` failed (exit status {})", out.status),
        )),
        None => match command(host, "dnf --version")? {
            Some(_) => Ok(Manager::Dnf),
            None => Err(unknown(
                "",
                "neither apt-get nor dnf is installed: no package manager Steward reads",
            )),
        },
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
            &format!("`{APT_SIMULATE}`: no security update; no security suite in {APT_LISTS}"),
            "apt's sources include no security suite, so security updates cannot be seen",
        ));
    };
    let days = days_between(date, host.now());
    let evidence =
        format!("`{APT_SIMULATE}`: no security update; {list_name} is dated {days} days ago");
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
        Manager::Apt(pending) => (pending, APT_SIMULATE),
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

    #[test]
    fn reads_security_upgrades_from_apt_and_dnf() {
        let apt = "Inst libc6 [2.36-9] (2.36-9+deb12u9 Debian:12.9/stable [amd64])\nInst openssl [3.0.11-1~deb12u1] (3.0.11-1~deb12u2 Debian-Security:12/stable-security [amd64])\nConf openssl (3.0.11-1~deb12u2 Debian-Security:12/stable-security [amd64])\n";
        assert_eq!(apt_security(apt), ["openssl 3.0.11-1~deb12u2"]);
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
