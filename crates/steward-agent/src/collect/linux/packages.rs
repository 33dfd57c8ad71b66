//! Installed packages: dpkg's database `/var/lib/dpkg/status` (Debian, Ubuntu), and the RPM
//! database through `rpm -qa` (Fedora, RHEL, SUSE) when an `rpm` binary and an RPM database
//! are present. A system may have both; each package says which database it came from.
//!
//! The dpkg status file is parsed by hand: it is a plain list of `Field: value` stanzas and
//! the three fields needed are single-line; the crates that read it pull in a full deb822 or
//! apt stack. The RPM database (SQLite, Berkeley DB or NDB depending on the distribution) is
//! only readable sanely through `rpm` itself, whose output format we choose.

use std::path::{Path, PathBuf};

use std::time::Duration;

use anyhow::bail;
use steward_core::{Package, PackageSource};

use super::read_optional;

const DPKG_STATUS: &str = "/var/lib/dpkg/status";
/// Where RPM keeps its database: the historical place, and the one Fedora and SUSE moved to.
const RPM_DB_DIRS: &[&str] = &["/var/lib/rpm", "/usr/lib/sysimage/rpm"];
const RPM_QUERY_FORMAT: &str = "%{NAME}\\t%{EPOCHNUM}:%{VERSION}-%{RELEASE}\\t%{ARCH}\\n";
/// A query over a few thousand packages takes about a second; a stuck database lock must not
/// hang the agent forever.
const RPM_TIMEOUT: Duration = Duration::from_secs(120);

/// Every installed package from every package database present.
pub fn collect() -> anyhow::Result<Vec<Package>> {
    let mut packages = read_dpkg_status(Path::new(DPKG_STATUS))?;
    if let Some(rpm) = find_rpm()
        && RPM_DB_DIRS.iter().any(|dir| Path::new(dir).is_dir())
    {
        packages.extend(query_rpm(&rpm)?);
    }
    Ok(packages)
}

/// Packages in a dpkg status file; none when the file does not exist (not a dpkg system).
pub fn read_dpkg_status(path: &Path) -> anyhow::Result<Vec<Package>> {
    Ok(read_optional(path)?
        .map(|text| parse_dpkg_status(&text))
        .unwrap_or_default())
}

/// Installed packages in the text of a dpkg status file.
///
/// A package counts as installed when its `Status` has the `ok` flag and the `installed`
/// state, whatever the selection: `install ok installed`, but also `hold ok installed` (held
/// back from upgrades, and still installed). Removed packages whose configuration remains
/// (`deinstall ok config-files`) and half-installed ones are left out.
pub fn parse_dpkg_status(text: &str) -> Vec<Package> {
    #[derive(Default)]
    struct Stanza<'a> {
        name: &'a str,
        version: &'a str,
        arch: &'a str,
        installed: bool,
    }
    impl Stanza<'_> {
        fn finish(&mut self, out: &mut Vec<Package>) {
            if self.installed && !self.name.is_empty() {
                out.push(Package {
                    name: self.name.to_owned(),
                    version: self.version.to_owned(),
                    arch: self.arch.to_owned(),
                    source: PackageSource::Dpkg,
                });
            }
            *self = Stanza::default();
        }
    }

    // A package stanza is about 900 bytes on a Debian system.
    let mut out = Vec::with_capacity(text.len() / 900);
    let mut stanza = Stanza::default();
    for line in text.lines() {
        if line.trim().is_empty() {
            stanza.finish(&mut out);
            continue;
        }
        // Continuation lines of multi-line fields (Description, Conffiles).
        if line.starts_with([' ', '\t']) {
            continue;
        }
        let Some((field, value)) = line.split_once(':') else {
            continue;
        };
        let value = value.trim();
        match field {
            "Package" => stanza.name = value,
            "Version" => stanza.version = value,
            "Architecture" => stanza.arch = value,
            "Status" => stanza.installed = dpkg_status_is_installed(value),
            _ => {}
        }
    }
    stanza.finish(&mut out);
    out
}

/// `Status: <selection> <flag> <state>`: installed with no error flag.
fn dpkg_status_is_installed(status: &str) -> bool {
    let mut words = status.split_ascii_whitespace();
    let _selection = words.next();
    words.next() == Some("ok") && words.next() == Some("installed")
}

/// Packages in the output of `rpm -qa --queryformat RPM_QUERY_FORMAT`.
///
/// Epoch 0 (no epoch) is omitted from the version, as `rpm -q` itself prints it. The
/// `gpg-pubkey` pseudo-packages (imported signing keys) are not software and are skipped.
pub fn parse_rpm_query(text: &str) -> Vec<Package> {
    text.lines()
        .filter_map(|line| {
            let mut fields = line.split('\t');
            let name = fields.next()?.trim();
            let version = fields.next()?.trim();
            let arch = fields.next().unwrap_or_default().trim();
            if name.is_empty() || name == "gpg-pubkey" {
                return None;
            }
            let version = version.strip_prefix("0:").unwrap_or(version);
            let arch = if arch == "(none)" { "" } else { arch };
            Some(Package {
                name: name.to_owned(),
                version: version.to_owned(),
                arch: arch.to_owned(),
                source: PackageSource::Rpm,
            })
        })
        .collect()
}

