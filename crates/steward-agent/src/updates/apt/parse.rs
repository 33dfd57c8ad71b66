//! Reading apt's and dpkg's text: the simulation's `Inst` lines, the dpkg status file, and
//! the reasons an install names for a package it could not upgrade.

use std::collections::BTreeMap;

use steward_core::patching::PendingUpdate;

/// The pending upgrades in `apt-get -s dist-upgrade`'s output: each line
/// `Inst pkg [old] (new Label:Version/suite[, Label2:…] [arch])`. Packages the upgrade
/// would newly install (no `[old]`) are not updates of the machine's packages and are
/// left out.
pub fn simulated_upgrades(output: &str) -> Vec<PendingUpdate> {
    output.lines().filter_map(inst_line).collect()
}

fn inst_line(line: &str) -> Option<PendingUpdate> {
    let rest = line.strip_prefix("Inst ")?;
    let (package, rest) = rest.split_once(' ')?;
    let rest = rest.trim_start();
    let (installed, rest) = rest.strip_prefix('[')?.split_once(']')?;
    let inside = rest.trim_start().strip_prefix('(')?;
    let inside = &inside[..inside.find(')')?];
    let (candidate, origin) = inside.split_once(' ').unwrap_or((inside, ""));
    let (source, arch) = match origin.rfind(" [").or_else(|| origin.find('[')) {
        Some(at) => (
            origin[..at].trim(),
            origin[at..]
                .trim()
                .trim_start_matches('[')
                .trim_end_matches(']'),
        ),
        None => (origin.trim(), ""),
    };
    Some(PendingUpdate {
        package: package.to_owned(),
        arch: arch.to_owned(),
        installed: installed.to_owned(),
        candidate: candidate.to_owned(),
        source: source.to_owned(),
        security: names_security(source),
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

    /// Recorded on Debian 12 (a real `apt-get -s dist-upgrade`, shortened).
    const BOOKWORM: &str = "\
Reading package lists...
Building dependency tree...
Calculating upgrade...
The following NEW packages will be installed:
  linux-image-6.1.0-18-amd64
The following packages will be upgraded:
  libssl3 linux-image-amd64 openssl tzdata
4 upgraded, 1 newly installed, 0 to remove and 0 not upgraded.
Inst libssl3 [3.0.11-1~deb12u1] (3.0.11-1~deb12u2 Debian:12.5/stable, Debian-Security:12/stable-security [amd64])
Inst linux-image-6.1.0-18-amd64 (6.1.76-1 Debian-Security:12/stable-security [amd64])
Inst linux-image-amd64 [6.1.69-1] (6.1.76-1 Debian-Security:12/stable-security [amd64])
Inst tzdata [2023c-5] (2024a-0+deb12u1 Debian:12.5/stable-updates [all])
Inst libc6:i386 [2.36-9+deb12u3] (2.36-9+deb12u4 Debian:12.5/stable [i386])
Conf libssl3 (3.0.11-1~deb12u2 Debian:12.5/stable, Debian-Security:12/stable-security [amd64])
";

    #[test]
    fn the_simulation_lists_upgrades_with_their_origin() {
        let pending = simulated_upgrades(BOOKWORM);
        let names: Vec<_> = pending.iter().map(|p| p.package.as_str()).collect();
        assert_eq!(
            names,
            ["libssl3", "linux-image-amd64", "tzdata", "libc6:i386"]
        );
        let ssl = &pending[0];
        assert_eq!(ssl.installed, "3.0.11-1~deb12u1");
        assert_eq!(ssl.candidate, "3.0.11-1~deb12u2");
        assert_eq!(ssl.arch, "amd64");
        assert_eq!(
            ssl.source,
            "Debian:12.5/stable, Debian-Security:12/stable-security"
        );
        assert!(ssl.security);
        assert!(pending[1].security);
        assert!(!pending[2].security, "stable-updates is not security");
        assert_eq!(pending[2].arch, "all");
        assert_eq!(pending[3].arch, "i386");
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
