//! Whether the operating system still receives security updates from its vendor: a shipped
//! table of end-of-support dates, against /etc/os-release and the host's clock.
//!
//! The dates are the vendors' published end of security support for the free release
//! (Debian: the end of Debian LTS; Ubuntu: the end of standard support — Ubuntu Pro's ESM
//! extends it, and is not read here; RHEL and its rebuilds: the end of maintenance
//! support). Releases announced after [`TABLE_DATE`] are not in the table: they are
//! unknown, never assumed supported.

use super::clock::{self, days_between};
use super::{Verdict, fail, needed_file, pass, unknown};
use crate::host::Host;

/// When the table below was last compared with the vendors' published schedules.
pub(crate) const TABLE_DATE: &str = "2026-11-29";

/// (os-release ID, VERSION_ID or its major part, end of security support). Where the vendor
/// gives only a month (Canonical's release table), the month's last day; where it gives
/// only a rule (Fedora: a month after the release two later; Ubuntu interim: nine months),
/// the date the rule gives, marked "projected" — re-check those when the table is dated.
const END_OF_SUPPORT: &[(&str, &str, &str)] = &[
    ("debian", "10", "2024-06-30"),
    ("debian", "11", "2026-08-31"),
    ("debian", "12", "2028-06-30"),
    ("debian", "13", "2030-06-30"),
    ("ubuntu", "18.04", "2023-05-31"),
    ("ubuntu", "20.04", "2025-05-31"),
    ("ubuntu", "22.04", "2027-04-30"),
    ("ubuntu", "24.04", "2029-04-30"),
    ("ubuntu", "24.10", "2025-07-10"),
    ("ubuntu", "25.04", "2026-01-31"),
    ("ubuntu", "25.10", "2026-07-31"),
    ("ubuntu", "26.04", "2031-04-30"),
    ("ubuntu", "26.10", "2027-07-31"), // projected
    ("rhel", "8", "2029-05-31"),
    ("rhel", "9", "2032-05-31"),
    ("rhel", "10", "2035-05-31"),
    ("rocky", "8", "2029-05-31"),
    ("rocky", "9", "2032-05-31"),
    ("rocky", "10", "2035-05-31"),
    ("almalinux", "8", "2029-05-31"),
    ("almalinux", "9", "2032-05-31"),
    ("almalinux", "10", "2035-05-31"),
    ("fedora", "40", "2025-05-13"),
    ("fedora", "41", "2025-12-15"),
    ("fedora", "42", "2026-05-28"),
    ("fedora", "43", "2026-12-09"), // projected
    ("fedora", "44", "2027-05-19"), // projected
    ("fedora", "45", "2027-12-08"), // projected
    ("opensuse-leap", "15.5", "2024-12-31"),
    ("opensuse-leap", "15.6", "2026-04-30"),
    ("opensuse-leap", "16.0", "2027-10-31"), // projected
];

/// Distributions whose table key is the major version (`9.4` is `9`).
const BY_MAJOR: &[&str] = &["rhel", "rocky", "almalinux"];

/// `KEY=value` or `KEY="value"` from os-release.
fn field<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.lines()
        .find_map(|l| l.trim().strip_prefix(key)?.strip_prefix('='))
        .map(|v| v.trim().trim_matches('"').trim_matches('\''))
}

/// Ubuntu's long-term releases by codename, for the distributions built on one (Linux Mint,
/// Pop!_OS, Zorin, elementary) that name it in `UBUNTU_CODENAME`.
const UBUNTU_CODENAMES: &[(&str, &str)] = &[
    ("bionic", "18.04"),
    ("focal", "20.04"),
    ("jammy", "22.04"),
    ("noble", "24.04"),
];

/// Debian's releases by codename, for the distributions built on one (Raspberry Pi OS) that
/// keep Debian's `VERSION_CODENAME`.
const DEBIAN_CODENAMES: &[(&str, &str)] = &[
    ("buster", "10"),
    ("bullseye", "11"),
    ("bookworm", "12"),
    ("trixie", "13"),
];