/// The `rpm` executable on `PATH` (or in `/usr/bin`, `/bin` when `PATH` is unset).
fn find_rpm() -> Option<PathBuf> {
    super::command::find("rpm")
}

/// Runs the RPM query, with a time limit.
fn query_rpm(rpm: &Path) -> anyhow::Result<Vec<Package>> {
    let out = super::command::run(
        rpm,
        &["-qa", "--queryformat", RPM_QUERY_FORMAT],
        RPM_TIMEOUT,
    )?;
    if !out.success {
        bail!("rpm -qa failed ({}): {}", out.status, out.stderr.trim());
    }
    Ok(parse_rpm_query(&out.stdout))
}

#[cfg(test)]
mod tests {
    use super::*;

    const DPKG_STATUS_FIXTURE: &str = "\
Package: adduser
Status: install ok installed
Priority: important
Section: admin
Installed-Size: 849
Maintainer: Debian Adduser Developers <adduser@packages.debian.org>
Architecture: all
Multi-Arch: foreign
Version: 3.134
Depends: passwd
Suggests: liblocale-gettext-perl, perl, cron, quota
Conffiles:
 /etc/adduser.conf cc3493ecd2d8a5b8d6a1fe6ac2e0c1ab
 /etc/deluser.conf 11a06baf8245fd8d690b99024d228c1f
Description: add and remove users and groups
 This package includes the 'adduser' and 'deluser' commands for creating
 and removing users.
 .
 Version: this continuation line must not be read as a field

Package: libc6
Status: install ok installed
Priority: optional
Section: libs
Architecture: amd64
Multi-Arch: same
Source: glibc
Version: 2.36-9+deb12u4
Description: GNU C Library: Shared libraries

Package: libc6
Status: install ok installed
Architecture: i386
Multi-Arch: same
Source: glibc
Version: 2.36-9+deb12u4
Description: GNU C Library: Shared libraries

Package: nano
Status: deinstall ok config-files
Priority: important
Architecture: amd64
Version: 7.2-1
Config-Version: 7.2-1
Description: small, friendly text editor inspired by Pico

Package: openssl
Status: hold ok installed
Architecture: amd64
Version: 3.0.11-1~deb12u2
Description: Secure Sockets Layer toolkit - cryptographic utility

Package: half
Status: install reinstreq half-installed
Architecture: amd64
Version: 1.0

Package: vim
Status: install ok unpacked
Architecture: amd64
Version: 2:9.0.1378-2
";

    fn dpkg(name: &str, version: &str, arch: &str) -> Package {
        Package {
            name: name.into(),
            version: version.into(),
            arch: arch.into(),
            source: PackageSource::Dpkg,
        }
    }

    #[test]
    fn dpkg_status_keeps_installed_packages_of_every_architecture() {
        let packages = parse_dpkg_status(DPKG_STATUS_FIXTURE);
        assert_eq!(
            packages,
            vec![
                dpkg("adduser", "3.134", "all"),
                dpkg("libc6", "2.36-9+deb12u4", "amd64"),
                dpkg("libc6", "2.36-9+deb12u4", "i386"),
                dpkg("openssl", "3.0.11-1~deb12u2", "amd64"),
            ]
        );
    }

    #[test]
    fn dpkg_status_without_trailing_newline_or_with_crlf_and_extra_blank_lines() {
        let text = "\n\nPackage: a\r\nStatus: install ok installed\r\nVersion: 1:2.0\r\nArchitecture: arm64\r\n\r\n\r\nPackage: b\nStatus: install ok installed\nVersion: 1\nArchitecture: all";
        assert_eq!(
            parse_dpkg_status(text),
            vec![dpkg("a", "1:2.0", "arm64"), dpkg("b", "1", "all")]
        );
    }

    #[test]
    fn dpkg_status_empty_file() {
        assert!(parse_dpkg_status("").is_empty());
    }

    #[test]
    fn missing_dpkg_status_is_no_packages() {
        let packages = read_dpkg_status(Path::new("/nonexistent/dpkg/status")).unwrap();
        assert!(packages.is_empty());
    }

    #[test]
    fn rpm_query_output() {
        let text = "\
bash\t0:5.2.26-3.fc40\tx86_64
openssl-libs\t1:3.2.2-3.fc40\tx86_64
glibc\t0:2.39-17.fc40\ti686
gpg-pubkey\t0:a15b79cc-63d04c2c\t(none)
tzdata\t0:2024a-5.fc40\tnoarch
";
        let rpm = |name: &str, version: &str, arch: &str| Package {
            name: name.into(),
            version: version.into(),
            arch: arch.into(),
            source: PackageSource::Rpm,
        };
        assert_eq!(
            parse_rpm_query(text),
            vec![
                rpm("bash", "5.2.26-3.fc40", "x86_64"),
                rpm("openssl-libs", "1:3.2.2-3.fc40", "x86_64"),
                rpm("glibc", "2.39-17.fc40", "i686"),
                rpm("tzdata", "2024a-5.fc40", "noarch"),
            ]
        );
    }

    #[test]
    fn rpm_query_skips_malformed_lines() {
        assert!(parse_rpm_query("\njunk\n").is_empty());
    }
}
