//! [`Dnf`]: Fedora, RHEL and its rebuilds. Listing joins `dnf check-update` (what is newer,
//! from which repository) with `dnf updateinfo list --security` (which of those the
//! distribution's advisories call security, and their advisory and CVE ids) and the rpm
//! database (what is installed now).

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::bail;
use steward_core::patching::{PackageOutcome, PackageResult, PendingUpdate};

use super::UpdateManager;
use super::command::{Command, Finished};
use super::names::check_package_names;

/// `%{NAME} %{ARCH} %{EPOCHNUM}:%{VERSION}-%{RELEASE}`: one installed package a line.
const RPM_QUERY_FORMAT: &str = "%{NAME} %{ARCH} %{EPOCHNUM}:%{VERSION}-%{RELEASE}\\n";

/// dnf and rpm on this machine.
#[derive(Debug, Clone)]
pub struct Dnf {
    pub list_timeout: Duration,
    pub install_timeout: Duration,
}

impl Default for Dnf {
    fn default() -> Self {
        Dnf {
            list_timeout: Duration::from_secs(300),
            install_timeout: Duration::from_secs(3600),
        }
    }
}

impl Dnf {
    fn run(&self, program: &str, args: &[&str], timeout: Duration) -> anyhow::Result<Finished> {
        Command::new(program, timeout)
            .args(args.iter().copied())
            .run(&mut |_| {})
    }

    /// Installed packages by name: `name` → `(arch, epoch:version-release)`.
    fn installed(&self) -> anyhow::Result<BTreeMap<String, (String, String)>> {
        let finished = self.run("rpm", &["-qa", "--qf", RPM_QUERY_FORMAT], self.list_timeout)?;
        if finished.status != 0 {
            bail!("rpm -qa exited {}", finished.status);
        }
        Ok(rpm_installed(&finished.output.join("\n")))
    }
}

/// A newer version `dnf check-update` lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Available {
    pub name: String,
    pub arch: String,
    pub version: String,
    pub repo: String,
}

/// `dnf check-update`'s list: `name.arch  [epoch:]version-release  repo`, a long name
/// wrapped onto a line of its own, up to the "Obsoleting Packages" section.
pub fn check_update(output: &str) -> Vec<Available> {
    let mut available = Vec::new();
    let mut words: Vec<&str> = Vec::new();
    for line in output.lines() {
        if line.starts_with("Obsoleting Packages") {
            break;
        }
        if line.starts_with("Last metadata") || line.starts_with("Security:") {
            continue;
        }
        words.extend(line.split_whitespace());
        if words.len() >= 3 {
            if let Some((name, arch)) = words[0].rsplit_once('.') {
                available.push(Available {
                    name: name.to_owned(),
                    arch: arch.to_owned(),
                    version: words[1].to_owned(),
                    repo: words[2].to_owned(),
                });
            }
            words.clear();
        }
    }
    available
}

/// `dnf updateinfo list --security` (or with `--with-cve`): `id  type/severity  nevra` a
/// line; answers `(id, package name)`.
pub fn updateinfo(output: &str) -> Vec<(String, String)> {
    output
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            let (id, _kind, nevra) = (words.next()?, words.next()?, words.next()?);
            Some((id.to_owned(), name_of_nevra(nevra)?.to_owned()))
        })
        .collect()
}

/// The name in `name-[epoch:]version-release.arch`: what is left after the last two
/// `-`-separated parts.
fn name_of_nevra(nevra: &str) -> Option<&str> {
    let (rest, _release_arch) = nevra.rsplit_once('-')?;
    let (name, _version) = rest.rsplit_once('-')?;
    Some(name)
}

/// `rpm -qa` in [`RPM_QUERY_FORMAT`]: name → (arch, epoch:version-release).
pub fn rpm_installed(output: &str) -> BTreeMap<String, (String, String)> {
    output
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            let (name, arch, evr) = (words.next()?, words.next()?, words.next()?);
            Some((name.to_owned(), (arch.to_owned(), evr.to_owned())))
        })
        .collect()
}

