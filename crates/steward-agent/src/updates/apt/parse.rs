//! Reading apt's and dpkg's text: `apt list --upgradable`'s lines, the dpkg status file, and
//! the reasons an install names for a package it could not upgrade.

use std::collections::BTreeMap;

use steward_core::patching::PendingUpdate;

/// The pending upgrades in `apt list --upgradable`'s output: each line `name/suite[,suite…]
/// candidate arch [upgradable from: installed]` (other lines — `Listing...`, apt's warning
/// that its interface is not stable — are skipped). A package of an architecture other than
/// `native` (and not `all`) is named `name:arch`, as apt-get installs it.
pub fn upgradable(output: &str, native: &str) -> Vec<PendingUpdate> {
    output
        .lines()
        .filter_map(|line| upgradable_line(line, native))
        .collect()
}

fn upgradable_line(line: &str, native: &str) -> Option<PendingUpdate> {
    let (name, rest) = line.split_once('/')?;
    let mut words = rest.splitn(4, ' ');
    let (suites, candidate, arch, from) =
        (words.next()?, words.next()?, words.next()?, words.next()?);
    let installed = from
        .trim()
        .strip_prefix("[upgradable from: ")?
        .strip_suffix(']')?;
    if name.is_empty() || name.contains(' ') || candidate.is_empty() || arch.is_empty() {
        return None;
    }
    let package = if arch != "all" && !native.is_empty() && arch != native {
        format!("{name}:{arch}")
    } else {
        name.to_owned()
    };
    let source = suites.replace(',', ", ");
    Some(PendingUpdate {
        package,
        arch: arch.to_owned(),
        installed: installed.to_owned(),
        candidate: candidate.to_owned(),
        security: names_security(&source),
        source,
        advisories: Vec::new(),
    })
}

/// Whether an apt origin string names a security archive: a suite `*-security`
/// (`bookworm-security`, `jammy-security`), or a label `Debian-Security`.
pub fn names_security(source: &str) -> bool {
    source.split(", ").any(|one| {
        let (label, suite) = one.split_once(':').unwrap_or(("", one));
        let suite = suite.rsplit('/').next().unwrap_or(suite);
        label.eq_ignore_ascii_case("Debian-Security")
            || suite.to_ascii_lowercase().ends_with("-security")
    })
}

/// One package in the dpkg status file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installed {
    pub version: String,
    /// dpkg's state: `installed`, `unpacked`, `half-configured`, `config-files`, …
    pub state: String,
}

impl Installed {
    pub fn is_configured(&self) -> bool {
        self.state == "installed"
    }
}

/// The dpkg status file, by package name, and by `name:arch` as well (apt names a foreign
/// architecture's package that way).
pub fn dpkg_status(text: &str) -> BTreeMap<String, Installed> {
    let mut packages = BTreeMap::new();
    for stanza in text.split("\n\n") {
        let field = |name: &str| {
            stanza.lines().find_map(|line| {
                line.strip_prefix(name)
                    .and_then(|r| r.strip_prefix(':'))
                    .map(str::trim)
            })
        };
        let (Some(package), Some(version), Some(status)) =
            (field("Package"), field("Version"), field("Status"))
        else {
            continue;
        };
        let state = status.split_whitespace().nth(2).unwrap_or("").to_owned();
        if state == "not-installed" || state == "config-files" {
            continue;
        }
        let installed = Installed {
            version: version.to_owned(),
            state,
        };
        if let Some(arch) = field("Architecture") {
            packages.insert(format!("{package}:{arch}"), installed.clone());
        }
        packages.insert(package.to_owned(), installed);
    }
    packages
}

/// What apt's and dpkg's output said about packages, by name: `Err(reason)` for one that
/// failed, `Ok(())` for one apt found already at its newest version.
pub fn install_remarks(lines: &[String]) -> BTreeMap<String, Result<(), String>> {
    let mut remarks = BTreeMap::new();
    let mut lines_iter = lines.iter().map(|l| l.trim()).peekable();
    while let Some(line) = lines_iter.next() {
        if let Some(rest) = line.strip_prefix("dpkg: error processing archive ") {
            // `/path/name_1.1_all.deb (--unpack):` then the reason on the next line.
            let file = rest.split(" (").next().unwrap_or(rest);
            let base = file.rsplit('/').next().unwrap_or(file);
            let package = base.split('_').next().unwrap_or(base);
            let reason = lines_iter.peek().copied().unwrap_or("").to_owned();
            remarks.insert(package.to_owned(), Err(reason));
        } else if let Some(rest) = line.strip_prefix("dpkg: error processing package ") {
            let package = rest.split(" (").next().unwrap_or(rest);
            let reason = lines_iter.peek().copied().unwrap_or("").to_owned();
            remarks.insert(package.to_owned(), Err(reason));
        } else if let Some(package) = line.strip_prefix("E: Unable to locate package ") {
            remarks.insert(package.to_owned(), Err("no such package".to_owned()));
        } else if let Some(rest) = line.strip_prefix("E: Package '") {
            let package = rest.split('\'').next().unwrap_or(rest);
            remarks.insert(
                package.to_owned(),
                Err(line.trim_start_matches("E: ").to_owned()),
            );
        } else if let Some(rest) = line.strip_prefix("Skipping ") {
            if let Some(package) =
                rest.strip_suffix(", it is not installed and only upgrades are requested.")
            {
                remarks.insert(package.to_owned(), Err("not installed".to_owned()));
            }
        } else if let Some((package, _)) = line.split_once(" is already the newest version") {
            remarks.entry(package.to_owned()).or_insert(Ok(()));
        }
    }
    remarks
}