/// `(ID, VERSION_ID)` to look up: the distribution's own, or for a derivative not in the
/// table, the Ubuntu or Debian release its packages and security updates come from.
fn release_of(release: &str) -> (&str, &str) {
    let id = field(release, "ID").unwrap_or("");
    let version = field(release, "VERSION_ID").unwrap_or("");
    if END_OF_SUPPORT.iter().any(|(i, _, _)| *i == id) {
        return (id, version);
    }
    let based_on = |key: &str, names: &'static [(&'static str, &'static str)]| {
        let codename = field(release, key)?;
        names
            .iter()
            .find(|(name, _)| *name == codename)
            .map(|(_, v)| *v)
    };
    let like = field(release, "ID_LIKE").unwrap_or("");
    if let Some(version) = based_on("UBUNTU_CODENAME", UBUNTU_CODENAMES) {
        ("ubuntu", version)
    } else if like.split_whitespace().any(|l| l == "debian")
        && let Some(version) = based_on("VERSION_CODENAME", DEBIAN_CODENAMES)
    {
        ("debian", version)
    } else {
        (id, version)
    }
}

pub(crate) fn os_supported(host: &dyn Host) -> Verdict {
    let release = needed_file(host, "/etc/os-release")?;
    let own = format!(
        "ID={} VERSION_ID={}",
        field(&release, "ID").unwrap_or(""),
        field(&release, "VERSION_ID").unwrap_or("")
    );
    let (id, version) = release_of(&release);
    let evidence = if own == format!("ID={id} VERSION_ID={version}") {
        own
    } else {
        format!("{own}, built on {id} {version}")
    };
    let key = if BY_MAJOR.contains(&id) {
        version.split('.').next().unwrap_or(version)
    } else {
        version
    };
    let Some((_, _, end)) = END_OF_SUPPORT
        .iter()
        .find(|(i, v, _)| *i == id && *v == key)
    else {
        return Err(unknown(
            &evidence,
            format!(
                "{} is not in Steward's support table (dated {TABLE_DATE})",
                format!("{id} {version}").trim()
            ),
        ));
    };
    let Some(end_at) = clock::ymd(end) else {
        return Err(unknown(
            &evidence,
            format!("the table's date {end} is malformed"),
        ));
    };
    let days = days_between(host.now(), end_at);
    let evidence = format!("{evidence}; security support ends {end}");
    if days >= 0 {
        pass(
            &evidence,
            format!("{id} {version} has security support for {days} more days"),
        )
    } else {
        fail(
            &evidence,
            format!("{id} {version}'s security support ended {} days ago", -days),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_table_date_parses() {
        assert!(clock::ymd(TABLE_DATE).is_some());
        for (id, version, end) in END_OF_SUPPORT {
            assert!(clock::ymd(end).is_some(), "{id} {version}: {end}");
        }
        assert_eq!(
            field("ID=\"rocky\"\nVERSION_ID=\"9.4\"", "VERSION_ID"),
            Some("9.4")
        );
        assert_eq!(field("VERSION_ID=1\nID=debian", "ID"), Some("debian"));
        let mint =
            "ID=linuxmint\nID_LIKE=\"ubuntu debian\"\nVERSION_ID=\"21.3\"\nUBUNTU_CODENAME=jammy\n";
        assert_eq!(release_of(mint), ("ubuntu", "22.04"));
        let pi = "ID=raspbian\nID_LIKE=debian\nVERSION_ID=\"12\"\nVERSION_CODENAME=bookworm\n";
        assert_eq!(release_of(pi), ("debian", "12"));
        let ubuntu = "ID=ubuntu\nVERSION_ID=\"24.04\"\nUBUNTU_CODENAME=noble\n";
        assert_eq!(release_of(ubuntu), ("ubuntu", "24.04"));
    }
}