/// `0:1.2-3` → `1.2-3`: dnf prints no epoch when it is zero.
fn without_zero_epoch(evr: &str) -> &str {
    evr.strip_prefix("0:").unwrap_or(evr)
}

/// The pending updates from the three listings and the rpm database.
pub fn join(
    available: Vec<Available>,
    security: &[(String, String)],
    cves: &[(String, String)],
    installed: &BTreeMap<String, (String, String)>,
) -> Vec<PendingUpdate> {
    available
        .into_iter()
        .map(|a| {
            let mut advisories: Vec<String> = security
                .iter()
                .chain(cves)
                .filter(|(_, name)| *name == a.name)
                .map(|(id, _)| id.clone())
                .collect();
            advisories.sort();
            advisories.dedup();
            PendingUpdate {
                installed: installed
                    .get(&a.name)
                    .map(|(_, evr)| without_zero_epoch(evr).to_owned())
                    .unwrap_or_default(),
                security: security.iter().any(|(_, name)| *name == a.name),
                package: a.name,
                arch: a.arch,
                candidate: a.version,
                source: a.repo,
                advisories,
            }
        })
        .collect()
}

impl UpdateManager for Dnf {
    fn name(&self) -> &'static str {
        "dnf"
    }

    fn pending(&self) -> anyhow::Result<Vec<PendingUpdate>> {
        let listed = self.run("dnf", &["-q", "check-update"], self.list_timeout)?;
        let available = match listed.status {
            0 => return Ok(Vec::new()),
            100 => check_update(&listed.output.join("\n")),
            status => bail!(
                "dnf check-update exited {status}: {}",
                listed
                    .output
                    .last()
                    .map_or("no reason given", String::as_str)
            ),
        };
        let security = self.run(
            "dnf",
            &["-q", "updateinfo", "list", "--security"],
            self.list_timeout,
        )?;
        if security.status != 0 {
            bail!("dnf updateinfo list --security exited {}", security.status);
        }
        // CVE ids are a bonus: a dnf without `--with-cve` still lists the advisories.
        let cves = self
            .run(
                "dnf",
                &["-q", "updateinfo", "list", "--security", "--with-cve"],
                self.list_timeout,
            )
            .ok()
            .filter(|f| f.status == 0)
            .map(|f| updateinfo(&f.output.join("\n")))
            .unwrap_or_default();
        Ok(join(
            available,
            &updateinfo(&security.output.join("\n")),
            &cves,
            &self.installed()?,
        ))
    }

    fn install(
        &self,
        packages: &[String],
        log: &mut dyn FnMut(&str),
    ) -> anyhow::Result<Vec<PackageResult>> {
        check_package_names(packages)?;
        let before = self.installed()?;
        let finished = Command::new("dnf", self.install_timeout)
            .args(["-y", "upgrade"])
            .args(packages.iter().cloned())
            .run(log)?;
        let after = self.installed()?;
        let why = finished
            .output
            .iter()
            .rev()
            .find_map(|l| l.strip_prefix("Error: "))
            .map_or_else(|| format!("dnf exited {}", finished.status), str::to_owned);
        Ok(packages
            .iter()
            .map(|package| {
                let from = before.get(package).map(|(_, v)| v.clone());
                let to = after.get(package).map(|(_, v)| v.clone());
                let outcome = match (&from, &to) {
                    (_, None) => PackageOutcome::Failed {
                        why: "not installed".to_owned(),
                    },
                    (from, Some(to)) if from.as_ref() != Some(to) => PackageOutcome::Installed,
                    _ if finished.status == 0 => PackageOutcome::Unchanged,
                    _ => PackageOutcome::Failed { why: why.clone() },
                };
                PackageResult {
                    package: package.clone(),
                    from: from
                        .map(|v| without_zero_epoch(&v).to_owned())
                        .unwrap_or_default(),
                    to: to.map(|v| without_zero_epoch(&v).to_owned()),
                    outcome,
                }
            })
            .collect())
    }

    fn reboot_required(&self) -> anyhow::Result<bool> {
        let finished = self.run("needs-restarting", &["-r"], self.list_timeout)?;
        match finished.status {
            0 => Ok(false),
            1 => Ok(true),
            status => bail!("needs-restarting -r exited {status}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// As `dnf -q check-update` prints it on Rocky Linux 9 (shortened; a long name wraps).
    const CHECK_UPDATE: &str = "
kernel.x86_64                          5.14.0-362.18.1.el9_3       baseos
openssl-libs.x86_64                    1:3.0.7-25.el9_3            baseos
python3-pip-wheel.noarch               21.2.3-7.el9_3.1            baseos
NetworkManager-libnm-ovs-a-very-long-name.x86_64
                                       1:1.44.0-5.el9_3            baseos
Obsoleting Packages
grub2-tools.x86_64                     1:2.06-70.el9_3.2           baseos
    grub2-tools.x86_64                 1:2.06-70.el9_3.1           @baseos
";

    const SECURITY: &str = "\
RLSA-2024:0310 Important/Sec.  openssl-libs-1:3.0.7-25.el9_3.x86_64
RLSA-2024:0448 Important/Sec.  kernel-5.14.0-362.18.1.el9_3.x86_64
RLSA-2024:0448 Important/Sec.  kernel-core-5.14.0-362.18.1.el9_3.x86_64
";

    const WITH_CVE: &str = "\
CVE-2023-5678 Important/Sec.  openssl-libs-1:3.0.7-25.el9_3.x86_64
CVE-2023-6129 Important/Sec.  openssl-libs-1:3.0.7-25.el9_3.x86_64
CVE-2023-6546 Important/Sec.  kernel-5.14.0-362.18.1.el9_3.x86_64
";

    const RPM: &str = "\
kernel x86_64 0:5.14.0-362.13.1.el9_3
openssl-libs x86_64 1:3.0.7-24.el9
python3-pip-wheel noarch 0:21.2.3-7.el9
NetworkManager-libnm-ovs-a-very-long-name x86_64 1:1.44.0-3.el9
";

    #[test]
    fn check_update_lists_newer_versions_and_unwraps_long_names() {
        let available = check_update(CHECK_UPDATE);
        let names: Vec<_> = available.iter().map(|a| a.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "kernel",
                "openssl-libs",
                "python3-pip-wheel",
                "NetworkManager-libnm-ovs-a-very-long-name"
            ]
        );
        assert_eq!(available[1].version, "1:3.0.7-25.el9_3");
        assert_eq!(available[1].arch, "x86_64");
        assert_eq!(available[3].repo, "baseos");
    }

    #[test]
    fn advisories_name_their_packages() {
        let advisories = updateinfo(SECURITY);
        assert_eq!(
            advisories[0],
            ("RLSA-2024:0310".into(), "openssl-libs".into())
        );
        assert_eq!(advisories[2].1, "kernel-core");
    }

    #[test]
    fn the_listings_join_into_pending_updates() {
        let pending = join(
            check_update(CHECK_UPDATE),
            &updateinfo(SECURITY),
            &updateinfo(WITH_CVE),
            &rpm_installed(RPM),
        );
        let ssl = pending
            .iter()
            .find(|p| p.package == "openssl-libs")
            .unwrap();
        assert!(ssl.security);
        assert_eq!(ssl.installed, "1:3.0.7-24.el9");
        assert_eq!(ssl.candidate, "1:3.0.7-25.el9_3");
        assert_eq!(ssl.source, "baseos");
        assert_eq!(
            ssl.advisories,
            ["CVE-2023-5678", "CVE-2023-6129", "RLSA-2024:0310"]
        );
        let kernel = pending.iter().find(|p| p.package == "kernel").unwrap();
        assert!(kernel.security);
        assert_eq!(
            kernel.installed, "5.14.0-362.13.1.el9_3",
            "a zero epoch is not shown"
        );
        assert_eq!(kernel.advisories, ["CVE-2023-6546", "RLSA-2024:0448"]);
        let pip = pending
            .iter()
            .find(|p| p.package == "python3-pip-wheel")
            .unwrap();
        assert!(!pip.security);
        assert!(pip.advisories.is_empty());
    }
}