/// apt's last `E:` line: why a run failed as a whole.
pub fn last_error(lines: &[String]) -> Option<&str> {
    lines.iter().rev().find_map(|l| l.strip_prefix("E: "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_upgradable_list_gives_suites_versions_and_foreign_architectures() {
        // Recorded on Debian 12 (shortened).
        let output = "WARNING: apt does not have a stable CLI interface. Use with caution in scripts.\n\
Listing...\n\
apt/oldstable-security 2.6.2 amd64 [upgradable from: 2.6.1]\n\
base-files/oldstable 12.4+deb12u15 amd64 [upgradable from: 12.4+deb12u11]\n\
libssl3/oldstable,oldstable-security 3.0.17-1~deb12u3 amd64 [upgradable from: 3.0.15-1~deb12u1]\n\
tzdata/oldstable-updates 2025b-0+deb12u2 all [upgradable from: 2025b-0+deb12u1]\n\
libc6/oldstable 2.36-9+deb12u13 i386 [upgradable from: 2.36-9+deb12u10]\n";
        let pending = upgradable(output, "amd64");
        let seen: Vec<_> = pending
            .iter()
            .map(|p| {
                (
                    p.package.as_str(),
                    p.installed.as_str(),
                    p.candidate.as_str(),
                    p.security,
                )
            })
            .collect();
        assert_eq!(
            seen,
            [
                ("apt", "2.6.1", "2.6.2", true),
                ("base-files", "12.4+deb12u11", "12.4+deb12u15", false),
                ("libssl3", "3.0.15-1~deb12u1", "3.0.17-1~deb12u3", true),
                ("tzdata", "2025b-0+deb12u1", "2025b-0+deb12u2", false),
                ("libc6:i386", "2.36-9+deb12u10", "2.36-9+deb12u13", false),
            ]
        );
        assert_eq!(pending[2].source, "oldstable, oldstable-security");
        assert_eq!(pending[3].arch, "all");
    }

    #[test]
    fn security_is_read_from_suite_or_label() {
        assert!(names_security("Ubuntu:22.04/jammy-security"));
        assert!(names_security("Steward:bookworm-security"));
        assert!(names_security("UbuntuESM:22.04/jammy-infra-security"));
        assert!(names_security("Debian-Security:12/stable-security"));
        assert!(!names_security("Ubuntu:22.04/jammy-updates"));
        assert!(!names_security("Securityish:bookworm"));
        assert!(!names_security(""));
    }

    #[test]
    fn the_status_file_gives_versions_and_states() {
        let status = "Package: a\nStatus: install ok installed\nArchitecture: amd64\nVersion: 1.1\nConfig-Version: 1.0\n\n\
Package: b\nStatus: install ok unpacked\nArchitecture: all\nVersion: 2\n\n\
Package: c\nStatus: deinstall ok config-files\nVersion: 3\n";
        let packages = dpkg_status(status);
        assert_eq!(packages["a"].version, "1.1");
        assert!(packages["a"].is_configured());
        assert_eq!(packages["a:amd64"], packages["a"]);
        assert!(!packages["b"].is_configured());
        assert!(
            !packages.contains_key("c"),
            "only config files left is not installed"
        );
    }

    #[test]
    fn reasons_are_read_per_package() {
        let lines: Vec<String> = "\
Preparing to unpack .../steward-broken_1.1_all.deb ...
refusing to upgrade
dpkg: error processing archive /tmp/r/./steward-broken_1.1_all.deb (--unpack):
 new steward-broken package pre-installation script subprocess returned error exit status 1
dpkg: error processing package foo:amd64 (--configure):
 installed foo package post-installation script subprocess returned error exit status 2
vim is already the newest version (2:9.0.1378-2).
Skipping ghost, it is not installed and only upgrades are requested.
E: Unable to locate package nosuch
E: Sub-process /usr/bin/dpkg returned an error code (1)"
            .lines()
            .map(str::to_owned)
            .collect();
        let remarks = install_remarks(&lines);
        assert_eq!(
            remarks["steward-broken"],
            Err("new steward-broken package pre-installation script subprocess returned error exit status 1".into())
        );
        assert!(
            remarks["foo:amd64"]
                .as_ref()
                .unwrap_err()
                .contains("post-installation")
        );
        assert_eq!(remarks["vim"], Ok(()));
        assert_eq!(remarks["ghost"], Err("not installed".into()));
        assert_eq!(remarks["nosuch"], Err("no such package".into()));
        assert_eq!(
            last_error(&lines),
            Some("Sub-process /usr/bin/dpkg returned an error code (1)")
        );
    }
}
